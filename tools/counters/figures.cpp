// compute_figures: levels, rates and interval percentiles from two snapshots (see figures.hpp).

#include "figures.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <harrier/diagnostics/metric_names.hpp>

namespace harrier::tools {

namespace {

namespace metrics = diagnostics::metrics;
using diagnostics::family_snapshot;
using diagnostics::metric_info;
using diagnostics::registry_snapshot;

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();

// The sum over all series of a counter or gauge (a labelled family such as connections by
// endpoint is shown as one figure), NaN when the server does not expose it. A family without
// series yet (a histogram vec before its first request) is 0, not NaN: the next rate needs it.
double total(const registry_snapshot* snapshot, const metric_info& info) {
  if (snapshot == nullptr) return k_nan;
  const family_snapshot* family = snapshot->find(info.name);
  if (family == nullptr) return k_nan;
  if (family->type == diagnostics::metric_type::histogram) {
    double count = 0;
    for (const auto& s : family->series)
      count += static_cast<double>(s.count);
    return count;
  }
  double sum = 0;
  for (const auto& s : family->series)
    sum += s.value;
  return sum;
}

// The largest value over the series (heartbeat lag: the worst figure is the one that matters).
double maximum(const registry_snapshot& snapshot, const metric_info& info) {
  const family_snapshot* family = snapshot.find(info.name);
  if (family == nullptr || family->series.empty()) return k_nan;
  double max = family->series.front().value;
  for (const auto& s : family->series)
    max = std::fmax(max, s.value);
  return max;
}

double rate(double before, double after, double seconds) {
  if (!std::isfinite(before) || !std::isfinite(after) || seconds <= 0 || after < before)
    return k_nan;
  return (after - before) / seconds;
}

// The histogram's buckets summed over all its series.
std::vector<std::uint64_t> merged_buckets(const family_snapshot& family) {
  std::vector<std::uint64_t> merged(family.bucket_bounds.size() + 1, 0);
  for (const auto& s : family.series) {
    for (std::size_t i = 0; i < merged.size() && i < s.bucket_counts.size(); ++i)
      merged[i] += s.bucket_counts[i];
  }
  return merged;
}

struct latency {
  double p50_ms = k_nan;
  double p99_ms = k_nan;
};

latency interval_latency(const registry_snapshot* previous, const registry_snapshot& current) {
  const family_snapshot* now = current.find(metrics::k_http_server_request_duration_seconds.name);
  if (now == nullptr || now->type != diagnostics::metric_type::histogram) return {};
  std::vector<std::uint64_t> buckets = merged_buckets(*now);
  const family_snapshot* before =
      previous == nullptr ? nullptr
                          : previous->find(metrics::k_http_server_request_duration_seconds.name);
  if (before == nullptr || before->bucket_bounds != now->bucket_bounds) return {};
  const std::vector<std::uint64_t> old = merged_buckets(*before);
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (old[i] > buckets[i]) return {};  // the server restarted between the two polls
    buckets[i] -= old[i];
  }
  return {diagnostics::estimate_quantile(now->bucket_bounds, buckets, 0.50) * 1000,
          diagnostics::estimate_quantile(now->bucket_bounds, buckets, 0.99) * 1000};
}

}  // namespace

figures compute_figures(const registry_snapshot* previous, const registry_snapshot& current) {
  const double seconds =
      previous == nullptr
          ? 0
          : std::chrono::duration<double>(current.timestamp - previous->timestamp).count();
  figures f{};
  f.timestamp = current.timestamp;
  f.threads = total(&current, metrics::k_harrier_thread_pool_threads);
  f.thread_goal = total(&current, metrics::k_harrier_thread_pool_thread_goal);
  f.queue_length = total(&current, metrics::k_harrier_thread_pool_queue_length);
  f.completed_items_total = total(&current, metrics::k_harrier_thread_pool_completed_items_total);
  f.completed_items_per_second =
      rate(total(previous, metrics::k_harrier_thread_pool_completed_items_total),
           f.completed_items_total, seconds);
  f.requests_total = total(&current, metrics::k_http_server_request_duration_seconds);
  f.requests_per_second = rate(total(previous, metrics::k_http_server_request_duration_seconds),
                               f.requests_total, seconds);
  f.active_requests = total(&current, metrics::k_http_server_active_requests);
  f.active_connections = total(&current, metrics::k_harrier_active_connections);
  const latency l = interval_latency(previous, current);
  f.p50_latency_ms = l.p50_ms;
  f.p99_latency_ms = l.p99_ms;
  f.cpu_percent = rate(total(previous, metrics::k_process_cpu_seconds_total),
                       total(&current, metrics::k_process_cpu_seconds_total), seconds) *
                  100;
  f.heartbeat_lag_ms = maximum(current, metrics::k_harrier_heartbeat_lag_seconds) * 1000;
  return f;
}

}  // namespace harrier::tools
