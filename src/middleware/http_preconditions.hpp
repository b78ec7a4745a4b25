#pragma once
// RFC 9110 validators and ranges for the static-file middleware (internal): HTTP dates, entity
// tags, conditional requests (13.1, evaluated in 13.2.2's order) and single byte ranges (14.1).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace harrier::detail {

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(std::int64_t unix_seconds);
// Accepts IMF-fixdate and the two obsolete forms RFC 9110 5.6.7 says recipients must accept
// (RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994").
std::optional<std::int64_t> parse_http_date(std::string_view text);

// A strong validator from size and modification time: "\"<size hex>-<mtime ns hex>\"".
std::string make_etag(std::uint64_t size, std::int64_t mtime_ns);

// If-None-Match semantics: weak comparison against a comma-separated list, or "*".
bool none_match_hits(std::string_view if_none_match, std::string_view etag);
// If-Match / If-Range semantics: strong comparison (a weak tag never matches).
bool strong_match(std::string_view header, std::string_view etag);

enum class precondition { proceed, not_modified, precondition_failed };

struct validators {
  std::string_view etag;
  std::int64_t last_modified = 0;  // unix seconds
};

struct conditional_headers {
  std::string_view if_match, if_none_match, if_modified_since, if_unmodified_since;
};

// Evaluates the preconditions of a GET or HEAD (is_get_or_head) or other request.
precondition evaluate_preconditions(const conditional_headers& h, const validators& v,
                                    bool is_get_or_head);

struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  std::uint64_t length() const noexcept { return last - first + 1; }
};

enum class range_outcome {
  full,           // no usable Range: send the whole representation (200)
  partial,        // one satisfiable range (206)
  unsatisfiable,  // 416 with "Content-Range: bytes */size"
};

// Parses a Range header for a representation of `size` bytes. Several ranges are answered with
// the whole representation (RFC 9110 permits ignoring Range); malformed headers are ignored too.
range_outcome parse_range(std::string_view header, std::uint64_t size, byte_range& out);

}  // namespace harrier::detail
