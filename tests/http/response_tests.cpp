// Responses: framing, HEAD, Date and Server, streaming, handler failures.

#include "memory_transport.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace harrier::http;
using namespace harrier::http::testing;

namespace {
harrier::task<void> write_text(response& res, std::string_view text) {
  co_await res.write(text);
}
}  // namespace

TEST_CASE("a small response gets Content-Length, Date and Server", "[http][response]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/x"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  const auto& r = responses[0];
  CHECK(r.status == 200);
  CHECK(r.head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(r.header("Content-Length") == "8");
  CHECK(r.header("Content-Type") == "text/plain");
  CHECK(r.header("Server") == "harrier");
  REQUIRE(r.header("Date"));
  CHECK(r.header("Date")->size() == 29);
  CHECK_FALSE(r.chunked);
}

TEST_CASE("the Server header can be turned off", "[http][response]") {
  int calls = 0;
  http1_options options;
  options.add_server_header = false;
  connection_harness h(hello_handler{&calls}, options);
  h.start();
  h.feed(get("/x"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK_FALSE(responses[0].header("Server"));
}

TEST_CASE("connections can share one options object, and a null one is refused",
          "[http][response]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  http1_options options;
  options.add_server_header = false;
  options.rejections = &h.rejections;
  const auto shared = std::make_shared<const http1_options>(options);
  h.connection.emplace(h.transport, shared, hello_handler{&calls});
  CHECK(shared.use_count() == 2);  // held, not copied
  h.start();
  h.feed(get("/x"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK_FALSE(responses[0].header("Server"));
  CHECK_THROWS_WITH(http1_connection<memory_transport>(
                        h.transport, std::shared_ptr<const http1_options>(), hello_handler{&calls}),
                    Catch::Contains("options are null"));
}

TEST_CASE("HEAD gets the same headers as GET and no body", "[http][response]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n" + get("/x"));
  const auto responses = parse_responses(h.transport.output, {0});
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].status == 200);
  CHECK(responses[0].body.empty());
  CHECK(responses[0].header("Content-Length") == responses[1].header("Content-Length"));
  CHECK(responses[0].header("Content-Type") == responses[1].header("Content-Type"));
  CHECK(responses[1].body == "hello /x");
}

TEST_CASE("a flushed response without a length is chunked on HTTP/1.1", "[http][response]") {
  auto handler = [](request&, response& res) -> harrier::task<void> {
    co_await res.write(std::string_view("part one, "));
    co_await res.flush();
    co_await res.write(std::string_view("part two"));
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/stream") + get("/stream"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].chunked);
  CHECK(responses[0].header("Transfer-Encoding") == "chunked");
  CHECK(responses[0].body == "part one, part two");
  CHECK(responses[1].body == "part one, part two");
  CHECK_FALSE(h.finished);
}

TEST_CASE("send() frames a body larger than the response buffer with Content-Length",
          "[http][response]") {
  const std::string big(200'000, 'b');  // past the 64 KiB response buffer
  auto handler = [&big](request&, response& res) -> harrier::task<void> {
    co_await res.send(200, "text/plain", big);
  };
  connection_harness h(handler);
  h.start();
  // HTTP/1.0 keep-alive too: with a length, the connection need not close to end the body.
  h.feed(get("/big") + "GET /big HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  for (const auto& r : responses) {
    CHECK(r.header("Content-Length") == "200000");
    CHECK_FALSE(r.header("Transfer-Encoding"));
    CHECK(r.body == big);
  }
  CHECK(responses[1].header("Connection") == "keep-alive");
  CHECK_FALSE(h.finished);
}

TEST_CASE("a streamed response without a length is close-delimited on HTTP/1.0",
          "[http][response]") {
  auto handler = [](request&, response& res) -> harrier::task<void> {
    co_await res.write(std::string_view("abc"));
    co_await res.flush();
    co_await res.write(std::string_view("def"));
  };
  connection_harness h(handler);
  h.start();
  h.feed("GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  CHECK(h.finished);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK_FALSE(responses[0].header("Content-Length"));
  CHECK_FALSE(responses[0].header("Transfer-Encoding"));
  CHECK(responses[0].header("Connection") == "close");
  CHECK(responses[0].body == "abcdef");
}

TEST_CASE("a large write goes out directly with the declared length", "[http][response]") {
  const std::string big(200 * 1024, 'z');
  auto handler = [&big](request&, response& res) -> harrier::task<void> {
    res.set_content_length(big.size());
    co_await res.write(big);
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/big"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].header("Content-Length") == std::to_string(big.size()));
  CHECK(responses[0].body == big);
}

TEST_CASE("many small writes are sent when the response buffer fills", "[http][response]") {
  http1_options options;
  options.limits.max_response_buffer_bytes = 1024;
  std::size_t sends_during_handler = 0;
  connection_harness* harness = nullptr;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    for (int i = 0; i < 100; ++i)
      co_await write_text(res, std::string(100, 'a'));
    sends_during_handler = harness->transport.send_calls;
  };
  connection_harness h(handler, options);
  harness = &h;
  h.start();
  h.feed(get("/many"));
  CHECK(sends_during_handler >= 5);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].chunked);
  CHECK(responses[0].body == std::string(10000, 'a'));
}

TEST_CASE("a handler that throws before responding gets 500 and the connection stays usable",
          "[http][response]") {
  auto handler = [](request& req, response& res) -> harrier::task<void> {
    if (req.path() == "/boom") throw std::runtime_error("boom");
    co_await res.send(200, "text/plain", "fine");
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/boom") + get("/ok"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].status == 500);
  CHECK_FALSE(responses[0].header("Connection"));
  CHECK(responses[1].status == 200);
  CHECK(responses[1].body == "fine");
  CHECK_FALSE(h.finished);
}

TEST_CASE("a handler that throws after the response started aborts the connection",
          "[http][response]") {
  auto handler = [](request&, response& res) -> harrier::task<void> {
    co_await res.write(std::string_view("partial"));
    co_await res.flush();
    throw std::runtime_error("late failure");
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/a") + get("/b"));
  CHECK(h.finished);
  CHECK(h.transport.closed);
  CHECK_FALSE(h.transport.send_shut_down);  // aborted, not closed gracefully
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "partial");  // no final chunk: the client sees a truncated body
}

TEST_CASE("a body shorter than its declared length is a 500 until the response started",
          "[http][response]") {
  // Before the start nothing has left: the client gets a 500 in its place (as Kestrel). After
  // it, the head promised a length the body cannot meet: the connection is aborted.
  auto handler = [](request& req, response& res) -> harrier::task<void> {
    res.set_content_length(10);
    co_await res.write(std::string_view("abc"));
    if (req.path() == "/flushed") co_await res.flush();
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/short") + get("/next"));
  h.feed_eof();  // the connection lingers for the unread /next until the client closes
  CHECK(h.finished);
  auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 500);
  CHECK(responses[0].header("Connection") == "close");
  CHECK(responses[0].body == "Internal Server Error");
  CHECK(h.transport.output.find("abc") == std::string::npos);
  CHECK(h.transport.send_shut_down);  // closed gracefully after the 500

  connection_harness started(handler);
  started.start();
  started.feed(get("/flushed"));
  CHECK(started.finished);
  CHECK(started.transport.closed);
  CHECK_FALSE(started.transport.send_shut_down);  // aborted
  responses = parse_responses(started.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 200);
  CHECK(responses[0].body == "abc");
}

TEST_CASE("a handler that does not end its response gets it ended", "[http][response]") {
  auto handler = [](request&, response& res) -> harrier::task<void> {
    res.set_status(204);
    co_return;
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/a") + get("/b"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].status == 204);
  CHECK_FALSE(responses[0].header("Content-Length"));
  CHECK(responses[0].head.find("No Content") != std::string::npos);
}

TEST_CASE("an empty handler answers 200 with an empty body", "[http][response]") {
  auto handler = [](request&, response&) -> harrier::task<void> { co_return; };
  connection_harness h(handler);
  h.start();
  h.feed(get("/a"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 200);
  CHECK(responses[0].header("Content-Length") == "0");
}

TEST_CASE("invalid response headers are refused", "[http][response]") {
  std::vector<std::string> errors;
  auto handler = [&errors](request&, response& res) -> harrier::task<void> {
    auto refused = [&errors](auto&& set) {
      try {
        set();
      } catch (const std::invalid_argument& e) {
        errors.emplace_back(e.what());
      }
    };
    refused([&] { res.add_header("X-Bad", "a\r\nInjected: yes"); });
    refused([&] { res.add_header("X-Lf", "a\nInjected: yes"); });
    refused([&] { res.add_header("X-Nul", std::string_view("a\0b", 3)); });
    refused([&] { res.set_content_type("text/plain\r\nInjected: yes"); });
    refused([&] { res.add_header("Bad Name", "x"); });
    // Checked eight bytes at a time: a bad byte in the second word, and in the tail.
    refused([&] { res.add_header("X-Second", "01234567\n89abcdef"); });
    refused([&] { res.add_header("X-Tail", "0123456789\r"); });
    res.add_header("X-Tab", "a\tb");  // HTAB and obs-text are allowed in a value
    res.add_header("X-Text", "caf\xc3\xa9");
    res.add_header("X-Long", "tab\tin the first word,\x01\x0b\x0c and \xff across words");
    co_await res.send(200, "text/plain", "ok");
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/a"));
  REQUIRE(errors.size() == 7);
  CHECK(errors[0].find("X-Bad") != std::string::npos);
  CHECK(errors[1].find("X-Lf") != std::string::npos);
  CHECK(errors[2].find("X-Nul") != std::string::npos);
  CHECK(errors[3].find("Content-Type") != std::string::npos);
  CHECK(errors[4].find("Bad Name") != std::string::npos);
  CHECK(errors[5].find("X-Second") != std::string::npos);
  CHECK(errors[6].find("X-Tail") != std::string::npos);
  CHECK(h.transport.output.find("Injected") == std::string::npos);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].header("X-Tab") == "a\tb");
  CHECK(responses[0].header("X-Long") ==
        "tab\tin the first word,\x01\x0b\x0c and \xff across words");
  CHECK(responses[0].header("Content-Type") == "text/plain");
}

TEST_CASE("a client that disconnects cancels the request's token", "[http][response]") {
  bool cancelled = false;
  auto handler = [&cancelled](request& req, response& res) -> harrier::task<void> {
    res.set_content_length(1 << 20);
    co_await res.write(std::string(100 * 1024, 'x'));
    cancelled = req.aborted().is_cancellation_requested();
  };
  connection_harness h(handler);
  h.transport.fail_sends = true;
  h.start();
  h.feed(get("/a"));
  CHECK(cancelled);
  CHECK(h.finished);
}

TEST_CASE("after a failed send, nothing more of the response is sent", "[http][response]") {
  // A send that fails leaves the client with part of a response: the rest (here the chunked
  // body's last chunk, which end() appends) must not follow even if the transport would take it.
  memory_transport* transport = nullptr;
  auto handler = [&transport](request&, response& res) -> harrier::task<void> {
    transport->fail_sends = true;
    co_await res.write(std::string(100 * 1024, 'x'));
    transport->fail_sends = false;
    co_await res.end();
  };
  connection_harness h(handler);
  transport = &h.transport;
  h.start();
  h.feed(get("/a"));
  CHECK(h.finished);
  CHECK(h.transport.output.empty());
}

TEST_CASE("writing more than the declared Content-Length is a programming error",
          "[http][response]") {
  std::string error;
  auto handler = [&error](request&, response& res) -> harrier::task<void> {
    res.set_content_length(3);
    try {
      co_await res.write(std::string_view("four"));
    } catch (const std::logic_error& e) {
      error = e.what();
    }
    co_await res.write(std::string_view("abc"));
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/a"));
  CHECK(error.find("Content-Length") != std::string::npos);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "abc");
}

TEST_CASE("try_write takes what needs no I/O and refuses the rest untouched", "[http][response]") {
  http1_options options;
  options.limits.max_response_buffer_bytes = 16;
  struct observed {
    bool small = false, too_big = true, after_head = true;
    std::uint64_t counted_after_refusal = 99;
    std::size_t sends_before_end = 99;
    std::string after_end;
  } seen;
  connection_harness* harness = nullptr;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    seen.small = res.try_write(std::string_view("0123456789"));    // fits the buffer
    seen.too_big = res.try_write(std::string_view("abcdefghij"));  // 20 > 16: refused
    seen.counted_after_refusal = res.body_bytes();
    seen.sends_before_end = harness->transport.send_calls;
    co_await res.write(std::string_view("abcdefghij"));  // the head leaves now
    seen.after_head = res.try_write(std::string_view("!"));
    co_await res.write(std::string_view("!"));
    co_await res.end();
    try {
      (void)res.try_write(std::string_view("late"));
    } catch (const std::logic_error& e) {
      seen.after_end = e.what();
    }
  };
  connection_harness h(handler, options);
  harness = &h;
  h.start();
  h.feed(get("/t"));
  CHECK(seen.small);
  CHECK_FALSE(seen.too_big);
  CHECK(seen.counted_after_refusal == 10);
  CHECK(seen.sends_before_end == 0);
  CHECK_FALSE(seen.after_head);
  CHECK(seen.after_end.find("after end()") != std::string::npos);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "0123456789abcdefghij!");
}

TEST_CASE("try_write counts a HEAD body without sending it", "[http][response]") {
  std::uint64_t counted = 0;
  bool taken = false;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    taken = res.try_write(std::string(100'000, 'x'));  // larger than any buffer: never sent
    counted = res.body_bytes();
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(taken);
  CHECK(counted == 100'000);
  const auto responses = parse_responses(h.transport.output, {0});
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].header("Content-Length") == "100000");
  CHECK(responses[0].body.empty());
}

TEST_CASE("send() takes a small body at once and a large one through write()", "[http][response]") {
  const std::string big(300 * 1024, 'q');
  auto handler = [&big](request& req, response& res) -> harrier::task<void> {
    co_await res.send(201, "text/x-test", req.path() == "/big" ? std::string_view(big) : "small");
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/small") + get("/big"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].status == 201);
  CHECK(responses[0].header("Content-Type") == "text/x-test");
  CHECK(responses[0].body == "small");
  CHECK(responses[1].status == 201);
  CHECK(responses[1].body == big);
}

TEST_CASE("a header literal sets the Content-Type, through send() as through set_content_type",
          "[http][response]") {
  // header_literal is checked when compiled (header_literal("a\r\nb") does not compile);
  // these only show that it lands where a checked value would.
  static_assert(header_literal("text/html; charset=utf-8").value() == "text/html; charset=utf-8");
  auto handler = [](request& req, response& res) -> harrier::task<void> {
    if (req.path() == "/send") {
      co_await res.send(202, header_literal("text/x-literal"), "sent");
    } else {
      res.set_content_type(header_literal("text/x-set"));
      co_await res.write(std::string_view("written"));
    }
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/send") + get("/set"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].status == 202);
  CHECK(responses[0].header("Content-Type") == "text/x-literal");
  CHECK(responses[0].body == "sent");
  CHECK(responses[1].header("Content-Type") == "text/x-set");
  CHECK(responses[1].body == "written");
}

TEST_CASE("the status line carries any final 3-digit code and its reason phrase",
          "[http][response]") {
  auto handler = [](request& req, response& res) -> harrier::task<void> {
    res.set_status(std::stoi(std::string(req.path().substr(1))));
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/511") + get("/599") + get("/100") + get("/204") + get("/999"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 5);
  CHECK(responses[0].head.rfind("HTTP/1.1 511 Network Authentication Required\r\n", 0) == 0);
  CHECK(responses[0].header("Content-Length") == "0");
  CHECK(responses[1].head.rfind("HTTP/1.1 599 \r\n", 0) == 0);  // no phrase known: empty
  // 1xx is interim: set as the final status it throws, and the handler's failure is a 500.
  CHECK(responses[2].status == 500);
  CHECK(responses[3].head.rfind("HTTP/1.1 204 No Content\r\n", 0) == 0);
  CHECK_FALSE(responses[3].header("Content-Length"));
  CHECK(responses[4].head.rfind("HTTP/1.1 999 \r\n", 0) == 0);
}

TEST_CASE("set_content_type replaces a Content-Type set or added before", "[http][response]") {
  auto handler = [](request&, response& res) -> harrier::task<void> {
    res.add_header("X-Before", "1");
    res.add_header("content-type", "text/html");
    res.set_content_type("text/plain");
    res.add_header("X-After", "2");
    co_await res.send(200, "application/json", "{}");
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].header_count("Content-Type") == 1);
  CHECK(responses[0].header("Content-Type") == "application/json");
  CHECK(responses[0].header("X-Before") == "1");
  CHECK(responses[0].header("X-After") == "2");
  CHECK(responses[0].body == "{}");
}

TEST_CASE("discard_content drops the body and what describes it, and keeps the rest",
          "[http][response]") {
  bool threw_after_start = false;
  auto handler = [&](request& req, response& res) -> harrier::task<void> {
    res.add_header("Access-Control-Allow-Origin", "*");
    res.set_status(201);
    res.set_content_type("text/html");
    res.add_header("ETag", "\"v1\"");
    res.add_header("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT");
    res.add_header("Cache-Control", "max-age=600");
    res.set_content_length(100);
    co_await res.write(std::as_bytes(std::span(std::string_view("partial"))));
    res.discard_content();
    co_await res.send(404, "text/plain", "gone");
    try {
      res.discard_content();
    } catch (const std::logic_error&) {
      threw_after_start = true;
    }
    (void)req;
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 404);
  CHECK(responses[0].body == "gone");
  CHECK(responses[0].header("Content-Type") == "text/plain");
  CHECK(responses[0].header("Content-Length") == "4");
  CHECK_FALSE(responses[0].header("ETag"));
  CHECK_FALSE(responses[0].header("Last-Modified"));
  CHECK_FALSE(responses[0].header("Cache-Control"));
  CHECK(responses[0].header("Access-Control-Allow-Origin") == "*");
  CHECK(threw_after_start);
}

TEST_CASE("a Date or Server of the handler's own replaces the server's", "[http][response]") {
  // A gateway passing on its upstream's headers: one Date and one Server, the handler's.
  auto handler = [](request& req, response& res) -> harrier::task<void> {
    if (req.path() == "/own") {
      res.add_header("date", "Sun, 06 Nov 1994 08:49:37 GMT");
      res.add_header("Server", "upstream/1.0");
    } else if (req.path() == "/removed") {
      res.add_header("Date", "Sun, 06 Nov 1994 08:49:37 GMT");
      res.add_header("Server", "upstream/1.0");
      res.remove_header("DATE");
      res.remove_header("server");
    }
    co_await res.send(200, "text/plain", "x");
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/own") + get("/plain") + get("/removed"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 3);
  CHECK(responses[0].header_count("date") == 1);
  CHECK(responses[0].header_count("server") == 1);
  CHECK(responses[0].header("date") == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(responses[0].header("Server") == "upstream/1.0");
  for (std::size_t i : {1u, 2u}) {  // the next request, and headers added then removed
    INFO(i);
    CHECK(responses[i].header_count("date") == 1);
    CHECK(responses[i].header_count("server") == 1);
    CHECK(responses[i].header("Server") == "harrier");
    CHECK(responses[i].header("Date") != "Sun, 06 Nov 1994 08:49:37 GMT");
  }
}
