#include <harrier/diagnostics/metric_registry.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

using namespace harrier::diagnostics;

namespace {
const metric_info k_latency{"test_latency_seconds", "Latency."};
}

TEST_CASE("observations land in the first bucket whose bound is at least the value",
          "[histogram]") {
  metric_registry registry;
  const histogram_handle h = registry.make_histogram(k_latency, {0.1, 0.5, 1.0});
  h.observe(0.05);                            // bucket 0
  h.observe(0.1);                             // bucket 0: bounds are inclusive ("le")
  h.observe(0.3);                             // bucket 1
  h.observe(1.0);                             // bucket 2
  h.observe(7.0);                             // +Inf
  h.observe(std::nan(""));                    // ignored
  h.observe(std::chrono::milliseconds(200));  // 0.2 s: bucket 1
  const registry_snapshot snapshot = registry.collect();
  const series_snapshot& s = snapshot.families.at(0).series.at(0);
  CHECK(s.bucket_counts == std::vector<std::uint64_t>{2, 2, 1, 1});
  CHECK(s.count == 6);
  CHECK(s.sum == Approx(0.05 + 0.1 + 0.3 + 1.0 + 7.0 + 0.2));
}

TEST_CASE("concurrent observations keep exact counts and sums", "[histogram]") {
  metric_registry registry;
  const histogram_handle h = registry.make_histogram(k_latency, {1.0, 2.0});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([h] {
      for (int i = 0; i < 20'000; ++i)
        h.observe(i % 2 == 0 ? 0.5 : 1.5);
    });
  }
  for (std::thread& t : threads)
    t.join();
  const series_snapshot s = registry.collect().families.at(0).series.at(0);
  CHECK(s.bucket_counts == std::vector<std::uint64_t>{40'000, 40'000, 0});
  CHECK(s.sum == Approx(40'000 * 0.5 + 40'000 * 1.5));  // halves are exact in binary
}

TEST_CASE("quantiles interpolate linearly inside the bucket holding the rank", "[histogram]") {
  const std::vector<double> bounds{0.1, 0.2, 0.4};
  // 10 observations in (0, 0.1], 10 in (0.1, 0.2], none in (0.2, 0.4], none above.
  const std::vector<std::uint64_t> counts{10, 10, 0, 0};
  CHECK(estimate_quantile(bounds, counts, 0.5) == Approx(0.1));    // rank 10: top of bucket 0
  CHECK(estimate_quantile(bounds, counts, 0.25) == Approx(0.05));  // rank 5: half of bucket 0
  CHECK(estimate_quantile(bounds, counts, 0.75) == Approx(0.15));  // rank 15: half of bucket 1
  CHECK(estimate_quantile(bounds, counts, 0.99) == Approx(0.198));
  CHECK(estimate_quantile(bounds, counts, 1.0) == Approx(0.2));
  CHECK(estimate_quantile(bounds, counts, 0.0) == Approx(0.0));
}

TEST_CASE("a quantile in the +Inf bucket is the highest finite bound", "[histogram]") {
  const std::vector<double> bounds{1.0, 2.0};
  const std::vector<std::uint64_t> counts{1, 0, 9};
  CHECK(estimate_quantile(bounds, counts, 0.9) == Approx(2.0));
}

TEST_CASE("an empty histogram or an invalid quantile gives NaN", "[histogram]") {
  const std::vector<double> bounds{1.0};
  CHECK(std::isnan(estimate_quantile(bounds, std::vector<std::uint64_t>{0, 0}, 0.5)));
  CHECK(std::isnan(estimate_quantile(bounds, std::vector<std::uint64_t>{1, 0}, 1.5)));
  CHECK(std::isnan(estimate_quantile(bounds, std::vector<std::uint64_t>{1}, 0.5)));
}

TEST_CASE("histogram series resolved by labels are independent", "[histogram]") {
  metric_registry registry;
  const histogram_vec by_route = registry.make_histogram_vec(k_latency, {"route"}, {0.5});
  by_route.with({"/a"}).observe(0.1);
  by_route.with({"/b"}).observe(0.9);
  by_route.with({"/b"}).observe(0.9);
  const registry_snapshot snapshot = registry.collect();
  const family_snapshot& f = snapshot.families.at(0);
  REQUIRE(f.series.size() == 2);
  CHECK(f.series[0].count == 1);
  CHECK(f.series[1].count == 2);
  CHECK(f.series[1].bucket_counts == std::vector<std::uint64_t>{0, 2});
}
