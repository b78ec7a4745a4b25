#include <harrier/net/listener.hpp>

#include "net/io_context_impl.hpp"
#include "net/reactor.hpp"
#include "net/socket_io.hpp"
#include "net/socket_state.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace harrier::net {
namespace {

[[noreturn]] void fail(int error, const char* what, const endpoint& at) {
  throw std::system_error(error, std::system_category(),
                          std::string("harrier: cannot ") + what + " on " + at.to_string());
}

std::string unix_path(const endpoint& e) {
  const auto* un = reinterpret_cast<const ::sockaddr_un*>(e.data());
  if (e.size() <= offsetof(::sockaddr_un, sun_path) || un->sun_path[0] == '\0') return {};
  return std::string(un->sun_path);
}

}  // namespace

listener listener::bind(io_context& context, const endpoint& at, listen_options options) {
  const int fd = detail::make_socket(at.family());
  if (fd < 0) fail(-fd, "create a socket", at);
  int one = 1;
  if (at.is_unix()) {
    // A socket file left by a dead process would make bind fail with EADDRINUSE.
    const std::string path = unix_path(at);
    struct ::stat st {};
    if (!path.empty() && ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      ::unlink(path.c_str());
    }
  } else {
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    detail::set_no_delay(fd, at.family());  // inherited by accepted sockets
  }
  if (options.dual_stack && at.family() == AF_INET6) {
    int zero = 0;
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0) {
      const int e = errno;
      ::close(fd);
      fail(e, "clear IPV6_V6ONLY", at);
    }
  }
  if (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    const int e = errno;
    ::close(fd);
    fail(e, "set SO_REUSEPORT", at);
  }
  if (::bind(fd, at.data(), at.size()) != 0) {
    const int e = errno;
    ::close(fd);
    fail(e, "bind", at);
  }
  if (::listen(fd, options.backlog) != 0) {
    const int e = errno;
    ::close(fd);
    fail(e, "listen", at);
  }
  ::sockaddr_storage bound;
  ::socklen_t length = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<::sockaddr*>(&bound), &length);
  listener result;
  result.m_local =
      at.is_unix() ? at : endpoint::from_sockaddr(reinterpret_cast<::sockaddr*>(&bound), length);
  try {
    result.m_state = context.impl().next_reactor().adopt(fd, at.family(), true);
  } catch (...) {
    ::close(fd);
    throw;
  }
  return result;
}

void listener::close() noexcept {
  if (m_state == nullptr) return;
  if (m_local.is_unix()) {
    const std::string path = unix_path(m_local);
    if (!path.empty()) ::unlink(path.c_str());
  }
  detail::socket_state* s = std::exchange(m_state, nullptr);
  s->owner->request_close(s);
}

}  // namespace harrier::net
