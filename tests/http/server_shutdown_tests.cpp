// http::server::stop() with real sockets on loopback: what a graceful stop waits for. Every wait is
// bounded (receive timeouts, futures waited for at most 10 s), so a server that never stops fails
// the test instead of hanging it.

#include <harrier/core/async_event.hpp>
#include <harrier/core/cancellation.hpp>
#include <harrier/core/spawn.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/http/response.hpp>
#include <harrier/http/server.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/net/timer.hpp>

#include "support/bounded_stop.hpp"
#include "support/loopback_client.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <string>

using namespace harrier::http;
using namespace std::chrono_literals;
using harrier::test::read_until_closed;
using harrier::test::send_all;

namespace {

harrier::task<void> stop_then_signal(server& srv, std::promise<void>& stopped) {
  co_await srv.stop();
  stopped.set_value();
}

// Holds the io_context's I/O thread (a timer's completion resumes it there) until released.
harrier::task<void> hold_io_thread(harrier::net::io_context& io, std::promise<void>& holding,
                                   std::shared_future<void> release) {
  co_await harrier::net::sleep_for(io, 1ms);
  holding.set_value();
  (void)release.wait_for(10s);
}

// Reads one response whose body ends with `tail`.
std::string read_response(int fd, std::string_view tail) {
  std::string data;
  char buffer[4096];
  while (!data.ends_with(tail)) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return data;
}

}  // namespace

TEST_CASE("stop waits for a connection accepted after every earlier one had finished",
          "[http][server][shutdown]") {
  // Connection A finishes (its client closes it) after stop() began but before the accept loop,
  // or take_accepted after it, hands off connection B, which came in meanwhile. stop() used to
  // go on as soon as the count of connections touched 0, without waiting for B: an application
  // then stopped its I/O under B, whose response never left (the contract test's clients closed
  // unanswered when the pool was starved). The I/O thread is held while stop() begins, A closes
  // and B connects, so that all of it is there at once when it is released.
  const auto backend =
      GENERATE(harrier::net::backend_kind::automatic, harrier::net::backend_kind::epoll);
  harrier::net::io_options io_options;
  io_options.backend = backend;
  harrier::net::io_context io(io_options);
  INFO(harrier::net::to_string(io.backend()));
  server_options options;
  options.endpoints.push_back(harrier::net::endpoint::parse("127.0.0.1:0"));
  server srv(io, options, [&io](request& req, response& res) -> harrier::task<void> {
    // Long enough that a stop() that does not wait for B ends first.
    if (req.path() == "/slow") co_await harrier::net::sleep_for(io, 200ms);
    co_await res.send(200, "text/plain", std::string(req.path()));
  });
  srv.start();

  const int a = harrier::test::connect_with_timeout(srv.local_endpoints().front());
  send_all(a, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(read_response(a, "/a").starts_with("HTTP/1.1 200 "));  // A is now idle, kept alive

  std::promise<void> holding;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  struct release_on_exit {
    std::promise<void>& p;
    bool done = false;
    void operator()() {
      if (!done) p.set_value();
      done = true;
    }
    ~release_on_exit() { (*this)(); }
  } release_io{release};
  harrier::spawn(hold_io_thread(io, holding, released), "test: hold the I/O thread");
  REQUIRE(holding.get_future().wait_for(10s) == std::future_status::ready);

  std::promise<void> stopped;
  std::future<void> stopped_future = stopped.get_future();
  harrier::spawn(stop_then_signal(srv, stopped), "test: stop");  // runs until it must wait
  REQUIRE(srv.is_stopping());
  ::close(a);
  const int b = harrier::test::connect_with_timeout(srv.local_endpoints().front());
  send_all(b, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
  release_io();

  REQUIRE(stopped_future.wait_for(10s) == std::future_status::ready);
  CHECK(srv.stats().active_connections == 0);
  CHECK(srv.stats().connections_total == 2);
  const std::string response_b = read_until_closed(b);
  ::close(b);
  CHECK(response_b.starts_with("HTTP/1.1 200 "));
  CHECK(response_b.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(response_b.ends_with("/slow"));
  io.stop();
}

TEST_CASE("a handler resumed by request::aborted() at the shutdown timeout does not hang the stop",
          "[http][server][shutdown]") {
  // The handler waits for its token's cancellation through an event that the cancellation sets,
  // so the cancellation resumes it inline. Its body is never read and no receive is pending, so
  // the connection then runs to its end inline too. The shutdown timeout used to cancel the
  // token holding the server's connection list lock, which the connection's end takes again on
  // the same thread: stop() never finished.
  harrier::net::io_context io;
  server_options options;
  options.endpoints.push_back(harrier::net::endpoint::parse("127.0.0.1:0"));
  options.shutdown_timeout = 200ms;
  std::promise<void> entered;
  server srv(io, options, [&entered](request& req, response&) -> harrier::task<void> {
    harrier::async_event aborted;
    harrier::cancellation_registration on_abort(req.aborted(),
                                                [&aborted]() noexcept { aborted.set(); });
    entered.set_value();
    co_await aborted.wait();
  });
  srv.start();
  const int fd = harrier::test::connect_with_timeout(srv.local_endpoints().front());
  send_all(fd, "POST /wait HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf.");
  REQUIRE(entered.get_future().wait_for(10s) == std::future_status::ready);
  harrier::test::stop_bounded(srv, io);  // aborts the process after 30 s
  CHECK(srv.stats().active_connections == 0);
  ::close(fd);
  io.stop();
}
