// Cancellation of pending operations through cancellation tokens, close() and stop(): each
// completes with operation_canceled, exactly once, on every backend and dispatch mode.

#include "net/net_test_support.hpp"

#include <harrier/core/cancellation.hpp>
#include <harrier/core/when_all.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

using namespace net_test;
using harrier::cancellation_source;
using harrier::task;
using harrier::net::tcp_stream;

namespace {

// Cancels `source` once a timer has fired: the operation under test cannot complete otherwise,
// so it is pending by then.
task<void> cancel_after(harrier::net::io_context& ctx, cancellation_source& source,
                        std::chrono::milliseconds delay) {
  auto e = co_await harrier::net::sleep_for(ctx, delay);
  NET_EXPECT(!e);
  source.request_cancellation();
}

}  // namespace

TEST_CASE("cancelling a pending recv completes it with operation_canceled", "[net][cancel]") {
  const config c = any_config();
  const bool provided = GENERATE(false, true);
  INFO(c.name() << (provided ? " recv_provided" : " recv"));
  environment env(c);
  auto body = [](harrier::net::io_context& ctx, bool use_provided) -> task<bool> {
    auto [server, client] = co_await connected_pair(ctx);
    cancellation_source source;
    std::error_code error;
    auto recv_one = [](tcp_stream& s, bool p, harrier::cancellation_token t,
                       std::error_code& out) -> task<void> {
      if (p) {
        out = (co_await s.recv_provided(t)).error;
      } else {
        std::byte b[16];
        out = (co_await s.recv(b, t)).error;
      }
    };
    co_await harrier::when_all(recv_one(server, use_provided, source.token(), error),
                               cancel_after(ctx, source, 20ms));
    NET_EXPECT(error == harrier::net::operation_canceled_error());
    // The stream still works after the cancelled receive.
    co_await client.send(as_bytes("after"));
    std::size_t got = 0;
    while (got < 5) {
      if (use_provided) {
        auto r = co_await server.recv_provided();
        NET_EXPECT(!r.error && !r.buffer.empty());
        got += r.buffer.size();
      } else {
        std::byte b[16];
        auto r = co_await server.recv(b);
        NET_EXPECT(!r.error && r.bytes > 0);
        got += r.bytes;
      }
    }
    co_return got == 5;
  };
  CHECK(run(body(env.context, provided)));
}

TEST_CASE("cancelling a pending accept completes it with operation_canceled", "[net][cancel]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<std::error_code> {
    auto l = harrier::net::listener::bind(ctx, harrier::net::endpoint::parse("127.0.0.1:0"));
    cancellation_source source;
    std::error_code error;
    auto accept_one = [](harrier::net::listener& li, harrier::cancellation_token t,
                         std::error_code& out) -> task<void> {
      auto r = co_await li.accept(t);
      out = r.error;
    };
    co_await harrier::when_all(accept_one(l, source.token(), error),
                               cancel_after(ctx, source, 20ms));
    co_return error;
  };
  CHECK(run(body(env.context)) == harrier::net::operation_canceled_error());
}

TEST_CASE("cancelling a pending timer completes it early with operation_canceled",
          "[net][cancel]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<std::error_code> {
    cancellation_source source;
    std::error_code error;
    auto sleeper = [](harrier::net::io_context& x, harrier::cancellation_token t,
                      std::error_code& out) -> task<void> {
      out = co_await harrier::net::sleep_for(x, 1h, t);
    };
    co_await harrier::when_all(sleeper(ctx, source.token(), error),
                               cancel_after(ctx, source, 10ms));
    co_return error;
  };
  CHECK(run(body(env.context), 10s) == harrier::net::operation_canceled_error());
}

TEST_CASE("an operation on an already cancelled token completes at once", "[net][cancel]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<bool> {
    auto [server, client] = co_await connected_pair(ctx);
    cancellation_source source;
    source.request_cancellation();
    std::byte b[4];
    auto r = co_await server.recv(b, source.token());
    auto t = co_await harrier::net::sleep_for(ctx, 1h, source.token());
    co_return r.error == harrier::net::operation_canceled_error() &&
        t == harrier::net::operation_canceled_error();
  };
  CHECK(run(body(env.context)));
}

TEST_CASE("cancellation racing with completion resumes exactly once and loses no data",
          "[net][cancel]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<bool> {
    auto [server, client] = co_await connected_pair(ctx);
    constexpr int k_rounds = 300;
    std::size_t received = 0;
    int resumed = 0;
    for (int i = 0; i < k_rounds; ++i) {
      cancellation_source source;
      std::byte b[64];
      // Start the recv, then make data arrive and cancel from another thread at once.
      auto receiver = [](tcp_stream& s, std::span<std::byte> into, harrier::cancellation_token t,
                         std::size_t& got, int& count) -> task<void> {
        auto r = co_await s.recv(into, t);
        ++count;
        if (!r.error) got += r.bytes;
      };
      auto racer = [](tcp_stream& s, cancellation_source& src) -> task<void> {
        co_await s.send(as_bytes("z"));
        std::thread([src] { src.request_cancellation(); }).join();
      };
      co_await harrier::when_all(receiver(server, b, source.token(), received, resumed),
                                 racer(client, source));
    }
    // Whatever the cancellations took, the bytes are still there to be read.
    while (received < static_cast<std::size_t>(k_rounds)) {
      std::byte b[64];
      auto r = co_await server.recv(b);
      NET_EXPECT(!r.error && r.bytes > 0);
      received += r.bytes;
    }
    co_return resumed == k_rounds&& received == static_cast<std::size_t>(k_rounds);
  };
  CHECK(run(body(env.context), 30s));
}

TEST_CASE("closing a stream completes its pending recv and send with operation_canceled",
          "[net][cancel]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<bool> {
    auto [server, client] = co_await connected_pair(ctx);
    // A send larger than both socket buffers stays pending while the peer does not read.
    std::vector<std::byte> big(64 << 20);
    std::error_code recv_error;
    std::error_code send_error;
    auto receiver = [](tcp_stream& s, std::error_code& out) -> task<void> {
      std::byte b[16];
      out = (co_await s.recv(b)).error;
    };
    auto sender = [](tcp_stream& s, std::span<const std::byte> data,
                     std::error_code& out) -> task<void> { out = (co_await s.send(data)).error; };
    auto closer = [](harrier::net::io_context& x, tcp_stream& s) -> task<void> {
      co_await harrier::net::sleep_for(x, 30ms);
      s.close();
    };
    co_await harrier::when_all(receiver(server, recv_error), sender(server, big, send_error),
                               closer(ctx, server));
    co_return recv_error == harrier::net::operation_canceled_error() &&
        send_error == harrier::net::operation_canceled_error() && !server.is_open();
  };
  CHECK(run(body(env.context)));
}

TEST_CASE("closing a listener completes its pending accept with operation_canceled",
          "[net][cancel]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<std::error_code> {
    auto l = harrier::net::listener::bind(ctx, harrier::net::endpoint::parse("127.0.0.1:0"));
    std::error_code error;
    auto acceptor = [](harrier::net::listener& li, std::error_code& out) -> task<void> {
      out = (co_await li.accept()).error;
    };
    auto closer = [](harrier::net::io_context& x, harrier::net::listener& li) -> task<void> {
      co_await harrier::net::sleep_for(x, 20ms);
      li.close();
    };
    co_await harrier::when_all(acceptor(l, error), closer(ctx, l));
    co_return error;
  };
  CHECK(run(body(env.context)) == harrier::net::operation_canceled_error());
}

TEST_CASE("stop() completes pending operations with operation_canceled", "[net][cancel]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<bool> {
    auto [server, client] = co_await connected_pair(ctx);
    std::error_code recv_error;
    std::error_code timer_error;
    auto receiver = [](tcp_stream& s, std::error_code& out) -> task<void> {
      std::byte b[16];
      out = (co_await s.recv(b)).error;
    };
    auto sleeper = [](harrier::net::io_context& x, std::error_code& out) -> task<void> {
      out = co_await harrier::net::sleep_for(x, 1h);
    };
    auto stopper = [](harrier::net::io_context& x) -> task<void> {
      co_await harrier::net::sleep_for(x, 20ms);
      x.stop();
    };
    co_await harrier::when_all(receiver(server, recv_error), sleeper(ctx, timer_error),
                               stopper(ctx));
    std::byte b[4];
    auto late = co_await server.recv(b);  // started after stop(): refused at once
    co_return recv_error == harrier::net::operation_canceled_error() &&
        timer_error == harrier::net::operation_canceled_error() &&
        late.error == harrier::net::operation_canceled_error();
  };
  CHECK(run(body(env.context)));
}

TEST_CASE("a receive cancelled while it parks completes with operation_canceled every time",
          "[net][cancel]") {
  // With pool dispatch the receiving thread parks a receive in the socket itself (both backends,
  // receive_slot.hpp); a cancellation can land before, during or after that park.
  const config c = any_config();
  const bool provided = GENERATE(false, true);
  INFO(c.name() << (provided ? " recv_provided" : " recv"));
  environment env(c);
  auto body = [](harrier::net::io_context& ctx, bool use_provided) -> task<bool> {
    auto [server, client] = co_await connected_pair(ctx);
    constexpr int k_rounds = 300;
    int cancelled = 0;
    for (int i = 0; i < k_rounds; ++i) {
      cancellation_source source;
      std::thread canceller([source]() mutable { source.request_cancellation(); });
      std::error_code error;
      if (use_provided) {
        error = (co_await server.recv_provided(source.token())).error;
      } else {
        std::byte b[16];
        error = (co_await server.recv(b, source.token())).error;
      }
      canceller.join();
      if (error == harrier::net::operation_canceled_error()) ++cancelled;
    }
    // Nothing was sent, so every receive ended by its cancellation, and the stream still works.
    co_await client.send(as_bytes("x"));
    std::size_t got = 0;
    if (use_provided) {
      got = (co_await server.recv_provided()).buffer.size();
    } else {
      std::byte b[16];
      got = (co_await server.recv(b)).bytes;
    }
    co_return cancelled == k_rounds&& got == 1;
  };
  CHECK(run(body(env.context, provided), 30s));
}

namespace {

// Runs an action on the I/O thread as it hands out the next batch of completions (post_batch is
// called there), then passes the batch on to a test_pool.
class hooked_pool final : public harrier::executor {
 public:
  void on_next_batch(std::function<void()> action) {
    std::lock_guard lock(m_mutex);
    m_action = std::move(action);
  }
  void post(std::coroutine_handle<> h) override { m_inner.post(h); }
  void post_batch(std::span<const std::coroutine_handle<>> batch) override {
    std::function<void()> action;
    {
      std::lock_guard lock(m_mutex);
      action.swap(m_action);
    }
    if (action) action();
    m_inner.post_batch(batch);
  }

 private:
  std::mutex m_mutex;
  std::function<void()> m_action;
  test_pool m_inner{2};
};

}  // namespace

TEST_CASE("a receive cancelled with deliver_received completes with the bytes that had arrived",
          "[net][cancel]") {
  // An idle wait that a deadline cancels must not lose a request that came as it fired. Here the
  // bytes arrive and the cancellation is consumed within one turn of the I/O thread, before it
  // next polls: on io_uring the bytes are still in the socket then, the multishot's task work
  // deferred (DEFER_TASKRUN), and that next poll takes them into a provided buffer where the
  // receiver's MSG_PEEK would not see them; on epoll they stay in the socket.
  const auto backend =
      GENERATE(harrier::net::backend_kind::io_uring, harrier::net::backend_kind::epoll);
  const bool inline_dispatch = GENERATE(true, false);
  INFO(harrier::net::to_string(backend) << (inline_dispatch ? "/inline" : "/pool"));
  std::unique_ptr<hooked_pool> dispatch;
  if (!inline_dispatch) dispatch = std::make_unique<hooked_pool>();
  harrier::net::io_context context(harrier::net::io_options{usable(backend), dispatch.get()});
  auto body = [](harrier::net::io_context& ctx, hooked_pool* pool) -> task<std::string> {
    auto [server, client] = co_await connected_pair(ctx);
    // A first receive arms io_uring's multishot receive.
    NET_EXPECT(::send(client.native_handle(), "a", 1, MSG_NOSIGNAL) == 1);
    auto first = co_await server.recv_provided();
    NET_EXPECT(!first.error && first.buffer.size() == 1);
    cancellation_source source;
    bool arrived = false;
    // On the I/O thread: the bytes come, then the cancellation, consumed at once there.
    std::function<void()> action = [&source, &arrived, client_fd = client.native_handle(),
                                    server_fd = server.native_handle()] {
      if (::send(client_fd, "bc", 2, MSG_NOSIGNAL) == 2) {
        ::pollfd p{server_fd, POLLIN, 0};
        arrived = ::poll(&p, 1, 5000) == 1;  // loopback: there at once
      }
      source.request_cancellation();
    };
    if (pool != nullptr) {
      pool->on_next_batch(std::move(action));
      action = nullptr;
    }
    // With a pool, this timer's completion is the batch that runs the action (hooked_pool).
    harrier::spawn(act_after_timer(ctx, std::move(action)));
    auto r =
        co_await server.recv_provided(source.token(), harrier::net::recv_cancel::deliver_received);
    NET_EXPECT(arrived);
    NET_EXPECT(!r.error);
    std::string got(reinterpret_cast<const char*>(r.buffer.bytes().data()), r.buffer.size());
    while (got.size() < 2) {  // the rest, should the bytes have come apart
      auto more = co_await server.recv_provided();
      NET_EXPECT(!more.error && !more.buffer.empty());
      got.append(reinterpret_cast<const char*>(more.buffer.bytes().data()), more.buffer.size());
    }
    co_return got;
  };
  CHECK(run(body(context, dispatch.get())) == "bc");
}
