// An I/O thread whose dispatch pool reports itself saturated: the epoll backend then harvests
// when a worker parks or at least every k_saturated_poll_ns (reactor.hpp). Operations must still
// complete, timers must still fire on time, and nothing may wait for a wake-up that never comes.

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

TEST_CASE("with a saturated pool the epoll I/O thread still completes receives, sends and timers",
          "[net][epoll]") {
  busy_pool pool;
  harrier::net::io_context ctx(harrier::net::io_options{harrier::net::backend_kind::epoll, &pool});
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
  // The thread did defer: it waited for an idle worker instead of sleeping in epoll_wait.
  CHECK(pool.waits() > 0);
}

TEST_CASE("io_uring never defers its harvest to a saturated pool", "[net][io_uring]") {
  if (harrier::net::detail::io_uring_refusal_reason()) return;  // nothing of io_uring to test
  busy_pool pool;
  harrier::net::io_context ctx(
      harrier::net::io_options{harrier::net::backend_kind::io_uring, &pool});
  auto body = [](harrier::net::io_context& c) -> task<bool> {
    auto [server, client] = co_await connected_pair(c);
    co_await client.send(as_bytes("ping"));
    auto r = co_await server.recv_provided();
    co_return !r.error && r.buffer.size() == 4;
  };
  CHECK(run(body(ctx), 20s));
  CHECK(pool.waits() == 0);
}
