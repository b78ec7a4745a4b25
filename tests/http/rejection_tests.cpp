// One test per rejection rule: status, Connection: close, the connection closed, the reason
// counted, and the bytes after the error never interpreted (a valid request follows each bad one
// in the same input, and must never reach the handler).

#include "memory_transport.hpp"

#include "http/request_parser.hpp"

#include <harrier/core/block_pool.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>

using namespace harrier::http;
using namespace harrier::http::testing;

namespace {

const std::string k_follow_up = "GET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n";

struct outcome {
  std::vector<parsed_response> responses;
  int calls = 0;
  bool finished = false;
  bool closed = false;
  std::uint64_t counted = 0;
  std::string wire;  // everything the connection sent
};

// Runs `input` (+ a valid follow-up request) through a connection whose handler reads the whole
// body, and returns what happened. `split` > 0 delivers the input in pieces of that size.
outcome run_bad(const std::string& input, rejection_reason reason, std::size_t split = 0,
                http1_options options = {}) {
  outcome o;
  int* calls = &o.calls;
  connection_harness h(
      [calls](request& req, response& res) -> harrier::task<void> {
        ++*calls;
        std::string body = co_await req.body().read_all(1 << 20);
        co_await res.send(200, "text/plain", "handled " + std::string(req.path()));
      },
      options);
  if (split > 0) h.transport.max_recv_bytes = split;
  h.start();
  h.feed(input + k_follow_up);
  h.feed_eof();
  o.responses = parse_responses(h.transport.output);
  o.wire = h.transport.output;
  o.finished = h.finished;
  o.closed = h.transport.closed;
  o.counted = h.rejections.get(reason);
  return o;
}

void check_rejected(const outcome& o, int status, int handler_calls = 0) {
  REQUIRE(o.finished);
  CHECK(o.closed);
  CHECK(o.calls == handler_calls);
  REQUIRE(o.responses.size() == 1);
  CHECK(o.responses[0].status == status);
  CHECK(o.responses[0].header("Connection") == "close");
  CHECK(!o.responses[0].body.empty());
  CHECK(o.counted == 1);
  CHECK(o.responses[0].body.find("smuggled") == std::string::npos);
}

}  // namespace

TEST_CASE("a request line longer than the limit gets 414", "[http][limits]") {
  const std::string target = "/" + std::string(9000, 'a');
  check_rejected(run_bad(get(target), rejection_reason::request_line_too_long), 414);
}

TEST_CASE("a request line longer than the limit gets 414 when read byte by byte",
          "[http][limits]") {
  http1_options options;
  options.limits.max_request_line_bytes = 100;
  const std::string target = "/" + std::string(200, 'a');
  check_rejected(run_bad(get(target), rejection_reason::request_line_too_long, 1, options), 414);
}

TEST_CASE("request headers larger than the limit in total get 431", "[http][limits]") {
  std::string headers;
  for (int i = 0; i < 40; ++i)
    headers += "X-Big-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
  check_rejected(run_bad(get("/", headers), rejection_reason::headers_too_large), 431);
}

TEST_CASE("more request headers than the count limit get 431", "[http][limits]") {
  std::string headers;
  for (int i = 0; i < 101; ++i)
    headers += "X-H" + std::to_string(i) + ": v\r\n";
  check_rejected(run_bad(get("/", headers), rejection_reason::too_many_headers), 431);
}

TEST_CASE("a Content-Length above the body limit gets 413 before the body is read",
          "[http][limits]") {
  const std::string input =
      "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 30000001\r\n\r\nabc";
  check_rejected(run_bad(input, rejection_reason::body_too_large), 413);
}

TEST_CASE("a chunked body that grows past the body limit gets 413 while it is read",
          "[http][limits]") {
  http1_options options;
  options.limits.max_request_body_bytes = 10;
  const std::string input =
      "POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
  check_rejected(run_bad(input, rejection_reason::body_too_large, 0, options), 413, 1);
}

TEST_CASE("a chunk whose size takes the body past the limit gets 413 before its data",
          "[http][limits]") {
  // Only the chunk-size line and a few bytes of the chunk arrive (then the follow-up request and
  // the end of input): the size alone must refuse it, not the data the client would send.
  http1_options options;
  options.limits.max_request_body_bytes = 1000;
  const std::string input =
      "POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "10\r\n0123456789abcdef\r\n"
      "3e0\r\nabc";  // 16 + 992 > 1000
  check_rejected(run_bad(input, rejection_reason::body_too_large, 0, options), 413, 1);
  // A size beyond 64 bits' worth of sum saturates rather than wrapping below the limit.
  const std::string huge =
      "POST /upload HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "1\r\na\r\nffffffffffffffff\r\nabc";
  check_rejected(run_bad(huge, rejection_reason::body_too_large, 0, options), 413, 1);
}

namespace {

// A chunked request whose chunks each carry `data_bytes` of data and an extension of
// `extension_bytes` (a name and a value, as aws-chunked's chunk-signature).
std::string chunked_with_extensions(int chunks, std::size_t data_bytes,
                                    std::size_t extension_bytes) {
  std::string input = "POST /ext HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
  char size[32];
  std::snprintf(size, sizeof size, "%zx", data_bytes);
  for (int i = 0; i < chunks; ++i) {
    input += size;
    input += ";s=" + std::string(extension_bytes - 1, 'e') + "\r\n";
    input += std::string(data_bytes, 'd') + "\r\n";
  }
  return input + "0\r\n\r\n";
}

// Runs `input` through a connection whose handler answers with the body's size.
std::vector<parsed_response> run_sized(const std::string& input, std::size_t split = 0) {
  connection_harness h([](request& req, response& res) -> harrier::task<void> {
    std::string body = co_await req.body().read_all(1 << 24);
    co_await res.send(200, "text/plain", std::to_string(body.size()));
  });
  if (split > 0) h.transport.max_recv_bytes = split;
  h.start();
  h.feed(input);
  h.feed_eof();
  REQUIRE(h.finished);
  CHECK(h.rejections.get(rejection_reason::chunk_extensions_too_long) == 0);
  return parse_responses(h.transport.output);
}

}  // namespace

TEST_CASE("chunk extensions past the limit get 400, whole or read in pieces", "[http][limits]") {
  // 16 KiB of slack plus 16 + 2 x 3 for the first chunk's data: one 20,000-byte extension is
  // over, as is the second of two 10,000-byte ones.
  const std::string one =
      "POST /u HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;" +
      std::string(20000, 'x') + "\r\nabc\r\n0\r\n\r\n";
  const std::size_t split = GENERATE(0, 1000);
  check_rejected(run_bad(one, rejection_reason::chunk_extensions_too_long, split), 400, 1);
  check_rejected(run_bad(chunked_with_extensions(2, 3, 10000),
                         rejection_reason::chunk_extensions_too_long, split),
                 400, 1);
}

TEST_CASE("chunk extensions may grow with the data they come with (Go's rule)", "[http][limits]") {
  // 300 chunks of 100 bytes, each with an 80-byte extension: 24,000 extension bytes in all,
  // more than the 16 KiB slack, but under what 30,000 bytes of data allow.
  auto responses = run_sized(chunked_with_extensions(300, 100, 80));
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].status == 200);
  CHECK(responses[0].body == "30000");
  // Tiny chunks with large extensions are not: 1-byte chunks allow 18 bytes each, so 100-byte
  // extensions use the slack up after ~200 chunks.
  check_rejected(
      run_bad(chunked_with_extensions(400, 1, 100), rejection_reason::chunk_extensions_too_long),
      400, 1);
}

TEST_CASE("the chunk extension limit applies per request", "[http][limits]") {
  // Two pipelined requests with 10,000 extension bytes each: each is under the limit.
  const std::string one = chunked_with_extensions(1, 3, 10000);
  auto responses = run_sized(one + one, 4096);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].status == 200);
  CHECK(responses[1].status == 200);
  CHECK(responses[1].body == "3");
}

TEST_CASE("an HTTP/1.1 request without Host gets 400", "[http][limits]") {
  check_rejected(run_bad("GET / HTTP/1.1\r\n\r\n", rejection_reason::missing_host), 400);
}

TEST_CASE("a request with two Host headers gets 400", "[http][limits]") {
  check_rejected(
      run_bad("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", rejection_reason::duplicate_host),
      400);
}

TEST_CASE("Content-Length together with Transfer-Encoding gets 400", "[http][smuggling]") {
  const std::string input =
      "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n";
  check_rejected(run_bad(input, rejection_reason::content_length_with_transfer_encoding), 400);
}

TEST_CASE("two different Content-Length headers get 400", "[http][smuggling]") {
  const std::string input =
      "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde";
  check_rejected(run_bad(input, rejection_reason::duplicate_content_length), 400);
}

TEST_CASE("an invalid Content-Length gets 400", "[http][smuggling]") {
  const std::string input = "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 3x\r\n\r\nabc";
  check_rejected(run_bad(input, rejection_reason::invalid_content_length), 400);
}

TEST_CASE("a Transfer-Encoding other than chunked gets 400", "[http][smuggling]") {
  const std::string input = "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\nabc";
  check_rejected(run_bad(input, rejection_reason::invalid_transfer_encoding), 400);
}

TEST_CASE("a bad chunk size gets 400", "[http][smuggling]") {
  const std::string input =
      "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n";
  check_rejected(run_bad(input, rejection_reason::invalid_chunk), 400, 1);
}

TEST_CASE("an obs-fold continuation line gets 400", "[http][smuggling]") {
  check_rejected(
      run_bad("GET / HTTP/1.1\r\nHost: test\r\nX-A: b\r\n c\r\n\r\n", rejection_reason::obs_fold),
      400);
}

TEST_CASE("an obs-fold continuation line gets 400 when read byte by byte", "[http][smuggling]") {
  check_rejected(run_bad("GET / HTTP/1.1\r\nHost: test\r\nX-A: b\r\n c\r\n\r\n",
                         rejection_reason::obs_fold, 1),
                 400);
}

TEST_CASE("an obs-fold that starts the value gets 400", "[http][smuggling]") {
  check_rejected(
      run_bad("GET / HTTP/1.1\r\nHost: test\r\nX-A:\r\n c\r\n\r\n", rejection_reason::obs_fold),
      400);
}

TEST_CASE("an empty field value is a value, not an obs-fold", "[http][smuggling]") {
  // RFC 9110 section 5.5: field-value = *field-content. curl -H 'X;', Python and Node send them.
  for (std::size_t split : {std::size_t{0}, std::size_t{1}}) {
    INFO("split " << split);
    std::vector<std::string> seen;
    auto handler = [&seen](request& req, response& res) -> harrier::task<void> {
      const auto value = req.header("x-empty");
      seen.push_back(value ? "[" + std::string(*value) + "]" : "none");
      std::string body = co_await req.body().read_all(1 << 20);
      co_await res.send(200, "text/plain", "ok");
    };
    connection_harness h(handler);
    if (split > 0) h.transport.max_recv_bytes = split;
    h.start();
    h.feed(
        "GET /a HTTP/1.1\r\nHost: t\r\nX-Empty:\r\nX-B: b\r\n\r\n"
        "GET /b HTTP/1.1\r\nHost: t\r\nX-Empty: \t \r\n\r\n"
        "POST /c HTTP/1.1\r\nHost: t\r\nX-Empty:\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\nX-Trailer:\r\n\r\n");
    h.feed_eof();
    const auto responses = parse_responses(h.transport.output);
    REQUIRE(responses.size() == 3);
    for (const auto& r : responses)
      CHECK(r.status == 200);
    CHECK(seen == std::vector<std::string>{"[]", "[]", "[]"});
    CHECK(h.rejections.get(rejection_reason::obs_fold) == 0);
  }
  // A fold after an empty value is still a fold.
  check_rejected(
      run_bad("GET / HTTP/1.1\r\nHost: test\r\nX-A:\r\n c\r\n\r\n", rejection_reason::obs_fold, 1),
      400);
}

TEST_CASE("an empty Transfer-Encoding gets 400, alone or with a Content-Length",
          "[http][smuggling]") {
  // Accepted as absent once empty field values stopped being taken for obs-fold (Http11Probe's
  // SMUG-TE-EMPTY-VALUE); with a Content-Length it is the shape of a TE/CL desync.
  check_rejected(run_bad("POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding:\r\n\r\n",
                         rejection_reason::invalid_transfer_encoding),
                 400);
  check_rejected(run_bad("POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: \r\n"
                         "Content-Length: 5\r\n\r\nhello",
                         rejection_reason::invalid_transfer_encoding, 1),
                 400);
}

TEST_CASE("Transfer-Encoding on an HTTP/1.0 request gets 400", "[http][smuggling]") {
  // RFC 9112 section 6.1: faulty framing (a 1.0 hop may not know chunked), even with keep-alive.
  check_rejected(run_bad("POST / HTTP/1.0\r\nHost: test\r\nConnection: keep-alive\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                         rejection_reason::invalid_transfer_encoding),
                 400);
}

TEST_CASE("a bare CR in a header gets 400", "[http][smuggling]") {
  check_rejected(run_bad("GET / HTTP/1.1\r\nHost: test\r\nX-A: b\rc\r\n\r\n",
                         rejection_reason::invalid_line_ending),
                 400);
}

TEST_CASE("bare LF line endings get 400", "[http][smuggling]") {
  check_rejected(run_bad("GET / HTTP/1.1\nHost: test\n\n", rejection_reason::invalid_header), 400);
}

TEST_CASE("a control character in a header value gets 400", "[http][smuggling]") {
  check_rejected(run_bad("GET / HTTP/1.1\r\nHost: test\r\nX-A: b\x01"
                         "c\r\n\r\n",
                         rejection_reason::invalid_header),
                 400);
}

TEST_CASE("a control character in a header name gets 400", "[http][smuggling]") {
  check_rejected(run_bad("GET / HTTP/1.1\r\nHost: test\r\nX\x7f"
                         "A: b\r\n\r\n",
                         rejection_reason::invalid_header),
                 400);
}

TEST_CASE("whitespace between a header name and the colon gets 400", "[http][smuggling]") {
  check_rejected(run_bad("GET / HTTP/1.1\r\nHost : test\r\n\r\n", rejection_reason::invalid_header),
                 400);
}

TEST_CASE("an invalid method gets 400", "[http][limits]") {
  check_rejected(run_bad("G(T / HTTP/1.1\r\nHost: test\r\n\r\n", rejection_reason::invalid_method),
                 400);
}

TEST_CASE("any token method reaches the handler, as sent, and the connection stays open",
          "[http][methods]") {
  // RFC 9110 section 9.1: a method is a token, case-sensitive ("get" is not GET); llhttp knows
  // only its table (and RTSP's methods only for RTSP). The handler answers (501 or 405); the
  // request's framing is its header fields', so a body is read and the next request follows.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"BREW /pot HTTP/1.1", "BREW"},
      {"get / HTTP/1.1", "get"},
      {"QUERY /q HTTP/1.1", "QUERY"},
      {"\r\nPURGE-ALL / HTTP/1.1", "PURGE-ALL"},
      {"GETX / HTTP/1.1", "GETX"},
      {"PROPFINDX / HTTP/1.1", "PROPFINDX"},
      {"PLAY / HTTP/1.1", "PLAY"},
      {"DESCRIBE / HTTP/1.0", "DESCRIBE"},
      {"SET_PARAMETER / HTTP/1.1", "SET_PARAMETER"},
      {"PROPFIND / HTTP/1.1", "PROPFIND"},
      {"X!#$%&'*+-.^_`|~9 / HTTP/1.1", "X!#$%&'*+-.^_`|~9"}};
  for (const std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
    for (const auto& [line, method] : cases) {
      INFO(line << " split " << split);
      std::vector<std::string> seen;
      connection_harness h([&seen](request& req, response& res) -> harrier::task<void> {
        std::string body = co_await req.body().read_all(1 << 10);
        seen.push_back(std::string(req.method()) + " " + std::string(req.target()) + " " + body);
        co_await res.send(501, "text/plain", "not implemented");
      });
      if (split > 0) h.transport.max_recv_bytes = split;
      h.start();
      h.feed(line + "\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello" + k_follow_up);
      h.feed_eof();
      REQUIRE(h.finished);
      const auto responses = parse_responses(h.transport.output);
      const bool http10 = line.find("HTTP/1.0") != std::string::npos;
      REQUIRE(seen.size() == (http10 ? 1u : 2u));
      CHECK(seen[0] == method + " " +
                           line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1) +
                           " hello");
      if (!http10) CHECK(seen[1] == "GET /smuggled ");
      REQUIRE(!responses.empty());
      CHECK(responses[0].status == 501);
      CHECK(h.rejections.total() == 0);
    }
  }
}

TEST_CASE("a token method stays valid when a large head moves to a bigger buffer",
          "[http][methods]") {
  // A head too large to leave body room in the 4 KiB block moves to a heap buffer and the block
  // goes back to the pool; the method (a view into the head, like the target) must follow it.
  // The handler takes that block again (the pool is LIFO) and overwrites it first.
  std::vector<std::string> seen;
  connection_harness h([&seen](request& req, response& res) -> harrier::task<void> {
    harrier::block scratch = harrier::block_pool::shared().acquire();
    std::memset(scratch.data(), 'x', scratch.size());
    std::string body = co_await req.body().read_all(1 << 10);
    seen.push_back(std::string(req.method()) + " " + std::string(req.target()) + " " + body);
    co_await res.send(501, "text/plain", "not implemented");
  });
  h.start();
  h.feed("BREW /pot HTTP/1.1\r\nHost: test\r\nX-Pad: " + std::string(3000, 'p') +
         "\r\nContent-Length: 5\r\n\r\nhello");
  h.feed_eof();
  REQUIRE(h.finished);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == "BREW /pot hello");
}

TEST_CASE("a method that is not a token gets 400, one longer than the request line 501",
          "[http][methods]") {
  for (const char* line :
       {"GE(T / HTTP/1.1", "BR\"EW / HTTP/1.1", "GET\t/ HTTP/1.1", "QUERY\t/ HTTP/1.1"}) {
    INFO(line);
    check_rejected(
        run_bad(std::string(line) + "\r\nHost: test\r\n\r\n", rejection_reason::invalid_method),
        400);
  }
  // Also when the bad byte arrives after the token began (the token is pending then).
  check_rejected(
      run_bad("QUE\tRY / HTTP/1.1\r\nHost: test\r\n\r\n", rejection_reason::invalid_method, 1),
      400);
  // RFC 9112 section 3: a method longer than any the server implements SHOULD get 501.
  http1_options options;
  options.limits.max_request_line_bytes = 100;
  const std::string method(100, 'Q');
  check_rejected(run_bad(method + " / HTTP/1.1\r\nHost: test\r\n\r\n",
                         rejection_reason::unsupported_method, 0, options),
                 501);
  // Arriving a byte at a time, the method is refused once it is too long, before its end.
  check_rejected(run_bad(method, rejection_reason::unsupported_method, 1, options), 501);
}

TEST_CASE("a method llhttp does not know is scanned once as it arrives", "[http][methods]") {
  // Byte by byte, every window is consumed: the pending token is not parsed again from the
  // request's start at each read (which made a slowly sent method cost quadratic time).
  const std::string input = "\r\n\r\nBREW /pot HTTP/1.1\r\nHost: test\r\n\r\n";
  std::string buffer = input;
  server_limits limits;
  harrier::http::detail::request_parser parser(limits);
  std::size_t parsed = 0;
  bool head = false;
  for (std::size_t available = 1; available <= buffer.size() && !head; ++available) {
    const auto step = parser.execute(buffer.data(), parsed, available);
    INFO("available " << available);
    REQUIRE(step.event != harrier::http::detail::parse_event::error);
    REQUIRE(step.position == available);
    parsed = step.position;
    head = step.event == harrier::http::detail::parse_event::head_complete;
  }
  REQUIRE(head);
  CHECK(parser.method(buffer.data()) == "BREW");
  CHECK(std::string_view(buffer.data() + parser.target_offset(), parser.target_length()) == "/pot");
}

TEST_CASE("a version named other than HTTP gets 400", "[http][methods]") {
  // llhttp 8.1 takes RTSP/1.0 and ICE/1.0 (with their methods); HTTP-version is "HTTP/" x.x.
  for (const char* line : {"GET / RTSP/1.0", "PLAY / RTSP/1.0", "SOURCE / ICE/1.0",
                           "OPTIONS * RTSP/1.0", "DESCRIBE / RTSP/2.0"}) {
    for (const std::size_t split : {std::size_t{0}, std::size_t{1}}) {
      INFO(line << " split " << split);
      check_rejected(run_bad(std::string(line) + "\r\nHost: test\r\n\r\n",
                             rejection_reason::invalid_version, split),
                     400);
    }
  }
}

TEST_CASE("a request line with more than one SP between its parts gets 400", "[http][limits]") {
  // RFC 9112 section 3: method SP request-target SP HTTP-version. llhttp skips extra spaces; a
  // proxy that splits on each one would read another target (Kestrel and Go answer 400 too).
  const struct {
    const char* line;
    rejection_reason reason;
  } cases[] = {
      {"GET  / HTTP/1.1", rejection_reason::invalid_target},
      {"GET   /x?a=b HTTP/1.1", rejection_reason::invalid_target},
      {"BREW  /pot HTTP/1.1", rejection_reason::invalid_target},  // a method llhttp does not know
      {"GET /  HTTP/1.1", rejection_reason::invalid_version},
      {"OPTIONS *  HTTP/1.1", rejection_reason::invalid_version},
      {"GET http://a/x   HTTP/1.1", rejection_reason::invalid_version},
  };
  for (const auto& c : cases) {
    for (const std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
      INFO(c.line << " split " << split);
      check_rejected(run_bad(std::string(c.line) + "\r\nHost: test\r\n\r\n", c.reason, split), 400);
    }
  }
}

TEST_CASE("a request line without a version gets 400", "[http][limits]") {
  // HTTP/0.9's form; llhttp takes it as version 0.9 with no version to check. Found by the
  // connection fuzzer after HTTP/1.x minors were let through.
  check_rejected(run_bad("GET /\r\nHost: test\r\n\r\n", rejection_reason::invalid_version), 400);
  check_rejected(run_bad("POST /x\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                         rejection_reason::invalid_version, 1),
                 400);
}

TEST_CASE("a malformed version gets 400", "[http][limits]") {
  for (const char* version : {"HTTP/1.x", "HTTP/11", "HTTP/1.", "HTTP/1.1.1", "HTTP/ 1.1"}) {
    INFO(version);
    check_rejected(run_bad(std::string("GET / ") + version + "\r\nHost: test\r\n\r\n",
                           rejection_reason::invalid_version),
                   400);
  }
}

TEST_CASE("an unsupported major version gets 505", "[http][limits]") {
  for (const char* version : {"HTTP/3.0", "HTTP/2.0", "HTTP/0.9", "HTTP/9.1"}) {
    INFO(version);
    check_rejected(run_bad(std::string("GET / ") + version + "\r\nHost: test\r\n\r\n",
                           rejection_reason::unsupported_version),
                   505);
    // Also when the version arrives a byte at a time.
    check_rejected(run_bad(std::string("GET / ") + version + "\r\nHost: test\r\n\r\n",
                           rejection_reason::unsupported_version, 1),
                   505);
  }
}

TEST_CASE("a later HTTP/1 minor version is served as HTTP/1.1", "[http][limits]") {
  // RFC 9112 section 2.3: process it as the highest minor version implemented.
  std::vector<std::string> seen;
  auto handler = [&seen](request& req, response& res) -> harrier::task<void> {
    seen.push_back(std::to_string(req.version_major()) + "." + std::to_string(req.version_minor()));
    co_await res.send(200, "text/plain", "ok");
  };
  connection_harness h(handler);
  h.start();
  // Keep-alive by default, as HTTP/1.1: the second request on the connection is served too.
  h.feed("GET /a HTTP/1.2\r\nHost: t\r\n\r\nGET /b HTTP/1.9\r\nHost: t\r\n\r\n");
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].status == 200);
  CHECK(responses[1].status == 200);
  CHECK(responses[0].header("Connection") != "close");
  CHECK(seen == std::vector<std::string>{"1.1", "1.1"});
  CHECK_FALSE(h.transport.closed);
  // And HTTP/1.1's rules hold: a Host header is required.
  check_rejected(run_bad("GET / HTTP/1.2\r\n\r\n", rejection_reason::missing_host), 400);
}

TEST_CASE("a rejected request after a good one keeps the good response first", "[http][limits]") {
  int calls = 0;
  connection_harness h(hello_handler{&calls});
  h.start();
  h.feed(get("/ok") + "GET / HTTP/1.1\r\n\r\n" + k_follow_up);
  h.feed_eof();
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].status == 200);
  CHECK(responses[0].body == "hello /ok");
  CHECK(responses[1].status == 400);
  CHECK(calls == 1);
  CHECK(h.finished);
}

TEST_CASE("a bare CR or LF is found wherever it falls in the head", "[http][smuggling]") {
  // The stray byte at every offset of an 8-byte word, alone or next to a CR or LF.
  for (std::size_t pad = 0; pad < 17; ++pad) {
    const std::string value(pad, 'v');
    INFO("pad " << pad);
    for (const char* stray : {"\r", "\n", "\rx", "x\n"}) {
      const std::string input =
          "GET / HTTP/1.1\r\nHost: test\r\nX-A: " + value + stray + "tail\r\n\r\n";
      const outcome o = run_bad(input, rejection_reason::invalid_line_ending);
      REQUIRE(o.responses.size() == 1);
      CHECK(o.responses[0].status == 400);
      CHECK(o.calls == 0);
    }
    const outcome end_cr = run_bad("GET / HTTP/1.1\r\nHost: test\r\nX-A: " + value + "\r\n\rx",
                                   rejection_reason::invalid_line_ending);
    REQUIRE(end_cr.responses.size() == 1);
    CHECK(end_cr.responses[0].status == 400);
    CHECK(end_cr.calls == 0);
    // Well-formed: every CRLF position within a word is accepted.
    const outcome ok = run_bad("GET / HTTP/1.1\r\nHost: test\r\nX-A: " + value + "\r\n\r\n",
                               rejection_reason::invalid_line_ending);
    CHECK(ok.calls >= 1);
    REQUIRE_FALSE(ok.responses.empty());
    CHECK(ok.responses[0].status == 200);
  }
}

TEST_CASE("a rejected HEAD request gets the error's head without its content", "[http][limits]") {
  // RFC 9110 section 9.3.2: no content in a response to HEAD, an error's included. Rejected
  // before the head was parsed whole (a malformed field, too large, read byte by byte), after
  // it (missing Host, a Content-Length over the limit), and after empty lines.
  struct bad_head {
    std::string input;
    rejection_reason reason;
    int status;
    std::size_t split;
  };
  std::string big;
  for (int i = 0; i < 40; ++i)
    big += "X-Big-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
  const bad_head cases[] = {
      {"HEAD / HTTP/1.1\r\n\r\n", rejection_reason::missing_host, 400, 0},
      {"HEAD / HTTP/1.1\r\nHost: test\r\nX-A: a\x01b\r\n\r\n", rejection_reason::invalid_header,
       400, 0},
      {"HEAD / HTTP/1.1\r\nHost: test\r\nX-A: a\x01b\r\n\r\n", rejection_reason::invalid_header,
       400, 1},
      {"HEAD / HTTP/1.1\r\nHost: test\r\n" + big + "\r\n", rejection_reason::headers_too_large, 431,
       0},
      {"HEAD / HTTP/1.1\r\nHost: test\r\nContent-Length: 30000001\r\n\r\n",
       rejection_reason::body_too_large, 413, 0},
      {"\r\n\r\nHEAD / HTTP/1.1\r\nHost: a b\r\n\r\n", rejection_reason::invalid_host, 400, 0},
  };
  for (const bad_head& c : cases) {
    INFO(c.input.substr(0, 60) << " split " << c.split);
    const outcome o = run_bad(c.input, c.reason, c.split);
    REQUIRE(o.finished);
    CHECK(o.closed);
    CHECK(o.counted == 1);
    const auto responses = parse_responses(o.wire, {0});
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == c.status);
    CHECK(responses[0].header("Connection") == "close");
    const std::size_t head_end = o.wire.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    CHECK(o.wire.size() == head_end + 4);  // nothing after the head
  }
}

TEST_CASE("only a HEAD request's rejection goes without content", "[http][limits]") {
  // A GET rejected after a HEAD was answered, and a HEAD rejected after a GET: the method of the
  // request being rejected decides, not the one before it.
  int calls = 0;
  connection_harness after_head(hello_handler{&calls});
  after_head.start();
  after_head.feed("HEAD /a HTTP/1.1\r\nHost: test\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  after_head.feed_eof();
  auto responses = parse_responses(after_head.transport.output, {0});
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].status == 200);
  CHECK(responses[0].body.empty());
  CHECK(responses[1].status == 400);
  CHECK(responses[1].body == "Bad Request");

  connection_harness after_get(hello_handler{&calls});
  after_get.start();
  after_get.feed(get("/a") + "HEAD / HTTP/1.1\r\n\r\n");
  after_get.feed_eof();
  const std::string& wire = after_get.transport.output;
  responses = parse_responses(wire, {1});
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].body == "hello /a");
  CHECK(responses[1].status == 400);
  CHECK(wire.size() == wire.rfind("\r\n\r\n") + 4);
}
