// The four forms of request-target (RFC 9112 §3.2): origin-form is routed as it is; absolute-form
// (which a server MUST accept) by its path and query; asterisk-form only with OPTIONS;
// authority-form only with CONNECT. Anything else, and a fragment, gets 400.

#include "memory_transport.hpp"

#include <catch2/catch.hpp>

using namespace harrier::http;
using namespace harrier::http::testing;

namespace {

struct seen {
  std::vector<parsed_response> responses;
  std::vector<std::string> routed;  // "path|query" per handler call
  bool closed = false;
  std::uint64_t invalid_targets = 0;
};

seen run(const std::string& input) {
  seen s;
  auto* routed = &s.routed;
  connection_harness h([routed](request& req, response& res) -> harrier::task<void> {
    routed->push_back(std::string(req.path()) + "|" + std::string(req.query()));
    co_await res.send(200, "text/plain", "ok");
  });
  h.start();
  h.feed(input);
  h.feed_eof();
  s.responses = parse_responses(h.transport.output);
  s.closed = h.transport.closed;
  s.invalid_targets = h.rejections.get(rejection_reason::invalid_target);
  return s;
}

const std::string k_follow_up = "GET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n";

void check_invalid_target(const std::string& request_line) {
  INFO(request_line);
  const seen s = run(request_line + "\r\nHost: test\r\n\r\n" + k_follow_up);
  CHECK(s.routed.empty());
  REQUIRE(s.responses.size() == 1);
  CHECK(s.responses[0].status == 400);
  CHECK(s.responses[0].header("Connection") == "close");
  CHECK(s.invalid_targets == 1);
  CHECK(s.closed);
}

}  // namespace

TEST_CASE("an absolute-form target is routed by its path and query", "[http][target]") {
  const seen s =
      run("GET http://example.com:8080/a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"
          "GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"
          "GET http://example.com?y=2 HTTP/1.1\r\nHost: example.com\r\n\r\n");
  REQUIRE(s.responses.size() == 3);
  for (const auto& r : s.responses)
    CHECK(r.status == 200);
  CHECK(s.routed == std::vector<std::string>{"/a/b|x=1", "/|", "/|y=2"});
}

TEST_CASE("asterisk-form reaches the handler with OPTIONS and gets 400 otherwise",
          "[http][target]") {
  const seen s = run("OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n");
  REQUIRE(s.responses.size() == 1);
  CHECK(s.responses[0].status == 200);
  CHECK(s.routed == std::vector<std::string>{"*|"});
  check_invalid_target("GET * HTTP/1.1");
}

TEST_CASE("a target with a fragment gets 400", "[http][target]") {
  check_invalid_target("GET /plaintext#top HTTP/1.1");
}

TEST_CASE("a target in no request-target form gets 400", "[http][target]") {
  check_invalid_target("GET example.com/plaintext HTTP/1.1");
  check_invalid_target("GET ftp://example.com/x HTTP/1.1");
  check_invalid_target("GET http:///x HTTP/1.1");
  check_invalid_target("GET example.com:443 HTTP/1.1");
}
