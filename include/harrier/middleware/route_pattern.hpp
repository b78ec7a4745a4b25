#pragma once
// Route templates: "/users/{id:int}", "/files/{*path}", "/posts/{slug?}".
//
// Syntax (a subset of ASP.NET Core's route templates):
// - Segments are separated by '/'. A segment is a literal ("users"), a parameter ("{id}"), or, in
//   the last segment only, a catch-all ("{*path}", which also matches the empty rest).
// - A parameter may carry constraints after ':' and be optional with a trailing '?':
//   "{id:int}", "{n:range(1,100)}", "{name:alpha:maxlength(20)}", "{page?}". Only the last segment
//   may be optional. Complex segments ("{a}.{b}") are not supported.
// - Constraints: int, long, bool, alpha, guid, min(n), max(n), range(a,b), length(n), length(a,b),
//   minlength(n), maxlength(n), regex(expr) (std::regex, compiled once; anchored to the whole
//   value; braces doubled as in ASP.NET Core: "regex(^[a-z]{{2}}$)").
// - Literals match case-insensitively (ASCII), as in ASP.NET Core.
// Parsing throws route_pattern_error naming the template, the position and what was expected.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace harrier {

class route_pattern_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// One constraint on a parameter's value. Checked during matching; cheap ones first.
class route_constraint {
 public:
  enum class kind : std::uint8_t {
    integer,
    long_integer,
    boolean,
    alpha,
    guid,
    min,
    max,
    range,
    length,
    min_length,
    max_length,
    regex
  };

  // Parses one constraint such as "int" or "range(1,100)"; throws route_pattern_error.
  static route_constraint parse(std::string_view text, std::string_view whole_template);

  bool matches(std::string_view value) const;
  kind type() const noexcept { return m_kind; }
  const std::string& text() const noexcept { return m_text; }

 private:
  kind m_kind = kind::integer;
  long long m_a = 0;
  long long m_b = 0;
  std::string m_text;
  std::shared_ptr<const void> m_regex;  // std::regex, kept opaque to spare every includer <regex>
};

struct route_segment {
  enum class kind : std::uint8_t { literal, parameter, catch_all };
  kind type = kind::literal;
  std::string text;  // the literal (lower-cased) or the parameter's name
  bool optional = false;
  std::vector<route_constraint> constraints;

  bool matches_constraints(std::string_view value) const {
    for (const route_constraint& c : constraints) {
      if (!c.matches(value)) return false;
    }
    return true;
  }
};

class route_pattern {
 public:
  // Throws route_pattern_error on a malformed template.
  explicit route_pattern(std::string_view text);

  const std::string& text() const noexcept { return m_text; }
  const std::vector<route_segment>& segments() const noexcept { return m_segments; }

 private:
  std::string m_text;
  std::vector<route_segment> m_segments;
};

}  // namespace harrier
