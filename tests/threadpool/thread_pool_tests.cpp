// thread_pool: posting, schedule(), run(), spawn(), current(), stats and shutdown.

#include <harrier/core/spawn.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

harrier::thread_pool_options small_pool(std::uint32_t threads) {
  harrier::thread_pool_options o;
  o.min_threads = threads;
  o.max_threads = 16;
  o.hill_climbing = false;
  return o;
}

// A countdown that tests wait on with a bound.
class latch {
 public:
  explicit latch(int count) : m_count(count) {}
  void count_down() {
    std::lock_guard lock(m_mutex);
    if (--m_count == 0) m_cv.notify_all();
  }
  bool wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, timeout, [this] { return m_count <= 0; });
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  int m_count;
};

harrier::task<std::thread::id> thread_of_pool(harrier::thread_pool& pool) {
  co_await pool.schedule();
  co_return std::this_thread::get_id();
}

harrier::task<int> add_on_pool(int a, int b) {
  REQUIRE(harrier::thread_pool::current() != nullptr);
  co_return a + b;
}

}  // namespace

TEST_CASE("posted callables run on pool threads, never inline") {
  harrier::thread_pool pool(small_pool(2));
  latch done(100);
  std::atomic<int> inline_runs{0};
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < 100; ++i) {
    pool.post([&] {
      if (std::this_thread::get_id() == caller) ++inline_runs;
      done.count_down();
    });
  }
  REQUIRE(done.wait_for(10s));
  REQUIRE(inline_runs == 0);
}

TEST_CASE("co_await schedule() continues on a pool thread") {
  harrier::thread_pool pool(small_pool(2));
  const auto id = harrier::sync_wait(thread_of_pool(pool));
  REQUIRE(id != std::this_thread::get_id());
}

TEST_CASE("current() names the pool on its workers and is null elsewhere") {
  harrier::thread_pool pool(small_pool(1));
  REQUIRE(harrier::thread_pool::current() == nullptr);
  std::atomic<harrier::thread_pool*> seen{nullptr};
  latch done(1);
  pool.post([&] {
    seen = harrier::thread_pool::current();
    done.count_down();
  });
  REQUIRE(done.wait_for(10s));
  REQUIRE(seen.load() == &pool);
}

TEST_CASE("run() runs the task on the pool and delivers its result") {
  harrier::thread_pool pool(small_pool(2));
  REQUIRE(harrier::sync_wait(harrier::run(pool, add_on_pool(2, 3))) == 5);
}

TEST_CASE("run() delivers the task's exception") {
  harrier::thread_pool pool(small_pool(1));
  auto failing = []() -> harrier::task<int> {
    throw std::runtime_error("boom");
    co_return 0;
  };
  REQUIRE_THROWS_AS(harrier::sync_wait(harrier::run(pool, failing())), std::runtime_error);
}

TEST_CASE("spawn(pool, task) starts the task on a pool worker") {
  harrier::thread_pool pool(small_pool(2));
  latch done(1);
  std::atomic<bool> on_pool{false};
  auto body = [](std::atomic<bool>& flag, latch& l) -> harrier::task<void> {
    flag = harrier::thread_pool::current() != nullptr;
    l.count_down();
    co_return;
  };
  harrier::spawn(pool, body(on_pool, done));
  REQUIRE(done.wait_for(10s));
  REQUIRE(on_pool);
}

TEST_CASE("work posted from a worker runs, and overflow beyond the local ring is not lost") {
  harrier::thread_pool pool(small_pool(2));
  constexpr int k_items = 5000;  // far beyond one ring of 256
  latch done(k_items);
  pool.post([&] {
    for (int i = 0; i < k_items; ++i)
      pool.post([&] { done.count_down(); });
  });
  REQUIRE(done.wait_for(20s));
}

TEST_CASE("post_batch delivers every coroutine of the batch") {
  harrier::thread_pool pool(small_pool(2));
  constexpr int k_count = 300;
  latch done(k_count);
  std::vector<std::coroutine_handle<>> handles;
  auto waiter = [](latch& l) -> harrier::task<void> {
    l.count_down();
    co_return;
  };
  std::vector<harrier::task<void>> tasks;
  // Each task is started by a tiny driver coroutine suspended at its start; the batch resumes it.
  struct starter {
    struct promise_type {
      starter get_return_object() {
        return {std::coroutine_handle<promise_type>::from_promise(*this)};
      }
      std::suspend_always initial_suspend() noexcept { return {}; }
      std::suspend_never final_suspend() noexcept { return {}; }
      void return_void() {}
      void unhandled_exception() { std::terminate(); }
    };
    std::coroutine_handle<promise_type> handle;
  };
  auto drive = [](harrier::task<void> t) -> starter { co_await std::move(t); };
  for (int i = 0; i < k_count; ++i)
    handles.push_back(drive(waiter(done)).handle);
  pool.post_batch(handles);
  REQUIRE(done.wait_for(10s));
}

TEST_CASE("stop() drains queued work, including work posted by running items, then joins") {
  std::atomic<int> ran{0};
  {
    harrier::thread_pool pool(small_pool(2));
    for (int i = 0; i < 1000; ++i) {
      pool.post([&] {
        std::this_thread::sleep_for(10us);
        ++ran;
        pool.post([&] { ++ran; });
      });
    }
    pool.stop();
    REQUIRE(ran == 2000);
    REQUIRE(pool.stats().threads == 0);
    REQUIRE_THROWS_AS(pool.post([] {}), std::logic_error);
  }
  REQUIRE(ran == 2000);
}

TEST_CASE("the destructor stops the pool with work in flight") {
  std::atomic<int> ran{0};
  {
    harrier::thread_pool pool(small_pool(3));
    for (int i = 0; i < 200; ++i)
      pool.post([&] { ++ran; });
  }
  REQUIRE(ran == 200);
}

TEST_CASE("an exception escaping a posted callable is contained") {
  harrier::thread_pool pool(small_pool(1));
  latch done(1);
  pool.post([] { throw std::runtime_error("escaped on purpose"); });
  pool.post([&] { done.count_down(); });
  REQUIRE(done.wait_for(10s));
}

TEST_CASE("stats() counts completed items and reports the goal") {
  harrier::thread_pool pool(small_pool(2));
  latch done(50);
  for (int i = 0; i < 50; ++i)
    pool.post([&] { done.count_down(); });
  REQUIRE(done.wait_for(10s));
  // The completion count is published right after each item returns: wait for it, bounded.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (pool.stats().completed_items < 50 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  const auto s = pool.stats();
  REQUIRE(s.completed_items == 50);
  REQUIRE(s.goal == 2);
  REQUIRE(s.threads == 2);
  REQUIRE(s.adjustments[static_cast<std::size_t>(harrier::adjustment_reason::initializing)] == 1);
}

TEST_CASE("options with max below min are rejected") {
  harrier::thread_pool_options o;
  o.min_threads = 4;
  o.max_threads = 2;
  REQUIRE_THROWS_AS(harrier::thread_pool(o), std::invalid_argument);
}

TEST_CASE("options with a monitor interval that is not positive are rejected") {
  for (int which = 0; which < 2; ++which) {
    harrier::thread_pool_options o;
    (which == 0 ? o.monitor_interval : o.idle_monitor_interval) = std::chrono::milliseconds(0);
    REQUIRE_THROWS_WITH(harrier::thread_pool(o),
                        Catch::Contains(which == 0 ? "monitor_interval" : "idle_monitor_interval"));
  }
}

TEST_CASE("work posted by a worker stays in its local queue; work from outside goes global") {
  auto o = small_pool(1);
  o.max_threads = 1;
  o.detect_stalled_workers = false;
  o.starvation_gate_period = std::chrono::milliseconds(60'000);
  harrier::thread_pool pool(o);
  std::mutex m;
  std::condition_variable cv;
  bool posted = false;
  bool release = false;
  std::atomic<int> ran{0};
  pool.post([&] {
    for (int i = 0; i < 3; ++i)
      pool.post([&] { ++ran; });
    std::unique_lock lock(m);
    posted = true;
    cv.notify_all();
    cv.wait_for(lock, 20s, [&] { return release; });
  });
  {
    std::unique_lock lock(m);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return posted; }));
  }
  pool.post([&] { ++ran; });
  pool.post([&] { ++ran; });
  const auto s = pool.stats();
  {
    std::lock_guard lock(m);
    release = true;
    cv.notify_all();
  }
  CHECK(s.local_queue_length == 3);
  CHECK(s.global_queue_length == 2);
  pool.stop();
  REQUIRE(ran == 5);
}
