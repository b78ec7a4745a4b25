// Parking: idle workers sleep and every post wakes somebody; no wake-up is lost.

#include <harrier/threadpool/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "event_recorder.hpp"

using namespace std::chrono_literals;

namespace {

harrier::thread_pool_options fixed(std::uint32_t threads) {
  harrier::thread_pool_options o;
  o.min_threads = threads;
  o.max_threads = threads;
  o.hill_climbing = false;
  return o;
}

// Waits (bounded) until every worker is asleep, so that the next post must wake one.
bool wait_all_parked(harrier::thread_pool& pool, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto s = pool.stats();
    if (s.parked_threads == s.threads) return true;
    std::this_thread::yield();
  }
  return false;
}

}  // namespace

TEST_CASE("no wake-up is lost over many short bursts posted from outside") {
  harrier::thread_pool pool(fixed(2));
  int bursts_with_all_parked = 0;
  for (int burst = 0; burst < 1500; ++burst) {
    if (burst % 10 == 0 && wait_all_parked(pool, 2s)) ++bursts_with_all_parked;
    const int size = 1 + burst % 4;
    std::atomic<int> left{size};
    harrier::test::flag done;
    for (int i = 0; i < size; ++i) {
      pool.post([&] {
        if (--left == 0) done.set();
      });
    }
    REQUIRE(done.wait_for(5s));
  }
  REQUIRE(bursts_with_all_parked > 0);
}

TEST_CASE("work posted by a worker wakes a sleeping worker to steal it") {
  harrier::thread_pool pool(fixed(2));
  for (int round = 0; round < 200; ++round) {
    REQUIRE(wait_all_parked(pool, 2s));
    // The first item holds its worker until the second (posted to its own queue, behind the
    // LIFO slot) has run on the other worker; only a wake-up plus a steal can make that happen.
    harrier::test::flag second_ran;
    harrier::test::flag done;
    pool.post([&] {
      pool.post([&] { second_ran.set(); });  // the LIFO slot: not stealable...
      pool.post([] {});                      // ...until this one pushes it into the ring
      second_ran.wait_for(10s);
      done.set();
    });
    REQUIRE(done.wait_for(10s));
    REQUIRE(second_ran.wait_for(0ms));
  }
}

TEST_CASE("a worker that parks and wakes reports park and unpark events") {
  harrier::test::event_recorder events;
  harrier::thread_pool pool(fixed(1));
  events.attach(pool);
  REQUIRE(wait_all_parked(pool, 2s));
  harrier::test::flag done;
  pool.post([&] { done.set(); });
  REQUIRE(done.wait_for(5s));
  REQUIRE(events.wait_for(
      [](const auto& e) { return e.kind == harrier::thread_pool_event_kind::worker_unpark; }, 5s));
}

TEST_CASE(
    "a pool is saturated while its only worker is busy and wait_for_idle_thread returns "
    "when it parks") {
  harrier::thread_pool pool(fixed(1));
  REQUIRE(wait_all_parked(pool, 5s));
  CHECK_FALSE(pool.saturated());  // the parked worker would take posted work at once

  harrier::test::flag started;
  harrier::test::flag release;
  harrier::test::flag finished;
  pool.post([&] {
    started.set();
    REQUIRE(release.wait_for(10s));
    finished.set();
  });
  REQUIRE(started.wait_for(5s));
  CHECK(pool.saturated());

  // The waiter sleeps while the worker is busy, and wakes once it parks (not at the 30 s bound).
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    pool.wait_for_idle_thread(30s);
    returned = true;
  });
  release.set();
  REQUIRE(finished.wait_for(5s));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!returned && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  CHECK(returned);
  waiter.join();
  CHECK(wait_all_parked(pool, 5s));
  CHECK_FALSE(pool.saturated());
}
