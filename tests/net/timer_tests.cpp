// Timers: deadline order, never early, zero durations, many at once.

#include "net/net_test_support.hpp"

#include <harrier/core/when_all.hpp>

#include <algorithm>
#include <mutex>
#include <random>

using namespace net_test;
using harrier::task;

TEST_CASE("timers fire in deadline order and never early", "[net][timer]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  struct record {
    std::mutex mutex;
    std::vector<int> order;
    bool early = false;
  };
  auto sleeper = [](harrier::net::io_context& ctx, int id, std::chrono::milliseconds d,
                    record& rec) -> task<void> {
    const auto start = std::chrono::steady_clock::now();
    auto e = co_await harrier::net::sleep_for(ctx, d);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    NET_EXPECT(!e);
    std::lock_guard lock(rec.mutex);
    rec.order.push_back(id);
    if (elapsed < d) rec.early = true;
  };
  record rec;
  std::vector<task<void>> sleepers;
  std::vector<std::chrono::milliseconds> durations;
  std::mt19937 rng(5);
  for (int i = 0; i < 20; ++i) {
    // Distinct deadlines 3 ms apart, started in a shuffled order.
    durations.push_back(std::chrono::milliseconds(5 + 3 * i));
  }
  std::shuffle(durations.begin(), durations.end(), rng);
  for (int i = 0; i < 20; ++i)
    sleepers.push_back(sleeper(env.context, i, durations[i], rec));
  run(harrier::when_all(std::move(sleepers)));
  CHECK_FALSE(rec.early);
  REQUIRE(rec.order.size() == 20);
  // Deadlines were set within microseconds of each other, 3 ms apart: the I/O thread fires them
  // in that order. Inline dispatch resumes them in firing order too; a pool may reorder
  // coroutines fired in one batch, so there only "never early" is checked.
  if (c.inline_dispatch) {
    for (std::size_t i = 1; i < rec.order.size(); ++i) {
      CHECK(durations[rec.order[i - 1]] < durations[rec.order[i]]);
    }
  }
}

TEST_CASE("a zero or past deadline completes without error", "[net][timer]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<bool> {
    auto a = co_await harrier::net::sleep_for(ctx, 0ms);
    auto b = co_await harrier::net::sleep_until(
        ctx, std::chrono::steady_clock::now() - std::chrono::seconds(1));
    co_return !a && !b;
  };
  CHECK(run(body(env.context)));
}

TEST_CASE("ten thousand concurrent timers all fire", "[net][timer]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  std::atomic<int> fired{0};
  auto sleeper = [](harrier::net::io_context& ctx, int i, std::atomic<int>& n) -> task<void> {
    auto e = co_await harrier::net::sleep_for(ctx, std::chrono::microseconds(100 * (i % 50)));
    if (!e) n.fetch_add(1);
  };
  std::vector<task<void>> sleepers;
  for (int i = 0; i < 10000; ++i)
    sleepers.push_back(sleeper(env.context, i, fired));
  run(harrier::when_all(std::move(sleepers)));
  CHECK(fired.load() == 10000);
}
