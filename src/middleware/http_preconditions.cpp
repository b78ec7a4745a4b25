#include "middleware/http_preconditions.hpp"

#include <harrier/http/date_cache.hpp>
#include <harrier/http/headers.hpp>

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <ctime>

namespace harrier::detail {
namespace {

constexpr std::array<std::string_view, 12> k_months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool parse_number(std::string_view s, int& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
}

int month_index(std::string_view m) {
  for (std::size_t i = 0; i < k_months.size(); ++i) {
    if (k_months[i] == m) return static_cast<int>(i);
  }
  return -1;
}

bool parse_clock(std::string_view s, std::tm& tm) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
  return parse_number(s.substr(0, 2), tm.tm_hour) && parse_number(s.substr(3, 2), tm.tm_min) &&
         parse_number(s.substr(6, 2), tm.tm_sec) && tm.tm_hour < 24 && tm.tm_min < 60 &&
         tm.tm_sec < 61;
}

// Strips W/ and returns the opaque tag with its quotes.
std::string_view opaque(std::string_view tag, bool& weak) {
  tag = http::trim_ows(tag);
  weak = tag.substr(0, 2) == "W/";
  if (weak) tag.remove_prefix(2);
  return tag;
}

template <typename F>
bool any_tag(std::string_view list, F&& match) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    if (match(http::trim_ows(list.substr(0, comma)))) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string format_http_date(std::int64_t unix_seconds) {
  std::string out(http::k_imf_fixdate_bytes, '\0');
  http::format_imf_fixdate(
      std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds)), out.data());
  return out;
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  text = http::trim_ows(text);
  std::tm tm{};
  int year = 0;
  if (text.size() == 29 && text[3] == ',') {  // IMF-fixdate
    if (text.substr(25) != " GMT" || text[4] != ' ' || text[7] != ' ' || text[11] != ' ' ||
        text[16] != ' ') {
      return std::nullopt;
    }
    tm.tm_mon = month_index(text.substr(8, 3));
    if (!parse_number(text.substr(5, 2), tm.tm_mday) || !parse_number(text.substr(12, 4), year) ||
        !parse_clock(text.substr(17, 8), tm)) {
      return std::nullopt;
    }
  } else if (const std::size_t comma = text.find(", ");
             comma != std::string_view::npos && comma > 3) {  // RFC 850
    std::string_view rest = text.substr(comma + 2);           // "06-Nov-94 08:49:37 GMT"
    if (rest.size() != 22 || rest[2] != '-' || rest[6] != '-' || rest.substr(18) != " GMT") {
      return std::nullopt;
    }
    tm.tm_mon = month_index(rest.substr(3, 3));
    if (!parse_number(rest.substr(0, 2), tm.tm_mday) || !parse_number(rest.substr(7, 2), year) ||
        !parse_clock(rest.substr(10, 8), tm)) {
      return std::nullopt;
    }
    year += year < 70 ? 2000 : 1900;  // RFC 9110: a two-digit year more than 50 years ahead is past
  } else if (text.size() == 24) {     // asctime: "Sun Nov  6 08:49:37 1994"
    tm.tm_mon = month_index(text.substr(4, 3));
    std::string_view day = http::trim_ows(text.substr(8, 2));
    if (!parse_number(day, tm.tm_mday) || !parse_clock(text.substr(11, 8), tm) ||
        !parse_number(text.substr(20, 4), year)) {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_mday > 31) return std::nullopt;
  tm.tm_year = year - 1900;
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::string make_etag(std::uint64_t size, std::int64_t mtime_ns) {
  return fmt::format("\"{:x}-{:x}\"", size, static_cast<std::uint64_t>(mtime_ns));
}

bool none_match_hits(std::string_view header, std::string_view etag) {
  if (http::trim_ows(header) == "*") return true;
  bool etag_weak = false;
  const std::string_view ours = opaque(etag, etag_weak);
  return any_tag(header, [&](std::string_view tag) {
    bool weak = false;
    return opaque(tag, weak) == ours;
  });
}

bool strong_match(std::string_view header, std::string_view etag) {
  if (http::trim_ows(header) == "*") return true;
  bool etag_weak = false;
  const std::string_view ours = opaque(etag, etag_weak);
  if (etag_weak) return false;
  return any_tag(header, [&](std::string_view tag) {
    bool weak = false;
    const std::string_view theirs = opaque(tag, weak);
    return !weak && theirs == ours;
  });
}

precondition evaluate_preconditions(const conditional_headers& h, const validators& v,
                                    bool is_get_or_head) {
  // RFC 9110 13.2.2, steps 1-4.
  if (!h.if_match.empty()) {
    if (!strong_match(h.if_match, v.etag)) return precondition::precondition_failed;
  } else if (!h.if_unmodified_since.empty()) {
    const auto since = parse_http_date(h.if_unmodified_since);
    if (since && v.last_modified > *since) return precondition::precondition_failed;
  }
  if (!h.if_none_match.empty()) {
    if (none_match_hits(h.if_none_match, v.etag)) {
      return is_get_or_head ? precondition::not_modified : precondition::precondition_failed;
    }
  } else if (is_get_or_head && !h.if_modified_since.empty()) {
    const auto since = parse_http_date(h.if_modified_since);
    if (since && v.last_modified <= *since) return precondition::not_modified;
  }
  return precondition::proceed;
}

range_outcome parse_range(std::string_view header, std::uint64_t size, byte_range& out) {
  header = http::trim_ows(header);
  // Range unit names are case-insensitive (RFC 9110 14.1).
  if (header.size() < 6 || !http::iequals(header.substr(0, 5), "bytes") || header[5] != '=') {
    return range_outcome::full;
  }
  std::string_view spec = http::trim_ows(header.substr(6));
  if (spec.empty() || spec.find(',') != std::string_view::npos) return range_outcome::full;
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return range_outcome::full;
  const std::string_view first_text = http::trim_ows(spec.substr(0, dash));
  const std::string_view last_text = http::trim_ows(spec.substr(dash + 1));
  auto number = [](std::string_view s, std::uint64_t& n) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
  };
  std::uint64_t first = 0, last = 0;
  if (first_text.empty()) {  // suffix range: the last N bytes
    if (!number(last_text, last)) return range_outcome::full;
    if (last == 0) return range_outcome::unsatisfiable;
    // Satisfiable, but an empty representation has no byte to name in a Content-Range: the
    // whole (empty) representation, 200 (as nginx answers).
    if (size == 0) return range_outcome::full;
    out.first = last >= size ? 0 : size - last;
    out.last = size - 1;
    return range_outcome::partial;
  }
  if (!number(first_text, first)) return range_outcome::full;
  if (last_text.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else if (!number(last_text, last) || last < first) {
    return range_outcome::full;  // syntactically invalid: ignore the header
  }
  if (first >= size) return range_outcome::unsatisfiable;
  out.first = first;
  out.last = last >= size ? size - 1 : last;
  return range_outcome::partial;
}

}  // namespace harrier::detail
