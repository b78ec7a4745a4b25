#pragma once
// has_bare_line_break: whether a CR or LF of a request head stands outside a CRLF pair (see
// request_parser.hpp for why the parser checks this itself). A header of its own so that tests
// can hold it against the byte-by-byte definition.
//
// The head is well-formed exactly when the positions of its LFs are those of its CRs moved one
// byte on: each CR then has its LF next, and each LF its CR before it. With SSE2 (every x86-64)
// that is two compares and two movemasks per 16 bytes, the bit of a CR at the end of a block
// carried into the next. wrk's 50-byte head: ~60 instructions, against ~280 for a memchr per line
// and byte (callgrind), which was as fast as eight bytes at a time in a general register.

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace harrier::http::detail {

#if defined(__SSE2__)

namespace line_breaks {
// CR and LF masks of 16 bytes at p (bit i: byte i).
inline void masks(const char* p, std::uint32_t& cr, std::uint32_t& lf) noexcept {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  cr = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))));
  lf = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))));
}
}  // namespace line_breaks

inline bool has_bare_line_break(const char* head, std::size_t n) noexcept {
  std::uint32_t carry = 0;  // 1: the byte before the current block is a CR
  std::size_t i = 0;
  std::uint32_t cr = 0;
  std::uint32_t lf = 0;
  for (; i + 16 <= n; i += 16) {
    line_breaks::masks(head + i, cr, lf);
    if ((((cr << 1) | carry) & 0xffff) != lf) return true;
    carry = cr >> 15;
  }
  const std::size_t rest = n - i;
  if (rest != 0) {
    if (n >= 16) {
      // The last 16 bytes, of which the first 16 - rest were checked above.
      line_breaks::masks(head + n - 16, cr, lf);
      cr >>= 16 - rest;
      lf >>= 16 - rest;
    } else {
      char block[16] = {};
      std::memcpy(block, head, n);
      line_breaks::masks(block, cr, lf);
      cr &= (1u << rest) - 1;
      lf &= (1u << rest) - 1;
    }
    if ((((cr << 1) | carry) & ((1u << rest) - 1)) != lf) return true;
    carry = cr >> (rest - 1);
  }
  return carry != 0;  // a CR as the last byte
}

#else

// memchr per line for each of the two bytes.
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

#endif

}  // namespace harrier::http::detail
