// Pipelined responses and handlers that suspend.
//
// Coalescing keeps finished responses in m_out while more pipelined requests are buffered, so a
// batch leaves in one send. If one of those later handlers suspends (a timer, a database call),
// the earlier responses would wait for it. So when responses are pending before a handler starts:
//   1. they move to m_out_held, and the handler starts with an empty m_out, as a detached task
//      that runs inline until its first suspension;
//   2. if it finished without suspending, its response is appended to the held ones and all stay
//      buffered (the batch still leaves in one send);
//   3. if it suspended, it may now run on another thread and owns m_out; run() sends m_out_held
//      itself and then sets m_held_sent. Until then every send of the handler (flush_output)
//      waits on m_held_sent, so the held responses always leave first and at most one send is
//      pending on the stream. The handler's thread reads m_held_active, which run() changes only
//      before starting and after joining the handler.
// A handler never waits on m_held_sent while it runs inline inside step 1: if it must send then,
// it suspends on the event, which is case 3.

#include "http/connection_core.hpp"

#include <harrier/core/spawn.hpp>

namespace harrier::http::detail {

task<void> connection_core::run_handler_detached() {
  try {
    co_await m_handler(m_request, m_response);
  } catch (...) {
    m_handler_error = std::current_exception();
  }
  m_handler_done.set();  // may resume run() inline; nothing of *this is touched after it
}

task<std::exception_ptr> connection_core::invoke_handler_behind_held_output() {
  m_out_held.swap(m_out);
  m_held_active = true;
  m_held_sent.reset();
  m_handler_done.reset();
  m_handler_error = nullptr;
  spawn(run_handler_detached(), "http handler");
  if (m_handler_done.is_set()) {
    m_out_held.append(m_out);
    m_out.swap(m_out_held);
    m_out_held.clear();
  } else {
    ::iovec held{m_out_held.data(), m_out_held.size()};
    send_begins(held.iov_len);
    const io_result r =
        co_await m_transport.sendv_op(std::span<const ::iovec>(&held, 1), m_abort.token());
    send_ends();
    m_out_held.clear();
    m_held_sent.set();
    co_await m_handler_done;
    // After the join: the handler no longer reads m_broken.
    if (r.error) send_failed();
  }
  m_held_active = false;
  co_return m_handler_error;
}

}  // namespace harrier::http::detail
