#pragma once
// Dot segments in a request's path (RFC 3986 section 5.2.4, RFC 9110 section 4.2.3): the path a
// handler sees has none, as Kestrel's does. "/a/./b/../c" is "/a/c"; ".." never climbs above
// the root. request::target() keeps the raw form. Percent-encoded dots are left alone here
// (routing decodes segments; the static-file middleware refuses a decoded "..").

#include <string>
#include <string_view>

namespace harrier::http::detail {

// Whether an absolute path ('/'-first) has a "." or ".." segment. Cheap: one search for "/.".
bool has_dot_segments(std::string_view path) noexcept;

// The path without its dot segments, into `out` (replaced). A path that ended in a dot segment
// keeps its trailing '/' ("/a/b/.." is "/a/").
void remove_dot_segments(std::string_view path, std::string& out);

}  // namespace harrier::http::detail
