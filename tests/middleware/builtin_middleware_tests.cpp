#include <harrier/core/cancellation.hpp>
#include <harrier/http/rejection.hpp>
#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/builtin.hpp>
#include <harrier/middleware/results.hpp>

#include <fcntl.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "app_harness.hpp"
#include "support/captured_log.hpp"

namespace fs = std::filesystem;
using harrier::app_pipeline;
using harrier::make_endpoint;
using harrier::testing::request;
using harrier::testing::roundtrip;

namespace {

struct site {
  fs::path base = fs::temp_directory_path() / ("harrier-mw-" + std::to_string(::getpid()));
  fs::path root = base / "www";
  site() {
    fs::create_directories(root / "css");
    std::ofstream(root / "index.html") << "<h1>home</h1>";
    std::ofstream(root / "css" / "app.css") << "body{}";
    std::ofstream(root / "digits.txt") << "0123456789";
    std::ofstream(base / "secret.txt") << "secret";
  }
  ~site() { fs::remove_all(base); }
};

app_pipeline static_app(const site& s) {
  app_pipeline app;
  app.use(harrier::static_files({.root = s.root, .request_prefix = "/static"}));
  app.add_endpoint({"GET"}, "/api", make_endpoint([] { return "api"; }));
  return app;
}

}  // namespace

TEST_CASE("the exception handler answers 500 with a problem and a trace id", "[builtin]") {
  for (bool development : {false, true}) {
    app_pipeline app(development);
    app.use(harrier::exception_handler());
    app.add_endpoint({"GET"}, "/boom", make_endpoint([]() -> std::string {
                       throw std::runtime_error("database on fire");
                     }));
    auto r = roundtrip(app, request("GET", "/boom"));
    CHECK(r.status == 500);
    auto p = nlohmann::json::parse(r.body);
    CHECK(p["status"] == 500);
    CHECK(p["traceId"].get<std::string>().size() == 32);
    // Details only in development.
    CHECK((r.body.find("database on fire") != std::string::npos) == development);
  }
}

namespace {

struct status_observer final : harrier::request_observer {
  std::vector<int> statuses;
  void begin(harrier::context&) override {}
  void end(harrier::context&, std::chrono::steady_clock::duration, int status) override {
    statuses.push_back(status);
  }
};

}  // namespace

TEST_CASE("the exception handler answers the same first in the pipeline or behind a middleware",
          "[builtin]") {
  // First, the pipeline applies it from its own frame; behind another middleware it runs as a
  // stage. A request observer sees the status the client got either way.
  struct outcome {
    int status;
    std::string title;
  };
  std::vector<outcome> first_outcomes;
  for (bool first : {true, false}) {
    INFO((first ? "first" : "behind a middleware"));
    auto observer = std::make_shared<status_observer>();
    app_pipeline app;
    app.set_request_observer(observer);
    int passed = 0;
    auto pass_through = [&passed](harrier::context& ctx,
                                  harrier::next_handler next) -> harrier::task<void> {
      ++passed;
      co_await next(ctx);
    };
    if (!first) app.use(pass_through);
    app.use(harrier::exception_handler());
    app.add_endpoint({"GET"}, "/std",
                     make_endpoint([]() -> std::string { throw std::runtime_error("std"); }));
    app.add_endpoint({"GET"}, "/http-error", make_endpoint([]() -> std::string {
                       throw harrier::http_error(422, "Unprocessable");
                     }));
    app.add_endpoint({"GET"}, "/cancelled",
                     make_endpoint([]() -> std::string { throw harrier::operation_cancelled(); }));
    app.add_endpoint(
        {"GET"}, "/too-large", make_endpoint([]() -> std::string {
          throw harrier::http::bad_request(harrier::http::rejection_reason::body_too_large);
        }));
    std::vector<outcome> outcomes;
    for (const char* path : {"/std", "/http-error", "/cancelled", "/too-large"}) {
      const auto r = roundtrip(app, request("GET", path));
      std::string title;
      if (r.header("Content-Type") == "application/problem+json") {
        title = nlohmann::json::parse(r.body).value("title", "");
      }
      outcomes.push_back({r.status, title});
    }
    CHECK(outcomes[0].status == 500);
    CHECK(outcomes[1].status == 422);
    CHECK(outcomes[1].title == "Unprocessable");
    CHECK(outcomes[2].status == 500);
    CHECK(outcomes[3].status == 413);  // the HTTP layer's answer: the handler let it through
    CHECK(outcomes[3].title.empty());
    CHECK(observer->statuses == std::vector<int>{500, 422, 500, 413});
    CHECK(passed == (first ? 0 : 4));
    if (first) {
      first_outcomes = outcomes;
    } else {
      for (std::size_t i = 0; i < outcomes.size(); ++i) {
        CHECK(outcomes[i].status == first_outcomes[i].status);
        CHECK(outcomes[i].title == first_outcomes[i].title);
      }
    }
  }
}

TEST_CASE("static files are served with validators, conditional requests and ranges",
          "[builtin][static]") {
  site s;
  app_pipeline app = static_app(s);
  auto r = roundtrip(app, request("GET", "/static/css/app.css"));
  CHECK(r.status == 200);
  CHECK(r.body == "body{}");
  CHECK(r.header("Content-Type") == "text/css; charset=utf-8");
  REQUIRE(r.header("ETag"));
  CHECK(r.header("Last-Modified"));
  CHECK(r.header("Accept-Ranges") == "bytes");

  app_pipeline app2 = static_app(s);
  auto not_modified = roundtrip(
      app2, request("GET", "/static/css/app.css", "If-None-Match: " + *r.header("ETag") + "\r\n"));
  CHECK(not_modified.status == 304);
  CHECK(not_modified.body.empty());

  app_pipeline app3 = static_app(s);
  auto since =
      roundtrip(app3, request("GET", "/static/css/app.css",
                              "If-Modified-Since: " + *r.header("Last-Modified") + "\r\n"));
  CHECK(since.status == 304);

  app_pipeline app4 = static_app(s);
  auto range = roundtrip(app4, request("GET", "/static/digits.txt", "Range: bytes=2-5\r\n"));
  CHECK(range.status == 206);
  CHECK(range.body == "2345");
  CHECK(range.header("Content-Range") == "bytes 2-5/10");

  app_pipeline app5 = static_app(s);
  auto bad_range = roundtrip(app5, request("GET", "/static/digits.txt", "Range: bytes=20-\r\n"));
  CHECK(bad_range.status == 416);
  CHECK(bad_range.header("Content-Range") == "bytes */10");
}

namespace {

void set_mtime(const fs::path& path, std::time_t seconds) {
  const timespec times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

}  // namespace

TEST_CASE(
    "Last-Modified is never later than Date, and If-Range takes a date only once it is strong",
    "[builtin][static]") {
  site s;
  std::ofstream(s.root / "future.txt") << "0123456789";
  std::ofstream(s.root / "old.txt") << "0123456789";
  set_mtime(s.root / "future.txt", 1'893'456'000);  // 2030-01-01
  set_mtime(s.root / "old.txt", 1'000'000'000);     // 2001-09-09

  // RFC 9110 8.8.2.1: a Last-Modified later than the Date is replaced by the Date.
  app_pipeline app = static_app(s);
  const auto future = roundtrip(app, request("GET", "/static/future.txt"));
  REQUIRE(future.status == 200);
  REQUIRE(future.header("Date"));
  CHECK(future.header("Last-Modified") == future.header("Date"));
  // That date names the second the file may still be changing in: a weak validator, so If-Range
  // with it does not apply the range (RFC 9110 13.1.5).
  app_pipeline app2 = static_app(s);
  const auto weak =
      roundtrip(app2, request("GET", "/static/future.txt",
                              "Range: bytes=2-3\r\nIf-Range: " +
                                  std::string(*future.header("Last-Modified")) + "\r\n"));
  CHECK(weak.status == 200);
  CHECK(weak.body == "0123456789");

  app_pipeline app3 = static_app(s);
  const auto old = roundtrip(app3, request("GET", "/static/old.txt"));
  REQUIRE(old.status == 200);
  CHECK(old.header("Last-Modified") == "Sun, 09 Sep 2001 01:46:40 GMT");
  app_pipeline app4 = static_app(s);
  const auto strong =
      roundtrip(app4, request("GET", "/static/old.txt",
                              "Range: bytes=2-3\r\nIf-Range: Sun, 09 Sep 2001 01:46:40 GMT\r\n"));
  CHECK(strong.status == 206);
  CHECK(strong.body == "23");
}

TEST_CASE("a directory serves its index.html; HEAD gets headers only", "[builtin][static]") {
  site s;
  app_pipeline app = static_app(s);
  auto r = roundtrip(app, request("GET", "/static/"));
  CHECK(r.status == 200);
  CHECK(r.body == "<h1>home</h1>");
}

TEST_CASE("traversal attempts and missing files fall through to 404", "[builtin][static]") {
  site s;
  for (const char* path : {"/static/../secret.txt", "/static/%2e%2e/secret.txt",
                           "/static/missing.txt", "/static/..%2fsecret.txt"}) {
    INFO(path);
    app_pipeline app = static_app(s);
    auto r = roundtrip(app, request("GET", path));
    CHECK(r.status == 404);
    CHECK(r.body.find("secret") == std::string::npos);
  }
  app_pipeline app = static_app(s);
  CHECK(roundtrip(app, request("GET", "/api")).body == "api");  // other paths reach the endpoints
}

TEST_CASE(
    "another method on a static file is 405 with Allow (501 if unknown), unless an endpoint takes "
    "it",
    "[builtin][static]") {
  site s;
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    INFO(method);
    app_pipeline app = static_app(s);
    auto r = roundtrip(app, request(method, "/static/index.html"));
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == "GET, HEAD, OPTIONS");
    CHECK(r.body.find("<h1>") == std::string::npos);
  }
  // A method the server does not know at all is 501 here too, as on routed paths.
  app_pipeline unknown_app = static_app(s);
  auto unknown = roundtrip(unknown_app, request("BREW", "/static/index.html"));
  CHECK(unknown.status == 501);
  CHECK(!unknown.header("Allow"));
  app_pipeline options_app = static_app(s);
  auto options = roundtrip(options_app, request("OPTIONS", "/static/css/app.css"));
  CHECK(options.status == 204);
  CHECK(options.header("Allow") == "GET, HEAD, OPTIONS");
  // A missing file stays 404, and a route for the path wins over the file.
  app_pipeline missing_app = static_app(s);
  CHECK(roundtrip(missing_app, request("POST", "/static/missing.txt")).status == 404);
  app_pipeline routed = static_app(s);
  routed.add_endpoint({"POST"}, "/static/index.html", make_endpoint([] { return "posted"; }));
  CHECK(roundtrip(routed, request("POST", "/static/index.html")).body == "posted");
}

TEST_CASE("a missing content root is a clear error at start", "[builtin][static]") {
  CHECK_THROWS_WITH(harrier::static_files({.root = "/nonexistent/www"}),
                    Catch::Contains("/nonexistent/www"));
}

TEST_CASE("CORS answers preflights and marks responses for allowed origins only", "[builtin]") {
  auto make = [] {
    app_pipeline app;
    app.use(harrier::cors({.allowed_origins = {"https://app.example"}}));
    app.add_endpoint({"GET"}, "/data", make_endpoint([] { return "d"; }));
    return app;
  };
  app_pipeline a1 = make();
  auto pre = roundtrip(a1, request("OPTIONS", "/data",
                                   "Origin: https://app.example\r\n"
                                   "Access-Control-Request-Method: GET\r\n"));
  CHECK(pre.status == 204);
  CHECK(pre.header("Access-Control-Allow-Origin") == "https://app.example");
  CHECK(pre.header("Access-Control-Allow-Methods"));
  CHECK(pre.header("Vary") == "Origin");

  app_pipeline a2 = make();
  auto actual = roundtrip(a2, request("GET", "/data", "Origin: https://app.example\r\n"));
  CHECK(actual.header("Access-Control-Allow-Origin") == "https://app.example");

  app_pipeline a3 = make();
  auto other = roundtrip(a3, request("GET", "/data", "Origin: https://evil.example\r\n"));
  CHECK(other.status == 200);
  CHECK_FALSE(other.header("Access-Control-Allow-Origin"));
  CHECK_THROWS_AS(harrier::cors({.allowed_origins = {"*"}, .allow_credentials = true}),
                  std::invalid_argument);
}

TEST_CASE(
    "running out of descriptors or memory answers 503 and logs once a second, not per request",
    "[builtin]") {
  harrier::test::captured_log log;
  app_pipeline app;
  app.use(harrier::exception_handler());
  app.add_endpoint({"GET"}, "/files", make_endpoint([]() -> std::string {
                     throw std::system_error(EMFILE, std::generic_category(), "cannot open f");
                   }));
  app.add_endpoint({"GET"}, "/denied", make_endpoint([]() -> std::string {
                     throw std::system_error(EACCES, std::generic_category(), "cannot open g");
                   }));
  const auto start = std::chrono::steady_clock::now();
  constexpr int k_requests = 50;
  int unavailable = 0;
  for (int i = 0; i < k_requests; ++i)
    unavailable += roundtrip(app, request("GET", "/files")).status == 503 ? 1 : 0;
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  // Any other system error is the handler's: 500 and a line each, as before.
  const auto denied = roundtrip(app, request("GET", "/denied"));
  const std::string text = log.text();
  INFO(text);
  CHECK(unavailable == k_requests);
  CHECK(denied.status == 500);
  std::size_t shortage_lines = 0;
  for (std::size_t at = text.find("out of a resource for GET /files"); at != std::string::npos;
       at = text.find("out of a resource for GET /files", at + 1)) {
    ++shortage_lines;
  }
  CHECK(shortage_lines >= 1);
  CHECK(shortage_lines <= static_cast<std::size_t>(seconds) + 1);  // once a second at most
  CHECK_THAT(text, Catch::Contains("cannot open f: Too many open files; answered 503"));
  CHECK_THAT(text, Catch::Contains("unhandled exception for GET /denied"));
}

TEST_CASE("the exception handler's problem replaces what the handler had set up", "[builtin]") {
  // ASP.NET's error handling clears the response first; here the failed answer's body and the
  // headers that describe it go, and what an outer middleware added for any answer stays.
  for (bool first : {true, false}) {
    INFO((first ? "first" : "behind a middleware"));
    app_pipeline app;
    if (!first) {
      app.use([](harrier::context& ctx, harrier::next_handler next) -> harrier::task<void> {
        co_await next(ctx);
      });
    }
    app.use(harrier::exception_handler());
    app.use([](harrier::context& ctx, harrier::next_handler next) -> harrier::task<void> {
      ctx.response().add_header("Access-Control-Allow-Origin", "*");
      co_await next(ctx);
    });
    app.add_endpoint({"GET"}, "/item", [](harrier::context& ctx) -> harrier::task<void> {
      auto& res = ctx.response();
      res.set_content_type("text/html");
      res.add_header("ETag", "\"v1\"");
      res.add_header("Cache-Control", "public, max-age=3600");
      res.set_content_length(1000);
      co_await res.write(std::as_bytes(std::span(std::string_view("<html>"))));
      throw harrier::http_error(404, "Not Found");
    });
    const auto r = roundtrip(app, request("GET", "/item"));
    CHECK(r.status == 404);
    CHECK(r.header("Content-Type") == "application/problem+json");
    CHECK(nlohmann::json::parse(r.body)["status"] == 404);
    CHECK_FALSE(r.header("ETag"));
    CHECK_FALSE(r.header("Cache-Control"));
    CHECK(r.header("Access-Control-Allow-Origin") == "*");
    CHECK(r.header_count("Content-Type") == 1);
  }
}

TEST_CASE("a request the client closed is logged and observed as 499, not 500 or 0", "[builtin]") {
  // A handler that stops on the token of a client that left (the HTTP layer answers 499: a
  // half-closed client still reads it), and a body cut short by the client's close (nothing is
  // answered): the request log and the request observer (metrics) say 499 for both, as nginx.
  harrier::http::testing::connection_harness* harness = nullptr;
  auto observer = std::make_shared<status_observer>();
  app_pipeline app;
  app.set_request_observer(observer);
  app.use(harrier::request_logging());
  app.use(harrier::exception_handler());
  app.add_endpoint({"GET"}, "/long", [&harness](harrier::context& ctx) -> harrier::task<void> {
    (void)co_await harness->transport.sleep_for(std::chrono::seconds(60), ctx.request().aborted());
    ctx.request().aborted().throw_if_cancellation_requested();
    co_await harrier::results::text("too late").execute(ctx);
  });
  app.add_endpoint({"POST"}, "/upload", [](harrier::context& ctx) -> harrier::task<void> {
    std::string body = co_await ctx.request().body().read_all(1 << 20);
    co_await harrier::results::text(std::move(body)).execute(ctx);
  });
  app.build();
  harrier::test::captured_log log;
  {
    harrier::http::testing::connection_harness h(app.handler());
    harness = &h;
    h.start();
    h.feed(request("GET", "/long"));
    h.feed_eof();  // half-closed after the request
    REQUIRE(h.finished);
    const auto responses = harrier::http::testing::parse_responses(h.transport.output);
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 499);
  }
  {
    harrier::http::testing::connection_harness h(app.handler());
    h.start();
    h.feed("POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nabc");
    h.feed_eof();  // closed inside the body
    REQUIRE(h.finished);
    CHECK(h.transport.output.empty());
  }
  CHECK(observer->statuses == std::vector<int>{499, 499});
  const std::string text = log.text();
  CHECK_THAT(text, Catch::Contains("GET /long → 499"));
  CHECK_THAT(text, Catch::Contains("POST /upload → 499"));
}

TEST_CASE("request logging writes one line per request with route, status and bytes", "[builtin]") {
  // Create the logger, then capture what it writes.
  app_pipeline warmup;
  warmup.use(harrier::request_logging());
  warmup.add_endpoint({"GET"}, "/x", make_endpoint([] { return "x"; }));
  roundtrip(warmup, request("GET", "/x"));
  auto logger = spdlog::get("harrier");
  REQUIRE(logger);
  std::ostringstream captured;
  logger->sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  app_pipeline app;
  app.use(harrier::request_logging());
  app.add_endpoint({"GET"}, "/items/{id}", make_endpoint([] { return "12345"; }));
  roundtrip(app, request("GET", "/items/9?x=1"));
  logger->sinks().pop_back();
  const std::string line = captured.str();
  CHECK_THAT(line, Catch::Contains("GET /items/9?x=1"));
  CHECK_THAT(line, Catch::Contains("200"));
  CHECK_THAT(line, Catch::Contains("/items/{id}"));
  CHECK_THAT(line, Catch::Contains("5 bytes"));
}
