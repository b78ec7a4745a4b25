// Transfer codings of a request (RFC 9112 §6): chunked alone is implemented; another coding
// before it gets 501 (§6.1), chunked twice or not last gets 400 (§6.3). Each closes the
// connection and nothing after it is read as a request.

#include "memory_transport.hpp"

#include <catch2/catch.hpp>

using namespace harrier::http;
using namespace harrier::http::testing;

namespace {

int status_of(const std::string& transfer_encoding, rejection_reason reason, std::uint64_t* counted,
              int* calls_out) {
  int calls = 0;
  connection_harness h([&calls](request& req, response& res) -> harrier::task<void> {
    ++calls;
    std::string body = co_await req.body().read_all(1 << 20);
    co_await res.send(200, "text/plain", "body " + body);
  });
  h.start();
  h.feed("POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: " + transfer_encoding +
         "\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n");
  h.feed_eof();
  const auto responses = parse_responses(h.transport.output);
  *counted = h.rejections.get(reason);
  *calls_out = calls;
  REQUIRE(!responses.empty());
  if (responses[0].status != 200) {
    CHECK(responses.size() == 1);  // the request after it is never answered
    CHECK(responses[0].header("Connection") == "close");
    CHECK(h.transport.closed);
  }
  return responses[0].status;
}

}  // namespace

TEST_CASE("a transfer coding other than chunked gets 501 and closes the connection",
          "[http][smuggling]") {
  for (const char* te : {"gzip, chunked", "deflate,chunked", "chunked;q=1"}) {
    INFO(te);
    std::uint64_t counted = 0;
    int calls = 0;
    const int status =
        status_of(te, rejection_reason::unsupported_transfer_coding, &counted, &calls);
    // "chunked;q=1" is not the token chunked: llhttp does not see chunked last, so 400.
    if (std::string_view(te) == "chunked;q=1") {
      CHECK(status == 400);
    } else {
      CHECK(status == 501);
      CHECK(counted == 1);
    }
    CHECK(calls == 0);
  }
}

TEST_CASE("chunked applied twice gets 400", "[http][smuggling]") {
  std::uint64_t counted = 0;
  int calls = 0;
  CHECK(status_of("chunked, chunked", rejection_reason::invalid_transfer_encoding, &counted,
                  &calls) == 400);
  CHECK(counted == 1);
  CHECK(calls == 0);
}

TEST_CASE("chunked in any letter case, after an empty list element, is accepted", "[http][body]") {
  for (const char* te : {"Chunked", ", chunked"}) {
    INFO(te);
    std::uint64_t counted = 0;
    int calls = 0;
    CHECK(status_of(te, rejection_reason::invalid_transfer_encoding, &counted, &calls) == 200);
    CHECK(calls == 2);  // the upload, then the request pipelined after it
  }
}
