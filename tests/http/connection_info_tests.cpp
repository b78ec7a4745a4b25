// request::connection(): who connected and where to, in memory and through a real server on
// loopback (IPv4, IPv6, a wildcard listener, a Unix socket).

#include <harrier/http/server.hpp>
#include <harrier/net/io_context.hpp>

#include "memory_transport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "support/bounded_stop.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <string>

using namespace harrier::http;
using namespace harrier::http::testing;

namespace {

const char* family_name(address_family f) {
  switch (f) {
    case address_family::ipv4:
      return "ipv4";
    case address_family::ipv6:
      return "ipv6";
    case address_family::unix_socket:
      return "unix";
    default:
      return "unknown";
  }
}

// Answers "family remote_address remote_port local_address local_port".
harrier::task<void> describe_handler(request& req, response& res) {
  const connection_info& c = req.connection();
  std::string body = std::string(family_name(c.family)) + " " + c.remote_address + " " +
                     std::to_string(c.remote_port) + " " + c.local_address + " " +
                     std::to_string(c.local_port);
  co_await res.send(200, "text/plain", body);
}

// One HTTP/1.0 GET on a connected socket, with a receive timeout so a broken server fails the
// test instead of hanging it. Returns the response body ("" on failure).
std::string get_body(int fd) {
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const std::string request = "GET / HTTP/1.0\r\n\r\n";
  std::string response;
  if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
      response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const std::size_t end_of_head = response.find("\r\n\r\n");
  return end_of_head == std::string::npos ? std::string() : response.substr(end_of_head + 4);
}

// A server with inline dispatch on its own io_context, stopped at the end of the scope.
struct running_server {
  harrier::net::io_context io;
  server srv;
  explicit running_server(std::string_view url)
      : srv(io, options(url), request_handler(describe_handler)) {
    srv.start();
  }
  ~running_server() {
    harrier::test::stop_bounded(srv, io);
    io.stop();
  }
  static server_options options(std::string_view url) {
    server_options o;
    o.endpoints.push_back(harrier::net::endpoint::parse(url));
    return o;
  }
  std::uint16_t port() const { return srv.local_endpoints().front().port(); }
};

int connect_to(const harrier::net::endpoint& to) {
  const int fd = ::socket(to.family(), SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (::connect(fd, to.data(), to.size()) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::uint16_t local_port_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return harrier::net::endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&address), length)
      .port();
}

}  // namespace

TEST_CASE("every request of a connection reports the connection's addresses",
          "[http][connection]") {
  connection_harness h(describe_handler);
  connection_info info;
  info.family = address_family::ipv4;
  info.remote_address = "192.0.2.7";
  info.remote_port = 40000;
  info.local_address = "192.0.2.1";
  info.local_port = 8080;
  http1_options options;
  options.rejections = &h.rejections;
  h.connection.emplace(h.transport, options, describe_handler, info);
  h.start();
  h.feed(get("/a") + get("/b"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].body == "ipv4 192.0.2.7 40000 192.0.2.1 8080");
  CHECK(responses[1].body == "ipv4 192.0.2.7 40000 192.0.2.1 8080");
}

namespace {
struct counting_describer final : connection_describer {
  connection_info describe() const override {
    ++calls;
    connection_info info;
    info.family = address_family::ipv6;
    info.remote_address = "2001:db8::7";
    info.remote_port = 50000;
    info.local_address = "2001:db8::1";
    info.local_port = 443;
    return info;
  }
  mutable int calls = 0;
};
}  // namespace

TEST_CASE("a describer is asked once, when a request first wants the connection",
          "[http][connection]") {
  // The server's asks the socket (getpeername): not for a connection nobody asks about.
  counting_describer describer;
  http1_options options;
  {
    connection_harness h(describe_handler);
    options.rejections = &h.rejections;
    h.connection.emplace(h.transport, std::make_shared<const http1_options>(options),
                         describe_handler, describer);
    h.start();
    h.feed(get("/a") + get("/b"));
    const auto responses = parse_responses(h.transport.output);
    REQUIRE(responses.size() == 2);
    CHECK(responses[0].body == "ipv6 2001:db8::7 50000 2001:db8::1 443");
    CHECK(responses[1].body == responses[0].body);
    CHECK(describer.calls == 1);
  }
  {
    int hellos = 0;
    connection_harness h(hello_handler{&hellos});
    options.rejections = &h.rejections;
    h.connection.emplace(h.transport, std::make_shared<const http1_options>(options),
                         hello_handler{&hellos}, describer);
    h.start();
    h.feed(get("/a") + get("/b"));
    CHECK(parse_responses(h.transport.output).size() == 2);
    CHECK(describer.calls == 1);  // not asked
  }
}

TEST_CASE("a connection made without addresses reports an unknown family", "[http][connection]") {
  connection_harness h(describe_handler);
  h.start();
  h.feed(get("/"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "unknown  0  0");
}

TEST_CASE("the server reports an IPv4 client's address and port", "[http][connection][loopback]") {
  running_server s("127.0.0.1:0");
  const int fd = connect_to(s.srv.local_endpoints().front());
  REQUIRE(fd >= 0);
  const std::uint16_t client_port = local_port_of(fd);
  CHECK(get_body(fd) ==
        "ipv4 127.0.0.1 " + std::to_string(client_port) + " 127.0.0.1 " + std::to_string(s.port()));
}

TEST_CASE("a wildcard listener reports the address the client reached",
          "[http][connection][loopback]") {
  running_server s("0.0.0.0:0");
  const auto to = harrier::net::endpoint::parse("127.0.0.1:" + std::to_string(s.port()));
  const int fd = connect_to(to);
  REQUIRE(fd >= 0);
  const std::uint16_t client_port = local_port_of(fd);
  CHECK(get_body(fd) ==
        "ipv4 127.0.0.1 " + std::to_string(client_port) + " 127.0.0.1 " + std::to_string(s.port()));
}

TEST_CASE("the server reports an IPv6 client without brackets", "[http][connection][loopback]") {
  const int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 loopback{};
  loopback.sin6_family = AF_INET6;
  loopback.sin6_addr = in6addr_loopback;
  const bool has_ipv6 =
      probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&loopback), sizeof loopback) == 0;
  if (probe >= 0) ::close(probe);
  if (!has_ipv6) {
    WARN("no IPv6 loopback here; skipped");
    return;
  }
  running_server s("[::1]:0");
  const int fd = connect_to(s.srv.local_endpoints().front());
  REQUIRE(fd >= 0);
  const std::uint16_t client_port = local_port_of(fd);
  CHECK(get_body(fd) ==
        "ipv6 ::1 " + std::to_string(client_port) + " ::1 " + std::to_string(s.port()));
}

TEST_CASE("a Unix socket connection reports the socket's path", "[http][connection][loopback]") {
  char path[] = "/tmp/harrier-connection-info-XXXXXX";
  const int temp = ::mkstemp(path);
  REQUIRE(temp >= 0);
  ::close(temp);
  ::unlink(path);  // the name only: the listener creates the socket
  {
    running_server s(std::string("unix:") + path);
    const int fd = connect_to(s.srv.local_endpoints().front());
    REQUIRE(fd >= 0);
    CHECK(get_body(fd) == std::string("unix  0 ") + path + " 0");
  }
  ::unlink(path);
}
