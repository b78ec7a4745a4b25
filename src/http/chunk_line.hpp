#pragma once
// The chunk-size line of a chunked body, checked against RFC 9112 section 7.1 and rewritten so
// that llhttp 8.1 parses it (see request_parser.hpp, "Chunk extensions").
//
//   chunk-line = 1*HEXDIG *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) CRLF
//   ext-name   = token
//   ext-val    = token / quoted-string
//
// A line with extensions is rewritten in place, keeping its length: ";" right after the size,
// then "x" up to the CR. A line without extensions (size, CRLF) is left alone: llhttp checks it
// (the size's own rules, such as its overflow, stay llhttp's). Only the line is looked at; the
// size's value is not interpreted.

#include <cstddef>

namespace harrier::http::detail {

// A line longer than this is not held back for the check: llhttp parses it as it comes.
inline constexpr std::size_t k_max_held_chunk_line_bytes = 1024;

enum class chunk_line_status {
  incomplete,  // no LF yet in the bytes given: wait for more
  invalid,     // not a chunk-size line of RFC 9112's grammar
  ready,       // checked (and rewritten if it had extensions): llhttp may parse it
};

// `line` points at the first byte of a chunk-size line; `available` bytes follow it.
chunk_line_status prepare_chunk_line(char* line, std::size_t available) noexcept;

}  // namespace harrier::http::detail
