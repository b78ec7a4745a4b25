#include <harrier/middleware/app_pipeline.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "app_harness.hpp"

using harrier::app_pipeline;
using harrier::context;
using harrier::make_endpoint;
using harrier::next_handler;
using harrier::task;
using harrier::testing::request;
using harrier::testing::roundtrip;

namespace {

// A middleware that records its name before and after the rest of the pipeline.
harrier::middleware_fn recorder(std::vector<std::string>& log, std::string name) {
  return [&log, name](context& ctx, next_handler next) -> task<void> {
    log.push_back(name + " before");
    co_await next(ctx);
    log.push_back(name + " after");
  };
}

}  // namespace

TEST_CASE("middleware runs in registration order around the endpoint", "[pipeline]") {
  std::vector<std::string> log;
  app_pipeline app;
  app.use(recorder(log, "first"));
  app.use(recorder(log, "second"));
  app.add_endpoint({"GET"}, "/x", make_endpoint([&log] {
                     log.push_back("endpoint");
                     return "ok";
                   }));
  auto res = roundtrip(app, request("GET", "/x"));
  CHECK(res.status == 200);
  CHECK(log == std::vector<std::string>{"first before", "second before", "endpoint", "second after",
                                        "first after"});
}

TEST_CASE("a middleware that does not call next short-circuits the rest", "[pipeline]") {
  bool endpoint_ran = false;
  app_pipeline app;
  app.use([](context& ctx, next_handler) -> task<void> {
    co_await ctx.response().send(401, "text/plain", "no");
  });
  app.add_endpoint({"GET"}, "/x", make_endpoint([&] {
                     endpoint_ran = true;
                     return "ok";
                   }));
  auto res = roundtrip(app, request("GET", "/x"));
  CHECK(res.status == 401);
  CHECK(res.body == "no");
  CHECK_FALSE(endpoint_ran);
}

TEST_CASE("middleware sees the matched route template before and after next", "[pipeline]") {
  std::string before, after;
  app_pipeline app;
  app.use([&](context& ctx, next_handler next) -> task<void> {
    before = std::string(ctx.route_template());
    co_await next(ctx);
    after = std::string(ctx.route_template());
  });
  app.add_endpoint({"GET"}, "/users/{id:int}", make_endpoint([] { return "u"; }));
  roundtrip(app, request("GET", "/users/7"));
  CHECK(before == "/users/{id:int}");
  CHECK(after == before);
}

TEST_CASE("an exception below a middleware is caught at that depth", "[pipeline]") {
  std::vector<std::string> log;
  app_pipeline app;
  app.use(recorder(log, "outer"));
  app.use([&log](context& ctx, next_handler next) -> task<void> {
    bool failed = false;
    try {
      co_await next(ctx);
    } catch (const std::runtime_error& e) {
      log.push_back(std::string("caught ") + e.what());
      failed = true;
    }
    if (failed) co_await ctx.response().send(503, "text/plain", "handled");
  });
  app.add_endpoint({"GET"}, "/boom",
                   make_endpoint([]() -> std::string { throw std::runtime_error("boom"); }));
  auto res = roundtrip(app, request("GET", "/boom"));
  CHECK(res.status == 503);
  CHECK(res.body == "handled");
  CHECK(log == std::vector<std::string>{"outer before", "caught boom", "outer after"});
}

TEST_CASE("an exception nobody catches becomes a 500 from the HTTP layer", "[pipeline]") {
  app_pipeline app;
  app.add_endpoint({"GET"}, "/boom",
                   make_endpoint([]() -> std::string { throw std::runtime_error("boom"); }));
  CHECK(roundtrip(app, request("GET", "/boom")).status == 500);
}

TEST_CASE("a middleware may replace the response before it starts", "[pipeline]") {
  app_pipeline app;
  app.use([](context& ctx, next_handler) -> task<void> {
    ctx.response().add_header("X-Replaced", "yes");
    co_await ctx.response().send(418, "text/plain", "teapot");
  });
  app.add_endpoint({"GET"}, "/", make_endpoint([] { return "never"; }));
  auto res = roundtrip(app, request("GET", "/"));
  CHECK(res.status == 418);
  CHECK(res.header("X-Replaced") == "yes");
}

TEST_CASE("unknown paths are 404 and wrong methods 405 with Allow, as problem documents",
          "[pipeline]") {
  app_pipeline app;
  app.add_endpoint({"GET"}, "/a", make_endpoint([] { return "a"; }));
  app.add_endpoint({"PUT"}, "/a", make_endpoint([] { return "a"; }));
  auto not_found = roundtrip(app, request("GET", "/nope"));
  CHECK(not_found.status == 404);
  CHECK(not_found.header("Content-Type") == "application/problem+json");
  CHECK(nlohmann::json::parse(not_found.body)["status"] == 404);

  app_pipeline app2;
  app2.add_endpoint({"GET"}, "/a", make_endpoint([] { return "a"; }));
  app2.add_endpoint({"PUT"}, "/a", make_endpoint([] { return "a"; }));
  auto wrong = roundtrip(app2, request("DELETE", "/a"));
  CHECK(wrong.status == 405);
  CHECK(wrong.header("Allow") == "GET, HEAD, PUT, OPTIONS");
}

TEST_CASE("a method no route names is 501; one a route names is 405 elsewhere", "[pipeline]") {
  // RFC 9110 section 9.1 / 15.5.6: 405 is for a method the server knows but the target does not
  // support; one it does not know at all is 501. Methods are case-sensitive.
  app_pipeline app;
  app.add_endpoint({"GET"}, "/a", make_endpoint([] { return "a"; }));
  app.add_endpoint({"QUERY"}, "/search", make_endpoint([] { return "found"; }));
  for (const char* method : {"BREW", "get", "PROPFIND"}) {
    INFO(method);
    for (const char* path : {"/a", "/nope"}) {
      auto r = roundtrip(app, request(method, path));
      CHECK(r.status == 501);
      CHECK(r.header("Content-Type") == "application/problem+json");
      CHECK(!r.header("Allow"));
    }
  }
  CHECK(roundtrip(app, request("QUERY", "/search")).body == "found");
  auto known = roundtrip(app, request("QUERY", "/a"));
  CHECK(known.status == 405);
  CHECK(known.header("Allow") == "GET, HEAD, OPTIONS");
  CHECK(roundtrip(app, request("QUERY", "/nope")).status == 404);
  CHECK(roundtrip(app, request("PATCH", "/a")).status == 405);  // a standard method
  // A route that takes any method takes them all.
  app_pipeline any;
  any.add_endpoint({}, "/any", make_endpoint([] { return "any"; }));
  CHECK(roundtrip(any, request("BREW", "/any")).body == "any");
  CHECK(roundtrip(any, request("BREW", "/nope")).status == 404);
}

TEST_CASE("OPTIONS is answered with Allow where no endpoint takes it, and OPTIONS * with 204",
          "[pipeline]") {
  app_pipeline app;
  app.add_endpoint({"GET"}, "/a", make_endpoint([] { return "a"; }));
  app.add_endpoint({"POST"}, "/a", make_endpoint([] { return "a"; }));
  app.add_endpoint({"OPTIONS"}, "/own", make_endpoint([] { return "own"; }));
  auto options = roundtrip(app, request("OPTIONS", "/a"));
  CHECK(options.status == 204);
  CHECK(options.header("Allow") == "GET, HEAD, POST, OPTIONS");
  CHECK(options.body.empty());
  auto server = roundtrip(app, request("OPTIONS", "*"));
  CHECK(server.status == 204);
  CHECK(roundtrip(app, request("OPTIONS", "/own")).body == "own");  // an endpoint of its own
  // Where an endpoint takes OPTIONS, Allow names it once.
  auto own = roundtrip(app, request("DELETE", "/own"));
  CHECK(own.status == 405);
  CHECK(own.header("Allow") == "OPTIONS");
  app_pipeline both;
  both.add_endpoint({"GET"}, "/both", make_endpoint([] { return "both"; }));
  both.add_endpoint({"OPTIONS"}, "/both", make_endpoint([] { return "both"; }));
  CHECK(roundtrip(both, request("PUT", "/both")).header("Allow") == "GET, HEAD, OPTIONS");
  CHECK(roundtrip(app, request("OPTIONS", "/nope")).status == 404);
}

TEST_CASE("group middleware runs only for the group's endpoints, after the app's", "[pipeline]") {
  std::vector<std::string> log;
  app_pipeline app;
  app.use(recorder(log, "app"));
  std::vector<harrier::middleware_fn> group{recorder(log, "group")};
  app.add_endpoint({"GET"}, "/api/x", make_endpoint([] { return "x"; }), group);
  app.add_endpoint({"GET"}, "/other", make_endpoint([] { return "o"; }));
  roundtrip(app, request("GET", "/api/x"));
  CHECK(log == std::vector<std::string>{"app before", "group before", "group after", "app after"});
  log.clear();
  app_pipeline app2;
  app2.use(recorder(log, "app"));
  app2.add_endpoint({"GET"}, "/other", make_endpoint([] { return "o"; }));
  roundtrip(app2, request("GET", "/other"));
  CHECK(log == std::vector<std::string>{"app before", "app after"});
}

TEST_CASE("registering after build is an error", "[pipeline]") {
  app_pipeline app;
  app.build();
  CHECK_THROWS_AS(app.use([](context& c, next_handler n) { return n(c); }), std::logic_error);
}

namespace {

// Records what a request observer is told.
struct recording_observer final : harrier::request_observer {
  std::vector<std::string> events;
  void begin(context& ctx) override {
    events.push_back("begin " + std::string(ctx.route_template()));
  }
  void end(context& ctx, std::chrono::steady_clock::duration elapsed, int status) override {
    CHECK(elapsed >= std::chrono::steady_clock::duration::zero());
    events.push_back("end " + std::string(ctx.route_template()) + " " + std::to_string(status));
  }
};

}  // namespace

TEST_CASE("a request observer sees every request around the middleware, with its final status",
          "[pipeline]") {
  std::vector<std::string> log;
  auto observer = std::make_shared<recording_observer>();
  app_pipeline app;
  app.set_request_observer(observer);
  app.use([&log, observer](context& ctx, next_handler next) -> task<void> {
    log.push_back("middleware after " + observer->events.back());
    co_await next(ctx);
  });
  app.add_endpoint({"GET"}, "/ok", make_endpoint([] { return "ok"; }));
  app.add_endpoint({"GET"}, "/boom",
                   make_endpoint([]() -> std::string { throw std::runtime_error("boom"); }));
  app.add_endpoint(
      {"GET"}, "/too-large", make_endpoint([]() -> std::string {
        throw harrier::http::bad_request(harrier::http::rejection_reason::body_too_large);
      }));
  app.add_endpoint({"GET"}, "/late", [](context& ctx) -> task<void> {
    ctx.response().set_status(202);
    co_await ctx.response().write("started");
    co_await ctx.response().flush();
    throw std::runtime_error("after the head");
  });

  CHECK(roundtrip(app, request("GET", "/ok")).status == 200);
  CHECK(roundtrip(app, request("GET", "/boom")).status == 500);
  CHECK(roundtrip(app, request("GET", "/too-large")).status == 413);
  CHECK(roundtrip(app, request("GET", "/nowhere")).status == 404);
  app.build();
  harrier::http::testing::connection_harness h(app.handler());
  h.start();
  h.feed(request("GET", "/late"));
  h.feed_eof();
  CHECK(observer->events == std::vector<std::string>{"begin /ok", "end /ok 200", "begin /boom",
                                                     "end /boom 500", "begin /too-large",
                                                     "end /too-large 413", "begin ", "end  404",
                                                     "begin /late", "end /late 202"});
  CHECK(log.front() == "middleware after begin /ok");
  CHECK(log.size() == 5);
}

TEST_CASE("a request observer is set once, before build", "[pipeline]") {
  app_pipeline app;
  app.set_request_observer(std::make_shared<recording_observer>());
  CHECK_THROWS_AS(app.set_request_observer(std::make_shared<recording_observer>()),
                  std::logic_error);
  app.build();
  CHECK_THROWS_AS(app.set_request_observer(nullptr), std::logic_error);
}
