#include <harrier/core/spawn.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/core/when_all.hpp>
#include <harrier/http/date_cache.hpp>
#include <harrier/http/server.hpp>
#include <harrier/http/tcp_transport.hpp>
#include <harrier/net/tcp_stream.hpp>
#include <harrier/net/timer.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <harrier/diagnostics/trace_names.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>

#include "core/logger.hpp"
#include "http/async_event.hpp"

namespace harrier::http {
namespace {

// An error that belongs to the one connection being accepted, not to the listener: accept(2)
// reports a connection's pending network error (its man page lists these for TCP), a peer that
// reset before the accept gives ECONNABORTED, and a firewall rule EPERM. The next accept is
// unaffected, so it is tried at once. The net layer's errors are errno values (system_category).
bool is_connection_error(const std::error_code& ec) {
  switch (ec.value()) {
    case ECONNABORTED:
    case EINTR:
    case EPERM:
    case EPROTO:
    case ENOPROTOOPT:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENONET:
    case EOPNOTSUPP:
    case ETIMEDOUT:
      return true;
    default:
      return false;
  }
}

// The text from glibc's table, with no allocation: these errors include running out of memory.
const char* errno_text(const std::error_code& ec) {
  const char* text = ::strerrordesc_np(ec.value());
  return text != nullptr ? text : "unknown error";
}

// The numeric address text of an IP sockaddr (no brackets, no port), or the path of a Unix one.
void describe(const net::endpoint& e, address_family& family, std::string& address,
              std::uint16_t& port) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (e.family() == AF_INET) {
    family = address_family::ipv4;
    ::inet_ntop(AF_INET, &reinterpret_cast<const ::sockaddr_in*>(e.data())->sin_addr, buffer,
                sizeof(buffer));
    address = buffer;
  } else if (e.family() == AF_INET6) {
    family = address_family::ipv6;
    ::inet_ntop(AF_INET6, &reinterpret_cast<const ::sockaddr_in6*>(e.data())->sin6_addr, buffer,
                sizeof(buffer));
    address = buffer;
  } else if (e.is_unix()) {
    family = address_family::unix_socket;
    address = e.to_string().substr(5);  // "unix:/path" -> "/path"
  }
  port = e.port();
}

// Who connected: getpeername (the accept completion does not carry the peer's address). A
// listener bound to a specific address is the connection's local address, so getsockname is
// needed only for wildcard listeners (0.0.0.0, ::), where the kernel picked it.
connection_info describe_connection(const net::tcp_stream& stream, const net::endpoint& listener) {
  connection_info info;
  try {
    describe(stream.remote_endpoint(), info.family, info.remote_address, info.remote_port);
    bool wildcard = false;
    if (listener.family() == AF_INET) {
      wildcard = reinterpret_cast<const ::sockaddr_in*>(listener.data())->sin_addr.s_addr ==
                 htonl(INADDR_ANY);
    } else if (listener.family() == AF_INET6) {
      wildcard = IN6_IS_ADDR_UNSPECIFIED(
          &reinterpret_cast<const ::sockaddr_in6*>(listener.data())->sin6_addr);
    }
    address_family local_family = address_family::unknown;
    describe(wildcard ? stream.local_endpoint() : listener, local_family, info.local_address,
             info.local_port);
    if (info.family == address_family::unknown) info.family = local_family;  // unnamed Unix peer
  } catch (const std::system_error&) {
    // The peer left before we asked (ENOTCONN): the connection will see EOF at its first read.
    info = connection_info{};
  }
  return info;
}

// The connection's description, made when a request first asks for it (most never do): a
// getpeername(2) and the addresses' text, about 1 us of a connection's ~40 here.
class socket_description final : public connection_describer {
 public:
  socket_description(const net::tcp_stream& stream, const net::listener& listener) noexcept
      : m_stream(stream), m_listener(listener) {}
  connection_info describe() const override {
    return describe_connection(m_stream, m_listener.local_endpoint());
  }

 private:
  const net::tcp_stream& m_stream;
  const net::listener& m_listener;
};

constexpr std::string_view k_busy_response =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
// The lingering close of a refused connection: how long, and how much, it reads and drops.
constexpr std::chrono::seconds k_refused_linger{1};
constexpr std::size_t k_refused_linger_bytes = 64 * 1024;
// At most this many refused connections linger at once; beyond, they close at once (a flood of
// connections that never close must not hold a second's worth of sockets each).
constexpr std::size_t k_max_lingering_refusals = 256;

// Reads and drops what the client sends until it closes, k_refused_linger_bytes passed, or
// `token` (the linger's time) is cancelled; then stops the timer.
task<void> drain_refused(net::tcp_stream& stream, const cancellation_source& stop_timer,
                         cancellation_token token) {
  std::byte buffer[512];
  std::size_t total = 0;
  while (total < k_refused_linger_bytes) {
    const auto r = co_await stream.recv(buffer, token);
    if (r.error || r.bytes == 0) break;
    total += r.bytes;
  }
  stop_timer.request_cancellation();
}

// Cancels `target` after `delay`, unless `token` is cancelled first: the bound of a loop that
// stops the timer itself when it ends earlier.
task<void> cancel_after(net::io_context& io, std::chrono::nanoseconds delay,
                        const cancellation_source& target, cancellation_token token) {
  const std::error_code ec = co_await net::sleep_for(io, delay, std::move(token));
  if (!ec) target.request_cancellation();
}

// Whether a bind failed because the machine has no IPv6 (or not that address).
bool no_ipv6(const std::system_error& e) noexcept {
  return e.code().value() == EADDRNOTAVAIL || e.code().value() == EAFNOSUPPORT;
}

}  // namespace

struct server::connection_entry {
  http1_connection<tcp_transport>* connection;
  connection_entry* prev = nullptr;
  connection_entry* next = nullptr;
  // The shutdown timeout aborts this connection outside m_mutex (abort_after_timeout):
  // abort_pending is set under it, and serve() then waits for abort_done before the entry (in
  // its frame) goes.
  bool abort_pending = false;
  detail::async_event abort_done;
};

server::server(net::io_context& io, server_options options, request_handler handler)
    : m_io(io), m_options(std::move(options)), m_handler(std::move(handler)) {
  if (m_options.connection.limits.timeout_check_interval <= std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument("http::server: limits.timeout_check_interval must be positive");
  }
  m_options.connection.external_timeout_checks = true;  // heartbeat() checks them
  m_connection_options = std::make_shared<const http1_options>(m_options.connection);
}

server::~server() {
  if (m_started.load() && !m_stopped.is_set()) {
    // Blocks until every connection is gone; never destroy a running server from an I/O thread.
    sync_wait(stop());
  }
}

listen_address listen_address::localhost(std::uint16_t port) {
  listen_address a(net::endpoint::parse(fmt::format("127.0.0.1:{}", port)));
  a.what = kind::localhost;
  return a;
}

listen_address listen_address::any(std::uint16_t port) {
  listen_address a(net::endpoint::parse(fmt::format("[::]:{}", port)));
  a.what = kind::any;
  return a;
}

void server::bind_any(const net::endpoint& v6_any) {
  net::listen_options dual = m_options.listen;
  dual.dual_stack = true;
  try {
    m_listeners.push_back(net::listener::bind(m_io, v6_any, dual));
  } catch (const std::system_error& e) {
    if (!no_ipv6(e)) throw;
    harrier::detail::harrier_logger()->warn(
        "*: listening on every IPv4 address only ({}); no IPv6 here", e.what());
    m_listeners.push_back(net::listener::bind(
        m_io, net::endpoint::parse(fmt::format("0.0.0.0:{}", v6_any.port())), m_options.listen));
  }
  m_local.push_back(m_listeners.back().local_endpoint());
}

void server::bind_localhost(const net::endpoint& v4_loopback) {
  constexpr int k_attempts = 8;  // port 0: a free IPv4 port is rarely taken on ::1
  for (int attempt = 1;; ++attempt) {
    net::listener v4 = net::listener::bind(m_io, v4_loopback, m_options.listen);
    const net::endpoint v4_at = v4.local_endpoint();
    const net::endpoint v6_at = net::endpoint::parse(fmt::format("[::1]:{}", v4_at.port()));
    try {
      net::listener v6 = net::listener::bind(m_io, v6_at, m_options.listen);
      m_local.push_back(v4_at);
      m_local.push_back(v6.local_endpoint());
      m_listeners.push_back(std::move(v4));
      m_listeners.push_back(std::move(v6));
      return;
    } catch (const std::system_error& e) {
      if (e.code().value() == EADDRINUSE && v4_loopback.port() == 0 && attempt < k_attempts) {
        continue;  // v4 closes; another free port
      }
      if (!no_ipv6(e)) throw;
      harrier::detail::harrier_logger()->warn(
          "localhost: listening on the IPv4 loopback only ({}); no IPv6 loopback here", e.what());
      m_local.push_back(v4_at);
      m_listeners.push_back(std::move(v4));
      return;
    }
  }
}

void server::start() {
  if (m_started.exchange(true)) throw std::logic_error("http::server::start called twice");
  try {
    for (const listen_address& address : m_options.endpoints) {
      if (address.what == listen_address::kind::localhost) {
        bind_localhost(address.at);
      } else if (address.what == listen_address::kind::any) {
        bind_any(address.at);
      } else {
        m_listeners.push_back(net::listener::bind(m_io, address.at, m_options.listen));
        m_local.push_back(m_listeners.back().local_endpoint());
      }
    }
  } catch (...) {
    // Nothing stays bound, and the server is as if never started (stop() and the destructor
    // then have nothing to wait for; there are no accept loops).
    m_listeners.clear();
    m_local.clear();
    m_started.store(false);
    throw;
  }
  m_accept_loops.store(m_listeners.size());
  if (m_listeners.empty()) m_accept_loops_done.set();
  for (net::listener& l : m_listeners)
    spawn(accept_loop(l), "accept loop");
  spawn(heartbeat(), "http server heartbeat");
}

server_stats server::stats() const noexcept {
  server_stats s;
  s.connections_total = m_total.load(std::memory_order_relaxed);
  s.connections_refused = m_refused.load(std::memory_order_relaxed);
  s.active_connections = m_active.load(std::memory_order_relaxed);
  s.accept_failures = m_accept_failures.load(std::memory_order_relaxed);
  return s;
}

// Failed accepts. An error of the connection being accepted (is_connection_error) is logged at
// debug and the next accept follows at once. Any other error is the listener's (out of
// descriptors or memory, or worse): as Go's net/http does for those, the loop backs off (5 ms,
// doubling up to 1 s) instead of spinning on it, and a streak of them logs its first, then at
// most one line a second with the count, then its end. At 10 ms fixed (and no wait for other
// errors) with a line per failure, exhausted descriptors wrote 100 warnings a second.
task<void> server::accept_loop(net::listener& listener) {
  using std::chrono::milliseconds;
  constexpr milliseconds k_first_backoff(5);
  constexpr milliseconds k_max_backoff(1000);
  constexpr std::chrono::seconds k_log_every(1);
  const cancellation_token token = m_stop_accepting.token();
  milliseconds backoff(0);
  std::uint64_t failures = 0;  // in the current streak
  std::uint64_t unlogged = 0;  // failures since the last line
  std::chrono::steady_clock::time_point logged_at;
  while (!token.is_cancellation_requested()) {
    net::accept_result accepted = co_await listener.accept(token);
    if (accepted.error) {
      if (token.is_cancellation_requested()) break;
      if (is_connection_error(accepted.error)) {
        harrier::detail::harrier_logger()->debug("accept on {}: a connection failed: {}",
                                                 listener.local_endpoint().to_string(),
                                                 errno_text(accepted.error));
        continue;
      }
      m_accept_failures.fetch_add(1, std::memory_order_relaxed);
      ++failures;
      ++unlogged;
      backoff = backoff.count() == 0 ? k_first_backoff : std::min(backoff * 2, k_max_backoff);
      const auto now = std::chrono::steady_clock::now();
      if (failures == 1 || now - logged_at >= k_log_every) {
        if (failures == 1) {
          harrier::detail::harrier_logger()->warn("accept on {} failed: {}",
                                                  listener.local_endpoint().to_string(),
                                                  errno_text(accepted.error));
        } else {
          harrier::detail::harrier_logger()->warn(
              "accept on {} still failing: {} ({} attempts since the last report, next in {} "
              "ms)",
              listener.local_endpoint().to_string(), errno_text(accepted.error), unlogged,
              backoff.count());
        }
        logged_at = now;
        unlogged = 0;
      }
      co_await net::sleep_for(m_io, backoff, token);
      continue;
    }
    if (failures != 0) [[unlikely]] {
      harrier::detail::harrier_logger()->info("accept on {} works again after {} failures",
                                              listener.local_endpoint().to_string(), failures);
      failures = 0;
      unlogged = 0;
      backoff = milliseconds(0);
    }
    m_total.fetch_add(1, std::memory_order_relaxed);
    auto& recorder = diagnostics::default_trace_recorder();
    if (recorder.enabled()) [[unlikely]] {
      recorder.instant(diagnostics::trace_names::k_accept,
                       diagnostics::trace_names::k_category_http,
                       {{"fd", accepted.stream.native_handle()}});
    }
    hand_off(std::move(accepted.stream), listener);
  }
  co_await take_accepted(listener);
  if (m_accept_loops.fetch_sub(1) == 1) m_accept_loops_done.set();
}

void server::hand_off(net::tcp_stream stream, const net::listener& listener) {
  const std::size_t limit = m_options.max_concurrent_connections;
  const std::size_t active = m_active.fetch_add(1);  // counted before serve or refuse starts
  if (limit != 0 && active >= limit) {
    m_refused.fetch_add(1, std::memory_order_relaxed);
    spawn(refuse(std::move(stream)), "refused connection");
  } else if (executor* pool = m_io.options().dispatch) {
    // Posted, not started here: a connection started inline runs until its first suspension,
    // and a handler that blocks before one (epoll can complete the first receive at once)
    // would hold the accept loop, so that it neither accepts nor sees stop() until the handler
    // returns: a request in flight at SIGTERM was answered without Connection: close. Kestrel
    // queues each connection to the thread pool, Go starts a goroutine.
    spawn(*pool, serve(std::move(stream), listener), "connection");
  } else {
    // Inline dispatch: everything runs on the I/O thread anyway (a blocking handler stalls it
    // all, as documented), and posting there would only add a hop.
    spawn(serve(std::move(stream), listener), "connection");
  }
}

// At stop(), before the listener closes: the connections already accepted. The I/O side accepts
// ahead of the loop (epoll takes connections off the backlog when the listener is readable,
// io_uring's multishot accept completes as they come), and the loop runs on the pool, so when
// every worker is busy the loop falls behind: closing the listener then reset connections whose
// requests had long been sent (5 of 8 in the audit, with 2 threads blocked by /sync/sleep).
// They are taken for up to k_accept_drain (each accept of one already there completes at
// once), then whatever is left without waiting (try_accept), then served as any connection
// during shutdown: their first request is answered, with Connection: close. Collected first,
// handed off after, so that the connections this starts cannot take the pool from under the
// loop.
task<void> server::take_accepted(net::listener& listener) {
  constexpr std::chrono::milliseconds k_accept_drain{50};
  cancellation_source stop_taking;
  cancellation_source stop_timer;
  std::vector<net::tcp_stream> taken;
  auto take = [&]() -> task<void> {
    for (;;) {
      net::accept_result accepted = co_await listener.accept(stop_taking.token());
      if (accepted.error) break;
      taken.push_back(std::move(accepted.stream));
    }
    stop_timer.request_cancellation();
  };
  co_await when_all(take(), cancel_after(m_io, k_accept_drain, stop_taking, stop_timer.token()));
  // The window is wall time, and a starved pool may have spent it elsewhere (take() resumed
  // 500 ms late behind a blocking handler, its next accept already cancelled, and a connection
  // the I/O side held was reset at close: 1 in 4 runs of the audit's scenario on io_uring).
  // What is already there is taken without waiting.
  for (;;) {
    net::accept_result accepted = co_await listener.try_accept();
    if (accepted.error) break;
    taken.push_back(std::move(accepted.stream));
  }
  if (!taken.empty()) {
    harrier::detail::harrier_logger()->debug(
        "shutdown: {} connection(s) accepted before {} closed are served", taken.size(),
        listener.local_endpoint().to_string());
  }
  for (net::tcp_stream& stream : taken) {
    m_total.fetch_add(1, std::memory_order_relaxed);
    hand_off(std::move(stream), listener);
  }
}

// `listener` by reference: a coroutine's parameters live in its frame for the whole connection,
// and an endpoint is 136 bytes (the listeners outlive every connection, see stop()).
task<void> server::serve(net::tcp_stream stream, const net::listener& listener) {
  tcp_transport transport(stream, m_io);
  const socket_description description(stream, listener);
  http1_connection<tcp_transport> connection(transport, m_connection_options, m_handler,
                                             description);
  connection_entry entry{&connection};
  {
    std::lock_guard lock(m_mutex);
    entry.next = m_connections;
    if (m_connections != nullptr) m_connections->prev = &entry;
    m_connections = &entry;
    if (m_stopping.load()) connection.begin_shutdown();
  }
  try {
    co_await connection.run();
  } catch (const std::exception& e) {
    harrier::detail::harrier_logger()->error("connection ended by an unexpected error: {}",
                                             e.what());
  }
  bool being_aborted = false;
  {
    std::lock_guard lock(m_mutex);
    if (entry.prev != nullptr) entry.prev->next = entry.next;
    if (entry.next != nullptr) entry.next->prev = entry.prev;
    if (m_connections == &entry) m_connections = entry.next;
    being_aborted = entry.abort_pending;
  }
  if (being_aborted) co_await entry.abort_done;  // abort_after_timeout still uses the entry
  connection_finished();
}

// A connection over max_concurrent_connections: 503, then a lingering close (RFC 9112 section
// 9.6). Closing at once, with the client's request unread in the socket, makes the kernel send a
// reset, which can reach the client before it has read the 503 (4-7 times in 10 on loopback): it
// then sees ECONNRESET instead. So the sending side is shut down and input is read and dropped
// until the client closes (it does once it has the response), for at most k_refused_linger or
// k_refused_linger_bytes, and for at most k_max_lingering_refusals connections at once: little,
// since the server is at its limit.
task<void> server::refuse(net::tcp_stream stream) {
  const auto bytes = std::as_bytes(std::span(k_busy_response.data(), k_busy_response.size()));
  const auto sent = co_await stream.send(bytes);
  // ordering: relaxed; a bound on resources, not a synchronisation.
  if (!sent.error &&
      m_lingering_refusals.fetch_add(1, std::memory_order_relaxed) < k_max_lingering_refusals) {
    (void)co_await stream.shutdown_send();
    cancellation_source stop_drain;
    cancellation_source stop_timer;
    co_await when_all(drain_refused(stream, stop_timer, stop_drain.token()),
                      cancel_after(m_io, k_refused_linger, stop_drain, stop_timer.token()));
  }
  if (!sent.error) m_lingering_refusals.fetch_sub(1, std::memory_order_relaxed);
  stream.close();
  connection_finished();
}

void server::connection_finished() noexcept {
  // ordering: seq_cst pairs with stop(), which stores m_draining and then loads m_active: at
  // least one side sees the other, so the last connection can never be missed.
  // m_draining, not m_stopping: between the two, the accept loops still hand off the
  // connections they take at shutdown (take_accepted). When every earlier connection had
  // finished in that window, the count touched 0, stop() went on without waiting for the
  // taken ones, and the application stopped the I/O under them: their responses failed with
  // ECANCELED and the clients saw their connections closed unanswered (1-3 of 12 in 3-9 % of
  // runs of the contract test with a starved pool; CI failed on it three times).
  if (m_active.fetch_sub(1) == 1 && m_draining.load()) m_connections_done.set();
}

task<void> server::abort_after_timeout() {
  const std::error_code ec =
      co_await net::sleep_for(m_io, m_options.shutdown_timeout, m_stop_timer.token());
  if (!ec) {
    // Marked under the lock, aborted after it: abort() cancels request::aborted(), whose
    // callbacks are the application's, and one that resumes its handler inline (an event set
    // from the callback) can run the connection to its end, which takes m_mutex (serve): with
    // the lock held here, that thread deadlocked on itself and stop() never finished.
    std::vector<connection_entry*> doomed;
    {
      std::lock_guard lock(m_mutex);
      for (connection_entry* e = m_connections; e != nullptr; e = e->next) {
        doomed.push_back(e);  // first: an entry marked is always in the list it waits for
        e->abort_pending = true;
      }
    }
    harrier::detail::harrier_logger()->warn(
        "shutdown timeout ({} ms) passed: aborting {} connection(s) still running",
        std::chrono::duration_cast<std::chrono::milliseconds>(m_options.shutdown_timeout).count(),
        doomed.size());
    for (connection_entry* e : doomed) {
      e->connection->abort();
      e->abort_done.set();  // may resume serve(), which ends the entry: not touched after
    }
  }
  m_timer_done.set();
}

// Every connection's timeouts from one coroutine, as Kestrel's heartbeat walks its connections.
// A watchdog per connection (http1_connection's own, for other owners) costs a coroutine frame, a
// timer and a wake-up a second per connection: 5,000 idle connections took 1.6-1.9 % of a CPU
// that way. Here it is one timer. The walk holds m_mutex, which serve() takes once at each end of
// a connection; a check is a few loads, and a deadline that passed cancels a receive, which only
// queues the completion (never resumes a connection inside the walk).
// Precision: each connection times a deadline from the first walk that sees it armed, and the
// next walk comes after one interval or when the earliest deadline is due, whichever is sooner
// (at least 50 ms apart, so that deadlines spread over time cannot make the walks continuous).
// A timeout then fires between its value and that plus one interval, as before.
// The same walk keeps the Date header current (date_cache.hpp): an embedder's server without
// an application's heartbeat (which refreshes the shared cache too) served the date of its
// first response forever. Refreshed when the second has changed; the walks come at least once
// an interval (1 s by default, as Kestrel's), so Date lags the clock by less than that.
task<void> server::heartbeat() {
  constexpr std::chrono::nanoseconds k_min_gap = std::chrono::milliseconds(50);
  const std::chrono::nanoseconds interval = m_options.connection.limits.timeout_check_interval;
  const std::chrono::nanoseconds min_gap = std::min(interval, k_min_gap);
  const cancellation_token token = m_stop_heartbeat.token();
  date_cache& dates =
      m_options.connection.dates != nullptr ? *m_options.connection.dates : date_cache::shared();
  while (!token.is_cancellation_requested()) {
    const auto wall = std::chrono::system_clock::now();
    if (std::chrono::floor<std::chrono::seconds>(wall) !=
        std::chrono::floor<std::chrono::seconds>(dates.time())) {
      dates.refresh(wall);
    }
    std::chrono::nanoseconds next = interval;
    {
      const transport_clock::time_point now = transport_clock::now();  // tcp_transport's clock
      std::lock_guard lock(m_mutex);
      for (connection_entry* e = m_connections; e != nullptr; e = e->next) {
        next = std::min(next, e->connection->check_timeouts(now));
      }
    }
    (void)co_await net::sleep_for(m_io, std::max(next, min_gap), token);
  }
  m_heartbeat_done.set();
}

task<void> server::stop() {
  if (!m_started.load()) co_return;
  if (m_stopping.exchange(true)) {
    co_await m_stopped.wait();
    co_return;
  }
  // 1. Stop accepting: pending accepts complete as cancelled, then the listeners close.
  m_stop_accepting.request_cancellation();
  co_await m_accept_loops_done.wait();
  for (net::listener& l : m_listeners)
    l.close();
  // 2. Idle connections close now; busy ones finish their request with Connection: close.
  {
    std::lock_guard lock(m_mutex);
    for (connection_entry* e = m_connections; e != nullptr; e = e->next) {
      e->connection->begin_shutdown();
    }
  }
  m_draining.store(true);
  if (m_active.load() == 0) m_connections_done.set();
  // 3. After the timeout, abort the rest. 4. Done when every connection is gone.
  spawn(abort_after_timeout(), "shutdown timer");
  co_await m_connections_done.wait();
  m_stop_timer.request_cancellation();
  co_await m_timer_done.wait();
  m_stop_heartbeat.request_cancellation();  // after the last connection: lingering ones need it
  co_await m_heartbeat_done.wait();
  m_stopped.set();
}

}  // namespace harrier::http
