#include "http/request_path.hpp"

#include <algorithm>

namespace harrier::http::detail {
namespace {

bool is_dot_segment(std::string_view segment) noexcept {
  return segment == "." || segment == "..";
}

}  // namespace

bool has_dot_segments(std::string_view path) noexcept {
  for (std::size_t at = path.find("/."); at != std::string_view::npos;
       at = path.find("/.", at + 1)) {
    const std::size_t end = path.find('/', at + 1);
    if (is_dot_segment(path.substr(at + 1, end == std::string_view::npos ? end : end - at - 1))) {
      return true;
    }
  }
  return false;
}

void remove_dot_segments(std::string_view path, std::string& out) {
  out.clear();
  std::size_t at = 0;  // at a '/' that starts a segment
  while (at < path.size()) {
    const std::size_t end = std::min(path.find('/', at + 1), path.size());
    const std::string_view segment = path.substr(at + 1, end - at - 1);
    if (segment == "..") {
      const std::size_t last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);  // drop the last segment, if any
    } else if (segment != ".") {
      out += '/';
      out += segment;
    }
    // A trailing dot segment names the directory: the path keeps its '/'.
    if (end == path.size() && is_dot_segment(segment)) out += '/';
    at = end;
  }
  if (out.empty()) out = "/";
}

}  // namespace harrier::http::detail
