// The io_uring feature probe behind backend_kind::automatic: decides once per process whether
// this kernel (and sandbox) lets us use io_uring, and says why not in words for the log line.
//
// Refusals recognised: HARRIER_IO_URING_DISABLE=1 (simulated, checked on every call so tests can
// flip it), kernel.io_uring_disabled = 2, io_uring_setup failing with ENOSYS (no io_uring, or a
// seccomp filter) or EPERM (io_uring_disabled = 1 without the group, or a container policy), a
// kernel older than 6.0 (multishot receive), or a missing opcode.
//
// The probe ring is made on a throwaway thread, never on the caller's. Closing a ring makes the
// kernel send task work (TWA_SIGNAL) to every thread that ever attached to it, asynchronously,
// from its ring-exit worker, some time later. Arriving on the application's thread, that
// interrupts whatever blocking call it is in: a read with SO_RCVTIMEO, poll or select with a
// timeout then fail with EINTR, for a signal nobody sent. (That was the "connection closed before
// its response" seen once in 50 runs by an in-process client.) A thread that exits detaches from
// its rings, so nothing is left aimed at it.

#include "net/io_context_impl.hpp"

#include <liburing.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>

namespace harrier::net::detail {
namespace {

// Linux 6.0 brought multishot receive, the newest feature this backend needs.
bool kernel_at_least(int major, int minor) {
  ::utsname u{};
  if (::uname(&u) != 0) return false;
  int ma = 0;
  int mi = 0;
  if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

std::optional<std::string> probe_on_this_thread() {
  {
    std::ifstream disabled("/proc/sys/kernel/io_uring_disabled");
    int value = 0;
    if (disabled >> value && value == 2) return "kernel.io_uring_disabled = 2";
  }
  ::io_uring ring{};
  int rc = ::io_uring_queue_init(4, &ring, 0);
  if (rc < 0) {
    if (rc == -ENOSYS) return "io_uring_setup: ENOSYS (no io_uring in this kernel, or seccomp)";
    if (rc == -EPERM) {
      return "io_uring_setup: EPERM (kernel.io_uring_disabled = 1, or a seccomp/container policy)";
    }
    return fmt::format("io_uring_setup: {}", std::strerror(-rc));
  }
  std::optional<std::string> missing;
  if (!kernel_at_least(6, 0)) {
    missing = "kernel older than 6.0 (multishot receive is needed)";
  } else if (::io_uring_probe* probe = ::io_uring_get_probe_ring(&ring)) {
    const int needed[] = {IORING_OP_RECV,   IORING_OP_SEND,    IORING_OP_SENDMSG,
                          IORING_OP_ACCEPT, IORING_OP_CONNECT, IORING_OP_ASYNC_CANCEL,
                          IORING_OP_READ};
    for (int opcode : needed) {
      if (!::io_uring_opcode_supported(probe, opcode)) {
        missing = fmt::format("opcode {} not supported", opcode);
        break;
      }
    }
    ::io_uring_free_probe(probe);
  } else {
    missing = "io_uring probe failed";
  }
  ::io_uring_queue_exit(&ring);
  return missing;
}

}  // namespace

std::optional<std::string> probe_io_uring() {
  std::optional<std::string> result;
  std::thread prober([&result] { result = probe_on_this_thread(); });
  prober.join();
  return result;
}

std::optional<std::string> io_uring_refusal_reason() {
  if (const char* env = std::getenv("HARRIER_IO_URING_DISABLE");
      env != nullptr && std::string_view(env) == "1") {
    return "HARRIER_IO_URING_DISABLE=1 simulates a refusal";
  }
  // The kernel's answer does not change while we run: probe once.
  static const std::optional<std::string> kernel_refusal = probe_io_uring();
  return kernel_refusal;
}

}  // namespace harrier::net::detail
