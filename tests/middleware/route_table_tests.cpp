#include <harrier/middleware/route_table.hpp>

#include <catch2/catch.hpp>

#include <string>

using harrier::route_match_status;
using harrier::route_pattern_error;
using harrier::route_table;

namespace {

enum endpoint_id : std::size_t {
  users_literal_new = 1,
  users_by_int,
  users_by_name,
  users_catch_all,
  files,
  post_users,
  root,
  optional_page,
  guid_route,
  range_route,
  regex_route,
  alpha_route,
};

}  // namespace

TEST_CASE("a literal route matches its path, case-insensitively, with or without a trailing slash",
          "[routing]") {
  route_table t;
  t.add({"GET"}, "/plaintext", root);
  CHECK(t.match("GET", "/plaintext").status == route_match_status::matched);
  CHECK(t.match("GET", "/PlainText").status == route_match_status::matched);
  CHECK(t.match("GET", "/plaintext/").status == route_match_status::matched);
  CHECK(t.match("GET", "/plaintext/x").status == route_match_status::not_found);
  CHECK(t.match("GET", "/plain").status == route_match_status::not_found);
}

TEST_CASE("a literal segment matches its percent-encoded form, but not an encoded slash",
          "[routing]") {
  route_table t;
  t.add({"GET"}, "/api/plaintext", root);
  CHECK(t.match("GET", "/api/plain%74ext").status == route_match_status::matched);
  CHECK(t.match("GET", "/%61pi/PLAIN%54EXT").status == route_match_status::matched);
  CHECK(t.match("GET", "/api%2Fplaintext").status == route_match_status::not_found);
  CHECK(t.match("GET", "/api/plain%zzext").status == route_match_status::not_found);
}

TEST_CASE("the root template matches only the root path", "[routing]") {
  route_table t;
  t.add({"GET"}, "/", root);
  CHECK(t.match("GET", "/").endpoint == root);
  CHECK(t.match("GET", "/x").status == route_match_status::not_found);
}

TEST_CASE(
    "precedence is literal, then constrained parameter, then parameter, then catch-all, "
    "whatever the registration order",
    "[routing]") {
  // Registered in the reverse of precedence order on purpose.
  route_table t;
  t.add({"GET"}, "/users/{*rest}", users_catch_all);
  t.add({"GET"}, "/users/{name}", users_by_name);
  t.add({"GET"}, "/users/{id:int}", users_by_int);
  t.add({"GET"}, "/users/new", users_literal_new);

  CHECK(t.match("GET", "/users/new").endpoint == users_literal_new);
  CHECK(t.match("GET", "/users/42").endpoint == users_by_int);
  CHECK(t.match("GET", "/users/alice").endpoint == users_by_name);
  CHECK(t.match("GET", "/users/a/b/c").endpoint == users_catch_all);
  CHECK(t.match("GET", "/users").endpoint ==
        users_catch_all);  // a catch-all matches the empty rest

  auto m = t.match("GET", "/users/42");
  CHECK(m.values.get("id") == "42");
  CHECK(*m.route_template == "/users/{id:int}");
  CHECK(t.match("GET", "/users/a/b/c").values.get("rest") == "a/b/c");
}

TEST_CASE("matching backtracks from a literal branch that cannot complete the path", "[routing]") {
  route_table t;
  t.add({"GET"}, "/users/new", users_literal_new);
  t.add({"GET"}, "/users/{id}/edit", users_by_name);
  auto m = t.match("GET", "/users/new/edit");
  REQUIRE(m.status == route_match_status::matched);
  CHECK(m.endpoint == users_by_name);
  CHECK(m.values.get("id") == "new");
}

TEST_CASE("a path that matches with the wrong method is 405 with an Allow list", "[routing]") {
  route_table t;
  t.add({"GET"}, "/users/{id:int}", users_by_int);
  t.add({"POST"}, "/users/{id:int}", post_users);
  t.add({"DELETE", "PUT"}, "/users/{id:int}", users_by_name);
  auto m = t.match("PATCH", "/users/7");
  CHECK(m.status == route_match_status::method_not_allowed);
  CHECK(m.allow == "DELETE, GET, HEAD, POST, PUT");
  CHECK(t.match("PATCH", "/nothing").status == route_match_status::not_found);
}

TEST_CASE("the table recognizes the standard methods and those its routes name", "[routing]") {
  route_table t;
  t.add({"GET"}, "/users/{id:int}", users_by_int);
  t.add({"query"}, "/search", post_users);  // stored upper-case, as every route method
  for (const char* method :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"}) {
    INFO(method);
    CHECK(t.recognizes(method));
  }
  for (const char* method : {"BREW", "get", "PROPFIND", "query", ""}) {
    INFO(method);
    CHECK(!t.recognizes(method));
  }
  // An unmatched request says whether its method is recognized; a matched one always does.
  CHECK(!t.match("BREW", "/users/7").method_recognized);
  CHECK(!t.match("BREW", "/nothing").method_recognized);
  CHECK(t.match("QUERY", "/users/7").method_recognized);
  CHECK(t.match("QUERY", "/users/7").status == route_match_status::method_not_allowed);
  CHECK(t.match("DELETE", "/nothing").method_recognized);
  // A route that takes any method makes every method one the server knows.
  t.add({}, "/any", users_by_name);
  CHECK(t.recognizes("BREW"));
}

TEST_CASE("a literal route without the method leaves the path to a parameter route with it",
          "[routing]") {
  // A whole path of literals is looked up at once; when its route does not take the method, the
  // search goes on as if that lookup had not happened.
  route_table t;
  t.add({"GET"}, "/users/new", users_literal_new);
  t.add({"POST"}, "/users/{name}", post_users);
  t.add({"GET"}, "/users/{name}/x", users_by_name);
  auto post = t.match("POST", "/users/new");
  REQUIRE(post.status == route_match_status::matched);
  CHECK(post.endpoint == post_users);
  CHECK(post.values.get("name") == "new");
  CHECK(t.match("GET", "/users/new").endpoint == users_literal_new);
  CHECK(t.match("GET", "/users/new/x").endpoint == users_by_name);
  auto other = t.match("DELETE", "/users/new");
  CHECK(other.status == route_match_status::method_not_allowed);
  CHECK(other.allow == "GET, HEAD, POST");
  CHECK(t.match("GET", "/Users/NEW").endpoint == users_literal_new);
  CHECK(t.match("GET", "/users/n%65w").endpoint == users_literal_new);
}

TEST_CASE("HEAD is served by a GET route", "[routing]") {
  route_table t;
  t.add({"GET"}, "/json", root);
  CHECK(t.match("HEAD", "/json").endpoint == root);
  t.add({"HEAD"}, "/json", files);
  CHECK(t.match("HEAD", "/json").endpoint == files);  // an explicit HEAD route wins
}

TEST_CASE("a route without methods accepts every method", "[routing]") {
  route_table t;
  t.add({}, "/any", root);
  CHECK(t.match("OPTIONS", "/any").status == route_match_status::matched);
  CHECK(t.match("BREW", "/any").status == route_match_status::matched);
}

TEST_CASE("an optional last parameter matches with and without its segment", "[routing]") {
  route_table t;
  t.add({"GET"}, "/posts/{page:int?}", optional_page);
  CHECK(t.match("GET", "/posts").endpoint == optional_page);
  CHECK_FALSE(t.match("GET", "/posts").values.contains("page"));
  auto m = t.match("GET", "/posts/3");
  CHECK(m.endpoint == optional_page);
  CHECK(m.values.get("page") == "3");
  CHECK(t.match("GET", "/posts/x").status == route_match_status::not_found);
}

TEST_CASE("constraints reject values that do not fit them", "[routing]") {
  route_table t;
  t.add({"GET"}, "/g/{id:guid}", guid_route);
  t.add({"GET"}, "/r/{n:range(1,100)}", range_route);
  t.add({"GET"}, "/x/{code:regex(^[a-z]{{2}}[0-9]+$)}", regex_route);
  t.add({"GET"}, "/a/{name:alpha:maxlength(5)}", alpha_route);
  t.add({"GET"}, "/i/{id:int}", users_by_int);

  CHECK(t.match("GET", "/g/0f8fad5b-d9cb-469f-a165-70867728950e").endpoint == guid_route);
  CHECK(t.match("GET", "/g/0f8fad5bd9cb469fa16570867728950e").endpoint == guid_route);
  CHECK(t.match("GET", "/g/not-a-guid").status == route_match_status::not_found);
  CHECK(t.match("GET", "/r/1").endpoint == range_route);
  CHECK(t.match("GET", "/r/100").endpoint == range_route);
  CHECK(t.match("GET", "/r/101").status == route_match_status::not_found);
  CHECK(t.match("GET", "/r/0").status == route_match_status::not_found);
  CHECK(t.match("GET", "/a/abc").endpoint == alpha_route);
  CHECK(t.match("GET", "/a/abcdef").status == route_match_status::not_found);
  CHECK(t.match("GET", "/a/ab1").status == route_match_status::not_found);
  CHECK(t.match("GET", "/i/2147483647").endpoint == users_by_int);
  CHECK(t.match("GET", "/i/2147483648").status == route_match_status::not_found);
  CHECK(t.match("GET", "/i/-5").endpoint == users_by_int);
}

TEST_CASE("a regex constraint must match the whole value", "[routing]") {
  route_table t;
  t.add({"GET"}, "/x/{code:regex([a-z]+)}", regex_route);
  CHECK(t.match("GET", "/x/abc").endpoint == regex_route);
  CHECK(t.match("GET", "/x/abc1").status == route_match_status::not_found);
}

TEST_CASE("malformed templates are rejected with a message naming the problem", "[routing]") {
  route_table t;
  CHECK_THROWS_WITH(t.add({"GET"}, "users", root), Catch::Contains("must start with '/'"));
  CHECK_THROWS_WITH(t.add({"GET"}, "/a//b", root), Catch::Contains("empty segment"));
  CHECK_THROWS_WITH(t.add({"GET"}, "/{*rest}/x", root), Catch::Contains("catch-all"));
  CHECK_THROWS_WITH(t.add({"GET"}, "/{id:nope}", root), Catch::Contains("unknown constraint"));
  CHECK_THROWS_WITH(t.add({"GET"}, "/{id:range(5)}", root), Catch::Contains("argument"));
  CHECK_THROWS_WITH(t.add({"GET"}, "/{a?}/b", root), Catch::Contains("optional"));
  CHECK_THROWS_WITH(t.add({"GET"}, "/{a}/{a}", root), Catch::Contains("twice"));
  CHECK_THROWS_WITH(t.add({"GET"}, "/x{a}", root), Catch::Contains("complex"));
  CHECK_THROWS_AS(t.add({"GET"}, "/{x:regex(()}", root), route_pattern_error);
}

TEST_CASE("adding a duplicate route for the same method is an error", "[routing]") {
  route_table t;
  t.add({"GET"}, "/users/{id}", users_by_name);
  CHECK_THROWS_WITH(t.add({"GET"}, "/users/{name}", users_by_int), Catch::Contains("duplicates"));
  CHECK_NOTHROW(t.add({"POST"}, "/users/{name}", post_users));
}

TEST_CASE("a thousand routes still resolve each to its own endpoint", "[routing]") {
  route_table t;
  for (std::size_t i = 0; i < 1000; ++i) {
    t.add({"GET"}, "/api/v1/resource" + std::to_string(i) + "/{id:int}", i);
  }
  CHECK(t.size() == 1000);
  for (std::size_t i = 0; i < 1000; i += 37) {
    auto m = t.match("GET", "/api/v1/resource" + std::to_string(i) + "/5");
    REQUIRE(m.status == route_match_status::matched);
    CHECK(m.endpoint == i);
  }
}

TEST_CASE("literal lookup agrees whether a node has few literals or many", "[routing]") {
  // A node scans up to 16 literals and hashes beyond: both ways must find the same routes.
  for (std::size_t count : {1u, 2u, 15u, 16u, 17u, 40u}) {
    route_table t;
    for (std::size_t i = 0; i < count; ++i)
      t.add({"GET"}, "/seg" + std::to_string(i), i);
    INFO("literals: " << count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::string name = "seg" + std::to_string(i);
      auto plain = t.match("GET", "/" + name);
      REQUIRE(plain.status == route_match_status::matched);
      CHECK(plain.endpoint == i);
      auto upper = t.match("GET", "/SEG" + std::to_string(i));
      REQUIRE(upper.status == route_match_status::matched);
      CHECK(upper.endpoint == i);
      auto encoded = t.match("GET", "/s%65g" + std::to_string(i));
      REQUIRE(encoded.status == route_match_status::matched);
      CHECK(encoded.endpoint == i);
    }
    CHECK(t.match("GET", "/seg" + std::to_string(count)).status == route_match_status::not_found);
    CHECK(t.match("GET", "/sex0").status == route_match_status::not_found);  // same length
    CHECK(t.match("GET", "/se").status == route_match_status::not_found);
  }
}
