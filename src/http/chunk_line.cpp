// The chunk-size line check and rewrite: see chunk_line.hpp.

#include "http/chunk_line.hpp"

#include <harrier/http/headers.hpp>

#include <cstring>

namespace harrier::http::detail {

namespace {

bool is_hex_digit(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

// qdtext and the second byte of a quoted-pair (RFC 9110 section 5.6.4): HTAB, SP, VCHAR and
// obs-text, except that qdtext excludes DQUOTE and backslash.
bool is_quoted_pair_char(unsigned char c) noexcept {
  return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

// Checks [p, end) against the extensions' grammar; end is the line's CR.
bool valid_extensions(const char* p, const char* end) noexcept {
  while (p != end) {
    while (p != end && is_ows(*p))
      ++p;
    if (p == end || *p != ';') return false;
    ++p;
    while (p != end && is_ows(*p))
      ++p;
    const char* name = p;
    while (p != end && is_token_char(*p))
      ++p;
    if (p == name) return false;
    const char* after_name = p;
    while (p != end && is_ows(*p))
      ++p;
    if (p == end || *p != '=') {
      p = after_name;  // no value: the OWS, if any, belongs before the next ";"
      continue;
    }
    ++p;
    while (p != end && is_ows(*p))
      ++p;
    if (p != end && *p == '"') {
      ++p;
      for (;;) {
        if (p == end) return false;  // unterminated
        const auto c = static_cast<unsigned char>(*p);
        if (c == '"') break;
        if (c == '\\') {
          if (++p == end || !is_quoted_pair_char(static_cast<unsigned char>(*p))) return false;
        } else if (!is_quoted_pair_char(c)) {
          return false;
        }
        ++p;
      }
      ++p;
    } else {
      const char* value = p;
      while (p != end && is_token_char(*p))
        ++p;
      if (p == value) return false;
    }
  }
  return true;
}

}  // namespace

chunk_line_status prepare_chunk_line(char* line, std::size_t available) noexcept {
  const void* lf = std::memchr(line, '\n', available);
  if (lf == nullptr) return chunk_line_status::incomplete;
  char* const end = static_cast<char*>(const_cast<void*>(lf));
  if (end == line || end[-1] != '\r') return chunk_line_status::invalid;  // bare LF
  char* const cr = end - 1;
  char* p = line;
  while (p != cr && is_hex_digit(*p))
    ++p;
  if (p == line) return chunk_line_status::invalid;
  if (p == cr) return chunk_line_status::ready;  // no extensions: nothing to rewrite
  if (!valid_extensions(p, cr)) return chunk_line_status::invalid;
  *p = ';';
  std::memset(p + 1, 'x', static_cast<std::size_t>(cr - (p + 1)));
  return chunk_line_status::ready;
}

}  // namespace harrier::http::detail
