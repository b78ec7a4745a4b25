// Body filters on http::response: when they are consulted, what they see, how the output is
// framed, HEAD and bodiless statuses, and that a declining filter changes nothing.

#include <harrier/http/body_filter.hpp>

#include "memory_transport.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <stdexcept>

using namespace harrier::http;
using namespace harrier::http::testing;

namespace {

// Upper-cases the body, marks flushes with '|' and the end with "<end>", and records its calls.
class upper_filter final : public body_filter {
 public:
  bool accept = true;
  int starts = 0, transforms = 0, flushes = 0, finishes = 0;
  head_info seen;
  std::size_t largest_input = 0;

  bool start(response& res, const head_info& info) override {
    ++starts;
    seen = info;
    if (!accept) return false;
    res.add_header("X-Filtered", "upper");
    return true;
  }
  void transform(std::span<const std::byte> input, std::string& out) override {
    ++transforms;
    largest_input = std::max(largest_input, input.size());
    for (std::byte b : input)
      out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(b))));
  }
  void flush(std::string& out) override {
    ++flushes;
    out += "|";
  }
  void finish(std::string& out) override {
    ++finishes;
    out += "<end>";
  }
};

}  // namespace

TEST_CASE("a small filtered response is framed by the filtered length", "[http][filter]") {
  upper_filter filter;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    res.set_body_filter(&filter);
    co_await res.send(200, "text/plain", "hello");
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/x"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "HELLO<end>");
  CHECK(responses[0].header("Content-Length") == "10");
  CHECK(responses[0].header("X-Filtered") == "upper");
  CHECK(filter.starts == 1);
  CHECK(filter.finishes == 1);
  REQUIRE(filter.seen.body_length);
  CHECK(*filter.seen.body_length == 5);  // the whole body was buffered at end()
  CHECK(filter.seen.body_sent);
}

TEST_CASE("a declining filter leaves the response as it would be without one", "[http][filter]") {
  upper_filter filter;
  filter.accept = false;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    res.set_body_filter(&filter);
    res.set_content_length(5);
    co_await res.write(std::string_view("hello"));
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/x"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "hello");
  CHECK(responses[0].header("Content-Length") == "5");
  CHECK_FALSE(responses[0].header("X-Filtered"));
  CHECK(filter.starts == 1);
  CHECK(filter.transforms == 0);
  CHECK(filter.finishes == 0);
  REQUIRE(filter.seen.body_length);
  CHECK(*filter.seen.body_length == 5);  // the declared length
}

TEST_CASE("a streamed filtered response drops the declared length and is chunked",
          "[http][filter]") {
  upper_filter filter;
  const std::string part(40 * 1024, 'a');
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    res.set_body_filter(&filter);
    res.set_content_length(3 * part.size());
    for (int i = 0; i < 3; ++i)
      co_await res.write(part);  // passes the 64 KiB buffer: the head leaves mid-body
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/x") + get("/x"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  for (const auto& r : responses) {
    CHECK(r.chunked);
    CHECK_FALSE(r.header("Content-Length"));
    CHECK(r.body == std::string(3 * part.size(), 'A') + "<end>");
  }
  REQUIRE(filter.seen.body_length);
  CHECK(*filter.seen.body_length == 3 * part.size());  // declared, so start() saw it
}

TEST_CASE("a filter sees no length for a streamed body of unknown length", "[http][filter]") {
  upper_filter filter;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    res.set_body_filter(&filter);
    co_await res.write(std::string_view("one "));
    co_await res.flush();
    co_await res.write(std::string_view("two"));
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/x"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].chunked);
  CHECK(responses[0].body == "ONE |TWO<end>");  // flush() went through the filter
  CHECK_FALSE(filter.seen.body_length);
  CHECK(filter.flushes == 1);
}

TEST_CASE("a filtered stream on HTTP/1.0 ends with the close", "[http][filter]") {
  upper_filter filter;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    res.set_body_filter(&filter);
    co_await res.write(std::string_view("abc"));
    co_await res.flush();
    co_await res.write(std::string_view("def"));
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed("GET /s HTTP/1.0\r\n\r\n");
  CHECK(h.finished);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK_FALSE(responses[0].header("Content-Length"));
  CHECK_FALSE(responses[0].header("Transfer-Encoding"));
  CHECK(responses[0].body == "ABC|DEF<end>");
}

TEST_CASE("one large write reaches the filter in bounded slices", "[http][filter]") {
  upper_filter filter;
  const std::string big(300 * 1024, 'q');
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    res.set_body_filter(&filter);
    co_await res.write(std::string_view("x"));
    co_await res.flush();
    co_await res.write(big);
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/x"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "X|" + std::string(big.size(), 'Q') + "<end>");
  CHECK(filter.largest_input <= 64 * 1024);
  CHECK(filter.transforms >= 5);
}

TEST_CASE("HEAD through a filter gets the filter's headers, no length and no body",
          "[http][filter]") {
  upper_filter filter;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    res.set_body_filter(&filter);
    co_await res.send(200, "text/plain", "hello");
  };
  connection_harness h(handler);
  h.start();
  h.feed("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n" + get("/x"));
  const auto responses = parse_responses(h.transport.output, {0});
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].body.empty());
  CHECK(responses[0].header("X-Filtered") == "upper");
  CHECK_FALSE(responses[0].header("Content-Length"));
  CHECK_FALSE(responses[0].header("Transfer-Encoding"));
  CHECK(responses[1].body == "HELLO<end>");  // the connection is still in step
  CHECK(filter.starts == 2);
}

TEST_CASE("a HEAD filter is told no body is sent and transforms nothing", "[http][filter]") {
  upper_filter filter;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    res.set_body_filter(&filter);
    co_await res.send(200, "text/plain", "hello");
  };
  connection_harness h(handler);
  h.start();
  h.feed("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK_FALSE(filter.seen.body_sent);
  REQUIRE(filter.seen.body_length);
  CHECK(*filter.seen.body_length == 5);  // counted for HEAD as for GET
  CHECK(filter.transforms == 0);
  CHECK(filter.finishes == 0);
}

TEST_CASE("204 and 304 through a filter carry no body", "[http][filter]") {
  for (int status : {204, 304}) {
    upper_filter filter;
    auto handler = [&](request&, response& res) -> harrier::task<void> {
      res.set_body_filter(&filter);
      res.set_status(status);
      co_await res.end();
    };
    connection_harness h(handler);
    h.start();
    h.feed(get("/x") + get("/y"));
    const auto responses = parse_responses(h.transport.output);
    REQUIRE(responses.size() == 2);
    CHECK(responses[0].status == status);
    CHECK_FALSE(responses[0].header("Content-Length"));
    CHECK_FALSE(responses[0].header("Transfer-Encoding"));
    CHECK(responses[1].status == status);
    CHECK_FALSE(filter.seen.body_sent);
    CHECK(filter.transforms == 0);
    CHECK(filter.finishes == 0);
  }
}

TEST_CASE("a filter is installed before the start only, and is gone on the next request",
          "[http][filter]") {
  upper_filter filter;
  std::string error;
  int calls = 0;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    if (++calls == 1) res.set_body_filter(&filter);
    co_await res.write(std::string_view("abc"));
    co_await res.flush();
    try {
      res.set_body_filter(&filter);
    } catch (const std::logic_error& e) {
      error = e.what();
    }
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/x") + get("/y"));
  CHECK_FALSE(error.empty());
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 2);
  CHECK(responses[0].body == "ABC|<end>");
  CHECK(responses[1].body == "abc");  // reset() dropped the first request's filter
  CHECK_FALSE(responses[1].header("X-Filtered"));
}

TEST_CASE("a filter may be removed after the end", "[http][filter]") {
  upper_filter filter;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    res.set_body_filter(&filter);
    co_await res.send(200, "text/plain", "abc");
    res.set_body_filter(nullptr);
    CHECK(res.get_body_filter() == nullptr);
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/x"));
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].body == "ABC<end>");
}

TEST_CASE("response headers can be read back and removed before the start", "[http][response]") {
  std::optional<std::string> type, etag_after, missing;
  std::size_t removed = 0;
  auto handler = [&](request&, response& res) -> harrier::task<void> {
    res.add_header("Content-Type", "text/html");
    res.add_header("ETag", "\"1\"");
    res.add_header("X-Etag-Like", "no");
    res.add_header("etag", "\"2\"");
    if (auto v = res.header("content-type")) type = std::string(*v);
    if (auto v = res.header("X-Missing")) missing = std::string(*v);
    removed = res.remove_header("ETag");
    if (auto v = res.header("ETag")) etag_after = std::string(*v);
    co_await res.end();
  };
  connection_harness h(handler);
  h.start();
  h.feed(get("/x"));
  CHECK(type == "text/html");
  CHECK_FALSE(missing);
  CHECK(removed == 2);
  CHECK_FALSE(etag_after);
  const auto responses = parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].header("X-Etag-Like") == "no");
  CHECK_FALSE(responses[0].header("ETag"));
}
