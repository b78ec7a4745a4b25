#include "net/socket_io.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace harrier::net::detail {
namespace {

// sendmsg takes at most this many iovecs per call here; the rest go in the next call.
constexpr std::size_t k_max_iov_per_call = 64;

int negative_errno() noexcept {
  return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

}  // namespace

int attempt_recv(int fd, io_operation& op) noexcept {
  while (true) {
    const long n = raw_recv(fd, op.buffer.data, op.buffer.length);
    if (n >= 0) return static_cast<int>(n);
    if (errno != EINTR) return negative_errno();
  }
}

int attempt_send(int fd, io_operation& op) noexcept {
  while (op.transferred < op.buffer.length) {
    const long n = raw_send(fd, op.buffer.data + op.transferred, op.buffer.length - op.transferred,
                            MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return negative_errno();
    }
    op.transferred += static_cast<std::size_t>(n);
  }
  return 0;
}

namespace {
// sendfile(2) has no MSG_NOSIGNAL: writing to a connection the peer reset raises SIGPIPE on the
// calling thread, and its default action kills the process. A library must not change the
// process's signal dispositions, so SIGPIPE is blocked on this thread around the call, and the
// one our call raised (if any) is consumed before the old mask comes back. A thread that already
// blocks SIGPIPE is left alone (a pending SIGPIPE of its own stays its own). Two sigprocmask
// calls per attempt: this path is for bodies of tens of KiB and more.
class sigpipe_guard {
 public:
  sigpipe_guard() noexcept {
    ::sigemptyset(&m_pipe);
    ::sigaddset(&m_pipe, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &m_pipe, &m_old);
    m_active = ::sigismember(&m_old, SIGPIPE) == 0;
  }
  ~sigpipe_guard() {
    if (!m_active) return;
    if (m_raised) {
      const ::timespec zero{};
      while (::sigtimedwait(&m_pipe, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;
  void note_epipe() noexcept { m_raised = true; }

 private:
  ::sigset_t m_pipe;
  ::sigset_t m_old;
  bool m_active = false;
  bool m_raised = false;
};
}  // namespace

int attempt_send_file(int fd, io_operation& op) noexcept {
  // One sendfile(2) moves at most about 2 GiB; larger lengths take several calls.
  constexpr std::size_t k_max_per_call = std::size_t{1} << 30;
  sigpipe_guard guard;
  while (op.transferred < op.file.length) {
    auto position = static_cast<::off_t>(op.file.offset + op.transferred);
    const std::size_t want = std::min(op.file.length - op.transferred, k_max_per_call);
    const ssize_t n = ::sendfile(fd, op.file.fd, &position, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) guard.note_epipe();
      return negative_errno();
    }
    if (n == 0) return -EIO;  // the file is shorter than promised
    op.transferred += static_cast<std::size_t>(n);
  }
  return 0;
}

bool advance_sendv(io_operation& op, std::size_t sent) noexcept {
  auto& v = op.vector;
  op.transferred += sent;
  while (v.index < v.count) {
    const std::size_t left = v.iov[v.index].iov_len - v.offset;
    if (sent < left) {
      v.offset += sent;
      return false;
    }
    sent -= left;
    ++v.index;
    v.offset = 0;
  }
  return true;
}

int attempt_sendv(int fd, io_operation& op) noexcept {
  auto& v = op.vector;
  // Skip empty iovecs so that "all sent" is decided by index alone.
  while (v.index < v.count && v.iov[v.index].iov_len == v.offset) {
    ++v.index;
    v.offset = 0;
  }
  while (v.index < v.count) {
    ::iovec local[k_max_iov_per_call];
    const std::size_t n_iov = std::min<std::size_t>(k_max_iov_per_call, v.count - v.index);
    std::copy_n(v.iov + v.index, n_iov, local);
    local[0].iov_base = static_cast<char*>(local[0].iov_base) + v.offset;
    local[0].iov_len -= v.offset;
    ::msghdr message{};
    message.msg_iov = local;
    message.msg_iovlen = n_iov;
    const long n = raw_sendmsg(fd, &message, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return negative_errno();
    }
    if (advance_sendv(op, static_cast<std::size_t>(n))) return 0;
  }
  return 0;
}

int attempt_accept(int fd) noexcept {
  while (true) {
    const int accepted = raw_accept4(fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (accepted >= 0) return accepted;
    if (errno != EINTR) return negative_errno();
  }
}

int connect_status(int fd) noexcept {
  int error = 0;
  ::socklen_t length = sizeof(error);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return -errno;
  if (error != 0) return -error;
  ::sockaddr_storage peer;
  ::socklen_t peer_length = sizeof(peer);
  if (::getpeername(fd, reinterpret_cast<::sockaddr*>(&peer), &peer_length) != 0) {
    return errno == ENOTCONN ? -EAGAIN : -errno;
  }
  return 0;
}

int make_socket(int family) noexcept {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd >= 0 ? fd : -errno;
}

void set_no_delay(int fd, int family) noexcept {
  if (family != AF_INET && family != AF_INET6) return;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace harrier::net::detail
