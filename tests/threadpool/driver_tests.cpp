// Driving an io_driver from the pool (executor::attach_driver; worker.cpp, "Driving I/O"): idle
// workers wait in it and run what they harvest, posts wake a worker out of it, busy workers and
// the monitor poll it, and detach_driver() leaves nobody inside.

#include <harrier/threadpool/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <sched.h>

#include "event_recorder.hpp"

using namespace std::chrono_literals;

namespace {

harrier::thread_pool_options workers(std::uint32_t min, std::uint32_t max) {
  harrier::thread_pool_options o;
  o.min_threads = min;
  o.max_threads = max;
  o.hill_climbing = false;
  return o;
}

// A coroutine that records the thread it ran on and raises a flag; its frame frees itself.
struct probe_state {
  std::atomic<std::thread::id> ran_on{};
  harrier::test::flag done;
};
struct detached {
  struct promise_type {
    detached get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  std::coroutine_handle<> handle;
};
detached probe(probe_state& state) {
  state.ran_on.store(std::this_thread::get_id());
  state.done.set();
  co_return;
}

detached blocking_probe(probe_state& state, harrier::test::flag& started,
                        harrier::test::flag& release) {
  state.ran_on.store(std::this_thread::get_id());
  started.set();
  (void)release.wait_for(20s);  // holds its worker, without saying so
  state.done.set();
  co_return;
}

// An event source whose "completions" the test injects; it records who drove it and how.
class fake_driver final : public harrier::io_driver {
 public:
  void drive(std::chrono::nanoseconds timeout, const std::atomic<std::uint32_t>* interrupt,
             std::vector<std::coroutine_handle<>>& ready) noexcept override {
    inside.fetch_add(1);
    std::unique_lock lock(m_mutex);
    ++drives;
    if (timeout.count() == 0 && std::this_thread::get_id() == watched_thread) ++polls_by_watched;
    if (timeout.count() != 0 && m_pending.empty()) {
      waiting = true;
      m_changed.notify_all();
      auto woken = [&] { return m_woken || !m_pending.empty(); };
      if (interrupt == nullptr || interrupt->load(std::memory_order_seq_cst) == 0) {
        if (timeout.count() < 0) {
          m_changed.wait(lock, woken);
        } else {
          m_changed.wait_for(lock, timeout, woken);
        }
      }
      waiting = false;
      m_woken = false;
    }
    if (!m_pending.empty()) last_harvester = std::this_thread::get_id();
    ready.insert(ready.end(), m_pending.begin(), m_pending.end());
    m_pending.clear();
    inside.fetch_sub(1);
  }
  void wake() noexcept override {
    std::lock_guard lock(m_mutex);
    ++wakes;
    m_woken = true;
    m_changed.notify_all();
  }

  void complete(std::coroutine_handle<> h) {
    std::lock_guard lock(m_mutex);
    m_pending.push_back(h);
    m_changed.notify_all();
  }
  // Waits (bounded) until a thread waits inside drive().
  bool wait_until_waiting(std::chrono::milliseconds limit) {
    std::unique_lock lock(m_mutex);
    return m_changed.wait_for(lock, limit, [&] { return waiting; });
  }
  int drive_count() {
    std::lock_guard lock(m_mutex);
    return drives;
  }
  std::thread::id harvester() {
    std::lock_guard lock(m_mutex);
    return last_harvester;
  }
  int wake_count() {
    std::lock_guard lock(m_mutex);
    return wakes;
  }

  std::atomic<int> inside{0};
  std::atomic<std::thread::id> watched_thread{};
  std::atomic<int> polls_by_watched{0};

 private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::vector<std::coroutine_handle<>> m_pending;
  bool m_woken = false;
  bool waiting = false;
  int drives = 0;
  int wakes = 0;
  std::thread::id last_harvester{};
};

// A pool with a fake driver attached and a worker already waiting in it; detached at the end.
struct driven_pool {
  driven_pool(std::uint32_t min, std::uint32_t max) : pool(workers(min, max)) {
    REQUIRE(pool.attach_driver(driver));
    REQUIRE(driver.wait_until_waiting(5s));
  }
  ~driven_pool() { pool.detach_driver(driver); }
  fake_driver driver;  // declared first: it outlives the pool
  harrier::thread_pool pool;
};

}  // namespace

TEST_CASE("an idle worker waits in the attached driver and runs what it harvests itself",
          "[threadpool][driver]") {
  driven_pool p(1, 1);
  auto& [driver, pool] = p;

  probe_state state;
  driver.complete(probe(state).handle);
  REQUIRE(state.done.wait_for(5s));
  // No hop: the coroutine ran on the worker that harvested it.
  CHECK(state.ran_on.load() == driver.harvester());
  CHECK(state.ran_on.load() != std::this_thread::get_id());

  pool.detach_driver(driver);
  CHECK(driver.inside.load() == 0);
  const int drives = driver.drive_count();
  // Nobody enters after detach_driver(): a post makes the worker park again, on its futex.
  harrier::test::flag ran;
  pool.post([&] { ran.set(); });
  REQUIRE(ran.wait_for(5s));
  CHECK(driver.drive_count() == drives);
}

TEST_CASE("a pool takes one driver at a time", "[threadpool][driver]") {
  harrier::thread_pool pool(workers(1, 1));
  fake_driver first;
  fake_driver second;
  REQUIRE(pool.attach_driver(first));
  CHECK_FALSE(pool.attach_driver(second));
  pool.detach_driver(second);  // not attached: nothing happens
  pool.detach_driver(first);
  CHECK(pool.attach_driver(second));
  REQUIRE(second.wait_until_waiting(5s));
  pool.detach_driver(second);
  CHECK(second.inside.load() == 0);
}

TEST_CASE("a post wakes the worker that waits in the driver", "[threadpool][driver]") {
  driven_pool p(1, 1);
  auto& [driver, pool] = p;
  for (int round = 0; round < 200; ++round) {
    REQUIRE(driver.wait_until_waiting(5s));
    harrier::test::flag ran;
    pool.post([&] { ran.set(); });
    REQUIRE(ran.wait_for(5s));
  }
  CHECK(driver.wake_count() > 0);
}

TEST_CASE("while a worker runs what it harvested, a sleeping worker takes the driver over",
          "[threadpool][driver]") {
  driven_pool p(2, 2);
  auto& [driver, pool] = p;
  probe_state slow;
  harrier::test::flag started;
  harrier::test::flag release;
  driver.complete(blocking_probe(slow, started, release).handle);
  REQUIRE(started.wait_for(5s));
  // The other worker waits in the driver now, so the next completion is harvested and run by
  // it, not left for the monitor's poll (whose harvest another thread would run).
  REQUIRE(driver.wait_until_waiting(5s));
  probe_state fast;
  driver.complete(probe(fast).handle);
  const bool ran = fast.done.wait_for(5s);
  release.set();
  REQUIRE(ran);
  CHECK(fast.ran_on.load() == driver.harvester());
  CHECK(fast.ran_on.load() != slow.ran_on.load());
  REQUIRE(slow.done.wait_for(5s));
}

TEST_CASE("a worker that never runs dry still polls the driver", "[threadpool][driver]") {
  driven_pool p(1, 1);
  auto& [driver, pool] = p;
  constexpr int k_items = 6100;
  std::atomic<int> left{k_items};
  harrier::test::flag done;
  std::function<void()> step = [&] {
    if (--left == 0) {
      done.set();
      return;
    }
    pool.post(step);  // each item posts the next: the worker is never idle
  };
  pool.post([&] {
    driver.watched_thread.store(std::this_thread::get_id());
    step();
  });
  REQUIRE(done.wait_for(10s));
  // Every 61st item (the monitor's polls come from another thread and are not counted).
  CHECK(driver.polls_by_watched.load() >= k_items / 61 / 2);
}

TEST_CASE("while every worker is inside an item, the monitor drives the driver",
          "[threadpool][driver]") {
  // min 1, max 2: what the monitor harvests is queued work, so the stalled worker gets a
  // replacement and the harvested coroutine runs while the first worker still blocks.
  driven_pool p(1, 2);
  auto& [driver, pool] = p;
  harrier::test::flag blocking;
  harrier::test::flag release;
  std::atomic<std::thread::id> blocked_thread{};
  pool.post([&] {
    blocked_thread.store(std::this_thread::get_id());
    blocking.set();
    (void)release.wait_for(20s);  // blocks without saying so
  });
  REQUIRE(blocking.wait_for(5s));
  probe_state state;
  driver.complete(probe(state).handle);
  const bool ran_while_blocked = state.done.wait_for(10s);
  release.set();
  REQUIRE(ran_while_blocked);
  CHECK(state.ran_on.load() != blocked_thread.load());
}

TEST_CASE("a pool stops while a worker waits in its driver", "[threadpool][driver]") {
  fake_driver driver;
  {
    harrier::thread_pool pool(workers(2, 2));
    REQUIRE(pool.attach_driver(driver));
    REQUIRE(driver.wait_until_waiting(5s));
  }  // stop() wakes it out of the driver (a hang here fails the run's time limit)
  CHECK(driver.inside.load() == 0);
}

namespace {
// Runs the calling thread, and the threads it starts, on one CPU until destroyed.
class one_cpu {
 public:
  one_cpu() {
    m_saved_ok = sched_getaffinity(0, sizeof m_saved, &m_saved) == 0;
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (m_saved_ok && CPU_ISSET(cpu, &m_saved)) {
        CPU_SET(cpu, &one);
        break;
      }
    }
    m_pinned = m_saved_ok && sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~one_cpu() {
    if (m_pinned) (void)sched_setaffinity(0, sizeof m_saved, &m_saved);
  }
  one_cpu(const one_cpu&) = delete;
  one_cpu& operator=(const one_cpu&) = delete;
  bool pinned() const noexcept { return m_pinned; }

 private:
  cpu_set_t m_saved{};
  bool m_saved_ok = false;
  bool m_pinned = false;
};
}  // namespace

TEST_CASE("detach_driver returns while the worker in the driver would come straight back",
          "[threadpool][driver]") {
  // On one CPU, detach_driver's wake() and yield() hand the CPU to the woken worker, which used
  // to let go of the driver and take it again to wait before the detaching thread ran: a
  // livelock that held CI's pool destructors for a minute and more on a loaded machine.
  one_cpu pin;
  REQUIRE(pin.pinned());
  fake_driver driver;
  harrier::thread_pool pool(workers(1, 1));
  REQUIRE(pool.attach_driver(driver));
  REQUIRE(driver.wait_until_waiting(5s));
  const auto start = std::chrono::steady_clock::now();
  pool.detach_driver(driver);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < 2s);
  CHECK(driver.inside.load() == 0);
  const int drives = driver.drive_count();
  harrier::test::flag ran;
  pool.post([&] { ran.set(); });
  REQUIRE(ran.wait_for(5s));
  CHECK(driver.drive_count() == drives);  // nobody entered after detach_driver returned
}

namespace {

// Hands out `total` completions in batches of 256 (epoll's k_max_events), oldest first: the
// completion of a busy connection set (1,000 connections, each always ready again).
class batch_driver final : public harrier::io_driver {
 public:
  explicit batch_driver(std::vector<std::coroutine_handle<>> items) : m_items(std::move(items)) {}
  void drive(std::chrono::nanoseconds timeout, const std::atomic<std::uint32_t>* interrupt,
             std::vector<std::coroutine_handle<>>& ready) noexcept override {
    std::unique_lock lock(m_mutex);
    if (m_next == m_items.size()) {
      if (timeout.count() != 0 && (interrupt == nullptr || interrupt->load() == 0)) {
        m_changed.wait_for(lock, std::min<std::chrono::nanoseconds>(timeout, 50ms),
                           [&] { return m_woken; });
      }
      m_woken = false;
      return;
    }
    const std::size_t n = std::min<std::size_t>(256, m_items.size() - m_next);
    ready.insert(ready.end(), m_items.begin() + static_cast<std::ptrdiff_t>(m_next),
                 m_items.begin() + static_cast<std::ptrdiff_t>(m_next + n));
    m_next += n;
  }
  void wake() noexcept override {
    std::lock_guard lock(m_mutex);
    m_woken = true;
    m_changed.notify_all();
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::vector<std::coroutine_handle<>> m_items;
  std::size_t m_next = 0;
  bool m_woken = false;
};

struct run_order {
  std::mutex mutex;
  std::vector<int> order;
  int total = 0;
  harrier::test::flag all_ran;
};
detached ordered(run_order& state, int id) {
  std::lock_guard lock(state.mutex);
  state.order.push_back(id);
  if (static_cast<int>(state.order.size()) == state.total) state.all_ran.set();
  co_return;
}

}  // namespace

TEST_CASE("what a busy worker's periodic poll harvests does not overtake older work",
          "[threadpool][driver]") {
  // A worker that never runs dry polls the driver every 61st item. Its harvest went onto its
  // ring, and what did not fit overflowed to the global queue, which the worker reaches one item
  // per 61 while its ring stays full: each later harvest ran ahead of those older completions
  // (epoll with 1,000 connections: p99 112 ms against 24 ms with an I/O thread posting to the
  // pool). Now that poll's harvest queues behind the global queue: completions run close to
  // the order they were harvested in.
  constexpr int total = 4000;
  run_order state;
  state.total = total;
  std::vector<std::coroutine_handle<>> items;
  for (int id = 0; id < total; ++id)
    items.push_back(ordered(state, id).handle);
  batch_driver driver(std::move(items));
  harrier::thread_pool pool(workers(1, 1));
  REQUIRE(pool.attach_driver(driver));
  REQUIRE(state.all_ran.wait_for(20s));
  pool.detach_driver(driver);

  int latest = 0;  // how many places after its harvest position the latest completion ran
  {
    std::lock_guard lock(state.mutex);
    for (int position = 0; position < total; ++position)
      latest = std::max(latest, position - state.order[static_cast<std::size_t>(position)]);
  }
  INFO("latest completion ran " << latest << " places after its harvest position");
  CHECK(latest <= 512);  // two batches: the ring's and the global queue's head
}
