// registry_snapshot lookups and percentile estimation from histogram buckets.

#include <harrier/diagnostics/metric_snapshot.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace harrier::diagnostics {

std::string_view to_string(metric_type type) noexcept {
  switch (type) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
  }
  return "untyped";
}

const series_snapshot* family_snapshot::find(std::span<const label> labels) const noexcept {
  for (const series_snapshot& s : series) {
    if (std::equal(s.labels.begin(), s.labels.end(), labels.begin(), labels.end())) return &s;
  }
  return nullptr;
}

const family_snapshot* registry_snapshot::find(std::string_view name) const noexcept {
  for (const family_snapshot& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

double estimate_quantile(std::span<const double> bucket_bounds,
                         std::span<const std::uint64_t> bucket_counts, double q) noexcept {
  constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();
  const std::size_t n = bucket_bounds.size();
  if (bucket_counts.size() != n + 1 || !(q >= 0.0 && q <= 1.0)) return k_nan;
  std::uint64_t total = 0;
  for (std::uint64_t c : bucket_counts)
    total += c;
  if (total == 0) return k_nan;

  const double rank = q * static_cast<double>(total);
  std::uint64_t below = 0;  // observations in the buckets before i
  for (std::size_t i = 0; i <= n; ++i) {
    const std::uint64_t in_bucket = bucket_counts[i];
    // The first non-empty bucket that reaches the rank holds the quantile.
    if (in_bucket == 0 || static_cast<double>(below + in_bucket) < rank) {
      below += in_bucket;
      continue;
    }
    if (i == n) return n == 0 ? k_nan : bucket_bounds[n - 1];  // in +Inf: the best we can say
    const double upper = bucket_bounds[i];
    const double lower = i > 0 ? bucket_bounds[i - 1] : std::min(0.0, upper);
    const double fraction = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
    return lower + (upper - lower) * std::clamp(fraction, 0.0, 1.0);
  }
  return k_nan;  // unreachable: the last non-empty bucket always reaches rank <= total
}

}  // namespace harrier::diagnostics
