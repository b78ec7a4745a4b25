// Echo over every backend x dispatch combination: integrity, address families, vectored sends,
// half-close, peer reset, and I/O progress while a handler blocks its worker.

#include "net/net_test_support.hpp"

#include <harrier/core/when_all.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <unistd.h>
#include <future>
#include <random>

using namespace net_test;
using harrier::task;
using harrier::net::endpoint;
using harrier::net::tcp_stream;

namespace {

task<void> echo_server(tcp_stream s, bool provided) {
  std::vector<std::byte> buffer(8192);
  while (true) {
    if (provided) {
      auto r = co_await s.recv_provided();
      NET_EXPECT(!r.error);
      if (r.buffer.empty()) break;
      auto w = co_await s.send(r.buffer.bytes());
      NET_EXPECT(!w.error && w.bytes == r.buffer.size());
    } else {
      auto r = co_await s.recv(buffer);
      NET_EXPECT(!r.error);
      if (r.bytes == 0) break;
      auto w = co_await s.send(std::span(buffer.data(), r.bytes));
      NET_EXPECT(!w.error && w.bytes == r.bytes);
    }
  }
  auto shut = co_await s.shutdown_send();
  NET_EXPECT(!shut.error);
}

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out)
    b = static_cast<std::byte>(rng());
  return out;
}

task<void> write_messages(tcp_stream& c, const std::vector<std::byte>& data, unsigned seed) {
  std::mt19937 rng(seed);
  std::size_t offset = 0;
  while (offset < data.size()) {
    std::size_t n = std::min<std::size_t>(1 + rng() % 20000, data.size() - offset);
    auto w = co_await c.send(std::span(data.data() + offset, n));
    NET_EXPECT(!w.error && w.bytes == n);
    offset += n;
  }
  auto shut = co_await c.shutdown_send();
  NET_EXPECT(!shut.error);
}

task<std::vector<std::byte>> read_all(tcp_stream& c) {
  std::vector<std::byte> got;
  std::vector<std::byte> buffer(7000);
  while (true) {
    auto r = co_await c.recv(buffer);
    NET_EXPECT(!r.error);
    if (r.bytes == 0) break;
    got.insert(got.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(r.bytes));
  }
  co_return got;
}

task<bool> echo_round_trip(harrier::net::io_context& ctx, std::string where, bool provided,
                           std::size_t total, unsigned seed) {
  auto [server, client] = co_await connected_pair(ctx, where);
  const auto data = random_bytes(total, seed);
  auto [a, b, got] =
      co_await harrier::when_all(echo_server(std::move(server), provided),
                                 write_messages(client, data, seed + 1), read_all(client));
  co_return got == data;
}

// One connection's handler blocks its pool worker (without saying so) until another
// connection has echoed 50 KB; true if both finished. If that I/O were stalled behind the
// blocked worker, the wait would time out.
bool io_goes_on_while_a_worker_blocks(harrier::net::io_context& context, harrier::executor& pool) {
  std::promise<void> other_done;
  auto done = other_done.get_future();
  auto blocker = [](harrier::net::io_context& ctx, harrier::executor& p,
                    std::future<void>& wait_for) -> task<bool> {
    auto [server, client] = co_await connected_pair(ctx);
    co_await client.send(as_bytes("x"));
    std::byte b[1];
    co_await server.recv(b);
    // Onto a pool worker for sure: every step above may complete at once on the calling thread
    // (epoll does so when the peer is quick), and blocking that thread would keep when_all from
    // even starting the other connection (seen as a 10 s timeout in about 1 run in 200).
    co_await p.schedule();
    co_return wait_for.wait_for(10s) == std::future_status::ready;
  };
  auto other = [](harrier::net::io_context& ctx, std::promise<void>& signal) -> task<bool> {
    bool ok = co_await echo_round_trip(ctx, "127.0.0.1:0", true, 50'000, 3);
    signal.set_value();
    co_return ok;
  };
  auto [blocked_ok, other_ok] =
      run(harrier::when_all(blocker(context, pool, done), other(context, other_done)));
  return blocked_ok && other_ok;
}

}  // namespace

TEST_CASE("many messages of random sizes echo back byte for byte", "[net][echo]") {
  const config c = any_config();
  const bool provided = GENERATE(false, true);
  INFO(c.name() << (provided ? " recv_provided" : " recv"));
  environment env(c);
  CHECK(run(echo_round_trip(env.context, "127.0.0.1:0", provided, 2'000'000, 7)));
}

TEST_CASE("echo works over IPv6 and Unix domain sockets", "[net][echo]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  CHECK(run(echo_round_trip(env.context, "[::1]:0", true, 100'000, 11)));
  const std::string path = "/tmp/harrier-net-test-" + std::to_string(::getpid()) + ".sock";
  CHECK(run(echo_round_trip(env.context, "unix:" + path, false, 100'000, 12)));
  CHECK(::access(path.c_str(), F_OK) != 0);  // the listener unlinked its path
}

TEST_CASE("sendv sends every buffer in order", "[net][echo]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<std::string> {
    auto [server, client] = co_await connected_pair(ctx);
    std::string parts[] = {"HTTP/1.1 200 OK\r\n", "", "Content-Length: 300000\r\n\r\n",
                           std::string(300000, 'x')};
    ::iovec iov[4];
    std::size_t total = 0;
    for (int i = 0; i < 4; ++i) {
      iov[i] = {parts[i].data(), parts[i].size()};
      total += parts[i].size();
    }
    auto sender = [](tcp_stream& s, std::span<const ::iovec> v) -> task<harrier::net::io_result> {
      auto r = co_await s.sendv(v);
      co_await s.shutdown_send();
      co_return r;
    };
    auto [sent, got] = co_await harrier::when_all(sender(server, iov), read_all(client));
    NET_EXPECT(!sent.error && sent.bytes == total);
    co_return std::string(reinterpret_cast<const char*>(got.data()), got.size());
  };
  const std::string got = run(body(env.context));
  CHECK(got.size() == 17 + 26 + 300000);
  CHECK(got.starts_with("HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\nxxx"));
}

TEST_CASE("after a half-close the peer reads EOF and can still answer", "[net][echo]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<bool> {
    auto [server, client] = co_await connected_pair(ctx);
    co_await client.send(as_bytes("question"));
    auto shut = co_await client.shutdown_send();
    NET_EXPECT(!shut.error);
    std::byte buffer[64];
    std::size_t got = 0;
    while (true) {
      auto r = co_await server.recv(buffer);
      NET_EXPECT(!r.error);
      if (r.bytes == 0) break;
      got += r.bytes;
    }
    NET_EXPECT(got == 8);
    auto w = co_await server.send(as_bytes("answer"));
    NET_EXPECT(!w.error);
    server.close();
    auto answer = co_await read_all(client);
    co_return answer.size() == 6;
  };
  CHECK(run(body(env.context)));
}

TEST_CASE("a peer reset fails the pending recv with connection_reset", "[net][echo]") {
  const config c = any_config();
  const bool provided = GENERATE(false, true);
  INFO(c.name() << (provided ? " recv_provided" : " recv"));
  environment env(c);
  auto body = [](harrier::net::io_context& ctx, bool use_provided) -> task<std::error_code> {
    auto [server, client] = co_await connected_pair(ctx);
    ::linger hard{1, 0};  // close() then sends RST instead of FIN
    ::setsockopt(client.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    client.close();
    if (use_provided) {
      auto r = co_await server.recv_provided();
      co_return r.error;
    }
    std::byte buffer[16];
    auto r = co_await server.recv(buffer);
    co_return r.error;
  };
  CHECK(run(body(env.context, provided)) == std::errc::connection_reset);
}

TEST_CASE("what a client sent before its connection was accepted is received, then its EOF",
          "[net][echo]") {
  // The bytes and the FIN are queued before the server's socket exists: epoll's registration
  // must report them (its first receive waits for that report instead of trying).
  const config c = any_config();
  const bool provided = GENERATE(false, true);
  INFO(c.name() << (provided ? " recv_provided" : " recv"));
  environment env(c);
  auto body = [](harrier::net::io_context& ctx, bool use_provided) -> task<std::string> {
    auto l = harrier::net::listener::bind(ctx, harrier::net::endpoint::parse("127.0.0.1:0"));
    const harrier::net::endpoint at = l.local_endpoint();
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    NET_EXPECT(fd >= 0);
    NET_EXPECT(::connect(fd, at.data(), at.size()) == 0);  // the backlog completes it
    NET_EXPECT(::send(fd, "early", 5, MSG_NOSIGNAL) == 5);
    NET_EXPECT(::shutdown(fd, SHUT_WR) == 0);
    auto a = co_await l.accept();
    NET_EXPECT(!a.error);
    std::string got;
    for (;;) {
      if (use_provided) {
        auto r = co_await a.stream.recv_provided();
        NET_EXPECT(!r.error);
        if (r.buffer.size() == 0) break;
        got.append(reinterpret_cast<const char*>(r.buffer.bytes().data()), r.buffer.size());
      } else {
        std::byte buffer[16];
        auto r = co_await a.stream.recv(buffer);
        NET_EXPECT(!r.error);
        if (r.bytes == 0) break;
        got.append(reinterpret_cast<const char*>(buffer), r.bytes);
      }
    }
    ::close(fd);
    co_return got;
  };
  CHECK(run(body(env.context, provided)) == "early");
}

TEST_CASE("accepted TCP sockets have TCP_NODELAY", "[net][echo]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& ctx) -> task<int> {
    auto [server, client] = co_await connected_pair(ctx);
    int value = 0;
    ::socklen_t length = sizeof(value);
    ::getsockopt(server.native_handle(), IPPROTO_TCP, TCP_NODELAY, &value, &length);
    co_return value;
  };
  CHECK(run(body(env.context)) != 0);
}

TEST_CASE("a handler blocking its worker does not stop other connections' I/O", "[net][echo]") {
  const auto backend =
      GENERATE(harrier::net::backend_kind::io_uring, harrier::net::backend_kind::epoll);
  INFO(harrier::net::to_string(backend));
  environment env(config{backend, false});
  CHECK(io_goes_on_while_a_worker_blocks(env.context, *env.pool));
}

TEST_CASE("idle workers drive the I/O with a thread_pool and a backend any thread may wait in",
          "[net][driven]") {
  harrier::thread_pool_options pool_options;
  pool_options.min_threads = 2;
  harrier::thread_pool pool(pool_options);
  auto options = [](harrier::net::backend_kind backend, harrier::executor* dispatch,
                    bool workers_drive, unsigned io_threads) {
    harrier::net::io_options o;
    o.backend = backend;
    o.dispatch = dispatch;
    o.workers_drive_io = workers_drive;
    o.io_threads = io_threads;
    return o;
  };
  const auto epoll = harrier::net::backend_kind::epoll;
  {
    harrier::net::io_context a(options(epoll, &pool, true, 1));
    CHECK(a.workers_drive_io());
    // A pool drives one backend: a second context keeps its I/O thread. Both work.
    harrier::net::io_context b(options(epoll, &pool, true, 1));
    CHECK_FALSE(b.workers_drive_io());
    auto [ok_a, ok_b] = run(harrier::when_all(echo_round_trip(a, "127.0.0.1:0", true, 20'000, 5),
                                              echo_round_trip(b, "127.0.0.1:0", false, 20'000, 6)));
    CHECK(ok_a);
    CHECK(ok_b);
  }
  {
    // Detached when the first context went: the pool drives the next one.
    harrier::net::io_context again(options(epoll, &pool, true, 1));
    CHECK(again.workers_drive_io());
    CHECK(run(echo_round_trip(again, "127.0.0.1:0", false, 20'000, 7)));
  }
  CHECK_FALSE(harrier::net::io_context(options(epoll, &pool, false, 1)).workers_drive_io());
  CHECK_FALSE(harrier::net::io_context(options(epoll, &pool, true, 2)).workers_drive_io());
  CHECK_FALSE(harrier::net::io_context(options(epoll, nullptr, true, 1)).workers_drive_io());
  test_pool cannot_drive(1);
  CHECK_FALSE(harrier::net::io_context(options(epoll, &cannot_drive, true, 1)).workers_drive_io());
  if (usable(harrier::net::backend_kind::io_uring) == harrier::net::backend_kind::io_uring) {
    // A SINGLE_ISSUER ring is entered by its own thread only.
    CHECK_FALSE(
        harrier::net::io_context(options(harrier::net::backend_kind::io_uring, &pool, true, 1))
            .workers_drive_io());
  }
}

TEST_CASE("a pool whose only worker blocks still drives the other connections' I/O",
          "[net][driven]") {
  // The monitor drives the backend when no worker did for a tick, and what it harvests is
  // queued work, which makes the blocked worker count as stalled: a second worker starts and
  // drives from then on (threadpool/worker.cpp, "Driving I/O").
  harrier::thread_pool_options pool_options;
  pool_options.min_threads = 1;
  pool_options.max_threads = 4;
  harrier::thread_pool pool(pool_options);
  harrier::net::io_options options;
  options.backend = harrier::net::backend_kind::epoll;
  options.dispatch = &pool;
  harrier::net::io_context context(options);
  REQUIRE(context.workers_drive_io());
  CHECK(io_goes_on_while_a_worker_blocks(context, pool));
}
