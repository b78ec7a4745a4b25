// http_connection_fuzz: one HTTP/1.1 connection, fed hostile bytes, checked against the protocol
// contract after every input.
//
// Input layout: 4 configuration bytes, then the bytes the client sends.
//   byte 0: bits 0-1 the handler's behaviour (read the whole body and answer with Content-Length;
//           read it in pieces and answer in two writes, i.e. chunked on HTTP/1.1 and
//           close-delimited on HTTP/1.0; leave the body unread so the connection drains it; read
//           one piece only); bit 2 stall (after the last byte, advance the fake clock past the
//           request headers timeout before the client closes, so 408 paths run); bits 3-4 the
//           receive size (unlimited, 1, 7 or 64 bytes per recv).
//   bytes 1-3: three split points, each a fraction (n/256) of the payload: the payload arrives
//           in up to four deliveries, so a token cut across reads is exercised.
// The connection runs over tests/http/memory_transport.hpp (a deterministic fake loop on this
// thread), with small limits so that 414, 431 and 413 are reachable by short inputs. The client
// half-closes after the last byte.
//
// Invariants (a failure is __builtin_trap(), so libFuzzer records the input as a crash):
//   1. The run finishes: after EOF the connection's run() has returned and the transport is
//      closed. The fake loop bounds itself (1,000,000 resumptions), so a livelock ends too.
//   2. The output is a sequence of well-formed HTTP/1.1 responses: status line, header lines with
//      token names, a blank line, then exactly Content-Length bytes, or valid chunked framing, or
//      (only with Connection: close, and only last) a close-delimited body. HEAD responses, 1xx,
//      204 and 304 have no body, nor has a rejection of a HEAD request (checked loosely: a
//      rejection with nothing after its head). Only "100 Continue" is allowed as 1xx.
//   3. Every 4xx/5xx (the handler only ever answers 200, so each one is a rejection) carries
//      Connection: close and is the last response; so is any response with Connection: close.
//   4. Nothing after an error is interpreted: the handler is never called once a rejection has
//      been counted, and final responses <= handler calls + 1.
//   5. Requests <= heads in the input: every request the handler sees ended its head with CRLF
//      CRLF, so handler calls <= occurrences of "\r\n\r\n" in the payload (bare-LF heads are
//      refused by the parser).
//   6. What reaches the handler is well formed: version 1.x, a target without whitespace or
//      control characters, header names that are non-empty tokens, values without CR, LF or NUL.

#include "http/memory_transport.hpp"

#include <harrier/core/frame_allocator.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace harrier::http;
using harrier::http::testing::connection_harness;

constexpr std::size_t k_config_bytes = 4;
constexpr std::size_t k_handler_body_limit_bytes = 8192;  // above the server's 4096 on purpose

enum class handler_mode : std::uint8_t { read_all, read_pieces, ignore_body, read_one_piece };

struct call_record {
  bool head = false;
};

struct fuzz_state {
  handler_mode mode = handler_mode::read_all;
  std::vector<call_record> calls;
  const rejection_counters* rejections = nullptr;
  bool called_after_rejection = false;
};

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (false)

bool is_token_char(char c);

// Invariant 6: what reaches the handler is well formed.
bool request_is_well_formed(const request& req) {
  if (req.method().empty() || req.target().empty() || req.version_major() != 1) return false;
  for (char c : req.target()) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  for (const header_field& h : req.headers()) {
    if (h.name.empty() || !std::all_of(h.name.begin(), h.name.end(), is_token_char)) return false;
    for (char c : h.value) {
      if (c == '\r' || c == '\n' || c == '\0') return false;
    }
  }
  return true;
}

harrier::task<void> handle(fuzz_state* state, request& req, response& res) {
  if (state->rejections->total() != 0) state->called_after_rejection = true;
  FUZZ_CHECK(request_is_well_formed(req));
  state->calls.push_back({req.is_head()});
  switch (state->mode) {
    case handler_mode::read_all: {
      const std::string body = co_await req.body().read_all(k_handler_body_limit_bytes);
      co_await res.send(200, "text/plain", "ok " + std::to_string(body.size()));
      break;
    }
    case handler_mode::read_pieces: {
      std::size_t total = 0;
      for (;;) {
        const auto piece = co_await req.body().read();
        if (piece.empty()) break;
        total += piece.size();
      }
      res.set_content_type("text/plain");
      co_await res.write("pieces ");
      co_await res.flush();
      co_await res.write(std::to_string(total));
      co_await res.end();
      break;
    }
    case handler_mode::ignore_body:
      co_await res.send(200, "text/plain", "ignored");
      break;
    case handler_mode::read_one_piece: {
      const auto piece = co_await req.body().read();
      co_await res.send(200, "text/plain", "one " + std::to_string(piece.size()));
      break;
    }
  }
}

bool is_token_char(char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::optional<std::uint64_t> parse_hex(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<std::uint64_t>(d);
  }
  return v;
}

// Consumes one chunked body from `wire`; traps on bad framing.
void consume_chunked(std::string_view& wire) {
  for (;;) {
    const std::size_t eol = wire.find("\r\n");
    FUZZ_CHECK(eol != std::string_view::npos);
    const auto size = parse_hex(wire.substr(0, eol));
    FUZZ_CHECK(size.has_value());
    wire.remove_prefix(eol + 2);
    if (*size == 0) {
      FUZZ_CHECK(wire.substr(0, 2) == "\r\n");  // we never send trailers
      wire.remove_prefix(2);
      return;
    }
    FUZZ_CHECK(wire.size() >= *size + 2);
    FUZZ_CHECK(wire.substr(*size, 2) == "\r\n");
    wire.remove_prefix(*size + 2);
  }
}

// Checks invariants 2-4 on the whole output; returns the number of final responses.
std::size_t check_responses(std::string_view wire, const fuzz_state& state) {
  std::size_t finals = 0;
  while (!wire.empty()) {
    // Status line.
    const std::size_t line_end = wire.find("\r\n");
    FUZZ_CHECK(line_end != std::string_view::npos);
    const std::string_view status_line = wire.substr(0, line_end);
    FUZZ_CHECK(status_line.size() >= 13 && status_line.substr(0, 9) == "HTTP/1.1 ");
    const auto status = parse_decimal(status_line.substr(9, 3));
    FUZZ_CHECK(status && *status >= 100 && *status <= 599 && status_line[12] == ' ');
    wire.remove_prefix(line_end + 2);

    // Header lines.
    std::optional<std::uint64_t> content_length;
    bool chunked = false;
    bool close = false;
    int content_lengths = 0;
    for (;;) {
      const std::size_t eol = wire.find("\r\n");
      FUZZ_CHECK(eol != std::string_view::npos);
      const std::string_view line = wire.substr(0, eol);
      wire.remove_prefix(eol + 2);
      if (line.empty()) break;
      const std::size_t colon = line.find(':');
      FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
      const std::string_view name = line.substr(0, colon);
      FUZZ_CHECK(std::all_of(name.begin(), name.end(), is_token_char));
      std::string_view value = line.substr(colon + 1);
      FUZZ_CHECK(value.empty() || value.front() == ' ');
      if (!value.empty()) value.remove_prefix(1);
      FUZZ_CHECK(value.find('\n') == std::string_view::npos);
      if (iequal(name, "Content-Length")) {
        ++content_lengths;
        content_length = parse_decimal(value);
        FUZZ_CHECK(content_length.has_value());
      } else if (iequal(name, "Transfer-Encoding")) {
        FUZZ_CHECK(value == "chunked");
        chunked = true;
      } else if (iequal(name, "Connection")) {
        close = close || value == "close";
      }
    }
    FUZZ_CHECK(content_lengths <= 1 && !(chunked && content_length));

    if (*status < 200) {
      FUZZ_CHECK(*status == 100 && !chunked && !content_length && !close);
      continue;
    }
    const std::size_t index = finals++;
    const bool head = index < state.calls.size() && state.calls[index].head;
    const bool no_body = head || *status == 204 || *status == 304;
    // A rejection's body is left out when the rejected request was HEAD (only the server knows
    // how far it got in it): then nothing follows its head.
    const bool rejected_head = index >= state.calls.size() && *status >= 400 && wire.empty();
    if (!no_body && !rejected_head) {
      if (content_length) {
        FUZZ_CHECK(wire.size() >= *content_length);
        wire.remove_prefix(*content_length);
      } else if (chunked) {
        consume_chunked(wire);
      } else {
        FUZZ_CHECK(close);  // close-delimited: the rest is its body
        wire = {};
      }
    }
    if (*status >= 400) FUZZ_CHECK(close);
    if (close) FUZZ_CHECK(wire.empty());
  }
  return finals;
}

std::size_t count_heads(std::string_view payload) {
  std::size_t n = 0;
  for (std::size_t at = payload.find("\r\n\r\n"); at != std::string_view::npos;
       at = payload.find("\r\n\r\n", at + 4)) {
    ++n;
  }
  return n;
}

// HARRIER_FUZZ_PRINT=1: print what the server wrote for each input (to study a crash input).
bool print_output() {
  static const bool enabled = std::getenv("HARRIER_FUZZ_PRINT") != nullptr;
  return enabled;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < k_config_bytes) return 0;
  // Every frame to the heap, so that ASan sees a coroutine frame used after it was freed.
  harrier::frame_allocator::set_thread_recycling(false);

  const std::uint8_t flags = data[0];
  const std::string_view payload(reinterpret_cast<const char*>(data + k_config_bytes),
                                 size - k_config_bytes);
  std::size_t splits[3];
  for (int i = 0; i < 3; ++i)
    splits[i] = static_cast<std::size_t>(data[1 + i]) * payload.size() / 256;
  std::sort(splits, splits + 3);

  fuzz_state state;
  state.mode = static_cast<handler_mode>(flags & 3);
  const bool stall = (flags & 4) != 0;
  constexpr std::size_t k_recv_sizes[] = {static_cast<std::size_t>(-1), 1, 7, 64};

  http1_options options;
  options.limits.max_request_line_bytes = 256;
  options.limits.max_request_headers_total_bytes = 1024;
  options.limits.max_request_header_count = 16;
  options.limits.max_request_body_bytes = 4096;
  options.limits.max_chunk_extension_bytes = 64;
  {
    connection_harness h([&state](request& req, response& res) { return handle(&state, req, res); },
                         options);
    state.rejections = &h.rejections;
    h.transport.max_recv_bytes = k_recv_sizes[(flags >> 3) & 3];
    h.start();
    std::size_t from = 0;
    for (std::size_t to : splits) {
      if (to > from) h.feed(payload.substr(from, to - from));
      from = std::max(from, to);
    }
    if (from < payload.size()) h.feed(payload.substr(from));
    if (stall) h.loop.advance(std::chrono::seconds(40), std::chrono::seconds(1));
    h.feed_eof();

    if (print_output()) {
      std::fprintf(stderr, "--- %zu handler call(s), %llu rejection(s), finished %d; output:\n%s\n",
                   state.calls.size(), static_cast<unsigned long long>(h.rejections.total()),
                   h.finished ? 1 : 0, h.transport.output.c_str());
    }
    FUZZ_CHECK(h.finished);  // invariant 1
    FUZZ_CHECK(h.transport.closed);
    const std::size_t finals = check_responses(h.transport.output, state);
    FUZZ_CHECK(!state.called_after_rejection);               // invariant 4
    FUZZ_CHECK(finals <= state.calls.size() + 1);            // invariant 4
    FUZZ_CHECK(state.calls.size() <= count_heads(payload));  // invariant 5
    if (h.rejections.total() == 0) FUZZ_CHECK(finals <= state.calls.size());
  }
  return 0;
}
