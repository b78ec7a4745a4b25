// io_context: backend selection (with the io_uring -> epoll fallback) and the I/O threads.
//
// Each I/O thread builds its own backend (a ring must be created by the thread that submits to
// it when IORING_SETUP_SINGLE_ISSUER is used), then reports to the constructor, which waits for
// all of them and rethrows the first failure.

#include <harrier/net/io_context.hpp>

#include "net/io_context_impl.hpp"

#include <harrier/diagnostics/blocking_detector.hpp>

#include <pthread.h>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "core/logger.hpp"

namespace harrier::net {

std::string_view to_string(backend_kind kind) noexcept {
  switch (kind) {
    case backend_kind::automatic:
      return "auto";
    case backend_kind::io_uring:
      return "io_uring";
    case backend_kind::epoll:
      return "epoll";
  }
  return "unknown";
}

namespace detail {

io_context_impl::io_context_impl(io_options options) : m_options(options) {
  if (m_options.io_threads == 0) m_options.io_threads = 1;
  m_backend = m_options.backend;
  if (m_backend != backend_kind::epoll) {
    std::optional<std::string> refusal = io_uring_refusal_reason();
    if (!refusal) {
      m_backend = backend_kind::io_uring;
    } else if (m_backend == backend_kind::automatic) {
      harrier::detail::harrier_logger()->warn("net: io_uring refused ({}); falling back to epoll",
                                              *refusal);
      m_backend = backend_kind::epoll;
    } else {
      throw std::system_error(std::make_error_code(std::errc::operation_not_supported),
                              "harrier: the io_uring backend was requested, but this kernel or "
                              "sandbox refuses it (" +
                                  *refusal + ")");
    }
  }
  try {
    start_reactors();
  } catch (const std::system_error& e) {
    // The probe's small ring passed, but a reactor's own did not (its size, its provided
    // buffers: a memory limit, a sandbox that filters on the arguments). Automatic means any
    // backend that works. No reactor was attached to the pool: a failed open stops before that,
    // and with more than one reactor none is (reactor::attach_to_dispatch).
    if (m_options.backend != backend_kind::automatic || m_backend != backend_kind::io_uring) {
      throw;
    }
    harrier::detail::harrier_logger()->warn(
        "net: io_uring ring setup failed ({}); falling back to epoll", e.what());
    m_threads.clear();
    m_reactors.clear();
    m_backend = backend_kind::epoll;
    start_reactors();
  }
}

void io_context_impl::start_reactors() {
  for (unsigned i = 0; i < m_options.io_threads; ++i) {
    m_reactors.push_back(m_backend == backend_kind::io_uring
                             ? make_io_uring_reactor(*this, m_options)
                             : make_epoll_reactor(*this, m_options));
  }
  start_threads();
}

void io_context_impl::start_threads() {
  std::mutex mutex;
  std::condition_variable ready;
  std::size_t opened = 0;
  std::exception_ptr failure;
  diagnostics::blocking_detector* const detector =
      m_options.dispatch == nullptr ? m_options.detector : nullptr;
  for (std::size_t index = 0; index < m_reactors.size(); ++index) {
    reactor* target = m_reactors[index].get();
    m_threads.emplace_back([target, index, detector, &mutex, &ready, &opened, &failure] {
      const std::string name = fmt::format("harrier-io-{}", index);
      ::pthread_setname_np(::pthread_self(), name.c_str());  // for top -H, perf, gdb
      bool ok = true;
      try {
        target->open();
        target->attach_to_dispatch();
      } catch (...) {
        ok = false;
        std::lock_guard lock(mutex);
        if (!failure) failure = std::current_exception();
      }
      {
        std::lock_guard lock(mutex);
        ++opened;
        ready.notify_all();
      }
      if (!ok) return;
      bool watched = false;
      if (detector != nullptr) {
        try {
          detector->register_current_thread(name, diagnostics::watched_thread_role::io_thread);
          watched = true;
        } catch (...) {  // out of memory: run unwatched rather than not at all
        }
      }
      target->run();
      if (watched) detector->unregister_current_thread();
    });
  }
  std::unique_lock lock(mutex);
  ready.wait(lock, [&] { return opened == m_reactors.size(); });
  if (failure) {
    lock.unlock();
    shutdown_threads();
    std::rethrow_exception(failure);
  }
}

void io_context_impl::shutdown_threads() noexcept {
  for (auto& r : m_reactors)
    r->request_exit();
  for (auto& t : m_threads) {
    if (t.joinable()) t.join();
  }
  for (auto& r : m_reactors) {
    r->wait_for_producers();
    r->close_leftovers();
  }
}

io_context_impl::~io_context_impl() {
  shutdown_threads();
}

void io_context_impl::stop() noexcept {
  for (auto& r : m_reactors)
    r->request_stop();
}

bool io_context_impl::workers_drive_io() const noexcept {
  return m_reactors.front()->worker_driven();  // only ever with one I/O thread
}

io_stats io_context_impl::stats() const noexcept {
  io_stats total;
  for (const auto& r : m_reactors) {
    io_stats s = r->stats();
    total.completions += s.completions;
    total.wait_calls += s.wait_calls;
    total.wakeups += s.wakeups;
    total.batched_waits += s.batched_waits;
    total.pending_operations += s.pending_operations;
  }
  return total;
}

reactor& io_context_impl::next_reactor() noexcept {
  if (m_reactors.size() == 1) return *m_reactors.front();
  unsigned i = m_next.fetch_add(1, std::memory_order_relaxed);
  return *m_reactors[i % m_reactors.size()];
}

reactor& io_context_impl::local_reactor() noexcept {
  reactor* current = reactor::current();
  if (current != nullptr && &current->context() == this) return *current;
  return next_reactor();
}

}  // namespace detail

io_context::io_context(io_options options)
    : m_impl(std::make_unique<detail::io_context_impl>(options)) {}

io_context::~io_context() = default;

backend_kind io_context::backend() const noexcept {
  return m_impl->backend();
}
const io_options& io_context::options() const noexcept {
  return m_impl->options();
}
void io_context::stop() {
  m_impl->stop();
}
io_stats io_context::stats() const noexcept {
  return m_impl->stats();
}
bool io_context::workers_drive_io() const noexcept {
  return m_impl->workers_drive_io();
}

}  // namespace harrier::net
