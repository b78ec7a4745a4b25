#include <harrier/net/tcp_stream.hpp>

#include "net/reactor.hpp"
#include "net/socket_state.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace harrier::net {

detail::ready_io_result tcp_stream::shutdown_send() noexcept {
  if (m_state == nullptr) return {{detail::to_error(-EBADF), 0}};
  if (::shutdown(m_state->fd, SHUT_WR) != 0) return {{detail::to_error(-errno), 0}};
  return {};
}

void tcp_stream::close() noexcept {
  if (m_state == nullptr) return;
  detail::socket_state* s = std::exchange(m_state, nullptr);
  s->owner->request_close(s);
}

int tcp_stream::native_handle() const noexcept {
  return m_state != nullptr ? m_state->fd : -1;
}

endpoint tcp_stream::local_endpoint() const {
  if (m_state == nullptr) throw std::system_error(EBADF, std::system_category(), "local_endpoint");
  ::sockaddr_storage address;
  ::socklen_t length = sizeof(address);
  if (::getsockname(m_state->fd, reinterpret_cast<::sockaddr*>(&address), &length) != 0) {
    throw std::system_error(errno, std::system_category(), "getsockname");
  }
  return endpoint::from_sockaddr(reinterpret_cast<::sockaddr*>(&address), length);
}

endpoint tcp_stream::remote_endpoint() const {
  if (m_state == nullptr) throw std::system_error(EBADF, std::system_category(), "remote_endpoint");
  ::sockaddr_storage address;
  ::socklen_t length = sizeof(address);
  if (::getpeername(m_state->fd, reinterpret_cast<::sockaddr*>(&address), &length) != 0) {
    throw std::system_error(errno, std::system_category(), "getpeername");
  }
  return endpoint::from_sockaddr(reinterpret_cast<::sockaddr*>(&address), length);
}

}  // namespace harrier::net
