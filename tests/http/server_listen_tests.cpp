// Binding: a localhost address listens on both loopbacks, one port; a port taken on either half
// fails start() and leaves nothing bound. The any address takes IPv4 and IPv6 clients on one
// socket. Real sockets on loopback; every wait is bounded.

#include <harrier/http/response.hpp>
#include <harrier/http/server.hpp>
#include <harrier/net/io_context.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/bounded_stop.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <system_error>

using namespace harrier::http;
using harrier::net::endpoint;

namespace {

harrier::task<void> hello(request&, response& res) {
  co_await res.send(200, "text/plain", "hello");
}

// Answers with the client's address as the server sees it.
harrier::task<void> who(request& req, response& res) {
  co_await res.send(200, "text/plain", "from " + req.connection().remote_address);
}

// One request on a fresh connection to `to`; the response's text up to 2 s.
std::string get(const endpoint& to) {
  const int fd = ::socket(to.family(), SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, to.data(), to.size()) == 0);
  const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string text;
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, 2000) == 1) {
    char buffer[512];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

// A listening socket on `at` held by the test (another program, as far as the server knows).
struct held_port {
  explicit held_port(const endpoint& at) : fd(::socket(at.family(), SOCK_STREAM, 0)) {
    REQUIRE(fd >= 0);
    REQUIRE(::bind(fd, at.data(), at.size()) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    ::sockaddr_storage bound{};
    ::socklen_t length = sizeof bound;
    REQUIRE(::getsockname(fd, reinterpret_cast<::sockaddr*>(&bound), &length) == 0);
    port = endpoint::from_sockaddr(reinterpret_cast<::sockaddr*>(&bound), length).port();
  }
  ~held_port() { ::close(fd); }
  held_port(const held_port&) = delete;
  held_port& operator=(const held_port&) = delete;
  int fd;
  std::uint16_t port = 0;
};

// Whether a server could bind `at` now: with SO_REUSEADDR, as the server's listeners do, so that
// an old connection's TIME_WAIT on that port (another test's server used it) does not count, while
// a listener there does.
bool server_could_bind(const endpoint& at) {
  const int fd = ::socket(at.family(), SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  const int one = 1;
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
  const bool ok = ::bind(fd, at.data(), at.size()) == 0;
  ::close(fd);
  return ok;
}

// Whether this machine has an IPv6 loopback to bind.
bool have_ipv6_loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const endpoint at = endpoint::parse("[::1]:0");
  const bool ok = ::bind(fd, at.data(), at.size()) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("localhost listens on both loopbacks with one port, even when port 0 is asked",
          "[http][server]") {
  if (!have_ipv6_loopback()) {
    WARN("no IPv6 loopback on this machine: skipped");
    return;
  }
  harrier::net::io_context io;
  server_options o;
  o.endpoints.push_back(listen_address::localhost(0));
  o.endpoints.push_back(endpoint::parse("127.0.0.1:0"));
  server srv(io, o, hello);
  srv.start();
  const auto& local = srv.local_endpoints();
  REQUIRE(local.size() == 3);
  CHECK(local[0].family() == AF_INET);
  CHECK(local[0].to_string().rfind("127.0.0.1:", 0) == 0);
  CHECK(local[1].family() == AF_INET6);
  CHECK(local[1].to_string().rfind("[::1]:", 0) == 0);
  CHECK(local[0].port() != 0);
  CHECK(local[1].port() == local[0].port());
  CHECK(local[2].family() == AF_INET);  // the next address, in order
  for (const endpoint& at : local) {
    INFO(at.to_string());
    const std::string response = get(at);
    CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(response.find("\r\n\r\nhello") != std::string::npos);
  }
  harrier::test::stop_bounded(srv, io);
}

TEST_CASE("localhost on a port another socket holds on ::1 fails and leaves nothing bound",
          "[http][server]") {
  if (!have_ipv6_loopback()) {
    WARN("no IPv6 loopback on this machine: skipped");
    return;
  }
  // A port held on ::1 whose 127.0.0.1 half is free: the kernel picks the ::1 port among those
  // free on ::1 only, and a connection of another test may still hold it on 127.0.0.1.
  std::optional<held_port> other;
  for (int attempt = 0; attempt < 16 && !other; ++attempt) {
    other.emplace(endpoint::parse("[::1]:0"));
    if (!server_could_bind(endpoint::parse("127.0.0.1:" + std::to_string(other->port))))
      other.reset();
  }
  REQUIRE(other);
  harrier::net::io_context io;
  server_options o;
  o.endpoints.push_back(endpoint::parse("127.0.0.1:0"));
  o.endpoints.push_back(listen_address::localhost(other->port));
  server srv(io, o, hello);
  try {
    srv.start();
    FAIL("start() bound a port another socket holds on ::1");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EADDRINUSE);
    CHECK_THAT(e.what(), Catch::Contains("[::1]:" + std::to_string(other->port)));
  }
  CHECK(srv.local_endpoints().empty());
  // The IPv4 half was let go (its socket closes on the I/O thread, soon): another server can
  // take the port.
  const endpoint v4 = endpoint::parse("127.0.0.1:" + std::to_string(other->port));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool bound = false;
  while (!(bound = server_could_bind(v4)) && std::chrono::steady_clock::now() < deadline)
    ::poll(nullptr, 0, 5);
  CHECK(bound);
}

TEST_CASE("localhost on a port another socket holds on 127.0.0.1 fails", "[http][server]") {
  held_port other(endpoint::parse("127.0.0.1:0"));
  harrier::net::io_context io;
  server_options o;
  o.endpoints.push_back(listen_address::localhost(other.port));
  server srv(io, o, hello);
  CHECK_THROWS_AS(srv.start(), std::system_error);
  CHECK(srv.local_endpoints().empty());
}

TEST_CASE("the any address takes IPv4 and IPv6 clients on one dual-stack socket",
          "[http][server]") {
  if (!have_ipv6_loopback()) {
    WARN("no IPv6 loopback on this machine: skipped");
    return;
  }
  harrier::net::io_context io;
  server_options o;
  o.endpoints.push_back(listen_address::any(0));
  server srv(io, o, who);
  srv.start();
  REQUIRE(srv.local_endpoints().size() == 1);
  const endpoint bound = srv.local_endpoints().front();
  CHECK(bound.to_string() == "[::]:" + std::to_string(bound.port()));
  const std::string port = std::to_string(bound.port());
  // IPV6_V6ONLY is cleared on the socket itself, whatever net.ipv6.bindv6only says.
  const std::string v4 = get(endpoint::parse("127.0.0.1:" + port));
  CHECK(v4.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(v4.find("\r\n\r\nfrom ::ffff:127.0.0.1") != std::string::npos);
  const std::string v6 = get(endpoint::parse("[::1]:" + port));
  CHECK(v6.find("\r\n\r\nfrom ::1") != std::string::npos);
  harrier::test::stop_bounded(srv, io);
}
