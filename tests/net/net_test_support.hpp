#pragma once
// Shared helpers for the net layer's tests: a small thread-pool executor (the real pool is
// written elsewhere), the backend x dispatch matrix every test runs over, a bounded wait, and an
// fd counter.

#include <harrier/core/executor.hpp>
#include <harrier/core/spawn.hpp>
#include <harrier/core/task.hpp>
#include <harrier/net/net.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include "net/io_context_impl.hpp"

#include <dirent.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace net_test {

using namespace std::chrono_literals;

// N threads resuming coroutines from one locked queue: enough to exercise cross-thread
// submission and completion without the real pool.
class test_pool final : public harrier::executor {
 public:
  explicit test_pool(unsigned threads = 2) {
    for (unsigned i = 0; i < threads; ++i)
      m_threads.emplace_back([this] { work(); });
  }
  ~test_pool() override {
    {
      std::lock_guard lock(m_mutex);
      m_done = true;
    }
    m_cv.notify_all();
    for (auto& t : m_threads)
      t.join();
  }
  void post(std::coroutine_handle<> h) override {
    {
      std::lock_guard lock(m_mutex);
      m_queue.push_back(h);
    }
    m_cv.notify_one();
  }
  void post_batch(std::span<const std::coroutine_handle<>> batch) override {
    {
      std::lock_guard lock(m_mutex);
      m_queue.insert(m_queue.end(), batch.begin(), batch.end());
    }
    m_cv.notify_all();
  }

 private:
  void work() {
    std::unique_lock lock(m_mutex);
    while (true) {
      m_cv.wait(lock, [this] { return m_done || !m_queue.empty(); });
      if (m_queue.empty()) return;
      auto h = m_queue.front();
      m_queue.pop_front();
      lock.unlock();
      h.resume();
      lock.lock();
    }
  }
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<std::coroutine_handle<>> m_queue;
  bool m_done = false;
  std::vector<std::thread> m_threads;
};

// One point of the test matrix: a backend, and where completions resume: test_pool (posted
// by the I/O thread), inline on the I/O thread, or harrier's thread_pool (real_pool), whose
// idle workers drive an epoll backend themselves (io_options::workers_drive_io).
struct config {
  harrier::net::backend_kind backend;
  bool inline_dispatch;
  bool real_pool = false;
  std::string name() const {
    return std::string(harrier::net::to_string(backend)) + (inline_dispatch ? "/inline"
                                                            : real_pool     ? "/thread_pool"
                                                                            : "/pool");
  }
};

inline config any_config() {
  return GENERATE(config{harrier::net::backend_kind::io_uring, false},
                  config{harrier::net::backend_kind::io_uring, true},
                  config{harrier::net::backend_kind::io_uring, false, true},
                  config{harrier::net::backend_kind::epoll, false},
                  config{harrier::net::backend_kind::epoll, true},
                  config{harrier::net::backend_kind::epoll, false, true});
}

inline std::unique_ptr<harrier::executor> make_dispatch(const config& c) {
  if (c.inline_dispatch) return nullptr;
  if (!c.real_pool) return std::make_unique<test_pool>(2);
  harrier::thread_pool_options options;
  options.min_threads = 2;
  return std::make_unique<harrier::thread_pool>(options);
}

// The backend to test for `wanted`: io_uring where this kernel allows it, else epoll in its
// place (a sandbox that refuses io_uring, such as Docker's default seccomp profile, leaves
// nothing of io_uring to test; the fallback itself is tested in io_context_tests.cpp).
inline harrier::net::backend_kind usable(harrier::net::backend_kind wanted) {
  if (wanted == harrier::net::backend_kind::io_uring &&
      harrier::net::detail::io_uring_refusal_reason()) {
    return harrier::net::backend_kind::epoll;
  }
  return wanted;
}

// A pool (when asked) and an io_context on it.
struct environment {
  explicit environment(config c, unsigned io_threads = 1)
      : pool(make_dispatch(c)),
        context(harrier::net::io_options{usable(c.backend), pool.get(), io_threads}) {}
  std::unique_ptr<harrier::executor> pool;
  harrier::net::io_context context;
};

// Runs a task to completion on the calling thread's behalf, failing (and aborting, since the
// task cannot be torn down while suspended) if it takes longer than `limit`.
template <typename T>
T run(harrier::task<T> work, std::chrono::milliseconds limit = 20s) {
  using stored = std::conditional_t<std::is_void_v<T>, bool, T>;
  struct shared {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    std::optional<stored> value;
    std::exception_ptr error;
  };
  auto state = std::make_shared<shared>();
  harrier::spawn([](harrier::task<T> w, std::shared_ptr<shared> s) -> harrier::task<void> {
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(w);
        s->value.emplace(true);
      } else {
        s->value.emplace(co_await std::move(w));
      }
    } catch (...) {
      s->error = std::current_exception();
    }
    std::lock_guard lock(s->mutex);
    s->done = true;
    s->cv.notify_all();
  }(std::move(work), state));
  std::unique_lock lock(state->mutex);
  if (!state->cv.wait_for(lock, limit, [&] { return state->done; })) {
    std::fprintf(stderr, "net test: a task did not finish within %lld ms\n",
                 static_cast<long long>(limit.count()));
    std::abort();
  }
  if (state->error) std::rethrow_exception(state->error);
  if constexpr (!std::is_void_v<T>) return std::move(*state->value);
}

inline std::size_t open_fd_count() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr)
      ++n;
    ::closedir(d);
  }
  return n;
}

inline std::span<const std::byte> as_bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// Catch2's assertions are not thread-safe, and coroutines here resume on pool threads: inside a
// coroutine, check with NET_EXPECT (it throws; run() rethrows on the test's thread).
#define NET_EXPECT(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      throw std::runtime_error(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                               ": expected " #cond);                                    \
    }                                                                                   \
  } while (false)

// A connected pair over loopback (the listener is closed afterwards).
inline harrier::task<std::pair<harrier::net::tcp_stream, harrier::net::tcp_stream>> connected_pair(
    harrier::net::io_context& ctx, std::string where = "127.0.0.1:0") {
  auto l = harrier::net::listener::bind(ctx, harrier::net::endpoint::parse(where));
  auto c = co_await harrier::net::connect(ctx, l.local_endpoint());
  NET_EXPECT(!c.error);
  auto a = co_await l.accept();
  NET_EXPECT(!a.error);
  co_return std::pair{std::move(a.stream), std::move(c.stream)};
}

// With inline dispatch: runs `action` (if any) on the I/O thread, 1 ms from now, in this
// coroutine resumed there by a timer (with a pool it resumes on a worker).
inline harrier::task<void> act_after_timer(harrier::net::io_context& ctx,
                                           std::function<void()> action) {
  auto e = co_await harrier::net::sleep_for(ctx, 1ms);
  NET_EXPECT(!e);
  if (action) action();
}

}  // namespace net_test
