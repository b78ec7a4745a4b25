// connection_core's read-ahead: noticing a client that leaves while its handler runs.
//
// See connection_core.hpp. The read-ahead is a detached coroutine that owns one pending receive;
// run() does not issue another receive until it has joined the read-ahead. The result crosses
// threads through an async_event (release on set, acquire on the await). EOF counts as leaving,
// as it does for Kestrel: an HTTP/1.1 client that half-closes is rare, and the handler still may
// answer (sends are not cancelled).
//
// Two forms. On a transport that can wait without a buffer (TCP: wait_readable), the read-ahead
// of a request that keeps the connection only waits: bytes that arrive stay in the transport,
// and the receive buffer is free, so a keep-alive connection that waits for its next request can
// give the buffer back (run). Otherwise it receives into the free end of the receive buffer,
// which run() leaves alone until it has joined, and take_read_ahead moves those bytes to where
// the buffer's end is by then.

#include "http/connection_core.hpp"

#include <cerrno>
#include <cstring>
#include <new>
#include <system_error>

namespace harrier::http::detail {

void connection_core::start_read_ahead() {
  m_read_ahead_active = true;
  m_read_ahead_offset = m_end;
  m_read_ahead_done.reset();
  // A request that ends the connection (Connection: close, HTTP/1.0) is not followed by an idle
  // wait, so its read-ahead receives instead: a wait's cancellation at the close would cost a
  // system call to collect what had arrived (net::recv_cancel), a receive's does not.
  m_read_ahead_waits_only =
      m_transport.can_wait_readable() && m_request_keep_alive && !m_last_request;
  read_ahead(m_read_ahead_waits_only ? std::span<std::byte>{} : free_space());
}

// A detached coroutine of its own (not spawn(task)): one frame per request instead of two.
harrier::detail::detached_task connection_core::read_ahead(std::span<std::byte> into) {
  io_result r;
  try {
    if (m_read_ahead_waits_only) {
      r = co_await m_transport.wait_readable_op(m_idle_cancel.token());
    } else {
      r = co_await m_transport.recv(into, m_idle_cancel.token());
    }
  } catch (const std::bad_alloc&) {  // no frame for the receive: run() must still join
    r = io_result{std::make_error_code(std::errc::not_enough_memory), 0};
  }
  // Not `r.error == std::errc::operation_canceled`: that asks the category through a virtual
  // call (~30 instructions a request). The net layer's errors are errno values, in the system
  // or the generic category.
  const bool cancelled =
      r.error.value() == ECANCELED && (r.error.category() == std::system_category() ||
                                       r.error.category() == std::generic_category());
  if ((r.error && !cancelled) || (!r.error && r.bytes == 0)) m_client_gone.request_cancellation();
  m_read_ahead_result = r;
  m_read_ahead_done.set();  // may resume run() inline; nothing of *this is touched after it
}

bool connection_core::take_kept_input(io_result& r) noexcept {
  const std::size_t n = m_transport.take_ready(free_space());
  if (n == 0) return false;
  r = io_result{{}, n};
  return true;
}

bool connection_core::take_read_ahead(io_result& r) {
  m_read_ahead_active = false;
  r = m_read_ahead_result;
  if (m_read_ahead_waits_only) {
    // The bytes wait in the transport: take them now (no waiting, so no token).
    if (r.error || r.bytes == 0) return false;
    reacquire_buffer();
    return !take_kept_input(r);
  }
  if (!r.error && r.bytes != 0 && m_end != m_read_ahead_offset) {
    // The buffer was reset to its start after the request (prepare_next_request).
    std::memmove(m_data + m_end, m_data + m_read_ahead_offset, r.bytes);
  }
  return false;
}

}  // namespace harrier::http::detail
