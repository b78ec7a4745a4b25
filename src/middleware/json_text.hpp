#pragma once
// json_text(value): the compact text of a JSON document, the same bytes as value.dump()
// (json_text.cpp says how it is faster and where it falls back to dump()), except that a string
// that is not UTF-8 has its invalid bytes replaced with U+FFFD rather than throwing.

#include <nlohmann/json.hpp>

#include <string>

namespace harrier::detail {

std::string json_text(const nlohmann::json& value);
// The same text, appended to `out` (which keeps its capacity across calls when reused).
void append_json_text(std::string& out, const nlohmann::json& value);

}  // namespace harrier::detail
