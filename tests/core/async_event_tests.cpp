#include <harrier/core/async_event.hpp>
#include <harrier/core/spawn.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/core/task.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <deque>
#include <thread>
#include <vector>

using harrier::async_event;
using harrier::task;

namespace {

task<void> wait_then_count(async_event& ev, std::atomic<int>& count) {
  co_await ev.wait();
  ++count;
}

struct queue_executor final : harrier::executor {
  std::deque<std::coroutine_handle<>> queue;
  void post(std::coroutine_handle<> h) override { queue.push_back(h); }
};

}  // namespace

TEST_CASE("awaiting a set event completes at once", "[async_event]") {
  async_event ev(true);
  std::atomic<int> count{0};
  harrier::spawn(wait_then_count(ev, count));
  CHECK(count == 1);
}

TEST_CASE("set resumes every waiter exactly once", "[async_event]") {
  async_event ev;
  std::atomic<int> count{0};
  for (int i = 0; i < 10; ++i)
    harrier::spawn(wait_then_count(ev, count));
  CHECK(count == 0);
  ev.set();
  CHECK(count == 10);
  ev.set();
  CHECK(count == 10);
}

TEST_CASE("set on an executor posts the waiters instead of resuming them", "[async_event]") {
  async_event ev;
  queue_executor ex;
  std::atomic<int> count{0};
  harrier::spawn(wait_then_count(ev, count));
  ev.set(ex);
  CHECK(count == 0);
  REQUIRE(ex.queue.size() == 1);
  ex.queue.front().resume();
  CHECK(count == 1);
}

TEST_CASE("reset makes later waiters wait again", "[async_event]") {
  async_event ev(true);
  ev.reset();
  CHECK_FALSE(ev.is_set());
  std::atomic<int> count{0};
  harrier::spawn(wait_then_count(ev, count));
  CHECK(count == 0);
  ev.set();
  CHECK(count == 1);
}

TEST_CASE("waiters racing with set from another thread are each resumed once", "[async_event]") {
  for (int round = 0; round < 100; ++round) {
    async_event ev;
    std::atomic<int> count{0};
    std::thread setter([&] { ev.set(); });
    for (int i = 0; i < 20; ++i)
      harrier::spawn(wait_then_count(ev, count));
    setter.join();
    // Waiters that suspended before set() were resumed on the setter thread; the rest ran inline.
    CHECK(count == 20);
  }
}
