// has_bare_line_break against the byte-by-byte definition.

#include "http/line_breaks.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>

namespace {

// The definition: some CR is not followed by LF, or some LF does not follow a CR.
bool bare_by_definition(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return true;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("the bare line break check agrees with the definition", "[http][parser]") {
  using harrier::http::detail::has_bare_line_break;
  // CR, LF, bytes near them in value (0x0C, 0x0E; 0x8D and 0x8A differ only in the high bit),
  // NUL and a letter.
  const char alphabet[] = {'\r', '\n', 'a', '\0', '\x0c', '\x0e', '\x8d', '\x8a'};
  std::mt19937 random(20261127);
  std::size_t bare = 0;
  for (int round = 0; round < 200'000; ++round) {
    const std::size_t length = random() % 101;  // several 16-byte blocks and every tail
    std::string s(length, 'a');
    for (char& c : s) {
      // Mostly CRLF pairs and letters, so that well-formed heads are common too.
      const unsigned pick = random() % 16;
      c = pick < 8 ? alphabet[pick] : 'a';
    }
    if (random() % 2 == 0) {
      // Rewrite into a well-formed shape: every CR followed by LF, every LF after a CR.
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' || s[i] == '\r') s[i] = 'a';
      }
      for (std::size_t i = 0; i + 1 < s.size(); i += 3 + random() % 7) {
        s[i] = '\r';
        s[i + 1] = '\n';
      }
    }
    const bool expected = bare_by_definition(s);
    bare += expected;
    INFO("input of " << s.size() << " bytes, round " << round);
    REQUIRE(has_bare_line_break(s.data(), s.size()) == expected);
  }
  CHECK(bare > 50'000);  // both outcomes were exercised
  CHECK(bare < 190'000);
}
