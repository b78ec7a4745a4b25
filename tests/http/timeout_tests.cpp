// Timeouts, driven by the fake clock: no real time passes.

#include "memory_transport.hpp"

#include <catch2/catch.hpp>

using namespace harrier::http;
using namespace harrier::http::testing;
using namespace std::chrono_literals;

namespace {
http1_options short_timeouts() {
  http1_options options;
  options.limits.keep_alive_timeout = 5s;
  options.limits.request_headers_timeout = 3s;
  options.limits.min_request_body_rate_grace = 2s;
  options.limits.min_request_body_bytes_per_second = 100;
  // Deadlines fire up to one check interval late; a short one keeps the tests' arithmetic tight.
  options.limits.timeout_check_interval = 100ms;
  return options;
}
}  // namespace

TEST_CASE("an idle keep-alive connection closes quietly after the keep-alive timeout",
          "[http][timeouts]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls}, short_timeouts());
  h.start();
  h.feed(get("/a"));
  const std::string after_first = h.transport.output;
  h.loop.advance(4s);
  CHECK_FALSE(h.finished);
  h.loop.advance(2s);
  CHECK(h.finished);
  CHECK(h.transport.output == after_first);  // nothing more was written
}

TEST_CASE("empty lines between requests leave the connection idle", "[http][timeouts]") {
  // RFC 9112 section 2.2: a CRLF after a request (some clients send one after a body) is not the
  // start of a request: no request headers timeout (an unasked-for 408), and the keep-alive
  // timeout runs on from the last response, not from the empty line.
  int calls = 0;
  connection_harness h(hello_handler{&calls}, short_timeouts());
  h.start();
  h.feed("POST /a HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\nhi\r\n");
  const std::string after_first = h.transport.output;
  REQUIRE(parse_responses(after_first).size() == 1);
  h.loop.advance(2s);
  h.feed("\r\n");
  h.loop.advance(2s);
  h.feed("\r\n\r\n");
  CHECK_FALSE(h.finished);
  h.loop.advance(2s);  // 6 s after the response: past the keep-alive timeout (5 s)
  CHECK(h.finished);
  CHECK(h.transport.output == after_first);  // closed quietly
  CHECK(h.rejections.get(rejection_reason::headers_timeout) == 0);
}

TEST_CASE("a request after empty lines is served", "[http][timeouts]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls}, short_timeouts());
  h.start();
  h.feed(get("/a") + "\r\n");
  h.loop.advance(1s);
  h.feed("\r\n" + get("/b"));
  h.feed("\r\n\r");
  h.feed("\n" + get("/c"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 3);
  CHECK(responses[2].body == "hello /c");
  CHECK(calls == 3);
  CHECK_FALSE(h.finished);
}

TEST_CASE("a connection that never sends closes after the keep-alive timeout", "[http][timeouts]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls}, short_timeouts());
  h.start();
  h.loop.advance(6s);
  CHECK(h.finished);
  CHECK(h.transport.output.empty());
}

TEST_CASE("a request head that does not complete in time gets 408", "[http][timeouts]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls}, short_timeouts());
  h.start();
  h.feed("GET /slow HTTP/1.1\r\nHo");
  h.loop.advance(2s);
  h.feed("st: t\r\n");  // progress does not extend the deadline
  CHECK_FALSE(h.finished);
  h.loop.advance(2s);
  CHECK(h.finished);
  CHECK(calls == 0);
  CHECK(h.rejections.get(rejection_reason::headers_timeout) == 1);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 408);
  CHECK(responses[0].header("Connection") == "close");
}

TEST_CASE("a body slower than the minimum data rate gets 408", "[http][timeouts]") {
  connection_harness h(
      [](request& req, response& res) -> harrier::task<void> {
        std::string body = co_await req.body().read_all(1 << 20);
        co_await res.send(200, "text/plain", body);
      },
      short_timeouts());
  h.start();
  h.feed("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + std::string(150, 'x'));
  h.loop.advance(1s);
  CHECK_FALSE(h.finished);  // inside the grace period
  h.loop.advance(2s);       // 150 bytes in 3 s: below 100 B/s
  CHECK(h.finished);
  CHECK(h.rejections.get(rejection_reason::body_rate_timeout) == 1);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 408);
  CHECK(responses[0].header("Connection") == "close");
}

TEST_CASE("a body that keeps up with the minimum data rate is not timed out", "[http][timeouts]") {
  connection_harness h(
      [](request& req, response& res) -> harrier::task<void> {
        std::string body = co_await req.body().read_all(1 << 20);
        co_await res.send(200, "text/plain", std::to_string(body.size()));
      },
      short_timeouts());
  h.start();
  h.feed("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
  for (int i = 0; i < 5; ++i) {
    h.feed(std::string(200, 'x'));
    h.loop.advance(1s);
  }
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 200);
  CHECK(responses[0].body == "1000");
}

TEST_CASE("no timeout fires while a handler runs", "[http][timeouts]") {
  connection_harness* harness = nullptr;
  auto handler = [&harness](request&, response& res) -> harrier::task<void> {
    (void)co_await harness->transport.sleep_for(10s);
    co_await res.send(200, "text/plain", "slow but fine");
  };
  connection_harness h(handler, short_timeouts());
  harness = &h;
  h.start();
  h.feed(get("/slow"));
  h.loop.advance(11s);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 200);
  CHECK_FALSE(h.finished);
}

TEST_CASE("the watchdog wakes on a 50 ms grid, at most one interval apart", "[http][timeouts]") {
  // Connections' regular checks share wake-ups of the I/O thread (at most 20 a second) instead
  // of each waking it (22 % of a CPU for 5,000 idle connections on io_uring before), and stay
  // spread over the second rather than all at one instant.
  using std::chrono::nanoseconds;
  for (auto offset : {0ms, 1ms, 305ms, 999ms}) {
    INFO("clock offset " << offset.count() << " ms");
    int calls = 0;
    connection_harness h(hello_handler{&calls});
    h.loop.advance(offset);  // a clock that is not on the grid
    h.start();
    h.feed(get("/a"));
    const auto started = h.loop.now();
    for (int round = 0; round < 3; ++round) {
      REQUIRE(h.loop.sleeper_count() == 1);  // the watchdog, checking the keep-alive wait
      const auto wake = h.loop.sleepers().front().wake;
      CHECK(wake.time_since_epoch() % nanoseconds(50ms) == nanoseconds(0));
      CHECK(wake - h.loop.now() <= 1s);
      CHECK(wake - h.loop.now() > 950ms);
      h.loop.advance(wake - h.loop.now());
    }
    // The slot follows the connection's start: 305 ms in, its checks come at .300 s.
    CHECK((h.loop.now().time_since_epoch() % nanoseconds(1s)) / 50ms ==
          (started.time_since_epoch() % nanoseconds(1s)) / 50ms);
    CHECK_FALSE(h.finished);
  }
}

TEST_CASE("with external timeout checks the owner's calls time the deadlines", "[http][timeouts]") {
  // The server's heartbeat drives its connections this way: no watchdog, no timer per connection.
  http1_options options = short_timeouts();
  options.external_timeout_checks = true;
  int calls = 0;
  connection_harness h(hello_handler{&calls}, options);
  h.start();
  h.feed(get("/a"));
  CHECK(h.loop.sleeper_count() == 0);  // nothing of the connection's own waits for time
  h.loop.advance(60s);
  CHECK_FALSE(h.finished);  // nobody checked

  // The first check sees the keep-alive wait: its clock starts there.
  CHECK(h.connection->check_timeouts(h.loop.now()) == 5s);
  h.loop.advance(3s);
  CHECK(h.connection->check_timeouts(h.loop.now()) == 2s);
  h.loop.run();
  CHECK_FALSE(h.finished);
  h.loop.advance(2s);
  CHECK(h.connection->check_timeouts(h.loop.now()) == std::chrono::nanoseconds::max());
  h.loop.run();
  CHECK(h.finished);
  CHECK(calls == 1);
  CHECK(parse_responses(h.transport.output).size() == 1);  // closed quietly: no 408
}

TEST_CASE("with external timeout checks a slow head gets 408 and progress does not extend it",
          "[http][timeouts]") {
  http1_options options = short_timeouts();
  options.external_timeout_checks = true;
  int calls = 0;
  connection_harness h(hello_handler{&calls}, options);
  h.start();
  h.feed("GET /slow HTTP/1.1\r\nHo");
  CHECK(h.connection->check_timeouts(h.loop.now()) == 3s);
  h.loop.advance(2s);
  h.feed("st: t\r\n");  // another receive of the same head: the same phase
  CHECK(h.connection->check_timeouts(h.loop.now()) == 1s);
  h.loop.advance(1s);
  CHECK(h.connection->check_timeouts(h.loop.now()) == std::chrono::nanoseconds::max());
  h.loop.run();
  CHECK(h.finished);
  CHECK(calls == 0);
  CHECK(h.rejections.get(rejection_reason::headers_timeout) == 1);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 408);
}

TEST_CASE("with external timeout checks nothing is armed while a handler runs",
          "[http][timeouts]") {
  connection_harness* harness = nullptr;
  auto handler = [&harness](request&, response& res) -> harrier::task<void> {
    (void)co_await harness->transport.sleep_for(10s);
    co_await res.send(200, "text/plain", "slow but fine");
  };
  http1_options options = short_timeouts();
  options.external_timeout_checks = true;
  connection_harness h(handler, options);
  harness = &h;
  h.start();
  h.feed(get("/slow"));
  CHECK(h.connection->check_timeouts(h.loop.now()) == std::chrono::nanoseconds::max());
  h.loop.advance(11s);
  REQUIRE(parse_responses(h.transport.output).size() == 1);
  // The next keep-alive wait is a new phase: its clock starts at this check, not at the first.
  CHECK(h.connection->check_timeouts(h.loop.now()) == 5s);
  CHECK_FALSE(h.finished);
}
