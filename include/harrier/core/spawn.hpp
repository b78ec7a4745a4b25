#pragma once
// spawn(task): start a task and forget it.
//
// Contract:
// - The task starts at once, on the calling thread, and runs until its first suspension; spawn
//   then returns. The rest runs wherever the task's awaits lead it.
// - Its frame is freed when it finishes. Nobody can await it; a spawned task that never finishes
//   (never resumed) leaks, as a detached thread would.
// - An exception that escapes the task is logged through the "harrier" spdlog logger at error
//   level with `what` names the spawn site; it never terminates the process.
// - spawn(executor, task) first moves the task onto the executor (it starts there, not inline).

#include <harrier/core/executor.hpp>
#include <harrier/core/task.hpp>

#include <coroutine>
#include <exception>
#include <string_view>

namespace harrier {
namespace detail {

// Logs an exception that escaped a detached task. Out of line to keep spdlog out of headers.
void report_escaped_exception(std::exception_ptr error, std::string_view what) noexcept;

struct detached_task {
  struct promise_type : frame_allocated {
    detached_task get_return_object() const noexcept { return {}; }
    std::suspend_never initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept {
      report_escaped_exception(std::current_exception(), "spawned task");
    }
  };
};

inline detached_task run_detached(task<void> work, std::string_view what) {
  try {
    co_await std::move(work);
  } catch (...) {
    report_escaped_exception(std::current_exception(), what);
  }
}

inline detached_task run_detached_on(executor& ex, task<void> work, std::string_view what) {
  try {
    co_await ex.schedule();
    co_await std::move(work);
  } catch (...) {
    report_escaped_exception(std::current_exception(), what);
  }
}

}  // namespace detail

// `what` must outlive the task (a string literal, typically): it names the task in the log line.
inline void spawn(task<void> work, std::string_view what = "spawned task") {
  detail::run_detached(std::move(work), what);
}

inline void spawn(executor& ex, task<void> work, std::string_view what = "spawned task") {
  detail::run_detached_on(ex, std::move(work), what);
}

}  // namespace harrier
