#pragma once
// Rendering a registry_snapshot for scrapers and tools.
//
// - to_prometheus_text(): the Prometheus text exposition format 0.0.4 (HELP and TYPE per family,
//   label values escaped, histograms as cumulative _bucket{le=...} with +Inf, _sum and _count).
//   Serve it with k_prometheus_content_type. Valid for `promtool check metrics` (tested).
// - to_json_text(): the same figures as JSON for GET /counters and harrier-counters, schema:
//     {"timestamp": "2026-11-26T08:30:03.123Z", "timestamp_unix_seconds": 1795681803.123,
//      "metrics": {"<name>": {"type": "counter"|"gauge"|"histogram", "help": "...",
//        ["bucket_bounds": [0.005, ...],]
//        "series": [{"labels": {"method": "GET"}, "value": 12}                  (counter, gauge)
//                   {"labels": {...}, "count": 10, "sum": 0.5, "p50": 0.01, "p90": 0.02,
//                    "p99": 0.04, "bucket_counts": [3, 7, 0, ...]}]}}}      (histogram)
//   Percentiles are estimate_quantile() figures, null when the histogram is empty; bucket_counts
//   are per bucket (not cumulative), the last one being +Inf.

#include <chrono>
#include <string>
#include <string_view>

#include <harrier/diagnostics/metric_snapshot.hpp>

namespace harrier::diagnostics {

inline constexpr std::string_view k_prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view k_json_content_type = "application/json";

std::string to_prometheus_text(const registry_snapshot& snapshot);

// indent < 0: compact, one line; otherwise pretty-printed with that many spaces.
std::string to_json_text(const registry_snapshot& snapshot, int indent = -1);

// Reads a JSON snapshot back (for harrier-counters and tests). Families come back sorted by name
// (JSON objects do not keep order); null figures become NaN. Throws std::invalid_argument naming
// the offending field when the text is not JSON or not of the schema above.
registry_snapshot from_json_text(std::string_view json_text);

// "2026-11-26T08:30:03.123Z": the timestamp format of the JSON snapshot (UTC, milliseconds).
std::string format_iso8601_utc(std::chrono::system_clock::time_point t);

// Escaping rules of the text format, exposed for tests: label values escape backslash, double
// quote and newline; HELP text escapes backslash and newline.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);

}  // namespace harrier::diagnostics
