// http::server's heartbeat: one walk over the connections checks every timeout; a connection has
// no watchdog, timer or wake-up of its own. Real sockets on loopback; every wait is bounded by a
// receive timeout, so a server that never closes fails the test instead of hanging it.

#include <harrier/http/date_cache.hpp>
#include <harrier/http/response.hpp>
#include <harrier/http/server.hpp>
#include <harrier/net/io_context.hpp>

#include <unistd.h>

#include "support/bounded_stop.hpp"
#include "support/loopback_client.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace harrier::http;
using namespace std::chrono_literals;
using harrier::test::read_until_closed;
using harrier::test::send_all;

namespace {

harrier::task<void> hello(request&, response& res) {
  co_await res.send(200, "text/plain", "hello");
}

struct heartbeat_server {
  harrier::net::io_context io;
  server srv;
  explicit heartbeat_server(const server_limits& limits) : srv(io, options(limits), hello) {
    srv.start();
  }
  ~heartbeat_server() {
    harrier::test::stop_bounded(srv, io);
    io.stop();
  }
  static server_options options(const server_limits& limits) {
    server_options o;
    o.endpoints.push_back(harrier::net::endpoint::parse("127.0.0.1:0"));
    o.connection.limits = limits;
    return o;
  }
  // A connected socket whose reads give up after 10 s.
  int connect() const { return harrier::test::connect_with_timeout(srv.local_endpoints().front()); }
};

// Reads one response to a keep-alive GET of hello (its length is known).
std::string read_hello_response(int fd) {
  std::string data;
  char buffer[4096];
  while (data.find("\r\n\r\nhello") == std::string::npos) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return data;
}

constexpr std::string_view k_get = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

}  // namespace

TEST_CASE("the server's heartbeat closes an idle keep-alive connection after the timeout",
          "[http][server][timeouts]") {
  server_limits limits;
  limits.keep_alive_timeout = 300ms;
  limits.timeout_check_interval = 100ms;
  heartbeat_server s(limits);
  const int fd = s.connect();
  send_all(fd, k_get);
  REQUIRE(read_hello_response(fd).starts_with("HTTP/1.1 200 "));
  const auto idle_since = std::chrono::steady_clock::now();
  CHECK(read_until_closed(fd).empty());  // closed quietly, and well before the 10 s bound
  CHECK(std::chrono::steady_clock::now() - idle_since >= 300ms);  // never early
  ::close(fd);
}

TEST_CASE("the server's heartbeat answers a stalled request head with 408",
          "[http][server][timeouts]") {
  server_limits limits;
  limits.request_headers_timeout = 300ms;
  limits.timeout_check_interval = 100ms;
  heartbeat_server s(limits);
  const int fd = s.connect();
  const auto started = std::chrono::steady_clock::now();
  send_all(fd, "GET / HTTP/1.1\r\nHost: t\r\n");
  const std::string data = read_until_closed(fd);
  CHECK(data.starts_with("HTTP/1.1 408 "));
  CHECK(std::chrono::steady_clock::now() - started >= 300ms);
  ::close(fd);
}

TEST_CASE("idle connections of a server wake nothing of their own", "[http][server][timeouts]") {
  // With a watchdog per connection, 32 idle connections checked every 20 ms would complete
  // 32 timers per 20 ms; the heartbeat completes one, however many connections there are.
  server_limits limits;
  limits.timeout_check_interval = 20ms;
  heartbeat_server s(limits);
  std::vector<int> fds;
  for (int i = 0; i < 32; ++i) {
    fds.push_back(s.connect());
    send_all(fds.back(), k_get);
    REQUIRE(read_hello_response(fds.back()).starts_with("HTTP/1.1 200 "));
  }
  const auto before = s.io.stats();
  const auto window_start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(400ms);  // the window measured, not a wait for an event
  const auto after = s.io.stats();
  const auto window = std::chrono::steady_clock::now() - window_start;
  const std::uint64_t completions = after.completions - before.completions;
  INFO("completions in " << std::chrono::duration_cast<std::chrono::milliseconds>(window).count()
                         << " ms: " << completions);
  // At most one heartbeat timer per 20 ms of the window, with slack for its start and end.
  CHECK(completions <= static_cast<std::uint64_t>(window / 20ms) + 3);
  for (int fd : fds) {
    // Still open: the default keep-alive timeout (130 s) is far off.
    send_all(fd, k_get);
    CHECK(read_hello_response(fd).starts_with("HTTP/1.1 200 "));
    ::close(fd);
  }
}

TEST_CASE("a server refuses a timeout check interval that is not positive", "[http][server]") {
  harrier::net::io_context io;
  server_options o;
  o.endpoints.push_back(harrier::net::endpoint::parse("127.0.0.1:0"));
  o.connection.limits.timeout_check_interval = 0ms;
  CHECK_THROWS_WITH(server(io, o, hello), Catch::Contains("timeout_check_interval"));
  io.stop();
}

TEST_CASE("the server's heartbeat keeps the Date header current", "[http][server][timeouts]") {
  // A server embedded without an application (whose heartbeat refreshes the shared cache too):
  // the date must not stay the one of its start. The cache starts a day behind.
  date_cache dates;
  dates.refresh(std::chrono::system_clock::now() - std::chrono::hours(24));
  const std::string stale = dates.current();
  server_limits limits;
  limits.timeout_check_interval = 100ms;
  server_options options = heartbeat_server::options(limits);
  options.connection.dates = &dates;
  harrier::net::io_context io;
  server srv(io, options, hello);
  srv.start();
  // Bounded: the heartbeat's first walk comes as the server starts.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (dates.current() == stale && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK(dates.current() != stale);
  const auto lag = std::chrono::system_clock::now() - dates.time();
  CHECK(lag < 5s);
  CHECK(lag > -5s);
  const int fd = harrier::test::connect_with_timeout(srv.local_endpoints().front());
  send_all(fd, k_get);
  const std::string response = read_hello_response(fd);
  REQUIRE(response.starts_with("HTTP/1.1 200 "));
  CHECK(response.find("Date: " + stale) == std::string::npos);
  CHECK(response.find("\r\nDate: ") != std::string::npos);
  ::close(fd);
  harrier::test::stop_bounded(srv, io);
  io.stop();
}
