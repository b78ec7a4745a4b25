#include <harrier/core/spawn.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/http/server.hpp>
#include <harrier/http/tcp_transport.hpp>
#include <harrier/net/tcp_stream.hpp>
#include <harrier/net/timer.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <system_error>

#include <harrier/diagnostics/trace_names.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>

#include "core/logger.hpp"

namespace harrier::http {
namespace {

bool is_resource_exhaustion(const std::error_code& ec) {
  return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
         ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory;
}

constexpr std::string_view k_busy_response =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

}  // namespace

struct server::connection_entry {
  http1_connection<tcp_transport>* connection;
  connection_entry* prev = nullptr;
  connection_entry* next = nullptr;
};

server::server(net::io_context& io, server_options options, request_handler handler)
    : m_io(io), m_options(std::move(options)), m_handler(std::move(handler)) {}

server::~server() {
  if (m_started.load() && !m_stopped.is_set()) {
    // Blocks until every connection is gone; never destroy a running server from an I/O thread.
    sync_wait(stop());
  }
}

void server::start() {
  if (m_started.exchange(true)) throw std::logic_error("http::server::start called twice");
  for (const net::endpoint& at : m_options.endpoints) {
    m_listeners.push_back(net::listener::bind(m_io, at, m_options.listen));
    m_local.push_back(m_listeners.back().local_endpoint());
  }
  m_accept_loops.store(m_listeners.size());
  if (m_listeners.empty()) m_accept_loops_done.set();
  for (net::listener& l : m_listeners)
    spawn(accept_loop(l), "accept loop");
}

server_stats server::stats() const noexcept {
  return {m_total.load(std::memory_order_relaxed), m_refused.load(std::memory_order_relaxed),
          m_active.load(std::memory_order_relaxed)};
}

task<void> server::accept_loop(net::listener& listener) {
  const cancellation_token token = m_stop_accepting.token();
  while (!token.is_cancellation_requested()) {
    net::accept_result accepted = co_await listener.accept(token);
    if (accepted.error) {
      if (token.is_cancellation_requested()) break;
      harrier::detail::harrier_logger()->warn("accept on {} failed: {}",
                                              listener.local_endpoint().to_string(),
                                              accepted.error.message());
      if (is_resource_exhaustion(accepted.error)) {
        // Out of descriptors or memory: back off briefly instead of spinning on the error.
        co_await net::sleep_for(m_io, std::chrono::milliseconds(10), token);
      }
      continue;
    }
    m_total.fetch_add(1, std::memory_order_relaxed);
    auto& recorder = diagnostics::default_trace_recorder();
    if (recorder.enabled()) [[unlikely]] {
      recorder.instant(diagnostics::trace_names::k_accept,
                       diagnostics::trace_names::k_category_http,
                       {{"fd", accepted.stream.native_handle()}});
    }
    const std::size_t limit = m_options.max_concurrent_connections;
    const std::size_t active = m_active.fetch_add(1);  // counted before serve or refuse starts
    if (limit != 0 && active >= limit) {
      m_refused.fetch_add(1, std::memory_order_relaxed);
      spawn(refuse(std::move(accepted.stream)), "refused connection");
    } else {
      spawn(serve(std::move(accepted.stream)), "connection");
    }
  }
  if (m_accept_loops.fetch_sub(1) == 1) m_accept_loops_done.set();
}

task<void> server::serve(net::tcp_stream stream) {
  tcp_transport transport(stream, m_io);
  http1_connection<tcp_transport> connection(transport, m_options.connection, m_handler);
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
  {
    std::lock_guard lock(m_mutex);
    if (entry.prev != nullptr) entry.prev->next = entry.next;
    if (entry.next != nullptr) entry.next->prev = entry.prev;
    if (m_connections == &entry) m_connections = entry.next;
  }
  connection_finished();
}

task<void> server::refuse(net::tcp_stream stream) {
  const auto bytes = std::as_bytes(std::span(k_busy_response.data(), k_busy_response.size()));
  co_await stream.send(bytes);
  stream.close();
  connection_finished();
}

void server::connection_finished() noexcept {
  // ordering: seq_cst pairs with stop(), which stores m_stopping and then loads m_active: at
  // least one side sees the other, so the last connection can never be missed.
  if (m_active.fetch_sub(1) == 1 && m_stopping.load()) m_connections_done.set();
}

task<void> server::abort_after_timeout() {
  const std::error_code ec =
      co_await net::sleep_for(m_io, m_options.shutdown_timeout, m_stop_timer.token());
  if (!ec) {
    std::lock_guard lock(m_mutex);
    std::size_t aborted = 0;
    for (connection_entry* e = m_connections; e != nullptr; e = e->next, ++aborted) {
      e->connection->abort();
    }
    harrier::detail::harrier_logger()->warn(
        "shutdown timeout ({} ms) passed: aborting {} connection(s) still running",
        std::chrono::duration_cast<std::chrono::milliseconds>(m_options.shutdown_timeout).count(),
        aborted);
  }
  m_timer_done.set();
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
  if (m_active.load() == 0) m_connections_done.set();
  // 3. After the timeout, abort the rest. 4. Done when every connection is gone.
  spawn(abort_after_timeout(), "shutdown timer");
  co_await m_connections_done.wait();
  m_stop_timer.request_cancellation();
  co_await m_timer_done.wait();
  m_stopped.set();
}

}  // namespace harrier::http
