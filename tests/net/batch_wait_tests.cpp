// batch_wait: the rule that decides how long an io_uring I/O thread lets completions gather,
// tested alone on a simulated clock (no threads, no kernel); then the I/O thread that follows it.

#include "net/net_test_support.hpp"

#include <harrier/core/when_all.hpp>

#include <sched.h>
#include <sys/utsname.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "net/batch_wait.hpp"

using harrier::net::detail::batch_wait;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t k_us = 1000;
constexpr std::int64_t k_ms = 1000 * k_us;
constexpr std::int64_t k_start = 1'000'000 * k_ms;  // a steady clock well past zero

// `connections` clients in a closed loop: each sends its next request `cycle` after its last,
// the connections evenly staggered. The I/O thread harvests every `harvest_every`, taking what
// arrived since its last harvest. Runs for `duration` and returns the policy's last answer.
struct closed_loop {
  int connections;
  std::int64_t cycle;
  std::int64_t harvest_every = 5 * k_us;

  std::int64_t run(batch_wait& policy, std::int64_t from, std::int64_t duration) const {
    std::vector<std::int64_t> last(static_cast<std::size_t>(connections), 0);
    // Evenly staggered, the arrivals come round-robin: the j-th is connection j % connections.
    std::int64_t j = 0;
    auto arrival_time = [&](std::int64_t k) {
      return from + (k % connections) * cycle / connections + (k / connections) * cycle;
    };
    for (std::int64_t now = from; now < from + duration; now += harvest_every) {
      policy.begin_harvest(now);
      for (; arrival_time(j) <= now; ++j)
        policy.on_arrival(last[static_cast<std::size_t>(j % connections)]);
    }
    return policy.wait_ns();
  }
};

}  // namespace

TEST_CASE("batch_wait: nothing arrived, or switched off: no wait", "[net][batch_wait]") {
  batch_wait fresh(50 * k_us);
  CHECK(fresh.enabled());
  CHECK(fresh.wait_ns() == 0);
  batch_wait off(0);
  CHECK_FALSE(off.enabled());
  CHECK(closed_loop{128, 800 * k_us}.run(off, k_start, 20 * k_ms) == 0);
}

TEST_CASE("batch_wait: many busy connections: waits, bounded by the maximum and the cycle",
          "[net][batch_wait]") {
  // 128 connections, 800 us an exchange (wrk -c128 at 160k requests/s): cycle / 16 = 50 us.
  batch_wait policy(50 * k_us);
  const std::int64_t wait = closed_loop{128, 800 * k_us}.run(policy, k_start, 20 * k_ms);
  CHECK(policy.cycle_ns() == Approx(800 * k_us).epsilon(0.02));
  CHECK(policy.gap_ns() == Approx(800 * k_us / 128).epsilon(0.2));
  CHECK(wait > 40 * k_us);
  CHECK(wait <= 50 * k_us);

  // The configured maximum caps it.
  batch_wait capped(20 * k_us);
  CHECK(closed_loop{128, 800 * k_us}.run(capped, k_start, 20 * k_ms) == 20 * k_us);

  // A shorter exchange shortens the wait: never more than 1/16 of it.
  batch_wait quick(50 * k_us);
  const std::int64_t short_wait = closed_loop{128, 320 * k_us}.run(quick, k_start, 20 * k_ms);
  CHECK(short_wait > 0);
  CHECK(short_wait <= 320 * k_us / 16);
}

TEST_CASE("batch_wait: few connections: no wait, whatever their speed", "[net][batch_wait]") {
  // One connection (wrk -c1: ~60 us an exchange) and eight (~90 us): a wait would gather
  // fewer than two more arrivals, and would only delay each exchange.
  for (const closed_loop load : {closed_loop{1, 60 * k_us}, closed_loop{8, 90 * k_us},
                                 closed_loop{8, 1 * k_ms}, closed_loop{16, 2 * k_ms}}) {
    INFO("connections " << load.connections << ", cycle " << load.cycle << " ns");
    batch_wait policy(50 * k_us);
    CHECK(load.run(policy, k_start, 50 * k_ms) == 0);
  }
}

TEST_CASE("batch_wait: many slow connections (sparse arrivals): no wait", "[net][batch_wait]") {
  // 2,000 keep-alive clients sending a request every 100 ms: 20,000 requests/s in all, one
  // every 50 us. The exchange is long, but a 50 us wait would gather one arrival.
  batch_wait policy(50 * k_us);
  CHECK(closed_loop{2000, 100 * k_ms, 20 * k_us}.run(policy, k_start, 400 * k_ms) == 0);
}

TEST_CASE("batch_wait: an idle connection that speaks again counts as a capped sample",
          "[net][batch_wait]") {
  batch_wait policy(50 * k_us);
  closed_loop{128, 800 * k_us}.run(policy, k_start, 20 * k_ms);
  const std::int64_t before = policy.cycle_ns();
  // One connection's previous request was 30 s ago.
  std::int64_t last = k_start - 30'000 * k_ms;
  policy.begin_harvest(k_start + 20 * k_ms);
  policy.on_arrival(last);
  CHECK(last == k_start + 20 * k_ms);
  CHECK(policy.cycle_ns() <= before + (batch_wait::k_sample_cap_ns - before) / 8);
  CHECK(policy.wait_ns() > 0);
}

TEST_CASE("batch_wait: new connections' first requests do not keep an old cycle alive",
          "[net][batch_wait]") {
  // Keep-alive load, then only requests on fresh connections (a client that connects for each
  // request), dense enough that the arrival rate alone would allow a wait.
  batch_wait policy(50 * k_us);
  const std::int64_t end = k_start + 20 * k_ms;
  REQUIRE(closed_loop{128, 800 * k_us}.run(policy, k_start, 20 * k_ms) > 0);
  for (std::int64_t now = end; now < end + 3 * k_ms; now += 5 * k_us) {
    policy.begin_harvest(now);
    for (int i = 0; i < 2; ++i) {
      std::int64_t fresh = 0;  // a connection's first arrival
      policy.on_arrival(fresh);
    }
  }
  CHECK(policy.gap_ns() < 5 * k_us);
  CHECK(policy.cycle_ns() == 0);
  CHECK(policy.wait_ns() == 0);
  // Keep-alive traffic again: the cycle is measured anew, and the waits come back.
  CHECK(closed_loop{128, 800 * k_us}.run(policy, end + 3 * k_ms, 20 * k_ms) > 0);
}

TEST_CASE("batch_wait: when arrivals stop, the next window stops the waits", "[net][batch_wait]") {
  batch_wait policy(50 * k_us);
  const std::int64_t end = k_start + 20 * k_ms;
  REQUIRE(closed_loop{128, 800 * k_us}.run(policy, k_start, 20 * k_ms) > 0);
  // The load ends; the thread harvests a timer 2 ms later, with no data.
  policy.begin_harvest(end + 2 * k_ms);
  policy.begin_harvest(end + 4 * k_ms);
  CHECK(policy.wait_ns() == 0);
}

namespace {

// IORING_FEAT_MIN_TIMEOUT came with Linux 6.12.
bool kernel_has_min_wait() {
  ::utsname u{};
  int major = 0;
  int minor = 0;
  if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 12);
}

int allowed_cpus() {
  ::cpu_set_t set;
  CPU_ZERO(&set);
  return ::sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
}

// `pairs` loopback connections, each a closed loop of 4-byte pings and pongs for `rounds`
// rounds, all at once. True when every message arrived whole and in order.
harrier::task<bool> ping_pong_all(harrier::net::io_context& ctx, int pairs, int rounds) {
  using harrier::net::tcp_stream;
  auto receive = [](tcp_stream& s, std::string expected) -> harrier::task<bool> {
    std::string got;
    while (got.size() < expected.size()) {
      auto r = co_await s.recv_provided();
      if (r.error || r.buffer.empty()) co_return false;
      got.append(reinterpret_cast<const char*>(r.buffer.bytes().data()), r.buffer.size());
    }
    co_return got == expected;
  };
  auto pair_loop = [&](int rounds_left) -> harrier::task<bool> {
    auto [server, client] = co_await net_test::connected_pair(ctx);
    for (int i = 0; i < rounds_left; ++i) {
      const std::string ping(4, static_cast<char>('a' + i % 26));
      co_await client.send(net_test::as_bytes(ping));
      const bool pinged = co_await receive(server, ping);  // not in the condition: lint.sh
      if (!pinged) co_return false;
      co_await server.send(net_test::as_bytes(ping));
      const bool ponged = co_await receive(client, ping);
      if (!ponged) co_return false;
    }
    co_return true;
  };
  std::vector<harrier::task<bool>> loops;
  for (int i = 0; i < pairs; ++i)
    loops.push_back(pair_loop(rounds));
  const std::vector<bool> results = co_await harrier::when_all(std::move(loops));
  for (const bool ok : results)
    if (!ok) co_return false;
  co_return true;
}

}  // namespace

TEST_CASE("io_uring: under many busy connections the I/O thread gathers batches, losing nothing",
          "[net][batch_wait]") {
  using harrier::net::backend_kind;
  if (net_test::usable(backend_kind::io_uring) != backend_kind::io_uring) {
    WARN("io_uring is not usable here: nothing to test");
    return;
  }
  // 64 pairs: 128 sockets, one message in flight per pair. Whatever the build's speed, a wait
  // of the cap gathers about 128 * cap / cycle arrivals, so a cap above the 2 ms sample limit's
  // 1/16 keeps the rule waiting as long as one completion costs the I/O thread < ~60 us.
  const auto cap = GENERATE(std::chrono::microseconds(200), std::chrono::microseconds(0));
  // The I/O thread inherits the affinity of the thread that makes the io_context; pinned to one
  // CPU it does not wait (its threads take turns there anyway).
  const bool one_cpu = GENERATE(false, true);
  INFO("max_batch_wait " << cap.count() << " us, " << (one_cpu ? "one CPU" : "all CPUs"));
  ::cpu_set_t saved;
  CPU_ZERO(&saved);
  REQUIRE(::sched_getaffinity(0, sizeof(saved), &saved) == 0);
  if (one_cpu) {
    ::cpu_set_t single;
    CPU_ZERO(&single);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &saved)) {
        CPU_SET(cpu, &single);
        break;
      }
    }
    REQUIRE(::sched_setaffinity(0, sizeof(single), &single) == 0);
  }
  net_test::test_pool pool{2};
  harrier::net::io_options options{backend_kind::io_uring, &pool};
  options.max_batch_wait = cap;
  std::uint64_t gathered = 0;
  {
    harrier::net::io_context ctx(options);
    ::sched_setaffinity(0, sizeof(saved), &saved);  // the test's thread runs anywhere again
    CHECK(net_test::run(ping_pong_all(ctx, 64, 150), 60s));
    gathered = ctx.stats().batched_waits;
  }
  if (cap.count() == 0 || one_cpu || allowed_cpus() < 2) {
    CHECK(gathered == 0);
  } else if (kernel_has_min_wait()) {
    CHECK(gathered > 0);
  } else {
    CHECK(gathered == 0);  // the kernel lacks min_wait: plain waits
  }
}
