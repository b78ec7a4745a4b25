#pragma once
// server: listeners, accept loops and the set of live connections of one HTTP/1.1 server.
//
// It binds every endpoint, accepts on each, and runs an http1_connection per accepted socket
// (the connection coroutine starts on the thread that completed the accept, and moves with its
// I/O completions: pool workers or the I/O thread, as the io_context dispatches). Each connection
// learns its peer's and its own address once, at accept (request::connection()).
//
// Contract:
// - start() binds every endpoint or throws std::system_error naming the one that failed (nothing
//   stays bound then, and the server is as if never started: stop() and the destructor return at
//   once, start() may be tried again). local_endpoints() then has the real ports, in order (a
//   localhost address gives its IPv4 and then its IPv6 loopback).
// - max_concurrent_connections: a connection accepted at the limit gets a 503 with
//   `Connection: close` and is closed; it never reaches the handler.
// - stop() is graceful, in the order Kestrel uses: (1) stop accepting and close the listeners;
//   (2) ask every connection to shut down: idle keep-alive connections close at once, busy ones
//   finish their current request with `Connection: close`; (3) when shutdown_timeout passes,
//   abort whatever is left (pending I/O cancelled, request tokens cancelled); (4) complete once
//   every connection is gone. Idempotent; concurrent callers all complete at the end.
// - Timeouts (keep-alive, request headers, body rate, shutdown linger) are checked by one
//   heartbeat for all connections, as Kestrel's: every limits.timeout_check_interval, and early
//   for a deadline due sooner (never more often than every 50 ms). A connection then has no timer,
//   coroutine or wake-up of its own while it waits: server_options.connection's
//   external_timeout_checks is set whatever the caller gave.
// - The destructor requires a stopped (or never started) server.

#include <harrier/core/async_event.hpp>
#include <harrier/core/cancellation.hpp>
#include <harrier/core/task.hpp>
#include <harrier/http/connection.hpp>
#include <harrier/http/handler.hpp>
#include <harrier/http/tcp_transport.hpp>
#include <harrier/net/endpoint.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/net/listener.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace harrier::http {

// An address to listen on, as Kestrel reads its URLs:
// - an endpoint (it converts): that address;
// - localhost(port): both loopbacks on one port. A client that resolves localhost to ::1 first
//   (glibc does when /etc/hosts lists ::1 for it, and wrk then connects to ::1 only) reaches the
//   server as one that resolves it to 127.0.0.1 does. IPv4 is bound first; the IPv6 half is
//   skipped with a warning where the machine has no IPv6 loopback (EADDRNOTAVAIL,
//   EAFNOSUPPORT). A port taken on either half is an error, as for any endpoint: a client would
//   reach the other program there. Port 0: both halves get one free port (a port free on
//   127.0.0.1 and taken on ::1 is left for another, a few times).
// - any(port): every address, IPv4 and IPv6, in one dual-stack socket on [::] (IPv4 clients
//   then show as ::ffff:a.b.c.d, see connection_info); 0.0.0.0 where the machine has no IPv6.
struct listen_address {
  enum class kind : std::uint8_t { endpoint, localhost, any };

  listen_address(const net::endpoint& endpoint) noexcept  // NOLINT(google-explicit-constructor)
      : at(endpoint) {}
  static listen_address localhost(std::uint16_t port);
  static listen_address any(std::uint16_t port);

  net::endpoint at;  // for localhost the IPv4 half, for any the IPv6 socket's address
  kind what = kind::endpoint;
};

struct server_options {
  std::vector<listen_address> endpoints;
  http1_options connection;
  net::listen_options listen;
  std::size_t max_concurrent_connections = 0;  // 0: unlimited, as Kestrel's default
  std::chrono::nanoseconds shutdown_timeout = std::chrono::seconds(30);
};

struct server_stats {
  std::uint64_t connections_total = 0;    // accepted, including refused ones
  std::uint64_t connections_refused = 0;  // over max_concurrent_connections
  std::size_t active_connections = 0;
  std::uint64_t accept_failures = 0;  // the listener's errors (the accept loop backed off)
};

class server {
 public:
  server(net::io_context& io, server_options options, request_handler handler);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  void start();
  const std::vector<net::endpoint>& local_endpoints() const noexcept { return m_local; }
  task<void> stop();
  bool is_stopping() const noexcept { return m_stopping.load(std::memory_order_acquire); }
  server_stats stats() const noexcept;

 private:
  struct connection_entry;
  void bind_localhost(const net::endpoint& v4_loopback);  // listen_address::localhost
  void bind_any(const net::endpoint& v6_any);             // listen_address::any
  task<void> accept_loop(net::listener& listener);
  void hand_off(net::tcp_stream stream, const net::listener& listener);
  task<void> take_accepted(net::listener& listener);
  task<void> serve(net::tcp_stream stream, const net::listener& listener);
  task<void> refuse(net::tcp_stream stream);
  task<void> abort_after_timeout();
  task<void> heartbeat();
  void connection_finished() noexcept;

  net::io_context& m_io;
  server_options m_options;
  std::shared_ptr<const http1_options> m_connection_options;  // every connection's, shared
  request_handler m_handler;
  std::vector<net::listener> m_listeners;
  std::vector<net::endpoint> m_local;

  cancellation_source m_stop_accepting;
  cancellation_source m_stop_timer;
  cancellation_source m_stop_heartbeat;
  std::atomic<bool> m_started{false};
  std::atomic<bool> m_stopping{false};
  // Set by stop() once the accept loops are done: from then on no connection is added, and the
  // last one to finish completes m_connections_done (see connection_finished).
  std::atomic<bool> m_draining{false};
  std::atomic<std::size_t> m_accept_loops{0};
  async_event m_accept_loops_done;
  async_event m_connections_done;
  async_event m_timer_done;
  async_event m_heartbeat_done;
  async_event m_stopped;

  mutable std::mutex m_mutex;                 // guards m_connections
  connection_entry* m_connections = nullptr;  // intrusive list of live connections
  std::atomic<std::size_t> m_active{0};
  std::atomic<std::uint64_t> m_total{0};
  std::atomic<std::uint64_t> m_refused{0};
  std::atomic<std::size_t> m_lingering_refusals{0};  // refuse() calls in their lingering close
  std::atomic<std::uint64_t> m_accept_failures{0};
};

}  // namespace harrier::http
