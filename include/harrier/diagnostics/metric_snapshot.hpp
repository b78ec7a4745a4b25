#pragma once
// A copy of a registry's figures at one instant, and what can be computed from it.
//
// metric_registry::collect() produces a registry_snapshot; the Prometheus text and the JSON
// snapshot (metric_exposition.hpp) are both rendered from it, so the two always agree. The tools
// (harrier-counters) can rebuild the same structure from the JSON and reuse estimate_quantile().

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace harrier::diagnostics {

// The Prometheus types harrier exposes. An up-down counter is exposed as a gauge.
enum class metric_type { counter, gauge, histogram };

std::string_view to_string(metric_type type) noexcept;

struct label {
  std::string name;
  std::string value;
  friend bool operator==(const label&, const label&) = default;
};

struct series_snapshot {
  std::vector<label> labels;
  double value = 0;  // counter and gauge
  // Histogram only: per-bucket counts (not cumulative), one per bound plus the +Inf bucket.
  std::vector<std::uint64_t> bucket_counts;
  std::uint64_t count = 0;
  double sum = 0;
};

struct family_snapshot {
  std::string name;
  std::string help;
  metric_type type = metric_type::counter;
  std::vector<double> bucket_bounds;  // histogram only; +Inf is implicit
  std::vector<series_snapshot> series;

  // The series whose labels are exactly `labels` (in order), or nullptr.
  const series_snapshot* find(std::span<const label> labels = {}) const noexcept;
};

struct registry_snapshot {
  std::chrono::system_clock::time_point timestamp;
  std::vector<family_snapshot> families;  // in registration order

  const family_snapshot* find(std::string_view name) const noexcept;
};

// Estimates the q-quantile (0 <= q <= 1) of a histogram by linear interpolation inside the bucket
// that holds rank q * count, as Prometheus' histogram_quantile() does: the first bucket's lower
// edge is 0 (or its bound, when that is negative); a rank in the +Inf bucket returns the highest
// finite bound. Returns NaN when the histogram is empty or q is outside [0, 1].
double estimate_quantile(std::span<const double> bucket_bounds,
                         std::span<const std::uint64_t> bucket_counts, double q) noexcept;

inline double estimate_quantile(const family_snapshot& family, const series_snapshot& series,
                                double q) noexcept {
  return estimate_quantile(family.bucket_bounds, series.bucket_counts, q);
}

}  // namespace harrier::diagnostics
