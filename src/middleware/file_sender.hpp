#pragma once
// Sends one file as a response, with validators, conditional requests and a byte range
// (internal; used by results::file and the static-file middleware).

#include <harrier/core/task.hpp>

#include "middleware/file_resolver.hpp"

#include <string_view>

namespace harrier {
class context;
}

namespace harrier::detail {

// Writes status, headers and body for `file` (or 304/412/416 as the preconditions and Range
// decide). content_type empty: by extension. HEAD gets the head only.
task<void> send_file(context& ctx, const resolved_file& file, std::string_view content_type);

}  // namespace harrier::detail
