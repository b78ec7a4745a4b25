// Listeners: bursts of connects, a thousand concurrent connections, SO_REUSEPORT, errors.

#include "net/net_test_support.hpp"

#include <harrier/core/when_all.hpp>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>

using namespace net_test;
using harrier::task;
using harrier::net::endpoint;
using harrier::net::listener;
using harrier::net::tcp_stream;

namespace {

void raise_fd_limit(rlim_t wanted) {
  ::rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur < wanted) {
    r.rlim_cur = std::min(wanted, r.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

task<void> serve_one(tcp_stream s) {
  std::byte b[64];
  while (true) {
    auto r = co_await s.recv(b);
    if (r.error || r.bytes == 0) break;
    co_await s.send(std::span(b, r.bytes));
  }
}

task<void> accept_n(listener& l, int n) {
  std::vector<task<void>> servers;
  for (int i = 0; i < n; ++i) {
    auto a = co_await l.accept();
    NET_EXPECT(!a.error);
    servers.push_back(serve_one(std::move(a.stream)));
  }
  co_await harrier::when_all(std::move(servers));
}

task<void> ping(harrier::net::io_context& ctx, endpoint to, int id) {
  auto c = co_await harrier::net::connect(ctx, to);
  NET_EXPECT(!c.error);
  const std::string message = "ping " + std::to_string(id);
  co_await c.stream.send(as_bytes(message));
  std::string got;
  std::byte b[64];
  while (got.size() < message.size()) {
    auto r = co_await c.stream.recv(b);
    NET_EXPECT(!r.error && r.bytes > 0);
    got.append(reinterpret_cast<const char*>(b), r.bytes);
  }
  NET_EXPECT(got == message);
}

}  // namespace

TEST_CASE("a thousand concurrent connections are all served", "[net][listener]") {
  raise_fd_limit(8192);
  const config c = any_config();
  const unsigned io_threads = GENERATE(1u, 2u);
  INFO(c.name() << " io_threads=" << io_threads);
  environment env(c, io_threads);
  auto l = listener::bind(env.context, endpoint::parse("127.0.0.1:0"));
  constexpr int k_connections = 1000;
  auto clients = [](harrier::net::io_context& ctx, endpoint to) -> task<void> {
    std::vector<task<void>> all;
    for (int i = 0; i < k_connections; ++i)
      all.push_back(ping(ctx, to, i));
    co_await harrier::when_all(std::move(all));
  };
  run(harrier::when_all(accept_n(l, k_connections), clients(env.context, l.local_endpoint())));
  SUCCEED();
}

TEST_CASE("accept keeps up with a burst of blocking connects from another thread",
          "[net][listener]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  // The default backlog (1024) holds the whole burst: on 2 busy cores the connecting thread can
  // outrun the acceptor by more than a small backlog, and a full backlog costs a 1 s SYN retry.
  auto l = listener::bind(env.context, endpoint::parse("127.0.0.1:0"));
  constexpr int k_burst = 300;
  const endpoint to = l.local_endpoint();
  std::atomic<int> connected{0};
  std::vector<int> fds;
  std::thread burst([&] {
    for (int i = 0; i < k_burst; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (::connect(fd, to.data(), to.size()) == 0) connected.fetch_add(1);
      fds.push_back(fd);
    }
  });
  auto acceptor = [](listener& li) -> task<std::set<int>> {
    std::set<int> remote_ports;
    for (int i = 0; i < k_burst; ++i) {
      auto a = co_await li.accept();
      NET_EXPECT(!a.error);
      remote_ports.insert(a.stream.remote_endpoint().port());
    }
    co_return remote_ports;
  };
  auto ports = run(acceptor(l));
  burst.join();
  for (int fd : fds)
    ::close(fd);
  CHECK(connected.load() == k_burst);
  CHECK(ports.size() == static_cast<std::size_t>(k_burst));
}

TEST_CASE("two listeners can share a port with reuse_port", "[net][listener]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto first = listener::bind(env.context, endpoint::parse("127.0.0.1:0"), {.reuse_port = true});
  const endpoint at = first.local_endpoint();
  auto second = listener::bind(env.context, at, {.reuse_port = true});
  CHECK(second.local_endpoint().port() == at.port());
  CHECK_THROWS_AS(listener::bind(env.context, at), std::system_error);
}

TEST_CASE("binding a busy port throws an error naming the endpoint", "[net][listener]") {
  environment env(config{harrier::net::backend_kind::automatic, true});
  auto first = listener::bind(env.context, endpoint::parse("127.0.0.1:0"));
  const std::string where = first.local_endpoint().to_string();
  try {
    listener::bind(env.context, first.local_endpoint());
    FAIL("bind on a busy port did not throw");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), Catch::Contains(where));
    CHECK(e.code() == std::errc::address_in_use);
  }
}

TEST_CASE("port 0 reports the real port", "[net][listener]") {
  environment env(config{harrier::net::backend_kind::automatic, true});
  auto l = listener::bind(env.context, endpoint::parse("[::1]:0"));
  CHECK(l.local_endpoint().port() != 0);
  CHECK(l.local_endpoint().to_string().starts_with("[::1]:"));
}

TEST_CASE("try_accept takes the connections that are there, then says so without waiting",
          "[net][listener]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto l = listener::bind(env.context, endpoint::parse("127.0.0.1:0"));
  const endpoint to = l.local_endpoint();
  auto try_once = [](listener& li) -> task<harrier::net::accept_result> {
    co_return co_await li.try_accept();
  };
  const auto empty = run(try_once(l));
  CHECK(empty.error == std::errc::resource_unavailable_try_again);

  // Blocking connects complete in the kernel's backlog, accepted by nobody yet.
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(::connect(fd, to.data(), to.size()) == 0);
    fds.push_back(fd);
  }
  // One by a waiting accept (on io_uring it arms the multishot accept, which may take the others
  // ahead into the listener's queue: try_accept takes from there first, then the backlog).
  auto take_all = [](listener& li) -> task<std::set<int>> {
    std::set<int> ports;
    auto first = co_await li.accept();
    NET_EXPECT(!first.error);
    ports.insert(first.stream.remote_endpoint().port());
    for (;;) {
      auto more = co_await li.try_accept();
      if (more.error) {
        NET_EXPECT(more.error == std::errc::resource_unavailable_try_again);
        break;
      }
      ports.insert(more.stream.remote_endpoint().port());
    }
    co_return ports;
  };
  const std::set<int> ports = run(take_all(l));
  for (int fd : fds)
    ::close(fd);
  CHECK(ports.size() == 3);
}
