// json_text must write exactly what nlohmann's dump() writes, for every kind of value, and fail
// the same way on a string that is not UTF-8.
#include "middleware/json_text.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>

using harrier::detail::json_text;
using nlohmann::json;

TEST_CASE("json_text writes the same bytes as dump() for every kind of value", "[json]") {
  const json values[] = {
      nullptr,
      true,
      false,
      0,
      -1,
      std::numeric_limits<std::int64_t>::min(),
      std::numeric_limits<std::uint64_t>::max(),
      1.0,
      -0.0,
      3.14159,
      1e300,
      std::numeric_limits<double>::quiet_NaN(),
      "",
      "Hello, World!",
      "quote \" and backslash \\",
      "tab\tnew\nline\x01",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
      "\x7f del",
      json::array(),
      json::object(),
      json{{"message", "Hello, World!"}},
      json{
          {"b", 1}, {"a", {1, 2.5, "x", nullptr, {{"k\"ey", false}}}}, {"\xc3\xa9", json::array()}},
      json::binary({1, 2, 3}),
  };
  for (const json& v : values) {
    INFO(v.dump());
    CHECK(json_text(v) == v.dump());
  }
}

TEST_CASE("json_text matches dump() on random nested documents", "[json]") {
  std::mt19937 rng(12345);
  const std::string ascii = "abcXYZ09 _-\"\\/\t\n\x1f";  // plain, escaped and control
  auto random_string = [&] {
    std::string s;
    const int n = static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      // Whole UTF-8 sequences only: a 2-byte and a 3-byte one besides the ASCII.
      const std::size_t pick = rng() % (ascii.size() + 2);
      if (pick < ascii.size()) {
        s += ascii[pick];
      } else if (pick == ascii.size()) {
        s += "\xc3\xa9";
      } else {
        s += "\xe2\x82\xac";
      }
    }
    return s;
  };
  std::function<json(int)> random_value = [&](int depth) -> json {
    switch (rng() % (depth > 3 ? 6 : 8)) {
      case 0:
        return nullptr;
      case 1:
        return rng() % 2 == 0;
      case 2:
        return static_cast<std::int64_t>(rng()) - (1LL << 31);
      case 3:
        return static_cast<std::uint64_t>(rng()) << 20;
      case 4:
        return static_cast<double>(rng() % 100000) / 7.0;
      case 5:
        return random_string();
      case 6: {
        json a = json::array();
        for (int i = static_cast<int>(rng() % 4); i > 0; --i)
          a.push_back(random_value(depth + 1));
        return a;
      }
      default: {
        json o = json::object();
        for (int i = static_cast<int>(rng() % 4); i > 0; --i)
          o[random_string()] = random_value(depth + 1);
        return o;
      }
    }
  };
  for (int i = 0; i < 2000; ++i) {
    const json v = random_value(0);
    INFO(v.dump());
    REQUIRE(json_text(v) == v.dump());
  }
}

TEST_CASE("json_text writes U+FFFD for each byte of a string that is not UTF-8", "[json]") {
  // dump() throws there; a handler echoing what a client sent (%ff) would answer 500.
  const json bad = std::string("ok \xff no \xc3(");
  CHECK_THROWS_AS(bad.dump(), json::type_error);
  CHECK(json_text(bad) == "\"ok \xef\xbf\xbd no \xef\xbf\xbd(\"");
  CHECK(json_text(json{{"k", bad}}) == "{\"k\":\"ok \xef\xbf\xbd no \xef\xbf\xbd(\"}");
  CHECK(json_text(json{{"\xff", 1}}) == "{\"\xef\xbf\xbd\":1}");
  CHECK(json_text(json::array({"caf\xc3\xa9", "\xed\xa0\x80"})) ==
        "[\"caf\xc3\xa9\",\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]");
}

TEST_CASE("append_json_text appends after what the buffer holds", "[json]") {
  std::string out = "prefix:";
  harrier::detail::append_json_text(out, json{{"message", "Hello, World!"}});
  CHECK(out == "prefix:{\"message\":\"Hello, World!\"}");
  harrier::detail::append_json_text(out, json{{"k\"ey", 1}});  // a key that dump() writes
  CHECK(out == "prefix:{\"message\":\"Hello, World!\"}{\"k\\\"ey\":1}");
}
