#pragma once
// when_all: await several tasks, get all their results.
//
// Contract:
// - The children start in order on the awaiting thread, each running until its first suspension;
//   they may then finish on any thread. The awaiter resumes on the thread that finishes last.
// - It always waits for every child, even when one fails (structured: no child outlives the
//   co_await). Then, if any failed, it rethrows the exception of the lowest-index failed child.
// - when_all(task<A>, task<B>, ...) yields std::tuple<A, B, ...>, with std::monostate for void.
//   when_all(std::vector<task<T>>) yields std::vector<T>, or nothing for T = void.
// - Children that complete synchronously cost no extra stack: each one returns to the start loop.

#include <harrier/core/task.hpp>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace harrier {
namespace detail {

// Counts outstanding children plus one for the awaiter itself, so that a child finishing during
// the start loop can never resume the awaiter early.
class when_all_latch {
 public:
  explicit when_all_latch(std::size_t children) noexcept : m_count(children + 1) {}

  // Returns false if every child already finished (the awaiter continues without suspending).
  bool try_await(std::coroutine_handle<> awaiter) noexcept {
    m_awaiter = awaiter;
    // ordering: acq_rel publishes m_awaiter to the last child and acquires the children's results.
    return m_count.fetch_sub(1, std::memory_order_acq_rel) > 1;
  }
  // Called by each child at its final suspend point; returns whom to resume next.
  std::coroutine_handle<> child_done() noexcept {
    if (m_count.fetch_sub(1, std::memory_order_acq_rel) == 1) return m_awaiter;
    return std::noop_coroutine();
  }

 private:
  std::atomic<std::size_t> m_count;
  std::coroutine_handle<> m_awaiter;
};

template <typename T>
using when_all_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// Wraps one child: awaits it, keeps its outcome, signals the latch.
template <typename T>
class when_all_child {
 public:
  struct promise_type : frame_allocated {
    when_all_latch* latch = nullptr;
    std::exception_ptr error;
    std::optional<when_all_value_t<T>> value;

    when_all_child get_return_object() noexcept {
      return when_all_child{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    auto final_suspend() const noexcept {
      struct notify {
        bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) noexcept {
          return self.promise().latch->child_done();
        }
        void await_resume() const noexcept {}
      };
      return notify{};
    }
    // The body hands its result over with co_yield; the child never suspends there.
    template <typename U>
    std::suspend_never yield_value(U&& result) {
      value.emplace(std::forward<U>(result));
      return {};
    }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  explicit when_all_child(std::coroutine_handle<promise_type> h) noexcept : m_handle(h) {}
  when_all_child(when_all_child&& other) noexcept : m_handle(std::exchange(other.m_handle, {})) {}
  when_all_child(const when_all_child&) = delete;
  when_all_child& operator=(const when_all_child&) = delete;
  ~when_all_child() {
    if (m_handle) m_handle.destroy();
  }

  void start(when_all_latch& latch) noexcept {
    m_handle.promise().latch = &latch;
    m_handle.resume();
  }
  std::exception_ptr error() const noexcept { return m_handle.promise().error; }
  when_all_value_t<T>&& value() noexcept { return std::move(*m_handle.promise().value); }

 private:
  std::coroutine_handle<promise_type> m_handle;
};

template <typename T>
when_all_child<T> make_when_all_child(task<T> work) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(work);
  } else {
    co_yield co_await std::move(work);
  }
}

template <typename... Ts>
task<std::tuple<when_all_value_t<Ts>...>> when_all_tuple(when_all_child<Ts>... children) {
  struct awaiter {
    std::tuple<when_all_child<Ts>...>& children;
    when_all_latch latch{sizeof...(Ts)};
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      std::apply([this](auto&... c) { (c.start(latch), ...); }, children);
      return latch.try_await(h);
    }
    void await_resume() const noexcept {}
  };
  std::tuple<when_all_child<Ts>...> all{std::move(children)...};
  co_await awaiter{all};
  std::exception_ptr first;
  std::apply([&first](auto&... c) { ((first = first ? first : c.error()), ...); }, all);
  if (first) std::rethrow_exception(first);
  co_return std::apply([](auto&... c) { return std::tuple<when_all_value_t<Ts>...>{c.value()...}; },
                       all);
}

}  // namespace detail

template <typename... Ts>
task<std::tuple<detail::when_all_value_t<Ts>...>> when_all(task<Ts>... tasks) {
  return detail::when_all_tuple<Ts...>(detail::make_when_all_child(std::move(tasks))...);
}

template <typename T>
task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> when_all(
    std::vector<task<T>> tasks) {
  std::vector<detail::when_all_child<T>> children;
  children.reserve(tasks.size());
  for (task<T>& t : tasks)
    children.push_back(detail::make_when_all_child(std::move(t)));

  struct awaiter {
    std::vector<detail::when_all_child<T>>& children;
    detail::when_all_latch latch;
    bool await_ready() const noexcept { return children.empty(); }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      for (auto& c : children)
        c.start(latch);
      return latch.try_await(h);
    }
    void await_resume() const noexcept {}
  };
  co_await awaiter{children, detail::when_all_latch{children.size()}};

  for (auto& c : children) {
    if (std::exception_ptr e = c.error()) std::rethrow_exception(e);
  }
  if constexpr (!std::is_void_v<T>) {
    std::vector<T> results;
    results.reserve(children.size());
    for (auto& c : children)
      results.push_back(std::move(c.value()));
    co_return results;
  }
}

}  // namespace harrier
