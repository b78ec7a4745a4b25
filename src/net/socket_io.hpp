#pragma once
// Non-blocking system call attempts shared by the backends (internal). Each returns the result
// as the io_uring convention has it: >= 0 on success, -errno on failure, -EAGAIN when the
// socket is not ready (the caller parks the operation and retries on readiness).

#include <harrier/net/detail/io_operation.hpp>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace harrier::net::detail {

// The calls on the request path go to the kernel through syscall(2). glibc's own wrappers of
// recv, send, sendmsg, accept4 and epoll_wait are POSIX cancellation points: each one switches
// asynchronous cancellation on and off around the call, two locked compare-exchanges on the
// thread's descriptor (4.3 per request on the epoll path, callgrind with --dump-instr). harrier
// never cancels threads (pthread_cancel on a thread running its I/O is unsupported), so nothing
// is lost. Each returns -1 and sets errno like the wrapper.
// Under ThreadSanitizer the wrappers stay: TSan intercepts them to learn the synchronisation the
// kernel provides (epoll_ctl before epoll_wait hands the socket's state to the I/O thread), and
// raw system calls would hide it and produce false reports.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool k_raw_syscalls = false;
#else
inline constexpr bool k_raw_syscalls = true;
#endif
inline long raw_recv(int fd, void* data, std::size_t length) noexcept {
  if constexpr (!k_raw_syscalls) return ::recv(fd, data, length, 0);
  return ::syscall(SYS_recvfrom, fd, data, length, 0, nullptr, nullptr);
}
inline long raw_send(int fd, const void* data, std::size_t length, int flags) noexcept {
  if constexpr (!k_raw_syscalls) return ::send(fd, data, length, flags);
  return ::syscall(SYS_sendto, fd, data, length, flags, nullptr, 0);
}
inline long raw_sendmsg(int fd, const ::msghdr* message, int flags) noexcept {
  if constexpr (!k_raw_syscalls) return ::sendmsg(fd, message, flags);
  return ::syscall(SYS_sendmsg, fd, message, flags);
}
inline int raw_accept4(int fd, int flags) noexcept {
  if constexpr (!k_raw_syscalls) return ::accept4(fd, nullptr, nullptr, flags);
  return static_cast<int>(::syscall(SYS_accept4, fd, nullptr, nullptr, flags));
}
inline int raw_epoll_wait(int epoll, void* events, int max_events, int timeout_ms) noexcept {
  if constexpr (!k_raw_syscalls) {
    return ::epoll_wait(epoll, static_cast<::epoll_event*>(events), max_events, timeout_ms);
  }
  // epoll_pwait with no mask: the architectures without epoll_wait have it too.
  return static_cast<int>(
      ::syscall(SYS_epoll_pwait, epoll, events, max_events, timeout_ms, nullptr, 0));
}

struct socket_state;

// recv into the operation's buffer.
int attempt_recv(int fd, io_operation& op) noexcept;
// send / sendv: sends until everything went out (returns 0, progress in op.transferred), or
// until the socket is full (-EAGAIN, progress kept for the next attempt), or an error.
int attempt_send(int fd, io_operation& op) noexcept;
int attempt_sendv(int fd, io_operation& op) noexcept;
// sendfile(2) of op.file from op.file.offset + op.transferred: 0 when all is out, -EAGAIN when
// the socket is full (progress kept), -EIO when the file ended early, or -errno.
int attempt_send_file(int fd, io_operation& op) noexcept;
// Records `sent` bytes of progress in a sendv; returns true when every byte is out.
bool advance_sendv(io_operation& op, std::size_t sent) noexcept;
// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
int attempt_accept(int fd) noexcept;
// A connect in progress: 0 once connected, -EAGAIN while pending, -errno if it failed.
int connect_status(int fd) noexcept;

// Socket setup helpers.
int make_socket(int family) noexcept;  // non-blocking, close-on-exec stream socket, or -errno
void set_no_delay(int fd, int family) noexcept;

}  // namespace harrier::net::detail
