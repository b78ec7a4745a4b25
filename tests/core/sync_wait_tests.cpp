#include <harrier/core/blocking.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/core/task.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
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

// Resumes the coroutine from another thread only once the observer has seen the block begin, so
// the waiting thread is certain to block (bounded: gives up waiting after 10 s).
struct resume_after_block_begins {
  counting_observer* observer;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const {
    std::thread([h, o = observer] {
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (o->begins.load() == 0 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::yield();
      }
      h.resume();
    }).detach();
  }
  void await_resume() const noexcept {}
};

task<int> finish_after_block(counting_observer& observer) {
  co_await resume_after_block_begins{&observer};
  co_return 4;
}

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

  CHECK(sync_wait(finish_after_block(observer)) == 4);
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
