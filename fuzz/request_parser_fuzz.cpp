// request_parser_fuzz: src/http/request_parser (llhttp plus harrier's own checks) on its own,
// fast, with the offsets it reports checked against the input.
//
// Input layout: 2 configuration bytes, then the bytes a client sends. The configuration bytes
// pick two split points (n/256 of the payload): the parser sees the payload grow in up to three
// steps, each window [parsed, available) of one constant buffer, as the connection drives it.
// After message_complete it goes on with the next (pipelined) request; after an error it stops.
//
// Invariants (a failure is __builtin_trap()):
//   - every position, body range, target and header range lies inside what was parsed so far;
//   - at head_complete the request line and header limits hold (count, total bytes);
//   - a Content-Length body delivers exactly Content-Length bytes before message_complete;
//   - a body never appears before head_complete, and a message never completes before its head
//     (a head that completes its message too has no body);
//   - parsing ends: at most a bounded number of steps per input byte;
//   - need_more consumes the window, except for an incomplete chunk-size line held back.

#include "http/request_parser.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

using harrier::http::server_limits;
using harrier::http::detail::parse_event;
using harrier::http::detail::parse_step;
using harrier::http::detail::request_parser;

constexpr std::size_t k_config_bytes = 2;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (false)

server_limits small_limits() {
  server_limits limits;
  limits.max_request_line_bytes = 256;
  limits.max_request_headers_total_bytes = 1024;
  limits.max_request_header_count = 16;
  limits.max_request_body_bytes = 4096;
  limits.max_chunk_extension_bytes = 64;
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < k_config_bytes) return 0;
  static const server_limits limits = small_limits();
  // A copy: the parser rewrites chunk-size lines with extensions in place (as it does in the
  // connection's receive buffer).
  // One byte more, so that an empty payload still has an address (llhttp does arithmetic on it).
  const std::size_t length = size - k_config_bytes;
  std::vector<char> buffer(length + 1);
  std::copy(data + k_config_bytes, data + size, buffer.begin());
  char* base = buffer.data();
  std::size_t stops[3] = {static_cast<std::size_t>(data[0]) * length / 256,
                          static_cast<std::size_t>(data[1]) * length / 256, length};
  std::sort(stops, stops + 2);

  request_parser parser(limits);
  std::size_t start = 0;   // first byte of the current request
  std::size_t parsed = 0;  // absolute
  bool in_body = false;
  std::uint64_t body_bytes = 0;
  std::uint64_t declared_length = 0;
  std::size_t steps = 0;
  const std::size_t max_steps = 8 * length + 64;
  for (std::size_t available : stops) {
    for (;;) {
      FUZZ_CHECK(++steps <= max_steps);
      const parse_step step = parser.execute(base + start, parsed - start, available - start);
      if (step.event == parse_event::error) return 0;
      const std::size_t position = start + step.position;
      FUZZ_CHECK(position >= parsed && position <= available);
      FUZZ_CHECK(!step.message_complete || step.event == parse_event::head_complete);
      if (step.body_length != 0) {
        FUZZ_CHECK(in_body);
        const std::size_t body_at = start + step.body_offset;
        FUZZ_CHECK(body_at >= parsed && body_at + step.body_length <= position);
        body_bytes += step.body_length;
      }
      parsed = position;
      if (step.event == parse_event::need_more) {
        // All of it, or all but an incomplete chunk-size line that it holds back.
        FUZZ_CHECK(parsed == available || (in_body && parser.chunked()));
        break;
      }
      if (step.event == parse_event::head_complete) {
        FUZZ_CHECK(!in_body && parser.head_done());
        FUZZ_CHECK(parser.target_offset() + parser.target_length() <= parsed - start);
        FUZZ_CHECK(parser.target_length() + parser.method(base + start).size() <=
                   limits.max_request_line_bytes);
        FUZZ_CHECK(parser.headers().size() <= limits.max_request_header_count);
        std::size_t header_bytes = 0;
        for (const auto& h : parser.headers()) {
          FUZZ_CHECK(std::size_t{h.name_offset} + h.name_length <= parsed - start);
          FUZZ_CHECK(h.name_length > 0);
          if (h.value_length != 0) {
            FUZZ_CHECK(std::size_t{h.value_offset} + h.value_length <= parsed - start);
            FUZZ_CHECK(h.value_offset >= h.name_offset + h.name_length);
          }
          header_bytes += h.name_length + h.value_length;
        }
        FUZZ_CHECK(header_bytes <= limits.max_request_headers_total_bytes);
        FUZZ_CHECK(!(parser.has_content_length() && parser.has_transfer_encoding()));
        in_body = true;
        body_bytes = 0;
        // llhttp counts content_length down as the body passes: keep the declared value.
        declared_length = parser.has_content_length() ? parser.content_length() : 0;
        if (step.message_complete) {  // no body: the request is over with its head
          FUZZ_CHECK(declared_length == 0 && !parser.chunked());
          in_body = false;
          parser.next_message();
          start = parsed;
        }
      } else if (step.event == parse_event::message_complete) {
        FUZZ_CHECK(in_body);
        if (parser.has_content_length() && !parser.chunked()) {
          FUZZ_CHECK(body_bytes == declared_length);
        }
        in_body = false;
        parser.next_message();
        start = parsed;
      }
    }
  }
  return 0;
}
