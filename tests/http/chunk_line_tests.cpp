// Chunk-size lines and their extensions (RFC 9112 section 7.1.1): the line check on its own, and
// through a connection, whole and byte by byte. llhttp 8.1 alone refused several valid forms and
// took some invalid ones.

#include "http/chunk_line.hpp"
#include "memory_transport.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace harrier::http;
using namespace harrier::http::detail;
using namespace harrier::http::testing;

namespace {

// Answers with the whole request body.
harrier::task<void> echo_body(request& req, response& res) {
  std::string body = co_await req.body().read_all(1 << 20);
  co_await res.send(200, "text/plain", body);
}

const char* const k_valid_lines[] = {
    "5;a=b;c=d",    "5;a=b;c",         "5;a=\"b\\\"c\"",    "5; a=b",         "5 ;a=b",
    "5;a = b",      "5\t;\ta\t=\tb",   "5;a=\"x\";b=\"y\"", "5;a;b=c",        "5;a=b",
    "5;a",          "5;a;b",           "5;a=\"\"",          "5;a=\"sp ace\"", "5;a=\"\\\\\"",
    "5;a=\"\x80\"", "0005;name=value",
};

const char* const k_invalid_lines[] = {
    "5;a=",  "5;=b", "5;",   "5; ",   "5;a=\"open", "5;a=b c",    "5;a=\"\\\"", "5;a=\"\x01\"",
    "5;a b", "5 ",   ";a=b", "5;a=,", "5;a==b",     "5;a=\"x\"y", "5;a\rb",     "5x",
};

std::string post_chunked(const std::string& line) {
  return "POST /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + line +
         "\r\nhello\r\n0\r\n\r\n";
}

}  // namespace

TEST_CASE("a chunk-size line with extensions is rewritten in place to size and filler",
          "[http][body]") {
  std::string line = "1a ; name = \"v;a\\\"l\" ; flag\r\nrest";
  const std::size_t length = line.size();
  REQUIRE(prepare_chunk_line(line.data(), line.size()) == chunk_line_status::ready);
  CHECK(line.size() == length);
  CHECK(line == "1a;" + std::string(line.find('\r') - 3, 'x') + "\r\nrest");
  std::string plain = "1a\r\n";
  REQUIRE(prepare_chunk_line(plain.data(), plain.size()) == chunk_line_status::ready);
  CHECK(plain == "1a\r\n");
}

TEST_CASE("a chunk-size line is complete only with its LF, and needs its CR", "[http][body]") {
  std::string partial = "5;a=b\r";
  CHECK(prepare_chunk_line(partial.data(), partial.size()) == chunk_line_status::incomplete);
  CHECK(partial == "5;a=b\r");  // untouched until complete
  std::string bare = "5;a=b\n";
  CHECK(prepare_chunk_line(bare.data(), bare.size()) == chunk_line_status::invalid);
  for (const char* text : k_valid_lines) {
    INFO(text);
    std::string line = std::string(text) + "\r\n";
    CHECK(prepare_chunk_line(line.data(), line.size()) == chunk_line_status::ready);
  }
  for (const char* text : k_invalid_lines) {
    INFO(text);
    std::string line = std::string(text) + "\r\n";
    CHECK(prepare_chunk_line(line.data(), line.size()) == chunk_line_status::invalid);
  }
}

TEST_CASE("chunk extensions of RFC 9112's grammar are ignored, whole or read byte by byte",
          "[http][body]") {
  for (std::size_t max_recv : {std::size_t{0}, std::size_t{1}}) {
    for (const char* text : k_valid_lines) {
      INFO(text << (max_recv == 1 ? " (byte by byte)" : ""));
      connection_harness h(echo_body);
      if (max_recv != 0) h.transport.max_recv_bytes = max_recv;
      h.start();
      const std::string line = text;
      h.feed(post_chunked(line) + get("/next"));
      const auto responses = parse_responses(h.transport.output);
      REQUIRE(responses.size() == 2);
      CHECK(responses[0].status == 200);
      CHECK(responses[0].body == "hello");
      CHECK(responses[1].status == 200);
    }
  }
}

TEST_CASE("chunk extensions outside RFC 9112's grammar get 400 and close the connection",
          "[http][body]") {
  for (const char* text : k_invalid_lines) {
    INFO(text);
    connection_harness h(echo_body);
    h.start();
    h.feed(post_chunked(text) + get("/never"));
    const auto responses = parse_responses(h.transport.output);
    REQUIRE(responses.size() == 1);  // nothing after the error is taken as a request
    CHECK(responses[0].status == 400);
    CHECK(responses[0].header("Connection") == "close");
    CHECK(h.rejections.get(rejection_reason::invalid_chunk) == 1);
  }
  // The last chunk's line is checked too.
  connection_harness h(echo_body);
  h.start();
  h.feed(
      "POST /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0;a=\r\n\r\n");
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 400);
}
