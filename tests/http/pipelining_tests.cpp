// Pipelining: requests run in order, one at a time, and the responses of a buffered batch leave
// in one write.

#include "memory_transport.hpp"

#include <catch2/catch.hpp>

using namespace harrier::http;
using namespace harrier::http::testing;

TEST_CASE("pipelined requests are answered in order", "[http][pipelining]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/a") + get("/b") + get("/c"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 3);
  CHECK(responses[0].body == "hello /a");
  CHECK(responses[1].body == "hello /b");
  CHECK(responses[2].body == "hello /c");
  CHECK(calls == 3);
  CHECK_FALSE(h.finished);  // keep-alive: waiting for more
}

TEST_CASE("the responses of a buffered pipelined batch leave in one write", "[http][pipelining]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  std::string batch;
  for (int i = 0; i < 16; ++i)
    batch += get("/p" + std::to_string(i));
  h.feed(batch);
  CHECK(calls == 16);
  CHECK(h.transport.send_calls == 1);
  CHECK(parse_responses(h.transport.output).size() == 16);
}

TEST_CASE("a request read byte by byte is parsed across reads", "[http][pipelining]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.transport.max_recv_bytes = 1;
  h.start();
  h.feed(get("/slow", "X-Long-Header: some value here\r\n") + get("/second"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].body == "hello /slow");
  CHECK(responses[1].body == "hello /second");
}

TEST_CASE("the next request waits in the buffer until the current handler finishes",
          "[http][pipelining]") {
  // The first handler suspends on a timer; the second request is already buffered but must not
  // start until the first is answered.
  std::vector<std::string> events;
  memory_transport* transport = nullptr;
  auto handler = [&events, &transport](request& req, response& res) -> harrier::task<void> {
    const std::string path(req.path());
    events.push_back("start " + path);
    if (path == "/slow") (void)co_await transport->sleep_for(std::chrono::seconds(1));
    events.push_back("end " + path);
    co_await res.send(200, "text/plain", path);
  };
  connection_harness h(handler);
  transport = &h.transport;
  h.start();
  h.feed(get("/slow") + get("/fast"));
  CHECK(events == std::vector<std::string>{"start /slow"});
  h.loop.advance(std::chrono::seconds(1));
  CHECK(events == std::vector<std::string>{"start /slow", "end /slow", "start /fast", "end /fast"});
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].body == "/slow");
  CHECK(responses[1].body == "/fast");
}

TEST_CASE("pipelined requests with bodies are separated correctly", "[http][pipelining]") {
  auto handler = [](request& req, response& res) -> harrier::task<void> {
    std::string body = co_await req.body().read_all(1024);
    co_await res.send(200, "text/plain", std::string(req.path()) + ":" + body);
  };
  connection_harness h(handler);
  h.start();
  h.feed("POST /one HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello" +
         std::string("POST /two HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\n") +
         get("/three"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 3);
  CHECK(responses[0].body == "/one:hello");
  CHECK(responses[1].body == "/two:abc");
  CHECK(responses[2].body == "/three:");
}

TEST_CASE("a suspended handler does not hold back the responses pipelined before it",
          "[http][pipelining]") {
  memory_transport* transport = nullptr;
  auto handler = [&transport](request& req, response& res) -> harrier::task<void> {
    const std::string path(req.path());
    if (path == "/slow") (void)co_await transport->sleep_for(std::chrono::seconds(1));
    co_await res.send(200, "text/plain", path);
  };
  connection_harness h(handler);
  transport = &h.transport;
  h.start();
  h.feed(get("/fast1") + get("/fast2") + get("/slow") + get("/fast3"));
  // The slow handler is waiting; the two responses before it are already out, in one write.
  auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[1].body == "/fast2");
  CHECK(h.transport.send_calls == 1);
  h.loop.advance(std::chrono::seconds(1));
  responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 4);
  CHECK(responses[2].body == "/slow");
  CHECK(responses[3].body == "/fast3");
}

TEST_CASE("a suspended handler that flushes waits for the held responses to leave first",
          "[http][pipelining]") {
  memory_transport* transport = nullptr;
  auto handler = [&transport](request& req, response& res) -> harrier::task<void> {
    const std::string path(req.path());
    if (path == "/stream") {
      co_await res.write(std::string_view("chunk"));
      co_await res.flush();  // must wait behind the held response of /first
      (void)co_await transport->sleep_for(std::chrono::seconds(1));
      co_await res.write(std::string_view(" more"));
      co_return;
    }
    co_await res.send(200, "text/plain", path);
  };
  connection_harness h(handler);
  transport = &h.transport;
  h.start();
  h.feed(get("/first") + get("/stream"));
  auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].body == "/first");
  CHECK(responses[1].chunked);
  h.loop.advance(std::chrono::seconds(1));
  responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[1].body == "chunk more");
}
