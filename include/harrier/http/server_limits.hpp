#pragma once
// server_limits: the HTTP/1.1 limits and timeouts of one server, with Kestrel's defaults.
//
// Every value comes from Kestrel's KestrelServerLimits unless its comment says otherwise; the
// brief (design.md, "HTTP/1.1 behaviour") fixes them. Tests shrink them to hit the edges quickly.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace harrier::http {

struct server_limits {
  // Request line (method, target, version): longer → 414.
  std::size_t max_request_line_bytes = 8 * 1024;
  // Sum of header field and value bytes (each header also counts ": " and CRLF) → 431.
  std::size_t max_request_headers_total_bytes = 32 * 1024;
  std::size_t max_request_header_count = 100;
  // Chunk extensions (harrier's own limit; Kestrel has none): RFC 9112 section 7.1.1 asks a
  // server to limit them, as they are parsed and dropped, and a peer can otherwise send any
  // amount of them around a few bytes of data. Go's net/http rule: each chunk allows 16 bytes
  // plus twice its data, and this much more over the request; beyond it → 400.
  std::size_t max_chunk_extension_bytes = 16 * 1024;
  // Body: 413, before reading it when Content-Length says so. nullopt = unlimited.
  std::optional<std::uint64_t> max_request_body_bytes = 30'000'000;
  // Unread pipelined input held per connection before reading stops. harrier reads ahead only
  // into the buffer of the request being parsed, so in practice the bound is much lower.
  std::size_t max_request_buffer_bytes = 1024 * 1024;
  // Buffered response bytes beyond which write() awaits the socket.
  std::size_t max_response_buffer_bytes = 64 * 1024;

  std::chrono::nanoseconds keep_alive_timeout = std::chrono::minutes(2);
  std::chrono::nanoseconds request_headers_timeout = std::chrono::seconds(30);
  // Minimum request body data rate: below it after the grace period → 408, close.
  double min_request_body_bytes_per_second = 240.0;
  std::chrono::nanoseconds min_request_body_rate_grace = std::chrono::seconds(5);
  // Minimum response data rate, as Kestrel's MinResponseDataRate: a send still pending after
  // the longer of the grace period and its size at this rate aborts the connection (a client that
  // does not read would otherwise hold it, and its buffers, for ever). 0: off.
  double min_response_bytes_per_second = 240.0;
  std::chrono::nanoseconds min_response_rate_grace = std::chrono::seconds(5);

  // How often timeouts are checked (the server's heartbeat, or a connection's own watchdog): 1 s,
  // as Kestrel's heartbeat. A timeout fires between its value and that plus this interval.
  std::chrono::nanoseconds timeout_check_interval = std::chrono::seconds(1);
};

}  // namespace harrier::http
