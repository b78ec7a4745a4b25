// The four forms of request-target (RFC 9112 §3.2): origin-form is routed as it is; absolute-form
// (which a server MUST accept) by its path and query, its authority replacing Host; asterisk-form
// only with OPTIONS; authority-form only with CONNECT, which this origin server refuses (501).
// Anything else, and a fragment, gets 400. The Host header must be uri-host[:port] (400), or
// empty.

#include "memory_transport.hpp"

#include <catch2/catch.hpp>

using namespace harrier::http;
using namespace harrier::http::testing;

namespace {

struct seen {
  std::vector<parsed_response> responses;
  std::vector<std::string> routed;  // "path|query" per handler call
  std::vector<std::string> hosts;   // the Host the handler saw, "-" for none
  bool closed = false;
  std::uint64_t invalid_targets = 0;
  std::uint64_t invalid_hosts = 0;
};

seen run(const std::string& input) {
  seen s;
  auto* routed = &s.routed;
  auto* hosts = &s.hosts;
  connection_harness h([routed, hosts](request& req, response& res) -> harrier::task<void> {
    routed->push_back(std::string(req.path()) + "|" + std::string(req.query()));
    hosts->push_back(std::string(req.header("host").value_or("-")));
    co_await res.send(200, "text/plain", "ok");
  });
  h.start();
  h.feed(input);
  h.feed_eof();
  s.responses = parse_responses(h.transport.output);
  s.closed = h.transport.closed;
  s.invalid_targets = h.rejections.get(rejection_reason::invalid_target);
  s.invalid_hosts = h.rejections.get(rejection_reason::invalid_host);
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

TEST_CASE("a target with raw UTF-8 reaches the handler as sent", "[http][target]") {
  // curl and Go's client send a URL's non-ASCII characters unencoded; nginx, Go and Node serve
  // them, and so do we (bytes >= 0x80, and the ASCII that URIs leave out but clients send).
  const seen s =
      run("GET /caf\xc3\xa9?q=\xe6\x97\xa5\xe6\x9c\xac HTTP/1.1\r\nHost: test\r\n\r\n"
          "GET /a|b{c}^d?x=\"y\" HTTP/1.1\r\nHost: test\r\n\r\n");
  REQUIRE(s.responses.size() == 2);
  CHECK(s.responses[0].status == 200);
  CHECK(s.responses[1].status == 200);
  CHECK(s.routed ==
        std::vector<std::string>{"/caf\xc3\xa9|q=\xe6\x97\xa5\xe6\x9c\xac", "/a|b{c}^d|x=\"y\""});
  CHECK(s.invalid_targets == 0);
}

TEST_CASE("whitespace and control bytes in a target get 400", "[http][target]") {
  for (const char* line :
       {"GET /a\tb HTTP/1.1", "GET /a\x0b HTTP/1.1", "GET /a\x0c HTTP/1.1", "GET /a\x7f HTTP/1.1",
        "GET /a\x01b HTTP/1.1", "GET /\x1b[0m HTTP/1.1"}) {
    const seen s = run(std::string(line) + "\r\nHost: test\r\n\r\n" + k_follow_up);
    INFO(line);
    CHECK(s.routed.empty());
    REQUIRE(s.responses.size() == 1);
    CHECK(s.responses[0].status == 400);
    CHECK(s.closed);
  }
}

TEST_CASE("a target with a fragment gets 400", "[http][target]") {
  check_invalid_target("GET /plaintext#top HTTP/1.1");
}

TEST_CASE("a target in no request-target form gets 400", "[http][target]") {
  check_invalid_target("GET example.com/plaintext HTTP/1.1");
  check_invalid_target("GET ftp://example.com/x HTTP/1.1");
  check_invalid_target("GET http:///x HTTP/1.1");
  // No authority at all (RFC 9110 section 4.2.1: an http URI with an empty host is invalid).
  check_invalid_target("GET http:// HTTP/1.1");
  check_invalid_target("GET https:// HTTP/1.1");
  check_invalid_target("GET http://?x=1 HTTP/1.1");
  check_invalid_target("GET example.com:443 HTTP/1.1");
}

TEST_CASE("an absolute-form target's authority replaces the Host header", "[http][target]") {
  // RFC 9112 section 3.2.2: the server MUST ignore Host and use the target's authority.
  const seen s =
      run("GET http://example.com:8080/a HTTP/1.1\r\nHost: other.example\r\n\r\n"
          "GET http://10.0.0.1/b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  REQUIRE(s.responses.size() == 2);
  CHECK(s.hosts == std::vector<std::string>{"example.com:8080", "10.0.0.1"});
}

TEST_CASE("a Host that is not uri-host[:port] gets 400", "[http][target]") {
  for (const char* host : {"a b", "a/b", "user@host", "a?b", "a#b", "a\\b", "[::1", "[]", "[zz::1]",
                           "a:b", "a:80:90", "\xc3\xa4.example", "a%2", "[::1]x"}) {
    INFO("Host: " << host);
    const seen s = run(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n" + k_follow_up);
    CHECK(s.routed.empty());
    REQUIRE(s.responses.size() == 1);
    CHECK(s.responses[0].status == 400);
    CHECK(s.responses[0].header("Connection") == "close");
    CHECK(s.invalid_hosts == 1);
  }
  // Userinfo in an absolute-form authority is refused the same way (RFC 9110 section 4.2.4).
  const seen s = run("GET http://user@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
  REQUIRE(s.responses.size() == 1);
  CHECK(s.responses[0].status == 400);
  CHECK(s.invalid_hosts == 1);
}

TEST_CASE("an empty Host is served, a Host of blanks too, and an empty authority is not",
          "[http][target]") {
  // RFC 9112 section 3.2: a client sends an empty Host when its target URI has no authority.
  const seen s =
      run("GET /a HTTP/1.1\r\nHost:\r\n\r\nGET /b HTTP/1.1\r\nHost:   \r\n\r\n"
          "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n");
  REQUIRE(s.responses.size() == 3);
  for (const auto& r : s.responses)
    CHECK(r.status == 200);
  CHECK(s.hosts == std::vector<std::string>{"", "", ""});
  CHECK(s.invalid_hosts == 0);
  // An http URI with an empty host is refused (RFC 9110 section 4.2.1), whatever Host says.
  const seen empty_authority = run("GET http:///a HTTP/1.1\r\nHost: a\r\n\r\n" + k_follow_up);
  CHECK(empty_authority.routed.empty());
  REQUIRE(empty_authority.responses.size() == 1);
  CHECK(empty_authority.responses[0].status == 400);
  CHECK(empty_authority.closed);
}

TEST_CASE("every form of a valid Host is served", "[http][target]") {
  std::string input;
  const std::vector<std::string> hosts = {
      "example.com",      "example.com:8080", "127.0.0.1:5000", "[::1]:8080",
      "[::ffff:1.2.3.4]", "xn--bcher-kva.ch", "a-b_c~d.e",      "h:",
      "%41.example",      "[v1.x:y]"};
  for (const std::string& host : hosts)
    input += "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  const seen s = run(input);
  REQUIRE(s.responses.size() == hosts.size());
  for (const auto& r : s.responses)
    CHECK(r.status == 200);
  CHECK(s.hosts == hosts);
}

TEST_CASE("dot segments are removed from the path a handler sees", "[http][target]") {
  // RFC 3986 section 5.2.4; request::target() keeps the raw form. ".." stops at the root.
  const seen s =
      run("GET /a/./b/../c?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"
          "GET /static/sub/../data.txt HTTP/1.1\r\nHost: t\r\n\r\n"
          "GET /../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n"
          "GET /a/b/.. HTTP/1.1\r\nHost: t\r\n\r\n"
          "GET http://t/x/./y HTTP/1.1\r\nHost: t\r\n\r\n"
          "GET /a/.b/..c/... HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(s.responses.size() == 6);
  CHECK(s.routed == std::vector<std::string>{"/a/c|x=1", "/static/data.txt|", "/etc/passwd|",
                                             "/a/|", "/x/y|", "/a/.b/..c/...|"});
}
