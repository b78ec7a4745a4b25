#pragma once
// sync_wait(task): run a task to completion and block the calling thread until it is done.
//
// Meant for main(), tests and other threads outside the pool. The task starts on the calling
// thread and may finish on any other (for example after co_await pool.schedule()); the caller
// sleeps on a condition variable meanwhile. Returns the task's value or rethrows its exception.
//
// Called on a pool worker it is the `.Result` anti-pattern: it still works, and it tells the pool
// (through the blocking observer) that this worker is blocked, so the pool can compensate.

#include <harrier/core/blocking.hpp>
#include <harrier/core/task.hpp>

#include <condition_variable>
#include <coroutine>
#include <exception>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

namespace harrier {
namespace detail {

class sync_wait_event {
 public:
  void set() noexcept {
    std::lock_guard lock(m_mutex);
    m_done = true;
    m_cv.notify_one();
  }
  void wait() noexcept {
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [this] { return m_done; });
  }
  bool is_set() noexcept {
    std::lock_guard lock(m_mutex);
    return m_done;
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_done = false;
};

// The driver coroutine: awaits the user's task, stores the outcome, and signals the event only
// once it is suspended at its final point, so the waiting thread may destroy it right away.
class sync_wait_driver {
 public:
  struct promise_type {
    sync_wait_event* event = nullptr;
    sync_wait_driver get_return_object() noexcept {
      return sync_wait_driver{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    auto final_suspend() const noexcept {
      struct signal {
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<promise_type> self) const noexcept {
          self.promise().event->set();
        }
        void await_resume() const noexcept {}
      };
      return signal{};
    }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }  // the body catches everything
  };

  explicit sync_wait_driver(std::coroutine_handle<promise_type> h) noexcept : m_handle(h) {}
  sync_wait_driver(sync_wait_driver&& other) noexcept
      : m_handle(std::exchange(other.m_handle, {})) {}
  sync_wait_driver(const sync_wait_driver&) = delete;
  sync_wait_driver& operator=(const sync_wait_driver&) = delete;
  ~sync_wait_driver() {
    if (m_handle) m_handle.destroy();
  }

  void run(sync_wait_event& event) {
    m_handle.promise().event = &event;
    m_handle.resume();
    if (!event.is_set()) {
      blocking_region region;  // only a wait that really blocks is reported
      event.wait();
    }
  }

 private:
  std::coroutine_handle<promise_type> m_handle;
};

template <typename T>
using sync_wait_storage_t = std::conditional_t<
    std::is_void_v<T>, char,
    std::conditional_t<std::is_reference_v<T>, std::add_pointer_t<T>, std::remove_cv_t<T>>>;

// A function, not a capturing lambda: a lambda coroutine's captures live in the closure object,
// which would be gone before the body runs.
template <typename T>
sync_wait_driver sync_wait_body(task<T>& work, std::exception_ptr& error,
                                std::optional<sync_wait_storage_t<T>>& result) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(work);
    } else if constexpr (std::is_reference_v<T>) {
      result.emplace(std::addressof(co_await std::move(work)));
    } else {
      result.emplace(co_await std::move(work));
    }
  } catch (...) {
    error = std::current_exception();
  }
}

}  // namespace detail

template <typename T>
T sync_wait(task<T> work) {
  std::exception_ptr error;
  std::optional<detail::sync_wait_storage_t<T>> result;
  detail::sync_wait_event event;
  detail::sync_wait_body(work, error, result).run(event);
  if (error) std::rethrow_exception(error);
  if constexpr (std::is_reference_v<T>) {
    return **result;
  } else if constexpr (!std::is_void_v<T>) {
    return std::move(*result);
  }
}

}  // namespace harrier
