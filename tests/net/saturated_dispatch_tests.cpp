// An I/O thread whose dispatch pool reports itself saturated harvests when a worker parks or at
// least every k_saturated_poll_ns (reactor.hpp). Operations must still complete, timers must
// still fire on time, and nothing may wait for a wake-up that never comes. Receives started on
// workers park in the socket and wake nobody.

#include "net/net_test_support.hpp"

#include <harrier/core/when_all.hpp>

#include <atomic>
#include <thread>

using namespace net_test;
using harrier::task;
using harrier::net::tcp_stream;

namespace {

// A test_pool that always says every worker is busy; wait_for_idle_thread sleeps out its bound,
// as a pool whose workers never park would. Counts the waits.
class busy_pool final : public harrier::executor {
 public:
  void post(std::coroutine_handle<> h) override { m_inner.post(h); }
  void post_batch(std::span<const std::coroutine_handle<>> batch) override {
    m_inner.post_batch(batch);
  }
  bool saturated() const noexcept override { return true; }
  void wait_for_idle_thread(std::chrono::nanoseconds timeout) noexcept override {
    m_waits.fetch_add(1, std::memory_order_relaxed);
    std::this_thread::sleep_for(timeout);
  }
  std::uint64_t waits() const noexcept { return m_waits.load(std::memory_order_relaxed); }

 private:
  test_pool m_inner{2};
  std::atomic<std::uint64_t> m_waits{0};
};

}  // namespace

TEST_CASE("with a saturated pool the I/O thread still completes receives, sends and timers",
          "[net]") {
  const auto backend =
      usable(GENERATE(harrier::net::backend_kind::io_uring, harrier::net::backend_kind::epoll));
  INFO(harrier::net::to_string(backend));
  busy_pool pool;
  harrier::net::io_context ctx(harrier::net::io_options{backend, &pool});
  auto body = [](harrier::net::io_context& c) -> task<bool> {
    auto [server, client] = co_await connected_pair(c);
    bool ok = true;
    for (int i = 0; i < 50; ++i) {
      co_await client.send(as_bytes("ping"));
      std::size_t got = 0;
      while (got < 4) {
        auto r = co_await server.recv_provided();
        if (r.error || r.buffer.empty()) co_return false;
        got += r.buffer.size();
      }
      ok = ok && got == 4;
    }
    const auto before = std::chrono::steady_clock::now();
    auto e = co_await harrier::net::sleep_for(c, 20ms);
    const auto waited = std::chrono::steady_clock::now() - before;
    // Never early; late by at most the harvest bound plus scheduling slack.
    co_return ok && !e && waited >= 20ms && waited < 20ms + 200ms;
  };
  CHECK(run(body(ctx), 20s));
  // The thread did defer: it waited for an idle worker instead of sleeping in the kernel.
  CHECK(pool.waits() > 0);
}

TEST_CASE("receives started on pool workers do not wake the I/O thread", "[net]") {
  // A worker's receive parks in the socket (receive_slot.hpp) instead of going through the I/O
  // thread's queue, whose eventfd write would wake it once per receive. Ping-pong on one worker:
  // each side starts its receive before the worker can run the peer's reply, so nothing is in
  // flight when a receive starts, whatever the timing.
  const auto backend =
      usable(GENERATE(harrier::net::backend_kind::io_uring, harrier::net::backend_kind::epoll));
  INFO(harrier::net::to_string(backend));
  test_pool pool{1};
  harrier::net::io_context ctx(harrier::net::io_options{backend, &pool});
  constexpr int k_rounds = 200;
  auto receive_4 = [](tcp_stream& s) -> task<bool> {
    std::size_t got = 0;
    while (got < 4) {
      auto r = co_await s.recv_provided();
      if (r.error || r.buffer.empty()) co_return false;
      got += r.buffer.size();
    }
    co_return true;
  };
  auto side = [&](tcp_stream& s, bool starts) -> task<bool> {
    for (int i = 0; i < k_rounds; ++i) {
      if (starts) co_await s.send(as_bytes("ping"));
      const bool received = co_await receive_4(s);  // not in the condition: scripts/lint.sh
      if (!received) co_return false;
      if (!starts) co_await s.send(as_bytes("pong"));
    }
    co_return true;
  };
  auto body = [&](harrier::net::io_context& c) -> task<bool> {
    auto [server, client] = co_await connected_pair(c);
    auto [a, b] = co_await harrier::when_all(side(client, true), side(server, false));
    co_return a&& b;
  };
  const std::uint64_t before = ctx.stats().wakeups;
  CHECK(run(body(ctx), 20s));
  // Setting up the pair and arming the first receives may wake it a few times; a hop per
  // receive would wake it about 2 * k_rounds times.
  CHECK(ctx.stats().wakeups - before < k_rounds / 10);
}
