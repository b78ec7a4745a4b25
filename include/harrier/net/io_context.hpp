#pragma once
// io_context: the platform layer's engine. It owns the backend (io_uring or epoll) and its I/O
// threads, and turns the kernel's completions into resumed coroutines.
//
// Contract:
// - The constructor starts `io_threads` I/O threads, each owning one ring (or epoll set). It throws
//   std::system_error when the requested backend cannot start. backend_kind::automatic picks
//   io_uring and falls back to epoll with one warning line on the "harrier" logger when io_uring
//   is refused (io_uring_disabled, seccomp, ENOSYS, EPERM, a kernel older than 5.19, or the
//   environment variable HARRIER_IO_URING_DISABLE=1, which simulates a refusal).
// - Completions resume their coroutines through `dispatch->post_batch()` (one call per harvested
//   batch), or inline on the I/O thread when dispatch is nullptr. Inline is cheapest, but a
//   handler that blocks then stalls every connection of that I/O thread. The dispatch executor
//   must outlive the io_context: its I/O threads consult it (post_batch, saturated,
//   wait_for_idle_thread, attach_driver) until the destructor has joined them, stop() or not,
//   and its workers may be the ones that harvest (io_options::workers_drive_io).
// - stop() (any thread, idempotent): pending operations complete with operation_canceled, then
//   the I/O threads exit. The destructor calls stop() and joins.
// - Sockets, listeners and operations must not outlive their io_context.

#include <harrier/core/executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace harrier::diagnostics {
class blocking_detector;
}

namespace harrier::net {

enum class backend_kind { automatic, io_uring, epoll };
std::string_view to_string(backend_kind kind) noexcept;

struct io_options {
  backend_kind backend = backend_kind::automatic;
  executor* dispatch = nullptr;  // where completions resume coroutines; nullptr = inline
  unsigned io_threads = 1;       // I/O threads, each with its own ring or epoll set
  unsigned ring_entries = 1024;  // io_uring submission queue size per I/O thread
  // Provided receive buffers per I/O thread (io_uring buffer ring; a power of two <= 32768) and
  // their size. Memory is reserved, and only touched (resident) when data lands in a buffer.
  unsigned provided_buffers = 1024;
  std::size_t provided_buffer_bytes = 4096;
  // With one I/O thread, a dispatch executor that can drive I/O (thread_pool) and a backend that
  // lets any thread wait (epoll): idle workers harvest the completions themselves and run them
  // with no hop (Tokio's topology); the I/O thread only starts and finishes. Otherwise, or when
  // false, the I/O thread harvests and posts each batch (Kestrel's).
  bool workers_drive_io = true;
  // io_uring under load: the longest an I/O thread lets completions gather before it wakes
  // (min_wait, Linux >= 6.12; ignored where the kernel lacks it, and when the I/O thread may
  // run on one CPU only). It waits only when arrivals are dense enough to fill a batch, and
  // never longer than 1/16 of a connection's request cycle (src/net/batch_wait.hpp). Zero: never.
  std::chrono::microseconds max_batch_wait{25};
  // With inline dispatch (no dispatch executor), each I/O thread registers with this detector
  // (as "harrier-io-N", an I/O thread) and marks every coroutine it resumes as an item, so that a
  // handler that blocks the thread is named. Must outlive the io_context. Ignored otherwise.
  diagnostics::blocking_detector* detector = nullptr;
};

// Counters for benchmarks and diagnostics; approximate while the I/O threads run.
struct io_stats {
  std::uint64_t completions = 0;    // operations completed
  std::uint64_t wait_calls = 0;     // io_uring_enter / epoll_wait calls made by the I/O threads
  std::uint64_t wakeups = 0;        // cross-thread wake-ups written (eventfd)
  std::uint64_t batched_waits = 0;  // waits that let completions gather (max_batch_wait)
  std::uint64_t pending_operations = 0;  // started and not yet completed
};

namespace detail {
class io_context_impl;
}

class io_context {
 public:
  explicit io_context(io_options options = {});
  ~io_context();
  io_context(const io_context&) = delete;
  io_context& operator=(const io_context&) = delete;

  // The backend actually in use, after any fallback.
  backend_kind backend() const noexcept;
  const io_options& options() const noexcept;
  void stop();
  io_stats stats() const noexcept;
  // Whether the dispatch executor's idle workers harvest the completions (the worker-driven
  // topology, io_options::workers_drive_io) rather than the I/O thread.
  bool workers_drive_io() const noexcept;

  detail::io_context_impl& impl() noexcept { return *m_impl; }

 private:
  std::unique_ptr<detail::io_context_impl> m_impl;
};

}  // namespace harrier::net
