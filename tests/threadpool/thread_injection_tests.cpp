// Thread injection: stalled-worker detection, the starvation gate, blocking compensation and
// idle exit. Every test waits on events or flags with a bound, never on a sleep.

#include <harrier/core/blocking.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "event_recorder.hpp"

using namespace std::chrono_literals;
using harrier::adjustment_reason;
using harrier::thread_pool_event;
using harrier::thread_pool_event_kind;

namespace {

harrier::thread_pool_options base(std::uint32_t min_threads) {
  harrier::thread_pool_options o;
  o.min_threads = min_threads;
  o.max_threads = 16;
  o.hill_climbing = false;
  o.detect_stalled_workers = false;
  o.starvation_gate_period = std::chrono::milliseconds(60'000);  // off unless a test wants it
  return o;
}

auto adjustment(adjustment_reason reason) {
  return [reason](const thread_pool_event& e) {
    return e.kind == thread_pool_event_kind::adjustment && e.reason == reason &&
           e.new_goal > e.old_goal;
  };
}

// Occupies every worker with an item that blocks (unannotated) until released, then posts one
// more item and reports whether it ran within `timeout`.
bool starved_item_runs(harrier::thread_pool& pool, int blockers, harrier::test::gate& release,
                       std::chrono::milliseconds timeout) {
  std::atomic<int> started{0};
  for (int i = 0; i < blockers; ++i) {
    pool.post([&] {
      ++started;
      release.wait();
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (started < blockers && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  if (started < blockers) return false;
  harrier::test::flag ran;
  pool.post([&] { ran.set(); });
  return ran.wait_for(timeout);
}

}  // namespace

TEST_CASE("a worker blocked without annotation is detected and replaced") {
  auto o = base(2);
  o.detect_stalled_workers = true;
  harrier::test::event_recorder events;
  harrier::thread_pool pool(o);
  events.attach(pool);
  harrier::test::gate release;
  const auto start = std::chrono::steady_clock::now();
  const bool ran = starved_item_runs(pool, 2, release, 5s);
  const auto reaction = std::chrono::steady_clock::now() - start;
  release.release();
  REQUIRE(ran);
  REQUIRE(events.wait_for(adjustment(adjustment_reason::starvation), 5s));
  CHECK(reaction < 1s);  // designed for ~30 ms; generous for loaded CI machines
  // Once the blocked workers move on, the extra goal goes away (no overshoot left behind).
  REQUIRE(events.wait_for(
      [](const thread_pool_event& e) {
        return e.kind == thread_pool_event_kind::adjustment &&
               e.reason == adjustment_reason::starvation && e.new_goal == 2;
      },
      5s));
}

TEST_CASE("the starvation gate adds a thread when nothing is dequeued for its period") {
  auto o = base(2);
  o.starvation_gate_period = 50ms;
  harrier::test::event_recorder events;
  harrier::thread_pool pool(o);
  events.attach(pool);
  harrier::test::gate release;
  const bool ran = starved_item_runs(pool, 2, release, 5s);
  release.release();
  REQUIRE(ran);
  REQUIRE(events.wait_for(adjustment(adjustment_reason::starvation), 5s));
}

TEST_CASE("blocking() on the only worker injects a replacement at once") {
  harrier::test::event_recorder events;
  harrier::thread_pool pool(base(1));
  events.attach(pool);
  harrier::test::gate release;
  harrier::test::flag blocked;
  pool.post([&] {
    harrier::blocking([&] {
      blocked.set();
      release.wait();
    });
  });
  REQUIRE(blocked.wait_for(5s));
  harrier::test::flag ran;
  pool.post([&] { ran.set(); });
  REQUIRE(ran.wait_for(5s));
  REQUIRE(events.wait_for(adjustment(adjustment_reason::cooperative_blocking), 5s));
  CHECK(pool.stats().blocked_threads == 1);
  release.release();
  // The replacement is retired from the goal when the blocking call ends.
  REQUIRE(events.wait_for(
      [](const thread_pool_event& e) {
        return e.kind == thread_pool_event_kind::adjustment &&
               e.reason == adjustment_reason::cooperative_blocking && e.new_goal == 1;
      },
      5s));
}

TEST_CASE("two blocked workers on a two-thread pool are both compensated") {
  harrier::thread_pool pool(base(2));
  harrier::test::gate release;
  std::atomic<int> inside{0};
  for (int i = 0; i < 2; ++i) {
    pool.post([&] {
      harrier::blocking([&] {
        ++inside;
        release.wait();
      });
    });
  }
  harrier::test::flag ran;
  pool.post([&] { ran.set(); });
  const bool ok = ran.wait_for(5s);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (inside < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  CHECK(inside == 2);
  CHECK(pool.stats().goal == 4);
  release.release();
  REQUIRE(ok);
}

TEST_CASE("sync_wait on a worker of a one-thread pool does not deadlock") {
  harrier::thread_pool pool(base(1));
  auto inner = [](harrier::thread_pool& p) -> harrier::task<int> {
    co_await p.schedule();
    co_return 42;
  };
  harrier::test::flag done;
  std::atomic<int> result{0};
  pool.post([&] {
    result = harrier::sync_wait(inner(pool));  // `.Result` on a worker: compensated
    done.set();
  });
  REQUIRE(done.wait_for(5s));
  REQUIRE(result == 42);
}

TEST_CASE("idle workers above the minimum exit after the idle timeout") {
  auto o = base(1);
  o.idle_timeout = 100ms;
  harrier::test::event_recorder events;
  harrier::thread_pool pool(o);
  events.attach(pool);
  harrier::test::gate release;
  std::atomic<int> inside{0};
  for (int i = 0; i < 3; ++i) {
    pool.post([&] {
      harrier::blocking([&] {
        ++inside;
        release.wait();
      });
    });
  }
  // Each blocked worker is replaced, so all three get inside.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (inside < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  REQUIRE(inside == 3);
  REQUIRE(pool.stats().threads >= 3);
  release.release();
  REQUIRE(events.wait_for(
      [](const thread_pool_event& e) {
        return e.kind == thread_pool_event_kind::adjustment &&
               e.reason == adjustment_reason::thread_timed_out;
      },
      5s));
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (pool.stats().threads > 1 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  REQUIRE(pool.stats().threads == 1);
}

namespace {

// Waits (at most 5 s) until the pool's monitor ticks at its idle pace: at most 5 ticks in a
// 300 ms window, where it would tick 30 times at the working pace.
bool monitor_goes_quiet(harrier::thread_pool& pool) {
  for (int window = 0; window < 15; ++window) {
    const std::uint64_t before = pool.stats().monitor_ticks;
    std::this_thread::sleep_for(300ms);  // the window measured
    if (pool.stats().monitor_ticks - before <= 5) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("an idle pool's monitor slows down, and work brings it back at once") {
  auto o = base(2);
  o.detect_stalled_workers = true;
  // Long, so that a tick soon after the post can only be the worker's nudge (by chance, with
  // a quiet tick falling within the bound, about one round in five).
  o.idle_monitor_interval = 5s;
  harrier::test::event_recorder events;
  harrier::thread_pool pool(o);
  events.attach(pool);
  // Three rounds: without the wake-up from the worker, the next idle tick would come after
  // 0-5 s, so three rounds under 1 s would happen by chance about one time in 125.
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    REQUIRE(monitor_goes_quiet(pool));
    const std::uint64_t before = pool.stats().monitor_ticks;
    const auto posted = std::chrono::steady_clock::now();
    harrier::test::flag ran;
    pool.post([&] { ran.set(); });
    REQUIRE(ran.wait_for(5s));
    while (pool.stats().monitor_ticks == before && std::chrono::steady_clock::now() - posted < 5s) {
      std::this_thread::sleep_for(1ms);
    }
    CHECK(std::chrono::steady_clock::now() - posted < 1s);
  }
  // And a blocked worker of a pool that was idle is still detected and replaced.
  REQUIRE(monitor_goes_quiet(pool));
  harrier::test::gate release;
  const auto start = std::chrono::steady_clock::now();
  const bool blocked_ran = starved_item_runs(pool, 2, release, 5s);
  const auto reaction = std::chrono::steady_clock::now() - start;
  release.release();
  REQUIRE(blocked_ran);
  REQUIRE(events.wait_for(adjustment(adjustment_reason::starvation), 5s));
  CHECK(reaction < 1s);  // designed for ~30 ms; generous for loaded CI machines
}
