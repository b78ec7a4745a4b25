#include <harrier/http/headers.hpp>
#include <harrier/middleware/route_pattern.hpp>

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <limits>
#include <regex>

namespace harrier {
namespace {

[[noreturn]] void fail(std::string_view whole, std::string_view what) {
  throw route_pattern_error(fmt::format("invalid route template \"{}\": {}", whole, what));
}

bool parse_integer(std::string_view text, long long& out) {
  if (text.empty()) return false;
  const char* first = text.data();
  if (*first == '+') ++first;
  auto [end, ec] = std::from_chars(first, text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

bool is_hex(std::string_view text) {
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool is_guid(std::string_view v) {
  if (v.size() == 32) return is_hex(v);  // "N" format
  if (v.size() != 36) return false;      // "D" format: 8-4-4-4-12
  if (v[8] != '-' || v[13] != '-' || v[18] != '-' || v[23] != '-') return false;
  return is_hex(v.substr(0, 8)) && is_hex(v.substr(9, 4)) && is_hex(v.substr(14, 4)) &&
         is_hex(v.substr(19, 4)) && is_hex(v.substr(24, 12));
}

// Splits "name(args)" into name and args; args is empty when there are no parentheses.
void split_call(std::string_view text, std::string_view whole, std::string_view& name,
                std::string_view& args, bool& has_args) {
  const std::size_t open = text.find('(');
  if (open == std::string_view::npos) {
    name = text;
    args = {};
    has_args = false;
    return;
  }
  if (text.back() != ')') fail(whole, fmt::format("constraint \"{}\" lacks its closing ')'", text));
  name = text.substr(0, open);
  args = text.substr(open + 1, text.size() - open - 2);
  has_args = true;
}

std::vector<long long> parse_numbers(std::string_view args, std::string_view constraint,
                                     std::string_view whole) {
  std::vector<long long> numbers;
  while (true) {
    const std::size_t comma = args.find(',');
    std::string_view part = args.substr(0, comma);
    while (!part.empty() && part.front() == ' ')
      part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ')
      part.remove_suffix(1);
    long long n = 0;
    if (!parse_integer(part, n)) {
      fail(whole, fmt::format("constraint \"{}\" expects integer arguments, got \"{}\"", constraint,
                              part));
    }
    numbers.push_back(n);
    if (comma == std::string_view::npos) break;
    args.remove_prefix(comma + 1);
  }
  return numbers;
}

}  // namespace

route_constraint route_constraint::parse(std::string_view text, std::string_view whole) {
  route_constraint c;
  c.m_text = std::string(text);
  std::string_view name, args;
  bool has_args = false;
  split_call(text, whole, name, args, has_args);

  auto expect_args = [&](std::size_t min_count, std::size_t max_count) {
    if (!has_args) fail(whole, fmt::format("constraint \"{}\" needs arguments", name));
    std::vector<long long> n = parse_numbers(args, text, whole);
    if (n.size() < min_count || n.size() > max_count) {
      fail(whole,
           fmt::format("constraint \"{}\" takes {} argument(s), got {}", name,
                       min_count == max_count ? fmt::to_string(min_count)
                                              : fmt::format("{} or {}", min_count, max_count),
                       n.size()));
    }
    return n;
  };
  auto expect_no_args = [&] {
    if (has_args) fail(whole, fmt::format("constraint \"{}\" takes no arguments", name));
  };

  if (name == "int") {
    expect_no_args();
    c.m_kind = kind::integer;
  } else if (name == "long") {
    expect_no_args();
    c.m_kind = kind::long_integer;
  } else if (name == "bool") {
    expect_no_args();
    c.m_kind = kind::boolean;
  } else if (name == "alpha") {
    expect_no_args();
    c.m_kind = kind::alpha;
  } else if (name == "guid") {
    expect_no_args();
    c.m_kind = kind::guid;
  } else if (name == "min" || name == "max" || name == "minlength" || name == "maxlength") {
    c.m_kind = name == "min"         ? kind::min
               : name == "max"       ? kind::max
               : name == "minlength" ? kind::min_length
                                     : kind::max_length;
    c.m_a = expect_args(1, 1)[0];
  } else if (name == "range") {
    auto n = expect_args(2, 2);
    c.m_kind = kind::range;
    c.m_a = n[0];
    c.m_b = n[1];
    if (c.m_a > c.m_b) fail(whole, fmt::format("range({},{}) is empty", c.m_a, c.m_b));
  } else if (name == "length") {
    auto n = expect_args(1, 2);
    c.m_kind = kind::length;
    c.m_a = n[0];
    c.m_b = n.size() == 2 ? n[1] : n[0];
  } else if (name == "regex") {
    if (!has_args || args.empty()) fail(whole, "constraint \"regex\" needs an expression");
    c.m_kind = kind::regex;
    // As in ASP.NET Core, braces inside a template are written doubled: "{{2}}" means "{2}".
    std::string expression;
    for (std::size_t i = 0; i < args.size(); ++i) {
      expression.push_back(args[i]);
      if ((args[i] == '{' || args[i] == '}') && i + 1 < args.size() && args[i + 1] == args[i]) ++i;
    }
    try {
      c.m_regex = std::make_shared<const std::regex>(
          expression, std::regex::ECMAScript | std::regex::icase | std::regex::optimize);
    } catch (const std::regex_error& e) {
      fail(whole, fmt::format("regex \"{}\" does not compile: {}", args, e.what()));
    }
  } else {
    fail(whole,
         fmt::format("unknown constraint \"{}\" (expected int, long, bool, alpha, guid, min, "
                     "max, range, length, minlength, maxlength or regex)",
                     name));
  }
  return c;
}

bool route_constraint::matches(std::string_view value) const {
  long long n = 0;
  switch (m_kind) {
    case kind::integer:
      return parse_integer(value, n) && n >= std::numeric_limits<int>::min() &&
             n <= std::numeric_limits<int>::max();
    case kind::long_integer:
      return parse_integer(value, n);
    case kind::boolean:
      return http::iequals(value, "true") || http::iequals(value, "false");
    case kind::alpha:
      if (value.empty()) return false;
      for (char ch : value) {
        if (!std::isalpha(static_cast<unsigned char>(ch))) return false;
      }
      return true;
    case kind::guid:
      return is_guid(value);
    case kind::min:
      return parse_integer(value, n) && n >= m_a;
    case kind::max:
      return parse_integer(value, n) && n <= m_a;
    case kind::range:
      return parse_integer(value, n) && n >= m_a && n <= m_b;
    case kind::length:
      return static_cast<long long>(value.size()) >= m_a &&
             static_cast<long long>(value.size()) <= m_b;
    case kind::min_length:
      return static_cast<long long>(value.size()) >= m_a;
    case kind::max_length:
      return static_cast<long long>(value.size()) <= m_a;
    case kind::regex:
      return std::regex_match(value.begin(), value.end(),
                              *static_cast<const std::regex*>(m_regex.get()));
  }
  return false;
}

route_pattern::route_pattern(std::string_view text) : m_text(text) {
  std::string_view rest = text;
  if (rest.empty() || rest.front() != '/') fail(text, "it must start with '/'");
  rest.remove_prefix(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);  // "/users/" == "/users"

  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    const bool last = slash == std::string_view::npos;
    if (part.empty()) fail(text, "empty segment ('//')");

    route_segment segment;
    if (part.front() != '{') {
      if (part.find_first_of("{}") != std::string_view::npos) {
        fail(text, fmt::format("segment \"{}\" mixes literal text and a parameter (complex "
                               "segments are not supported)",
                               part));
      }
      segment.type = route_segment::kind::literal;
      for (char ch : part)
        segment.text.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    } else {
      if (part.back() != '}')
        fail(text, fmt::format("segment \"{}\" lacks its closing '}}'", part));
      std::string_view inner = part.substr(1, part.size() - 2);
      if (!inner.empty() && inner.front() == '*') {
        inner.remove_prefix(inner.size() > 1 && inner[1] == '*' ? 2 : 1);
        if (!last) fail(text, "a catch-all parameter must be the last segment");
        segment.type = route_segment::kind::catch_all;
      } else {
        segment.type = route_segment::kind::parameter;
      }
      if (!inner.empty() && inner.back() == '?') {
        if (segment.type == route_segment::kind::catch_all) {
          fail(text, "a catch-all parameter is optional already; drop the '?'");
        }
        if (!last) fail(text, "only the last segment may be optional");
        segment.optional = true;
        inner.remove_suffix(1);
      }
      // name[:constraint[:constraint...]], where ':' inside parentheses belongs to the argument.
      std::size_t depth = 0, start = 0;
      std::vector<std::string_view> pieces;
      for (std::size_t i = 0; i <= inner.size(); ++i) {
        if (i == inner.size() || (inner[i] == ':' && depth == 0)) {
          pieces.push_back(inner.substr(start, i - start));
          start = i + 1;
        } else if (inner[i] == '(') {
          ++depth;
        } else if (inner[i] == ')' && depth > 0) {
          --depth;
        }
      }
      const std::string_view name = pieces.front();
      if (name.empty())
        fail(text, fmt::format("segment \"{}\" has a parameter without a name", part));
      for (char ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') {
          fail(text,
               fmt::format("parameter name \"{}\" may hold only letters, digits and '_'", name));
        }
      }
      for (const route_segment& earlier : m_segments) {
        if (earlier.type != route_segment::kind::literal && earlier.text == name) {
          fail(text, fmt::format("parameter \"{}\" appears twice", name));
        }
      }
      segment.text = std::string(name);
      for (std::size_t i = 1; i < pieces.size(); ++i) {
        if (pieces[i].empty()) fail(text, fmt::format("empty constraint in \"{}\"", part));
        segment.constraints.push_back(route_constraint::parse(pieces[i], text));
      }
    }
    m_segments.push_back(std::move(segment));
  }
}

}  // namespace harrier
