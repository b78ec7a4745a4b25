#pragma once
// Content types by file extension for the static-file middleware (internal).

#include <string_view>

namespace harrier::detail {

// The Content-Type for a file name, by its extension (case-insensitive); text types carry
// "; charset=utf-8". Unknown extensions are application/octet-stream.
std::string_view content_type_for(std::string_view file_name) noexcept;

// Whether a response of this Content-Type is worth compressing (text, JSON, JS, SVG, XML...).
bool is_compressible(std::string_view content_type) noexcept;

}  // namespace harrier::detail
