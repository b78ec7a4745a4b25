// connection_core's read-ahead: noticing a client that leaves while its handler runs.
//
// See connection_core.hpp. The read-ahead is a detached coroutine that owns one pending receive
// into the free end of the receive buffer; run() does not touch that region or issue another
// receive until it has joined the read-ahead. The result crosses threads through an async_event
// (release on set, acquire on the await). EOF counts as leaving, as it does for Kestrel: an
// HTTP/1.1 client that half-closes is rare, and the handler still may answer (sends are not
// cancelled).

#include "http/connection_core.hpp"

#include <harrier/core/spawn.hpp>

#include <cstring>

namespace harrier::http::detail {

void connection_core::start_read_ahead() {
  m_read_ahead_active = true;
  m_read_ahead_offset = m_end;
  m_read_ahead_done.reset();
  spawn(read_ahead(free_space()), "http read-ahead");
}

task<void> connection_core::read_ahead(std::span<std::byte> into) {
  const io_result r = co_await m_transport.recv(into, m_recv_cancel.token());
  const bool cancelled = r.error == std::errc::operation_canceled;
  if ((r.error && !cancelled) || (!r.error && r.bytes == 0)) m_client_gone.request_cancellation();
  m_read_ahead_result = r;
  m_read_ahead_done.set();  // may resume run() inline; nothing of *this is touched after it
}

task<io_result> connection_core::join_read_ahead() {
  co_await m_read_ahead_done;
  m_read_ahead_active = false;
  const io_result r = m_read_ahead_result;
  if (!r.error && r.bytes != 0 && m_end != m_read_ahead_offset) {
    // The buffer was reset to its start after the request (prepare_next_request).
    std::memmove(m_data + m_end, m_data + m_read_ahead_offset, r.bytes);
  }
  co_return r;
}

}  // namespace harrier::http::detail
