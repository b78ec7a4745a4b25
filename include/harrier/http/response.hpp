#pragma once
// response: the handler's side of one HTTP/1.1 exchange.
//
// Contract:
// - Set status and headers first; they leave with the first bytes that reach the socket. After
//   that (has_started()), changing them throws std::logic_error.
// - Framing is chosen when the head is serialised: Content-Length when set_content_length() was
//   called or when end() finds the whole body still buffered (the usual small response); else
//   chunked on HTTP/1.1, or close-delimited on HTTP/1.0.
// - write() copies small writes into the connection's output buffer and awaits the socket only
//   when the buffer passes server_limits::max_response_buffer_bytes (back-pressure); large writes
//   go out directly without a copy. flush() sends what is buffered. end() finishes the response;
//   the connection calls it if the handler does not.
// - Pipelining: a finished response stays buffered while the next request is already in the
//   receive buffer, so that the responses of a pipelined batch leave in one send.
// - `Date` (from the date cache) and `Server: harrier` (unless turned off) are added, unless the
//   handler added its own (a gateway passing on its upstream's: one of each); so are
//   `Connection: close` / `keep-alive` when needed. Framing and connection headers are owned by
//   the connection: setting Transfer-Encoding throws, Content-Length goes through
//   set_content_length, `Connection: close` makes the connection close after the response.
// - HEAD: the same head as GET would get, no body bytes (writes are counted, then dropped).
// - If the client is gone, writes complete without error and request::aborted() is cancelled.
// - A body_filter (body_filter.hpp) installed before the start transforms the body on its way
//   out (compression). Without one, the cost is one pointer test per write, flush and end.

#include <harrier/core/task.hpp>
#include <harrier/http/body_filter.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace harrier::http {

namespace detail {
class connection_core;
}

// A header value fixed when the program is compiled and checked then (a CR, LF or NUL in it
// does not compile), so that set_content_type and send take it without checking it again on
// every response: res.set_content_type(http::header_literal("text/html; charset=utf-8")).
class header_literal {
 public:
  explicit consteval header_literal(const char* text) : m_value(text) {
    for (const char c : m_value) {
      if (c == '\r' || c == '\n' || c == '\0') throw "http::header_literal: CR, LF or NUL";
    }
  }
  constexpr std::string_view value() const noexcept { return m_value; }

 private:
  std::string_view m_value;
};

class response {
 public:
  int status() const noexcept { return m_status; }
  // A final status: a 3-digit code from 200 (std::invalid_argument otherwise; 1xx is interim).
  void set_status(int status);
  // Appends a header line (no de-duplication). Throws std::invalid_argument on CR, LF or NUL.
  void add_header(std::string_view name, std::string_view value);
  // Sets the Content-Type: one that was set or added before is replaced.
  void set_content_type(std::string_view value);
  void set_content_type(header_literal value);  // checked when compiled: no check here
  void set_content_length(std::uint64_t length);
  // The length the handler declared with set_content_length (or a Content-Length header).
  std::optional<std::uint64_t> content_length() const noexcept { return m_content_length; }
  // The value of the first header line named `name` (case-insensitive) that the handler added;
  // nullopt if none. Framing and connection headers are not in this list.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  // Removes every header line named `name`; returns how many. Throws like add_header once
  // started.
  std::size_t remove_header(std::string_view name);
  // Before the response started, what an error page does before it answers: drops the body
  // written so far, the declared length, the status (back to 200), and the headers that
  // describe that body or let it be cached (Content-Type, Content-Encoding, Content-Language,
  // Content-Location, Content-Range, Content-Disposition, ETag, Last-Modified, Cache-Control,
  // Expires). Headers about the exchange stay (CORS, Vary, Set-Cookie, Allow, a trace id): an
  // outer middleware added them for any answer. Throws std::logic_error once started.
  void discard_content();
  bool has_started() const noexcept { return m_started; }
  bool has_ended() const noexcept { return m_ended; }
  // Body bytes the handler has written so far (counted for HEAD too).
  std::uint64_t body_bytes() const noexcept { return m_body_bytes; }
  // The time (whole seconds) of the connection's Date cache now: the Date this response carries
  // is no earlier. A Last-Modified must not be later than the Date (RFC 9110 8.8.2.1).
  std::chrono::system_clock::time_point date() const noexcept;

  task<void> write(std::span<const std::byte> bytes);
  task<void> write(std::string_view text) {
    return write(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size()));
  }
  // write() when it needs no I/O (the head has not left and the bytes fit the response buffer,
  // or the body is never sent, as for HEAD): true when the bytes were taken. False, with
  // nothing done, when write() must be awaited instead. Throws as write() does on a misuse.
  bool try_write(std::span<const std::byte> bytes);
  bool try_write(std::string_view text) {
    return try_write(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size()));
  }
  // Writes `length` bytes of the open file `fd`, from `offset`, as body: from 32 KiB on, after
  // the head and any buffered body, zero-copy where the transport can (sendfile on TCP); smaller
  // bodies, and any body a body filter (compression) takes, are read and written as by write().
  // The file's own offset is not used. A file that ends early (truncated while being sent) aborts
  // the connection and throws std::system_error: the promised length can no longer be met.
  task<void> write_file(int fd, std::uint64_t offset, std::uint64_t length);
  task<void> flush();
  task<void> end();

  // Installs `filter` for this response (nullptr removes it). Installing throws
  // std::logic_error once the response has started; removing is allowed at any time, and is what
  // the installer does when it leaves (after end(), or on an error that abandons the response).
  // The filter must outlive its installation.
  void set_body_filter(body_filter* filter);
  body_filter* get_body_filter() const noexcept { return m_filter; }
  // set_status + Content-Type + body + end, for the common case. The status, the type and (when
  // it fits the response buffer) the body are taken when send() is called; `body` must stay
  // valid until the returned task ends. Framed by Content-Length unless one was set already.
  task<void> send(int status, std::string_view content_type, std::string_view body);
  task<void> send(int status, header_literal content_type, std::string_view body);

 private:
  friend class detail::connection_core;
  explicit response(detail::connection_core& core) noexcept : m_core(&core) {}
  void reset() noexcept;
  task<void> send_body(std::string_view body);
  void check_not_started() const;

  detail::connection_core* m_core;
  int m_status = 200;
  std::optional<std::uint64_t> m_content_length;
  std::uint64_t m_body_bytes = 0;   // written so far (for Content-Length checks and HEAD)
  std::string m_headers;            // "Name: value\r\n"... reused across requests
  std::string m_pending_body;       // body written before the head left, reused
  body_filter* m_filter = nullptr;  // consulted at the start; cleared if it declines
  std::string m_filter_out;         // the filter's output for one write, reused
  bool m_started = false;
  bool m_ended = false;
  bool m_chunked = false;
  bool m_discard_body = false;     // HEAD, 204, 304: body bytes are counted, never sent
  bool m_close_requested = false;  // the handler asked for Connection: close
  bool m_own_date = false;         // the handler added a Date: the server adds none
  bool m_own_server = false;       // the same for Server
};

// The reason phrase of a status ("Not Found"); "" for codes it does not know.
std::string_view reason_phrase(int status) noexcept;

}  // namespace harrier::http
