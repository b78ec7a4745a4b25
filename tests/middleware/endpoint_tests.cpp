#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/context.hpp>
#include <harrier/middleware/endpoint.hpp>
#include <harrier/middleware/results.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "app_harness.hpp"

using harrier::app_pipeline;
using harrier::from_body;
using harrier::from_header;
using harrier::from_query;
using harrier::from_route;
using harrier::make_endpoint;
using harrier::result;
using harrier::task;
using harrier::testing::request;
using harrier::testing::roundtrip;
namespace results = harrier::results;

namespace {

struct todo {
  int id = 0;
  std::string title;
};
void to_json(nlohmann::json& j, const todo& t) {
  j = {{"id", t.id}, {"title", t.title}};
}
void from_json(const nlohmann::json& j, todo& t) {
  j.at("id").get_to(t.id);
  j.at("title").get_to(t.title);
}

template <typename F>
harrier::http::testing::parsed_response call(std::string_view pattern, F handler,
                                             const std::string& raw) {
  app_pipeline app;
  app.add_endpoint({"GET", "POST"}, pattern, make_endpoint(std::move(handler)));
  return roundtrip(app, raw);
}

nlohmann::json problem_of(const harrier::http::testing::parsed_response& r) {
  REQUIRE(r.header("Content-Type") == "application/problem+json");
  return nlohmann::json::parse(r.body);
}

}  // namespace

TEST_CASE("a string return is 200 text/plain", "[endpoint]") {
  auto r = call(
      "/", [] { return std::string("hi"); }, request("GET", "/"));
  CHECK(r.status == 200);
  CHECK(r.body == "hi");
  CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
}

TEST_CASE("a JSON value or a to_json type is 200 application/json", "[endpoint]") {
  auto r = call(
      "/",
      [] {
        return nlohmann::json{{"a", 1}};
      },
      request("GET", "/"));
  CHECK(nlohmann::json::parse(r.body) == nlohmann::json{{"a", 1}});
  auto t = call(
      "/",
      [] {
        return todo{3, "x"};
      },
      request("GET", "/"));
  CHECK(t.header("Content-Type") == "application/json; charset=utf-8");
  CHECK(nlohmann::json::parse(t.body) == nlohmann::json{{"id", 3}, {"title", "x"}});
}

TEST_CASE("a JSON document larger than the response buffer arrives whole", "[endpoint]") {
  // Past what the response buffers at once, so the text is written out while the handler's
  // value (a temporary, or the converted to_json value) is already gone.
  const std::string title(300'000, 'x');
  auto r = call(
      "/",
      [&] {
        return nlohmann::json{{"title", title}, {"n", 7}};
      },
      request("GET", "/"));
  CHECK(r.status == 200);
  CHECK(r.header("Content-Length") == std::to_string(r.body.size()));  // not chunked
  CHECK(r.header("Content-Type") == "application/json; charset=utf-8");
  CHECK(r.head.find("Content-Type") == r.head.rfind("Content-Type"));  // once
  CHECK(nlohmann::json::parse(r.body) == nlohmann::json{{"title", title}, {"n", 7}});
  auto t = call(
      "/",
      [&] {
        return todo{9, title};
      },
      request("GET", "/"));
  CHECK(nlohmann::json::parse(t.body) == nlohmann::json{{"id", 9}, {"title", title}});
}

TEST_CASE("each JSON response carries only its own document", "[endpoint]") {
  // The text is built in a buffer the thread reuses: what an earlier response left there (a
  // large document, a small one, one written partly by dump()) must not reach the next.
  const std::string big(300'000, 'y');
  const nlohmann::json documents[] = {nlohmann::json{{"big", big}}, nlohmann::json{{"a", 1}},
                                      nlohmann::json{{"ok", "yes"}, {"bad", "\xff"}},
                                      nlohmann::json{{"b", "two"}}};
  for (int i = 0; i < 4; ++i) {
    const nlohmann::json& doc = documents[i];
    auto r = call(
        "/", [&] { return doc; }, request("GET", "/"));
    INFO(i);
    CHECK(r.status == 200);
    // Not UTF-8: U+FFFD in its place (json_text).
    CHECK(r.body == doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}

TEST_CASE("a returned document is written whole, and one the handler keeps stays whole",
          "[endpoint]") {
  // A document the handler returns by value is the endpoint's to take apart once written (a
  // flat one is cleared first); one it returns by reference is the handler's and stays as it is.
  const nlohmann::json flat = {{"message", "Hello, World!"}, {"n", 1}};
  const nlohmann::json nested = {{"list", {1, 2, 3}}, {"inner", {{"a", "b"}}}, {"s", "t"}};
  CHECK(call(
            "/", [&] { return flat; }, request("GET", "/"))
            .body == flat.dump());
  CHECK(call(
            "/", [&] { return nested; }, request("GET", "/"))
            .body == nested.dump());
  nlohmann::json kept = flat;
  for (int i = 0; i < 2; ++i) {
    auto r = call(
        "/", [&]() -> nlohmann::json& { return kept; }, request("GET", "/"));
    CHECK(r.body == flat.dump());
  }
  CHECK(kept == flat);
  // A const value is not the endpoint's to take apart (and must still compile).
  CHECK(call(
            "/", [&]() -> const nlohmann::json { return flat; }, request("GET", "/"))
            .body == flat.dump());
}

TEST_CASE("an int return is that status with an empty body; void is 200", "[endpoint]") {
  CHECK(call(
            "/", [] { return 204; }, request("GET", "/"))
            .status == 204);
  auto v = call(
      "/", [] {}, request("GET", "/"));
  CHECK(v.status == 200);
  CHECK(v.body.empty());
}

TEST_CASE("a void handler that writes the body itself without ending it is sent as written",
          "[endpoint]") {
  auto r = call(
      "/",
      [](harrier::context& ctx) -> task<void> {
        ctx.response().set_content_type("text/plain");
        co_await ctx.response().write(std::string_view("written by hand"));
      },
      request("GET", "/"));
  CHECK(r.status == 200);
  CHECK(r.body == "written by hand");
  CHECK(r.header("Content-Length") == "15");
}

TEST_CASE("coroutine handlers are awaited", "[endpoint]") {
  auto r = call(
      "/", []() -> task<std::string> { co_return "from a coroutine"; }, request("GET", "/"));
  CHECK(r.body == "from a coroutine");
}

TEST_CASE("route, query and header values are bound and converted", "[endpoint]") {
  auto handler = [](from_route<"id", int> id, from_query<"page", std::optional<int>> page,
                    from_header<"X-Name"> name) {
    return nlohmann::json{{"id", *id}, {"page", page->value_or(-1)}, {"name", *name}};
  };
  auto r =
      call("/items/{id:int}", handler, request("GET", "/items/42?page=3", "X-Name: widget\r\n"));
  CHECK(nlohmann::json::parse(r.body) ==
        nlohmann::json{{"id", 42}, {"page", 3}, {"name", "widget"}});
  auto no_page = call("/items/{id:int}", handler, request("GET", "/items/1", "X-Name: w\r\n"));
  CHECK(nlohmann::json::parse(no_page.body)["page"] == -1);
}

TEST_CASE("route and query values are percent-decoded", "[endpoint]") {
  auto r = call(
      "/files/{name}", [](from_route<"name"> name, from_query<"q"> q) { return *name + "|" + *q; },
      request("GET", "/files/a%20b?q=x+y%21"));
  CHECK(r.body == "a b|x y!");
}

TEST_CASE("a value that does not convert is a 400 problem naming it", "[endpoint]") {
  auto r = call(
      "/", [](from_query<"n", int> n) { return *n; }, request("GET", "/?n=abc"));
  CHECK(r.status == 400);
  auto p = problem_of(r);
  CHECK(p["detail"].get<std::string>().find("\"n\"") != std::string::npos);
  CHECK(p.contains("traceId"));
  auto missing = call(
      "/", [](from_query<"n", int> n) { return *n; }, request("GET", "/"));
  CHECK(missing.status == 400);
  CHECK(problem_of(missing)["detail"].get<std::string>().find("missing") != std::string::npos);
}

TEST_CASE("a JSON body binds to a type", "[endpoint]") {
  auto r = call(
      "/", [](from_body<todo> t) { return results::created("/todos/1", *t); },
      request("POST", "/", "Content-Type: application/json\r\n",
              R"({"id": 1, "title": "write tests"})"));
  CHECK(r.status == 201);
  CHECK(r.header("Location") == "/todos/1");
  CHECK(nlohmann::json::parse(r.body)["title"] == "write tests");
}

TEST_CASE("JSON binding errors: 415 wrong type, 400 malformed with position, 400 wrong shape",
          "[endpoint]") {
  auto handler = [](from_body<todo> t) { return t->title; };
  auto wrong_type = call("/", handler, request("POST", "/", "Content-Type: text/plain\r\n", "{}"));
  CHECK(wrong_type.status == 415);
  auto malformed =
      call("/", handler, request("POST", "/", "Content-Type: application/json\r\n", "{\"id\": }"));
  CHECK(malformed.status == 400);
  CHECK(problem_of(malformed).contains("position"));
  auto shape = call("/", handler,
                    request("POST", "/", "Content-Type: application/json\r\n", R"({"id":"x"})"));
  CHECK(shape.status == 400);
  CHECK(problem_of(shape)["detail"].get<std::string>().find("shape") != std::string::npos);
}

TEST_CASE("an http_error thrown by a handler becomes its problem response", "[endpoint]") {
  auto r = call(
      "/", []() -> std::string { throw harrier::http_error(409, "Conflict", "taken"); },
      request("GET", "/"));
  CHECK(r.status == 409);
  auto p = problem_of(r);
  CHECK(p["title"] == "Conflict");
  CHECK(p["detail"] == "taken");
}

TEST_CASE("results build redirects, problems and plain statuses", "[endpoint]") {
  auto redirect = call(
      "/", [] { return results::redirect("/elsewhere"); }, request("GET", "/"));
  CHECK(redirect.status == 302);
  CHECK(redirect.header("Location") == "/elsewhere");
  auto permanent = call(
      "/", [] { return results::redirect("/p", true, true); }, request("GET", "/"));
  CHECK(permanent.status == 308);
  auto problem = call(
      "/",
      [] {
        return results::problem(422, {}, "bad", {{"errors", {"x"}}});
      },
      request("GET", "/"));
  CHECK(problem.status == 422);
  auto p = problem_of(problem);
  CHECK(p["errors"] == nlohmann::json{"x"});
  CHECK(p["title"] == "Unprocessable Content");
}

TEST_CASE("text and JSON results carry their content type, common or not", "[endpoint]") {
  CHECK(results::text("a").content_type() == "text/plain; charset=utf-8");
  CHECK(results::text("a", "text/csv").content_type() == "text/csv");
  const std::string custom = "application/x-custom-type-longer-than-sso";
  auto copied = results::text("b", custom);
  CHECK(copied.content_type() == custom);
  result moved = std::move(copied);  // an owned type survives the move
  CHECK(moved.content_type() == custom);
  CHECK(results::json(nlohmann::json{{"k", 1}}).content_type() ==
        "application/json; charset=utf-8");
  CHECK(results::status(204).content_type().empty());

  auto csv = call(
      "/", [] { return results::text("x,y\n", "text/csv; charset=utf-8", 201); },
      request("GET", "/"));
  CHECK(csv.status == 201);
  CHECK(csv.header("Content-Type") == "text/csv; charset=utf-8");
  CHECK(csv.body == "x,y\n");
  auto plain = call(
      "/", [] { return results::text("hi"); }, request("GET", "/"));
  CHECK(plain.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(plain.header("Content-Length") == "2");
}
