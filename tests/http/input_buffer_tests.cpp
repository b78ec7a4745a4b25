// The receive buffer: heads larger than one 4 KiB block, pipelined heads that straddle the end of
// the buffer, bodies behind large heads, and upgrade requests.

#include "memory_transport.hpp"

#include <catch2/catch.hpp>

using namespace harrier::http;
using namespace harrier::http::testing;

namespace {
struct header_size_handler {
  harrier::task<void> operator()(request& req, response& res) const {
    std::string body = co_await req.body().read_all(1 << 20);
    const std::string answer = std::string(req.path()) + " " +
                               std::to_string(req.header("X-Big").value_or("").size()) + " " +
                               std::to_string(body.size());
    co_await res.send(200, "text/plain", answer);
  }
};
}  // namespace

TEST_CASE("a head larger than one buffer block is parsed", "[http][buffer]") {
  connection_harness h(header_size_handler{});
  h.start();
  h.feed(get("/big", "X-Big: " + std::string(20000, 'b') + "\r\n"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "/big 20000 0");
}

TEST_CASE("a pipelined head that straddles the end of the buffer is parsed", "[http][buffer]") {
  connection_harness h(header_size_handler{});
  h.transport.max_recv_bytes = 1000;
  h.start();
  std::string input;
  for (int i = 0; i < 3; ++i)
    input += get("/small" + std::to_string(i));
  input += get("/large", "X-Big: " + std::string(3800, 'c') + "\r\n");
  input += get("/after");
  h.feed(input);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 5);
  CHECK(responses[3].body == "/large 3800 0");
  CHECK(responses[4].body == "/after 0 0");
}

TEST_CASE("a body behind a head that fills the buffer is read", "[http][buffer]") {
  connection_harness h(header_size_handler{});
  h.start();
  const std::string body(10000, 'd');
  h.feed("POST /upload HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4000, 'e') +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body + get("/next"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].body == "/upload 4000 10000");
  CHECK(responses[1].body == "/next 0 0");
}

TEST_CASE("an upgrade request is answered as a plain request and the connection goes on",
          "[http][buffer]") {
  // RFC 9110 section 7.8: the server may ignore Upgrade; the client then stays on HTTP/1.1. A
  // body is read by its framing, and a pipelined request after it is served.
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n") +
         "POST /h2c HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n"
         "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\n"
         "hello" +
         get("/after"));
  CHECK_FALSE(h.finished);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 3);
  for (const auto& r : responses) {
    CHECK(r.status == 200);
    CHECK(r.header("Connection") != "close");
  }
  CHECK(calls == 3);
}

TEST_CASE("percent-decoding and query parameters", "[http][target]") {
  std::string out;
  CHECK(percent_decode("a%20b%2Fc", out));
  CHECK(out == "a b/c");
  out.clear();
  CHECK(percent_decode("x+y", out, true));
  CHECK(out == "x y");
  out.clear();
  CHECK_FALSE(percent_decode("bad%2", out));
  out.clear();
  CHECK_FALSE(percent_decode("bad%zz", out));
  // The lenient form keeps what is malformed and decodes the rest.
  CHECK(percent_decode_lenient("a%zz%20b%2") == "a%zz b%2");
  CHECK(percent_decode_lenient("%", true) == "%");
  CHECK(percent_decode_lenient("x+%2B%4", true) == "x +%4");
  CHECK(percent_decode_lenient("%%41") == "%A");
  CHECK(find_query_parameter("ms=10&n=3", "n") == "3");
  CHECK(find_query_parameter("ms=10&n=3", "ms") == "10");
  CHECK(find_query_parameter("flag&ms=1", "flag") == "");
  CHECK_FALSE(find_query_parameter("ms=10", "n"));
}

TEST_CASE("the request exposes method, path, query, version and headers", "[http][target]") {
  std::string seen;
  auto handler = [&seen](request& req, response& res) -> harrier::task<void> {
    seen = std::string(req.method()) + "|" + std::string(req.path()) + "|" +
           std::string(req.query()) + "|" + std::to_string(req.version_major()) + "." +
           std::to_string(req.version_minor()) + "|" +
           std::string(req.header("x-custom").value_or("-")) + "|" +
           std::to_string(req.headers().size());
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed("DELETE /items/7?force=1&x=%20 HTTP/1.1\r\nHost: t\r\nX-Custom:   spaced value  \r\n\r\n");
  CHECK(seen == "DELETE|/items/7|force=1&x=%20|1.1|spaced value|2");
}

TEST_CASE("a list-based field on several lines reads as their joined list", "[http][headers]") {
  const header_field fields[] = {{"Accept-Encoding", "foo"},
                                 {"Host", "a"},
                                 {"accept-encoding", "gzip;q=1"},
                                 {"ACCEPT-ENCODING", "br"}};
  const header_list headers(fields);
  std::string storage;
  CHECK(headers.find_list("Accept-Encoding", storage) == "foo, gzip;q=1, br");
  std::string single;
  CHECK(headers.find_list("Host", single) == "a");
  CHECK(single.empty());  // one line: a view of it, nothing copied
  std::string none;
  CHECK_FALSE(headers.find_list("If-None-Match", none));
}
