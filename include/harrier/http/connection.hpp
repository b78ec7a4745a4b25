#pragma once
// http1_connection<Transport>: runs HTTP/1.1 on one accepted connection until it closes.
//
// The server (accept loop, listeners) creates one per accepted socket and awaits run(); run()
// returns once the connection is closed and nothing of it is pending any more, after which the
// transport may be destroyed. The protocol itself lives in detail::connection_core (src/http),
// which sees the transport through transport_base.
//
// Lifecycle of run():
//   1. Read and parse a request head (keep-alive timeout before its first byte, request headers
//      timeout after it). Malformed input: error response with Connection: close, then close.
//   2. Call the handler. Its body reads pull bytes on demand; its response is buffered and sent.
//      When the request is fully read and nothing is buffered behind it, one receive stays pending
//      meanwhile, to cancel request::aborted() if the client leaves.
//   3. Finish the response (500 if the handler threw before starting it; abort if after), drain an
//      unread body when the connection can stay open, then go to 1 with the pipelined bytes.
//   4. Close: flush; after a rejection, or when the client sent or may send more than was read
//      (pipelined requests behind Connection: close, an unread body), shut down the sending side
//      and read and drop input until the client closes (bounded: 2 s, 32 MiB); close the
//      transport, stop the timeout watchdog (if it runs one) and wait for it, return.
// Shutdown: begin_shutdown() (any thread) closes an idle connection at once and makes a busy one
// answer its current request with Connection: close and stop. abort() (any thread) cancels pending
// I/O and the request's aborted() token: for the end of the shutdown timeout.

#include <harrier/http/date_cache.hpp>
#include <harrier/http/handler.hpp>
#include <harrier/http/rejection.hpp>
#include <harrier/http/request.hpp>
#include <harrier/http/server_limits.hpp>
#include <harrier/http/transport.hpp>

#include <memory>

namespace harrier::http {

struct http1_options {
  server_limits limits;
  bool add_server_header = true;             // `Server: harrier`
  date_cache* dates = nullptr;               // nullptr = date_cache::shared()
  rejection_counters* rejections = nullptr;  // nullptr = rejection_counters::shared()
  // Who checks the timeouts. false: the connection runs a watchdog coroutine of its own on the
  // transport's timer. true: the owner calls check_timeouts() at least every
  // limits.timeout_check_interval (http::server does, for all its connections from one
  // heartbeat: no coroutine, timer or wake-up per connection).
  bool external_timeout_checks = false;
};

namespace detail {
class connection_core;
struct connection_core_deleter {
  void operator()(connection_core* core) const noexcept;
};
using connection_core_ptr = std::unique_ptr<connection_core, connection_core_deleter>;
connection_core_ptr make_connection_core(transport_base& transport,
                                         std::shared_ptr<const http1_options> options,
                                         request_handler handler, connection_info info,
                                         const connection_describer* describer = nullptr);
task<void> run_connection(connection_core& core);
void begin_connection_shutdown(connection_core& core) noexcept;
void abort_connection(connection_core& core) noexcept;
std::chrono::nanoseconds check_connection_timeouts(connection_core& core,
                                                   transport_clock::time_point now) noexcept;
}  // namespace detail

template <transport Transport>
class http1_connection {
 public:
  // `transport` must outlive this object; `options` is copied. `info` (who connected, where to) is
  // what every request of this connection reports as request::connection().
  http1_connection(Transport& transport, const http1_options& options, request_handler handler,
                   connection_info info = {})
      : http1_connection(transport, std::make_shared<const http1_options>(options),
                         std::move(handler), std::move(info)) {}
  // The same with options shared among connections (a server's), instead of a copy in each.
  http1_connection(Transport& transport, std::shared_ptr<const http1_options> options,
                   request_handler handler, connection_info info = {})
      : m_adapter(transport),
        m_core(detail::make_connection_core(m_adapter, std::move(options), std::move(handler),
                                            std::move(info))) {}
  // The same with the connection described only when a request asks (`describer` must outlive
  // this object).
  http1_connection(Transport& transport, std::shared_ptr<const http1_options> options,
                   request_handler handler, const connection_describer& describer)
      : m_adapter(transport),
        m_core(detail::make_connection_core(m_adapter, std::move(options), std::move(handler), {},
                                            &describer)) {}
  http1_connection(const http1_connection&) = delete;
  http1_connection& operator=(const http1_connection&) = delete;

  // Runs the connection to its end. Call once.
  task<void> run() { return detail::run_connection(*m_core); }
  void begin_shutdown() noexcept { detail::begin_connection_shutdown(*m_core); }
  void abort() noexcept { detail::abort_connection(*m_core); }
  // Fires whatever deadline has passed at `now` (the transport's clock), and returns how long
  // until the current one could (nanoseconds::max() when none is armed). Any thread, one caller
  // at a time; only with options.external_timeout_checks.
  std::chrono::nanoseconds check_timeouts(transport_clock::time_point now) noexcept {
    return detail::check_connection_timeouts(*m_core, now);
  }

 private:
  transport_adapter<Transport> m_adapter;
  detail::connection_core_ptr m_core;
};

}  // namespace harrier::http
