// connection_core's output side: serialising response heads, framing bodies, sending.
//
// Everything goes through one output buffer, m_out, so that a response head, its small body and
// the responses of the requests pipelined behind it leave in one sendv. A large write goes out
// directly (m_out plus the caller's bytes in one sendv) instead of being copied. The head is
// serialised in one pass into m_out: status line, Date (copied from the date cache), Server,
// framing, Connection, then the handler's headers, which response::add_header has already
// formatted as "Name: value\r\n" lines.
//
// A body filter (body_filter.hpp), when installed, is consulted in start_response, sees each
// write's bytes before they are framed, and adds its flush and finish output; every test for it
// is one pointer comparison, so an unfiltered response pays nothing else.

#include "http/connection_core.hpp"

#include "core/logger.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace harrier::http::detail {

// String literals as string_views: append(const char*) measures them with strlen each time.
using namespace std::string_view_literals;

namespace {
// Writes at least this large skip the output buffer (one copy saved, one sendv instead of two).
constexpr std::size_t k_direct_write_bytes = 16 * 1024;
// From this size on write_file() sends with the transport's send_file (sendfile on TCP): no
// copy through user space, at the price of a separate send for the head.
constexpr std::uint64_t k_zero_copy_min_bytes = 32 * 1024;

// A body filter is fed at most this much of one write at a time, so its output buffer stays
// near this size (compressed output is smaller; an expanding filter would be bounded by it too).
constexpr std::size_t k_filter_slice_bytes = 64 * 1024;

bool status_has_no_body(int status) noexcept {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

void append_number(std::string& out, std::uint64_t value, int base = 10) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), value, base);
  out.append(digits, result.ptr);
}
}  // namespace

// The fixed part of a head (everything but the handler's own header lines) is assembled here
// and appended to m_out at once: one append instead of ten, each with its capacity check and
// its memcpy call, and the literals copied inline. callgrind, /plaintext: start_response
// 824 -> 502 instructions per request.
class connection_core::head_buffer {
 public:
  void put(std::string_view text) noexcept {
    std::memcpy(m_end, text.data(), text.size());
    m_end += text.size();
  }
  void put_decimal(std::uint64_t value) noexcept {
    char digits[20];
    char* first = digits + sizeof digits;
    do {
      *--first = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    put(std::string_view(first, static_cast<std::size_t>(digits + sizeof digits - first)));
  }
  char* take(std::size_t n) noexcept { return std::exchange(m_end, m_end + n); }
  std::string_view text() const noexcept {
    return {m_bytes, static_cast<std::size_t>(m_end - m_bytes)};
  }

 private:
  // Status line (the phrase cut at 40 bytes), Date, Server, framing with a 20-digit length,
  // Connection, or append_simple_response's fixed lines: under 200 bytes.
  char m_bytes[256];
  char* m_end = m_bytes;
};

void connection_core::put_head_prefix(head_buffer& head, int status, const response* res) const {
  head.put("HTTP/1.1 "sv);
  char* digits = head.take(3);  // set_status allows 3-digit codes only
  digits[0] = static_cast<char>('0' + status / 100 % 10);
  digits[1] = static_cast<char>('0' + status / 10 % 10);
  digits[2] = static_cast<char>('0' + status % 10);
  head.put(" "sv);
  head.put(reason_phrase(status).substr(0, 40));
  head.put("\r\n"sv);
  if (res == nullptr || !res->m_own_date) [[likely]] {
    head.put("Date: "sv);
    m_dates.copy_to(head.take(k_imf_fixdate_bytes));
    head.put("\r\n"sv);
  }
  if (m_options.add_server_header && (res == nullptr || !res->m_own_server)) {
    head.put("Server: harrier\r\n"sv);
  }
}

void connection_core::append_simple_response(int status, std::string_view body) {
  head_buffer head;
  put_head_prefix(head, status);
  head.put("Content-Type: text/plain\r\nContent-Length: "sv);
  head.put_decimal(body.size());
  head.put("\r\nConnection: close\r\n\r\n"sv);
  m_out.append(head.text());
  if (!m_no_response_body) m_out.append(body);
}

bool connection_core::decide_keep_alive(const response& res) const noexcept {
  if (m_close_after_response || m_last_request || m_broken || !m_request_keep_alive ||
      res.m_close_requested) {
    return false;
  }
  // ordering: relaxed; a late look at the flag only means one more request before closing.
  if (m_shutting_down.load(std::memory_order_relaxed)) return false;
  // The client waits for 100 Continue before sending the body; we will not read it, so the
  // connection cannot be reused (the body may or may not follow).
  if (!m_body_done && m_expect_continue && !m_continue_sent) return false;
  return true;
}

void connection_core::start_response(response& res, bool at_end) {
  bool filtered_head_only = false;  // HEAD through a filter: its output length is never known
  if (res.m_filter != nullptr) [[unlikely]] {
    // The filter decides now that the head is final from the handler's side (body_filter.hpp).
    body_filter::head_info info;
    info.body_sent = !status_has_no_body(res.m_status) && !m_no_response_body;
    if (res.m_content_length) {
      info.body_length = res.m_content_length;
    } else if (at_end) {
      info.body_length = m_no_response_body ? res.m_body_bytes : res.m_pending_body.size();
    }
    if (!res.m_filter->start(res, info)) {
      res.m_filter = nullptr;
    } else {
      res.m_content_length.reset();  // it described the unfiltered body
      if (status_has_no_body(res.m_status)) {
      } else if (m_no_response_body) {
        filtered_head_only = true;
      } else {
        // What was buffered goes through the filter now; at the end that is the whole output,
        // so the framing below gives it a Content-Length as for any small response.
        res.m_filter_out.clear();
        res.m_filter->transform(
            std::as_bytes(std::span(res.m_pending_body.data(), res.m_pending_body.size())),
            res.m_filter_out);
        if (at_end) res.m_filter->finish(res.m_filter_out);
        res.m_pending_body.swap(res.m_filter_out);
        res.m_filter_out.clear();
      }
    }
  }
  const int status = res.m_status;
  const bool no_body = status_has_no_body(status);
  std::optional<std::uint64_t> length;
  bool chunked = false;
  bool close_delimited = false;
  if (no_body || filtered_head_only) {
  } else if (res.m_content_length) {
    length = res.m_content_length;
  } else if (at_end) {
    length = m_no_response_body ? res.m_body_bytes : res.m_pending_body.size();
  } else if (m_request.m_version_minor >= 1) {
    chunked = true;
  } else {
    close_delimited = true;  // HTTP/1.0 without a length: the end of the body is the close
  }
  const bool keep_alive = !close_delimited && decide_keep_alive(res);
  if (!keep_alive) m_close_after_response = true;

  head_buffer head;
  put_head_prefix(head, status, &res);
  if (length) {
    head.put("Content-Length: "sv);
    head.put_decimal(*length);
    head.put("\r\n"sv);
  } else if (chunked) {
    head.put("Transfer-Encoding: chunked\r\n"sv);
  }
  if (!keep_alive) {
    head.put("Connection: close\r\n"sv);
  } else if (m_request.m_version_minor == 0) {
    head.put("Connection: keep-alive\r\n"sv);
  }
  m_out.append(head.text());
  m_out.append(res.m_headers);
  m_out.append("\r\n"sv);

  res.m_started = true;
  res.m_discard_body = no_body || m_no_response_body;
  res.m_chunked = chunked && !res.m_discard_body;
  if (!res.m_pending_body.empty()) {
    if (!res.m_discard_body) {
      append_body(res,
                  std::as_bytes(std::span(res.m_pending_body.data(), res.m_pending_body.size())));
    }
    res.m_pending_body.clear();
  }
}

void connection_core::append_body(response& res, std::span<const std::byte> data) {
  if (res.m_chunked) {
    append_number(m_out, data.size(), 16);
    m_out.append("\r\n"sv);
  }
  m_out.append(reinterpret_cast<const char*>(data.data()), data.size());
  if (res.m_chunked) m_out.append("\r\n"sv);
}

task<bool> connection_core::flush_output(std::span<const std::byte> extra) {
  if (m_held_active) {
    // Responses of earlier pipelined requests go first; run() sends them if this handler
    // suspended (see held_output.cpp).
    co_await m_held_sent;
  }
  if (m_broken) {
    m_out.clear();
    co_return false;
  }
  ::iovec buffers[2];
  const std::size_t count = output_buffers(buffers, extra);
  if (count == 0) co_return true;
  const std::size_t total = buffers[0].iov_len + (count > 1 ? buffers[1].iov_len : 0);
  if (total > k_send_piece) [[unlikely]] {
    const io_result r = co_await send_in_pieces(buffers, count);
    co_return output_sent(r);
  }
  send_begins(total);
  const io_result r =
      co_await m_transport.sendv_op(std::span<const ::iovec>(buffers, count), m_abort.token());
  send_ends();
  co_return output_sent(r);
}

// A large buffered body (a handler's send() of megabytes) in pieces: as one send it was allowed
// its whole size at the minimum response rate (19 hours for 16 MiB at 240 bytes/s) before a
// client that stopped reading was let go. Each piece is a send of its own.
task<io_result> connection_core::send_in_pieces(::iovec (&buffers)[2], std::size_t count) {
  std::size_t sent = 0;
  std::size_t index = 0;
  std::size_t offset = 0;  // into buffers[index]
  while (index < count) {
    ::iovec piece[2];
    std::size_t pieces = 0;
    std::size_t size = 0;
    while (index < count && size < k_send_piece) {
      const std::size_t take = std::min(buffers[index].iov_len - offset, k_send_piece - size);
      piece[pieces++] = ::iovec{static_cast<char*>(buffers[index].iov_base) + offset, take};
      size += take;
      offset += take;
      if (offset == buffers[index].iov_len) {
        ++index;
        offset = 0;
      }
    }
    send_begins(size);
    const io_result r =
        co_await m_transport.sendv_op(std::span<const ::iovec>(piece, pieces), m_abort.token());
    send_ends();
    if (r.error) co_return io_result{r.error, sent + r.bytes};
    sent += size;
  }
  co_return io_result{{}, sent};
}

std::size_t connection_core::output_buffers(::iovec (&buffers)[2],
                                            std::span<const std::byte> extra) noexcept {
  std::size_t count = 0;
  if (!m_out.empty()) buffers[count++] = ::iovec{m_out.data(), m_out.size()};
  if (!extra.empty()) {
    buffers[count++] = ::iovec{const_cast<std::byte*>(extra.data()), extra.size()};
  }
  return count;
}

bool connection_core::output_sent(const io_result& r) noexcept {
  m_out.clear();
  if (r.error) {
    send_failed();
    return false;
  }
  return true;
}

void connection_core::send_failed() noexcept {
  // ordering: relaxed; the aborted send's completion orders the checker's store before this.
  if (m_send_too_slow.load(std::memory_order_relaxed) && !m_send_rate_logged) {
    m_send_rate_logged = true;
    try {
      harrier::detail::harrier_logger()->info(
          "http: {} read the response slower than the minimum data rate ({} bytes/s after {} "
          "ms); connection aborted",
          m_request.connection().remote_address, m_options.limits.min_response_bytes_per_second,
          std::chrono::duration_cast<std::chrono::milliseconds>(
              m_options.limits.min_response_rate_grace)
              .count());
    } catch (...) {  // logging must not end the connection's cleanup
    }
  }
  peer_gone();
}

bool connection_core::take_body_now(response& res, std::span<const std::byte> data) {
  if (res.m_ended) throw std::logic_error("http::response: write() after end()");
  if (res.m_content_length && res.m_body_bytes + data.size() > *res.m_content_length) {
    throw std::logic_error("http::response: write() beyond the declared Content-Length");
  }
  if (m_broken || data.empty()) {
  } else if (res.m_started) {
    return false;
  } else if (m_no_response_body) {
    // HEAD: counted for Content-Length, never sent
  } else if (res.m_pending_body.size() + data.size() <=
             m_options.limits.max_response_buffer_bytes) {
    res.m_pending_body.append(reinterpret_cast<const char*>(data.data()), data.size());
  } else {
    return false;
  }
  res.m_body_bytes += data.size();
  return true;
}

task<void> connection_core::write_body(response& res, std::span<const std::byte> data) {
  if (take_body_now(res, data)) co_return;
  res.m_body_bytes += data.size();
  if (!res.m_started) start_response(res, false);
  if (res.m_discard_body) co_return;
  std::span<const std::byte> rest = data;  // input not yet through the filter, if any
  do {
    std::span<const std::byte> chunk = rest;
    if (res.m_filter != nullptr) [[unlikely]] {
      // Slices bound the filter's output buffer when one write is large.
      const std::size_t n = std::min(rest.size(), k_filter_slice_bytes);
      res.m_filter_out.clear();
      res.m_filter->transform(rest.first(n), res.m_filter_out);
      rest = rest.subspan(n);
      chunk = std::as_bytes(std::span(res.m_filter_out.data(), res.m_filter_out.size()));
      if (chunk.empty()) continue;
    } else {
      rest = {};
    }
    if (chunk.size() >= k_direct_write_bytes) {
      if (res.m_chunked) {
        append_number(m_out, chunk.size(), 16);
        m_out.append("\r\n"sv);
      }
      const bool sent = co_await flush_output(chunk);  // not in the condition: see body_reader.cpp
      if (!sent) co_return;
      if (res.m_chunked) m_out.append("\r\n"sv);
      continue;
    }
    append_body(res, chunk);
    if (m_out.size() >= m_options.limits.max_response_buffer_bytes) {
      const bool sent = co_await flush_output();
      if (!sent) co_return;
    }
  } while (!rest.empty());
}

task<void> connection_core::write_file_by_copy(response& res, int fd, std::uint64_t offset,
                                               std::uint64_t length) {
  constexpr std::size_t k_chunk_bytes = 64 * 1024;
  const auto buffer = std::make_unique<std::byte[]>(
      static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk_bytes, length)));
  std::uint64_t done = 0;
  while (done < length) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk_bytes, length - done));
    const ssize_t got = ::pread(fd, buffer.get(), want, static_cast<::off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const std::error_code error = got < 0 ? std::error_code(errno, std::system_category())
                                            : std::make_error_code(std::errc::io_error);
      if (res.m_started) {
        m_abort_now = true;
        peer_gone();
      }
      throw std::system_error(error, "http::response::write_file: reading the file failed after " +
                                         std::to_string(done) + " of " + std::to_string(length) +
                                         " bytes");
    }
    co_await write_body(res,
                        std::span<const std::byte>(buffer.get(), static_cast<std::size_t>(got)));
    done += static_cast<std::uint64_t>(got);
  }
}

task<void> connection_core::write_file(response& res, int fd, std::uint64_t offset,
                                       std::uint64_t length) {
  if (res.m_ended) throw std::logic_error("http::response: write_file() after end()");
  if (res.m_content_length && res.m_body_bytes + length > *res.m_content_length) {
    throw std::logic_error("http::response: write_file() beyond the declared Content-Length");
  }
  if (length == 0) co_return;
  if (res.m_filter != nullptr && !res.m_started && !m_broken && !m_no_response_body) {
    start_response(res, false);  // the filter decides now; it may step aside (and be cleared)
  }
  if (res.m_filter != nullptr || length < k_zero_copy_min_bytes || !m_transport.can_send_file()) {
    // Copied when a filter (compression) must see the bytes, when the body is small (one copy
    // is cheaper than a second system call, and the body leaves with the head), or when the
    // transport cannot send files itself.
    co_await write_file_by_copy(res, fd, offset, length);
    co_return;
  }
  res.m_body_bytes += length;
  if (m_broken) co_return;
  if (!res.m_started) {
    if (m_no_response_body) co_return;  // HEAD
    start_response(res, false);
  }
  if (res.m_discard_body) co_return;
  if (res.m_chunked) {
    append_number(m_out, length, 16);
    m_out.append("\r\n"sv);
  }
  const bool sent = co_await flush_output();  // the head and what was buffered go first
  if (!sent) co_return;
  // In pieces: the response data rate times each send, and one send of a whole file was allowed
  // its whole size at the minimum rate (12 hours for 10 MB at 240 bytes/s) before a client that
  // stopped reading was let go; a piece is allowed 18 minutes. Each piece costs a sendfile(2)
  // and the SIGPIPE mask's two calls: ~1 us per 256 KiB, which take ~20-40 us to copy.
  constexpr std::uint64_t piece = k_send_piece;
  std::uint64_t done = 0;
  while (done < length) {
    const auto size = static_cast<std::size_t>(std::min(piece, length - done));
    // The task first: its frame's allocation may throw, and a send marked pending would stay so.
    task<io_result> sending = m_transport.send_file(fd, offset + done, size, m_abort.token());
    send_begins(size);
    const io_result r = co_await std::move(sending);
    send_ends();
    if (r.error) {
      const std::errc e = static_cast<std::errc>(r.error.value());
      const bool peer_side = r.error.category() == std::system_category() &&
                             (e == std::errc::broken_pipe || e == std::errc::connection_reset ||
                              e == std::errc::not_connected || e == std::errc::timed_out);
      if (peer_side || r.error == std::errc::operation_canceled) {
        send_failed();
        co_return;
      }
      // The file failed us after the head promised its length: nothing can repair this response.
      m_abort_now = true;
      peer_gone();
      throw std::system_error(
          r.error, "http::response::write_file: sending the file failed after " +
                       std::to_string(done + r.bytes) + " of " + std::to_string(length) + " bytes");
    }
    done += size;
  }
  if (res.m_chunked) m_out.append("\r\n"sv);
}

task<void> connection_core::flush_response(response& res) {
  if (res.m_ended) co_return;
  if (!res.m_started) start_response(res, false);
  if (res.m_filter != nullptr && !res.m_discard_body) [[unlikely]] {
    res.m_filter_out.clear();
    res.m_filter->flush(res.m_filter_out);
    if (!res.m_filter_out.empty()) {
      append_body(res, std::as_bytes(std::span(res.m_filter_out.data(), res.m_filter_out.size())));
    }
  }
  (void)co_await flush_output();
}

task<void> connection_core::end_response(response& res) {
  if (res.m_ended) co_return;
  const bool was_started = res.m_started;
  const std::size_t head_at = m_out.size();  // where this response's head goes, if not started
  if (!res.m_started) {
    start_response(res, true);  // finishes the filter's output too, if there is one
  } else {
    if (res.m_filter != nullptr && !res.m_discard_body) [[unlikely]] {
      res.m_filter_out.clear();
      res.m_filter->finish(res.m_filter_out);
      if (!res.m_filter_out.empty()) {
        append_body(res,
                    std::as_bytes(std::span(res.m_filter_out.data(), res.m_filter_out.size())));
      }
    }
    if (res.m_chunked) m_out.append("0\r\n\r\n"sv);
  }
  res.m_ended = true;
  if (res.m_content_length && res.m_body_bytes < *res.m_content_length && !res.m_discard_body)
      [[unlikely]] {
    if (was_started) {
      harrier::detail::harrier_logger()->error(
          "http: handler for {} {} wrote {} of the {} bytes it declared; aborting the connection",
          m_request.method(), m_request.path(), res.m_body_bytes, *res.m_content_length);
      m_abort_now = true;
      co_return;
    }
    // Nothing of it has left yet (the head and body were only just put in the output): the
    // client gets a 500 in its place, as Kestrel answers a short body it has not started.
    harrier::detail::harrier_logger()->error(
        "http: handler for {} {} wrote {} of the {} bytes it declared; answered 500",
        m_request.method(), m_request.path(), res.m_body_bytes, *res.m_content_length);
    m_out.resize(head_at);
    res.m_status = 500;
    m_close_after_response = true;
    append_simple_response(500, reason_phrase(500));
  }
  // Pipelining: when the next request is already buffered, keep this response to send it with
  // the next one(s); the loop flushes before it waits for input.
  // While earlier responses are held (m_held_active), run() merges or sends them; flushing here
  // would split the batch.
  if (m_parsed != m_end || m_held_active) co_return;
  // flush_output() without a frame of its own (nothing is held, checked above): the send of
  // almost every response.
  if (m_broken) {
    m_out.clear();
    co_return;
  }
  ::iovec buffers[2];
  const std::size_t count = output_buffers(buffers, {});
  if (count == 0) co_return;
  const std::size_t total = buffers[0].iov_len + (count > 1 ? buffers[1].iov_len : 0);
  if (total > k_send_piece) [[unlikely]] {
    const io_result r = co_await send_in_pieces(buffers, count);
    (void)output_sent(r);
    co_return;
  }
  send_begins(total);
  const io_result r =
      co_await m_transport.sendv_op(std::span<const ::iovec>(buffers, count), m_abort.token());
  send_ends();
  (void)output_sent(r);
}

}  // namespace harrier::http::detail
