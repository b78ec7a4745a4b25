#pragma once
// io_context_impl: the reactors and their threads behind an io_context (internal).

#include <harrier/net/io_context.hpp>

#include "net/reactor.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace harrier::net::detail {

class io_context_impl {
 public:
  explicit io_context_impl(io_options options);
  ~io_context_impl();
  io_context_impl(const io_context_impl&) = delete;
  io_context_impl& operator=(const io_context_impl&) = delete;

  backend_kind backend() const noexcept { return m_backend; }
  const io_options& options() const noexcept { return m_options; }
  void stop() noexcept;
  io_stats stats() const noexcept;
  bool workers_drive_io() const noexcept;

  // The reactor for a new socket: round-robin over the I/O threads.
  reactor& next_reactor() noexcept;
  // The reactor for a timer: the calling I/O thread's own when it belongs here.
  reactor& local_reactor() noexcept;

 private:
  void start_reactors();  // makes m_options.io_threads reactors of m_backend, then starts them
  void start_threads();
  void shutdown_threads() noexcept;

  io_options m_options;
  backend_kind m_backend;
  std::vector<std::unique_ptr<reactor>> m_reactors;
  std::vector<std::thread> m_threads;
  std::atomic<unsigned> m_next{0};
  bool m_stopped = false;
};

// Why io_uring cannot be used here, or nullopt when it can (internal; io_uring_reactor.cpp).
std::optional<std::string> io_uring_refusal_reason();
// Asks the kernel afresh (on a throwaway thread; see io_uring_probe.cpp). Empty when usable.
std::optional<std::string> probe_io_uring();
std::unique_ptr<reactor> make_io_uring_reactor(io_context_impl& context, const io_options& options);
std::unique_ptr<reactor> make_epoll_reactor(io_context_impl& context, const io_options& options);

}  // namespace harrier::net::detail
