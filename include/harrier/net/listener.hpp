#pragma once
// listener: a listening socket. accept() completes with a connected tcp_stream (non-blocking,
// close-on-exec, TCP_NODELAY on TCP) spread round-robin over the io_context's I/O threads.
//
// Contract:
// - bind() throws std::system_error naming the endpoint when the socket cannot be bound.
//   SO_REUSEADDR is always set on TCP; SO_REUSEPORT when asked (several listeners, one port:
//   the kernel spreads connections). A Unix socket path left by a dead process is replaced.
// - Several accepts may be pending at once; each connection goes to exactly one of them.
// - close() makes pending accepts complete with operation_canceled, and resets the connections
//   accepted ahead (or still in the kernel's backlog) that nobody took: try_accept() takes
//   them first without waiting. The destructor closes.
//   A Unix socket's path is unlinked on close.

#include <harrier/core/cancellation.hpp>
#include <harrier/net/detail/operations.hpp>
#include <harrier/net/endpoint.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/net/tcp_stream.hpp>

#include <utility>

namespace harrier::net {

struct listen_options {
  int backlog = 1024;
  bool reuse_port = false;
  // An IPv6 socket also takes IPv4 clients (IPV6_V6ONLY off, whatever the system's default,
  // net.ipv6.bindv6only); they show as ::ffff:a.b.c.d. Ignored for other families.
  bool dual_stack = false;
};

class listener {
 public:
  listener() noexcept = default;
  listener(listener&& other) noexcept
      : m_state(std::exchange(other.m_state, nullptr)), m_local(other.m_local) {}
  listener& operator=(listener&& other) noexcept {
    if (this != &other) {
      close();
      m_state = std::exchange(other.m_state, nullptr);
      m_local = other.m_local;
    }
    return *this;
  }
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  ~listener() { close(); }

  static listener bind(io_context& context, const endpoint& at, listen_options options = {});

  [[nodiscard]] detail::accept_op accept(cancellation_token token = {}) noexcept {
    return detail::accept_op(m_state, std::move(token));
  }
  // Completes at once, without waiting: with a connection the I/O side already accepted, else
  // one from the kernel's backlog, else resource_unavailable_try_again. For taking what is
  // there before close() (which resets the connections still queued).
  [[nodiscard]] detail::accept_op try_accept() noexcept {
    return detail::accept_op(m_state, {}, false);
  }
  // The bound address; the real port when port 0 was asked.
  endpoint local_endpoint() const { return m_local; }
  bool is_open() const noexcept { return m_state != nullptr; }
  void close() noexcept;

 private:
  detail::socket_state* m_state = nullptr;
  endpoint m_local;
};

}  // namespace harrier::net
