// Request bodies: pulled from the socket only when the handler asks (back-pressure), parsed by
// llhttp (Content-Length or chunked; chunk extensions ignored, trailers read and dropped), limited
// in size and in rate. `Expect: 100-continue` is answered here, on the first read, which is what
// makes a client that waits for it send the body only to handlers that want it.

#include "http/connection_core.hpp"

#include <algorithm>
#include <chrono>

namespace harrier::http::detail {

namespace {
constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
}

task<std::span<const std::byte>> connection_core::read_body() {
  if (m_body_done) co_return std::span<const std::byte>();
  if (m_broken) throw bad_request(rejection_reason::incomplete_body);
  if (m_expect_continue && !m_continue_sent) {
    m_continue_sent = true;
    if (!m_response.m_started) m_out.append(k_continue);
  }
  const server_limits& limits = m_options.limits;
  for (;;) {
    const parse_step step = m_parser.execute(request_base(), m_parsed - m_start, m_end - m_start);
    m_parsed = m_start + step.position;
    if (step.event == parse_event::error) {
      m_close_after_response = true;
      throw bad_request(m_parser.error_reason());
    }
    if (step.event == parse_event::message_complete) {
      m_body_done = true;
      m_message_done = true;
    }
    if (step.body_length != 0) {
      m_body_received += step.body_length;
      // ordering: relaxed; the watchdog only needs an approximate count for the rate check.
      m_body_received_for_watchdog.store(m_body_received, std::memory_order_relaxed);
      if (limits.max_request_body_bytes && m_body_received > *limits.max_request_body_bytes) {
        m_close_after_response = true;
        throw bad_request(rejection_reason::body_too_large);
      }
      co_return std::span<const std::byte>(
          reinterpret_cast<const std::byte*>(request_base() + step.body_offset), step.body_length);
    }
    if (m_body_done) co_return std::span<const std::byte>();
    if (step.event == parse_event::chunk_end) continue;

    // Everything buffered is parsed; wait for more.
    make_room_for_body();
    if (!m_out.empty()) {
      // A co_await in a condition miscompiles with GCC 12 (the coroutine frame's layout differs
      // between ramp and body); keep every co_await result in a local.
      const bool sent = co_await flush_output();
      if (!sent) throw bad_request(rejection_reason::incomplete_body);
    }
    // Minimum data rate, as Kestrel: after the grace period, the body must have arrived at
    // min_request_body_bytes_per_second on average since the first read (the watchdog checks).
    if (limits.min_request_body_bytes_per_second > 0) {
      arm_deadline(deadline_kind::body_rate, !m_body_reading_started);
      m_body_reading_started = true;
    }
    const io_result r = co_await m_transport.recv(free_space(), m_recv_cancel.token());
    const deadline_kind fired = disarm_deadline();
    if (fired == deadline_kind::body_rate) {
      m_close_after_response = true;
      throw bad_request(rejection_reason::body_rate_timeout);
    }
    if (fired != deadline_kind::none || r.error || r.bytes == 0) {
      peer_gone();
      throw bad_request(rejection_reason::incomplete_body);
    }
    m_end += r.bytes;
  }
}

task<std::string> connection_core::read_all(std::size_t limit) {
  std::string body;
  if (m_declared_length) {
    if (*m_declared_length > limit) {
      m_close_after_response = true;
      throw bad_request(rejection_reason::body_too_large);
    }
    body.reserve(static_cast<std::size_t>(*m_declared_length));
  }
  for (;;) {
    const std::span<const std::byte> piece = co_await read_body();
    if (piece.empty()) break;
    if (body.size() + piece.size() > limit) {
      m_close_after_response = true;
      throw bad_request(rejection_reason::body_too_large);
    }
    body.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  }
  co_return body;
}

}  // namespace harrier::http::detail
