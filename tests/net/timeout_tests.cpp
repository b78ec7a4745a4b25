// with_timeout: a deadline around one operation.

#include "net/net_test_support.hpp"

#include <harrier/net/timeout.hpp>

using namespace net_test;
using harrier::task;

TEST_CASE("with_timeout cancels an operation that outlives its deadline", "[net][timeout]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<bool> {
    auto [server, client] = co_await connected_pair(ctx);
    std::byte buffer[16];
    const auto start = std::chrono::steady_clock::now();
    auto r = co_await harrier::net::with_timeout(ctx, 20ms, [&](harrier::cancellation_token t) {
      return server.recv(buffer, std::move(t));
    });
    const auto elapsed = std::chrono::steady_clock::now() - start;
    co_return r.error == harrier::net::operation_canceled_error() && elapsed >= 20ms;
  };
  CHECK(run(body(env.context)));
}

TEST_CASE("with_timeout returns the result of an operation that beats its deadline",
          "[net][timeout]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<std::size_t> {
    auto [server, client] = co_await connected_pair(ctx);
    co_await client.send(as_bytes("hello"));
    std::byte buffer[16];
    // An hour-long deadline: the test finishing at once shows that the timer was cancelled.
    auto r = co_await harrier::net::with_timeout(
        ctx, std::chrono::hours(1),
        [&](harrier::cancellation_token t) { return server.recv(buffer, std::move(t)); });
    NET_EXPECT(!r.error);
    co_return r.bytes;
  };
  CHECK(run(body(env.context), 10s) == 5);
}
