#pragma once
// task<T>: the lazy coroutine type every harrier layer returns.
//
// Contract:
// - Lazy: calling a coroutine that returns task<T> allocates its frame and runs nothing. The body
//   starts when the task is awaited, on the awaiting thread.
// - The awaiter resumes on whatever thread completes the task (symmetric transfer at the task's
//   final suspend point). Nothing here hops threads; schedulers do that explicitly.
// - A long chain of awaits that complete synchronously runs in constant stack, at every
//   optimisation level and under the sanitizers. Pure symmetric transfer would rely on the
//   compiler turning `resume` into a tail call, which GCC does only with -foptimize-sibling-calls
//   (-O2) and never under ASan/TSan (measured: 1M awaits overflow the stack at -O0 and with
//   -fsanitize=address even at -O1). So the awaiter starts the task with a nested resume() and a
//   handshake decides who continues: if the task finished before the awaiter suspended, the
//   awaiter simply does not suspend (the stack unwinds to it); otherwise the task's final suspend
//   transfers to the awaiter.
// - Cost of the handshake: a task that finishes inside its own start() on the same thread (a
//   thread-local marker says so) needs none. Otherwise whoever comes second sees the first
//   side's mark with a plain acquire load; only the first side does an atomic exchange. Locked
//   read-modify-writes on both sides were half the cost of an await (bench/core, a chain of 5
//   synchronous tasks: 76 ns with two exchanges per await, 55 with one, 38 with none).
// - Deep *recursion* (a task awaiting a task awaiting ...) uses stack per level while the levels
//   are being entered, like ordinary recursion.
// - A value or an exception reaches the awaiter; an exception is rethrown from co_await.
// - Move-only. Destroying a task that never started destroys its frame; destroying a task that is
//   running (awaited but not finished) is a programming error, as with every coroutine.
// - Awaiting an empty task (default-constructed or moved-from) throws std::logic_error.
// - `co_await std::move(t)` / `co_await f()` yields T by value; `co_await t` on an lvalue yields
//   T& into the task, which keeps its result until destroyed.
// - Frames come from harrier::frame_allocator (per-thread recycling).

#include <harrier/core/frame_allocator.hpp>

#include <atomic>
#include <coroutine>
#include <exception>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace harrier {

template <typename T = void>
class task;

namespace detail {

class task_promise_base;

// The promise whose start() runs on this thread (the innermost one). A task that reaches its end
// while its own start() is on this thread's stack finished synchronously: no other thread can be
// involved, so neither side needs an atomic read-modify-write.
inline constinit thread_local task_promise_base* t_starting_promise = nullptr;

class task_promise_base : public frame_allocated {
 public:
  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
      task_promise_base& promise = self.promise();
      if (t_starting_promise == &promise) {
        promise.m_finished_in_start = true;  // read by start() on this thread, below us
        return std::noop_coroutine();
      }
      // ordering: acquire pairs with the awaiter's release (its exchange in start()): it has
      // committed to suspending, so we are second and transfer to it; nobody touches the flag
      // again, so no read-modify-write is needed. The usual case when the task completed later.
      if (promise.m_other_side_done.load(std::memory_order_acquire) ||
          // ordering: acq_rel. Release publishes the result to an awaiter that comes second;
          // acquire pairs with the awaiter's release when it came first meanwhile.
          promise.m_other_side_done.exchange(true, std::memory_order_acq_rel)) {
        return promise.m_continuation;  // the awaiter is suspended: transfer to it
      }
      return std::noop_coroutine();  // the awaiter is still in await_suspend; it will go on
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }

  // Starts (resumes) the task with `continuation` as its awaiter. Returns true if the awaiter
  // must suspend (the task is still running elsewhere), false if the task already finished.
  bool start(std::coroutine_handle<> self, std::coroutine_handle<> continuation) noexcept {
    m_continuation = continuation;
    task_promise_base* const outer = t_starting_promise;
    t_starting_promise = this;
    self.resume();
    t_starting_promise = outer;
    // Set only by this thread, inside resume() above (final_awaiter); after a suspension the
    // task finishes elsewhere or later, and the handshake below decides.
    if (m_finished_in_start) return false;
    // ordering: see final_awaiter; whoever comes second continues the awaiter. The acquire load
    // pairs with the task's release when it finished first (the usual case when it completed
    // synchronously): no read-modify-write then.
    if (m_other_side_done.load(std::memory_order_acquire)) return false;
    return !m_other_side_done.exchange(true, std::memory_order_acq_rel);
  }

 private:
  std::coroutine_handle<> m_continuation;
  std::atomic<bool> m_other_side_done{false};
  bool m_finished_in_start = false;
};

[[noreturn]] void throw_empty_task();

template <typename T>
class task_promise final : public task_promise_base {
 public:
  task_promise() noexcept {}
  ~task_promise() {
    if (m_state == state::value) {
      m_value.~T();
    } else if (m_state == state::exception) {
      m_exception.~exception_ptr();
    }
  }

  task<T> get_return_object() noexcept;

  template <typename U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    ::new (static_cast<void*>(std::addressof(m_value))) T(std::forward<U>(value));
    m_state = state::value;
  }

  void unhandled_exception() noexcept {
    ::new (static_cast<void*>(std::addressof(m_exception)))
        std::exception_ptr(std::current_exception());
    m_state = state::exception;
  }

  T& result() & {
    if (m_state == state::exception) std::rethrow_exception(m_exception);
    return m_value;
  }
  T&& result() && {
    if (m_state == state::exception) std::rethrow_exception(m_exception);
    return std::move(m_value);
  }

 private:
  enum class state : unsigned char { empty, value, exception };
  state m_state = state::empty;
  union {
    T m_value;
    std::exception_ptr m_exception;
  };
};

template <typename T>
class task_promise<T&> final : public task_promise_base {
 public:
  task<T&> get_return_object() noexcept;
  void return_value(T& value) noexcept { m_value = std::addressof(value); }
  void unhandled_exception() noexcept { m_exception = std::current_exception(); }
  T& result() {
    if (m_exception) std::rethrow_exception(m_exception);
    return *m_value;
  }

 private:
  T* m_value = nullptr;
  std::exception_ptr m_exception;
};

template <>
class task_promise<void> final : public task_promise_base {
 public:
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void unhandled_exception() noexcept { m_exception = std::current_exception(); }
  void result() {
    if (m_exception) std::rethrow_exception(m_exception);
  }

 private:
  std::exception_ptr m_exception;
};

}  // namespace detail

template <typename T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using value_type = T;

  task() noexcept = default;
  explicit task(std::coroutine_handle<promise_type> coroutine) noexcept : m_coroutine(coroutine) {}
  task(task&& other) noexcept : m_coroutine(std::exchange(other.m_coroutine, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      destroy();
      m_coroutine = std::exchange(other.m_coroutine, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { destroy(); }

  // True when the task holds a coroutine (it may or may not have run).
  explicit operator bool() const noexcept { return static_cast<bool>(m_coroutine); }
  // True when the task ran to completion (with a value or an exception).
  bool is_ready() const noexcept { return !m_coroutine || m_coroutine.done(); }

  auto operator co_await() & noexcept { return awaiter<false>{m_coroutine}; }
  auto operator co_await() && noexcept { return awaiter<true>{m_coroutine}; }

  // For schedulers and combinators in harrier: hands over ownership of the frame.
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(m_coroutine, {}); }

 private:
  template <bool Rvalue>
  struct awaiter {
    std::coroutine_handle<promise_type> coroutine;

    bool await_ready() const noexcept { return !coroutine || coroutine.done(); }
    bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
      return coroutine.promise().start(coroutine, awaiting);
    }
    decltype(auto) await_resume() {
      if (!coroutine) detail::throw_empty_task();
      if constexpr (std::is_void_v<T>) {
        coroutine.promise().result();
      } else if constexpr (Rvalue && !std::is_reference_v<T>) {
        return T(std::move(coroutine.promise()).result());
      } else {
        return static_cast<std::add_lvalue_reference_t<T>>(coroutine.promise().result());
      }
    }
  };

  void destroy() noexcept {
    if (m_coroutine) m_coroutine.destroy();
  }

  std::coroutine_handle<promise_type> m_coroutine;
};

namespace detail {

template <typename T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}
template <typename T>
task<T&> task_promise<T&>::get_return_object() noexcept {
  return task<T&>{std::coroutine_handle<task_promise<T&>>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}

}  // namespace detail
}  // namespace harrier
