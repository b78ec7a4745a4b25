#pragma once
// has_bare_line_break: whether a CR or LF of a request head stands outside a CRLF pair (see
// request_parser.hpp for why the parser checks this itself). A header of its own so that tests
// can hold it against the byte-by-byte definition.
//
// memchr per line for each of the two bytes. Measured against eight bytes at a time (a CR mask
// shifted onto the LF mask): equal for wrk's 50-byte head (~200 instructions, callgrind), and
// worse for a browser's 500 bytes, where glibc's memchr covers 32 bytes per step.

#include <cstddef>
#include <cstring>

namespace harrier::http::detail {

inline bool has_bare_line_break(const char* head, std::size_t n) noexcept {
  const char* const end = head + n;
  for (const char* p = head; (p = static_cast<const char*>(std::memchr(p, '\r', end - p))); ++p) {
    if (p + 1 == end || p[1] != '\n') return true;
  }
  for (const char* p = head; (p = static_cast<const char*>(std::memchr(p, '\n', end - p))); ++p) {
    if (p == head || p[-1] != '\r') return true;
  }
  return false;
}

}  // namespace harrier::http::detail
