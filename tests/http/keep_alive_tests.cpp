// Keep-alive rules and graceful shutdown.

#include "memory_transport.hpp"

#include <catch2/catch.hpp>

using namespace harrier::http;
using namespace harrier::http::testing;

TEST_CASE("an HTTP/1.1 connection stays open by default", "[http][keep-alive]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/a"));
  CHECK_FALSE(h.finished);
  h.feed(get("/b"));
  CHECK_FALSE(h.finished);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK_FALSE(responses[0].header("Connection"));
  h.feed_eof();
  CHECK(h.finished);
  CHECK(h.transport.closed);
}

TEST_CASE("Connection: close ends the connection after the response", "[http][keep-alive]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/a", "Connection: close\r\n"));
  CHECK(h.finished);
  CHECK(h.transport.closed);
  CHECK_FALSE(h.transport.send_shut_down);  // nothing unread: close(2) alone sends the FIN
  CHECK(calls == 1);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].header("Connection") == "close");
}

TEST_CASE("requests pipelined behind Connection: close are drained until the client closes",
          "[http][keep-alive]") {
  // Closing with them unread would reset the connection, and the reset can destroy the response
  // before the client reads it (RFC 9112 section 9.6): the sending side is shut down and input
  // drained, as after a rejection.
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/a", "Connection: close\r\n") + get("/never"));
  CHECK(h.transport.send_shut_down);
  CHECK_FALSE(h.finished);
  h.feed(get("/never/either"));
  CHECK_FALSE(h.finished);
  h.feed_eof();
  CHECK(h.finished);
  CHECK(h.transport.closed);
  CHECK(calls == 1);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].header("Connection") == "close");
}

TEST_CASE("input that comes after the last request's head is read and dropped as well",
          "[http][keep-alive]") {
  // Received by the receive that waits for a disconnect, not in the request's read.
  int calls = 0;
  connection_harness* harness = nullptr;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    ++calls;
    (void)co_await harness->transport.sleep_for(std::chrono::seconds(1));
    co_await res.send(200, "text/plain", "late");
  };
  connection_harness h(handler);
  harness = &h;
  h.start();
  h.feed(get("/a", "Connection: close\r\n"));
  h.feed(get("/never"));  // while the handler waits
  h.loop.advance(std::chrono::seconds(1));
  CHECK(h.transport.send_shut_down);
  CHECK_FALSE(h.finished);
  h.feed_eof();
  CHECK(h.finished);
  CHECK(calls == 1);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "late");
}

TEST_CASE("an HTTP/1.0 request closes the connection by default", "[http][keep-alive]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed("GET /old HTTP/1.0\r\n\r\n");
  CHECK(h.finished);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(responses[0].header("Connection") == "close");
  CHECK(responses[0].body == "hello /old");
}

TEST_CASE("an HTTP/1.0 request with Connection: keep-alive keeps the connection",
          "[http][keep-alive]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  CHECK_FALSE(h.finished);
  h.feed("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].header("Connection") == "keep-alive");
  CHECK(responses[1].body == "hello /b");
}

TEST_CASE("close wins over keep-alive in the Connection options, in any form",
          "[http][keep-alive]") {
  // RFC 9112 section 9.6: a request with the close option MUST end the connection after its
  // response. llhttp alone let keep-alive win for HTTP/1.0, and missed "close" before a tab.
  for (const char* head : {"GET /a HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
                           "GET /a HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n",
                           "GET /a HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
                           "GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\t\r\n\r\n",
                           "GET /a HTTP/1.1\r\nHost: t\r\nConnection: te ,\tCLOSE \r\n\r\n"}) {
    INFO(head);
    int calls = 0;
    connection_harness h(hello_handler{&calls});
    h.start();
    h.feed(std::string(head) + get("/never"));
    h.feed_eof();  // the client closes once it has the response (the connection lingered)
    CHECK(h.finished);
    CHECK(calls == 1);
    const auto responses = parse_responses(h.transport.output);
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].header("Connection") == "close");
  }
}

TEST_CASE("a Connection option that only contains the word close keeps the connection",
          "[http][keep-alive]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/a", "Connection: closed, enclose, upgrade\r\n") + get("/b"));
  CHECK_FALSE(h.finished);
  CHECK(calls == 2);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK_FALSE(responses[0].header("Connection"));
}

TEST_CASE("a handler can ask to close the connection", "[http][keep-alive]") {
  // The close option is a token of a list, in any case (RFC 9110 section 7.6.1); a value
  // without that token keeps the connection.
  const struct {
    std::string value;
    bool closes;
  } cases[] = {{"close", true},           {"CLOSE", true},       {"keep-alive, Close", true},
               {"x ,close", true},        {"keep-alive", false}, {"enclosed", false},
               {"closed, upgrade", false}};
  for (const auto& c : cases) {
    INFO(c.value);
    auto handler = [value = c.value](request&, response& res) -> harrier::task<void> {
      res.add_header("Connection", value);
      co_await res.send(200, "text/plain", "bye");
    };
    connection_harness h(handler);
    h.start();
    h.feed(get("/a") + get("/b"));
    CHECK(h.transport.send_shut_down == c.closes);  // then lingers: /b is read and dropped
    h.feed_eof();
    CHECK(h.finished);
    const auto responses = parse_responses(h.transport.output);
    REQUIRE(responses.size() == (c.closes ? 1u : 2u));
    if (c.closes) {
      CHECK(responses[0].header("Connection") == "close");
    } else {
      CHECK_FALSE(responses[0].header("Connection"));
    }
  }
}

TEST_CASE("shutdown closes an idle connection at once", "[http][shutdown]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/a"));
  CHECK_FALSE(h.finished);
  h.connection->begin_shutdown();
  h.loop.run();
  CHECK(h.finished);
  CHECK(parse_responses(h.transport.output).size() == 1);
}

TEST_CASE("shutdown gives a new connection a moment for its first request", "[http][shutdown]") {
  // Accepted just before shutdown (or queued while every worker was busy): its request is on
  // the way or already in the socket, and is answered, with Connection: close.
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.connection->begin_shutdown();
  h.loop.run();
  CHECK_FALSE(h.finished);
  h.loop.advance(std::chrono::milliseconds(500));
  CHECK_FALSE(h.finished);
  h.feed(get("/first") + get("/never"));
  h.feed_eof();
  CHECK(h.finished);
  CHECK(calls == 1);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "hello /first");
  CHECK(responses[0].header("Connection") == "close");
}

TEST_CASE("a first request that came before its grace passed is answered however late it resumes",
          "[http][shutdown]") {
  // The request's bytes are received, but the connection waits for a thread (every worker
  // blocked) while the heartbeat finds the grace passed: the bytes are a request all the same.
  http1_options options;
  options.external_timeout_checks = true;
  int calls = 0;
  connection_harness h(hello_handler{&calls}, options);
  h.start();
  h.connection->begin_shutdown();
  CHECK(h.connection->check_timeouts(h.loop.now()) > std::chrono::seconds(0));  // grace begins
  h.transport.feed(get("/first") + get("/never"));  // received; the resumption is queued
  CHECK(h.connection->check_timeouts(h.loop.now() + std::chrono::seconds(2)) ==
        std::chrono::nanoseconds::max());  // fired
  h.loop.run();
  h.feed_eof();
  CHECK(h.finished);
  CHECK(calls == 1);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "hello /first");
  CHECK(responses[0].header("Connection") == "close");
}

TEST_CASE("a request that arrives as shutdown closes its idle connection is answered",
          "[http][shutdown]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/a"));
  REQUIRE(calls == 1);
  h.transport.feed(get("/b"));  // received before shutdown; the connection not yet resumed
  h.connection->begin_shutdown();
  h.loop.run();
  CHECK(h.finished);
  CHECK(calls == 2);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[1].body == "hello /b");
  CHECK(responses[1].header("Connection") == "close");
}

TEST_CASE("a request in the socket when shutdown cancelled the idle wait is answered",
          "[http][shutdown]") {
  // The wait was cancelled before it saw the bytes (epoll's readiness not yet harvested by
  // busy workers): they are found in the socket before the connection closes.
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/a"));
  REQUIRE(calls == 1);
  h.connection->begin_shutdown();  // the idle wait ends, cancelled; its resumption is queued
  REQUIRE_FALSE(h.transport.recv_pending());
  h.transport.feed(get("/b"));  // stays in the socket
  h.loop.run();
  CHECK(h.finished);
  CHECK(calls == 2);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[1].body == "hello /b");
  CHECK(responses[1].header("Connection") == "close");
}

TEST_CASE("a request whose bytes came as its keep-alive timed out is answered, and the last",
          "[http][timeouts]") {
  // As above without shutdown: the rest of its head is read under the headers timeout as any.
  http1_options options;
  options.external_timeout_checks = true;
  options.limits.keep_alive_timeout = std::chrono::seconds(5);
  int calls = 0;
  connection_harness h(hello_handler{&calls}, options);
  h.start();
  h.feed(get("/a"));
  CHECK(h.connection->check_timeouts(h.loop.now()) == std::chrono::seconds(5));
  const std::string next = get("/b");
  h.transport.feed(next.substr(0, 5));
  CHECK(h.connection->check_timeouts(h.loop.now() + std::chrono::seconds(6)) ==
        std::chrono::nanoseconds::max());
  h.loop.run();
  CHECK_FALSE(h.finished);  // waits for the rest of the head, under its timeout
  CHECK(h.connection->check_timeouts(h.loop.now() + std::chrono::seconds(6)) ==
        options.limits.request_headers_timeout);
  h.feed(next.substr(5));
  CHECK(h.finished);
  CHECK(calls == 2);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[1].body == "hello /b");
  CHECK(responses[1].header("Connection") == "close");
}

TEST_CASE("a new connection that sends nothing closes soon after shutdown", "[http][shutdown]") {
  for (auto idle_before : {std::chrono::seconds(0), std::chrono::seconds(60)}) {
    INFO("idle before shutdown: " << idle_before.count() << " s");
    int calls = 0;
    connection_harness h(hello_handler{&calls});
    h.start();
    h.loop.advance(idle_before);  // far below the keep-alive timeout (130 s)
    CHECK_FALSE(h.finished);
    h.connection->begin_shutdown();
    h.loop.advance(std::chrono::seconds(3));  // the 1 s grace, plus up to two checks
    CHECK(h.finished);
    CHECK(h.transport.output.empty());
  }
}

TEST_CASE("shutdown lets an in-flight request finish with Connection: close", "[http][shutdown]") {
  connection_harness* harness = nullptr;
  auto handler = [&harness](request&, response& res) -> harrier::task<void> {
    (void)co_await harness->transport.sleep_for(std::chrono::seconds(1));
    co_await res.send(200, "text/plain", "done");
  };
  connection_harness h(handler);
  harness = &h;
  h.start();
  h.feed(get("/work") + get("/next"));
  h.connection->begin_shutdown();
  h.loop.run();
  CHECK_FALSE(h.finished);
  h.loop.advance(std::chrono::seconds(1));
  h.feed_eof();
  CHECK(h.finished);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "done");
  CHECK(responses[0].header("Connection") == "close");
}

TEST_CASE("abort cancels the request's aborted token", "[http][shutdown]") {
  bool cancelled = false;
  connection_harness* harness = nullptr;
  auto handler = [&](request& req, response&) -> harrier::task<void> {
    (void)co_await harness->transport.sleep_for(std::chrono::seconds(60), req.aborted());
    cancelled = req.aborted().is_cancellation_requested();
  };
  connection_harness h(handler);
  harness = &h;
  h.start();
  h.feed(get("/long"));
  h.connection->abort();
  h.loop.run();
  CHECK(cancelled);
  CHECK(h.finished);
}

TEST_CASE("a client that disconnects while its handler runs cancels the request's token",
          "[http][shutdown]") {
  bool cancelled = false;
  connection_harness* harness = nullptr;
  auto handler = [&](request& req, response& res) -> harrier::task<void> {
    (void)co_await harness->transport.sleep_for(std::chrono::seconds(60), req.aborted());
    cancelled = req.aborted().is_cancellation_requested();
    co_await res.send(200, "text/plain", "too late");
  };
  connection_harness h(handler);
  harness = &h;
  h.start();
  h.feed(get("/long"));
  CHECK_FALSE(cancelled);
  h.feed_eof();
  CHECK(cancelled);
  CHECK(h.finished);
}

TEST_CASE("a handler that stops on the token of a client that left is answered 499, not 500",
          "[http][shutdown]") {
  // A client that half-closed after its request still reads: it gets 499 (client closed request,
  // as nginx and ASP.NET Core say), and the connection closes after it.
  connection_harness* harness = nullptr;
  auto handler = [&](request& req, response& res) -> harrier::task<void> {
    (void)co_await harness->transport.sleep_for(std::chrono::seconds(60), req.aborted());
    req.aborted().throw_if_cancellation_requested();
    co_await res.send(200, "text/plain", "too late");
  };
  connection_harness h(handler);
  harness = &h;
  h.start();
  h.feed(get("/long"));
  h.feed_eof();
  CHECK(h.finished);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 499);
  CHECK(responses[0].header("Connection") == "close");
}

TEST_CASE("the next request arriving while a handler runs is kept", "[http][keep-alive]") {
  connection_harness* harness = nullptr;
  auto handler = [&](request& req, response& res) -> harrier::task<void> {
    if (req.path() == "/first")
      (void)co_await harness->transport.sleep_for(std::chrono::seconds(1));
    co_await res.send(200, "text/plain", std::string(req.path()));
  };
  connection_harness h(handler);
  harness = &h;
  h.start();
  h.feed(get("/first"));
  h.feed(get("/second"));  // arrives during the first handler: taken by the read-ahead
  h.loop.advance(std::chrono::seconds(1));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].body == "/first");
  CHECK(responses[1].body == "/second");
  CHECK_FALSE(h.finished);
}
