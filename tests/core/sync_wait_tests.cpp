#include <harrier/core/blocking.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/core/task.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using harrier::sync_wait;
using harrier::task;

namespace {

struct resume_on_new_thread {
  std::thread::id* resumed_on;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const {
    std::thread([h] { h.resume(); }).detach();
  }
  void await_resume() const noexcept { *resumed_on = std::this_thread::get_id(); }
};

task<int> finish_elsewhere(std::thread::id& where) {
  co_await resume_on_new_thread{&where};
  co_return 3;
}

// Counts notifications, standing in for the thread pool.
struct counting_observer final : harrier::blocking_observer {
  std::atomic<int> begins{0};
  std::atomic<int> ends{0};
  void on_blocking_begin() noexcept override { ++begins; }
  void on_blocking_end() noexcept override { ++ends; }
};

}  // namespace

TEST_CASE("sync_wait blocks until a task that finishes on another thread completes",
          "[sync_wait]") {
  std::thread::id where;
  CHECK(sync_wait(finish_elsewhere(where)) == 3);
  CHECK(where != std::this_thread::get_id());
}

TEST_CASE("sync_wait tells the thread's blocking observer only when it really blocks",
          "[sync_wait]") {
  counting_observer observer;
  auto* previous = harrier::set_thread_blocking_observer(&observer);

  auto immediate = []() -> task<int> { co_return 1; };
  CHECK(sync_wait(immediate()) == 1);
  CHECK(observer.begins == 0);

  std::thread::id where;
  CHECK(sync_wait(finish_elsewhere(where)) == 3);
  CHECK(observer.begins == 1);
  CHECK(observer.ends == 1);

  harrier::set_thread_blocking_observer(previous);
}

TEST_CASE("nested blocking regions notify the observer once", "[blocking]") {
  counting_observer observer;
  auto* previous = harrier::set_thread_blocking_observer(&observer);
  int result = harrier::blocking([] { return harrier::blocking([] { return 5; }); });
  CHECK(result == 5);
  CHECK(observer.begins == 1);
  CHECK(observer.ends == 1);
  harrier::set_thread_blocking_observer(previous);
}

TEST_CASE("blocking on a thread without an observer just runs the callable", "[blocking]") {
  REQUIRE(harrier::thread_blocking_observer() == nullptr);
  CHECK(harrier::blocking([] { return 9; }) == 9);
}
