#include <harrier/diagnostics/metric_registry.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace harrier::diagnostics;

namespace {
constexpr metric_info k_requests{"test_requests_total", "Requests."};
}

TEST_CASE("concurrent counter increments from many threads sum exactly", "[counter]") {
  metric_registry registry;
  const counter_handle counter = registry.make_counter(k_requests);
  constexpr int k_threads = 8;
  constexpr std::uint64_t k_adds_per_thread = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([counter, t] {
      for (std::uint64_t i = 0; i < k_adds_per_thread; ++i)
        counter.add(t % 2 == 0 ? 1 : 3);
    });
  }
  for (std::thread& t : threads)
    t.join();
  CHECK(counter.value() == k_adds_per_thread * (4 * 1 + 4 * 3));
  const registry_snapshot snapshot = registry.collect();
  REQUIRE(snapshot.find("test_requests_total") != nullptr);
  CHECK(snapshot.find("test_requests_total")->series.at(0).value ==
        static_cast<double>(k_adds_per_thread * 16));
}

TEST_CASE("an up-down counter goes below zero and back across threads", "[counter]") {
  metric_registry registry;
  const up_down_counter_handle active = registry.make_up_down_counter({"test_active", "Active."});
  std::thread up([active] {
    for (int i = 0; i < 50'000; ++i)
      active.inc();
  });
  std::thread down([active] {
    for (int i = 0; i < 50'001; ++i)
      active.dec();
  });
  up.join();
  down.join();
  CHECK(active.value() == -1);
  CHECK(registry.collect().families.at(0).type == metric_type::gauge);
  CHECK(registry.collect().families.at(0).series.at(0).value == -1.0);
}

TEST_CASE("a gauge keeps the last value set and adds deltas", "[counter]") {
  metric_registry registry;
  const gauge_handle lag = registry.make_gauge({"test_lag_seconds", "Lag."});
  lag.set(0.25);
  lag.add(0.5);
  CHECK(lag.value() == Approx(0.75));
  CHECK(registry.collect().families.at(0).series.at(0).value == Approx(0.75));
}

TEST_CASE("a labelled series resolves once and is shared by equal label values", "[counter]") {
  metric_registry registry;
  const counter_vec by_reason =
      registry.make_counter_vec({"test_adjustments_total", "Adjustments."}, {"reason"});
  const counter_handle warmup = by_reason.with({"Warmup"});
  const counter_handle starvation = by_reason.with({"Starvation"});
  warmup.add(2);
  starvation.inc();
  by_reason.with({"Warmup"}).inc();
  CHECK(warmup.value() == 3);
  const registry_snapshot snapshot = registry.collect();
  const family_snapshot& family = *snapshot.find("test_adjustments_total");
  REQUIRE(family.series.size() == 2);
  const std::vector<label> key{{"reason", "Starvation"}};
  REQUIRE(family.find(key) != nullptr);
  CHECK(family.find(key)->value == 1.0);
}

TEST_CASE("registering the same metric twice returns the same series", "[counter]") {
  metric_registry registry;
  registry.make_counter(k_requests).add(5);
  registry.make_counter(k_requests).add(1);
  CHECK(registry.make_counter(k_requests).value() == 6);
  CHECK(registry.collect().families.size() == 1);
}

TEST_CASE("invalid names, mismatched registrations and wrong label counts throw", "[counter]") {
  metric_registry registry;
  CHECK_THROWS_AS(registry.make_counter({"requests", "No _total."}), std::invalid_argument);
  CHECK_THROWS_AS(registry.make_gauge({"queue_total", "A gauge named like a counter."}),
                  std::invalid_argument);
  CHECK_THROWS_AS(registry.make_counter({"9lives_total", "Bad start."}), std::invalid_argument);
  CHECK_THROWS_AS(registry.make_counter_vec(k_requests, {"bad-label"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.make_histogram_vec({"test_seconds", "h"}, {"le"}, {1.0}),
                  std::invalid_argument);
  CHECK_THROWS_AS(registry.make_histogram({"test2_seconds", "h"}, {1.0, 1.0}),
                  std::invalid_argument);

  const counter_vec vec = registry.make_counter_vec(k_requests, {"method"});
  CHECK_THROWS_AS(registry.make_counter_vec(k_requests, {"route"}), std::invalid_argument);
  CHECK_NOTHROW(registry.make_up_down_counter({"test_in_flight", "An up-down counter."}));
  CHECK_THROWS_AS(registry.make_gauge({"test_in_flight", "Now a settable gauge."}),
                  std::invalid_argument);
  CHECK_THROWS_AS(vec.with({"GET", "extra"}), std::invalid_argument);
  CHECK_THROWS_AS(vec.with({}), std::invalid_argument);
}

TEST_CASE("detached handles ignore every operation", "[counter]") {
  const counter_handle counter;
  const up_down_counter_handle active;
  const gauge_handle gauge;
  const histogram_handle histogram;
  const counter_vec vec;
  counter.add(3);
  active.dec();
  gauge.set(1.0);
  histogram.observe(0.5);
  vec.with({"anything"}).inc();
  CHECK_FALSE(counter);
  CHECK(counter.value() == 0);
  CHECK(active.value() == 0);
  CHECK(gauge.value() == 0.0);
}

TEST_CASE("scrape-time callbacks are evaluated at collection and stop when unregistered",
          "[counter]") {
  metric_registry registry;
  int queue_length = 7;
  {
    callback_registration registration = registry.add_gauge_callback(
        {"test_queue_length", "Queue."}, [&] { return static_cast<double>(queue_length); });
    CHECK(registry.collect().find("test_queue_length")->series.at(0).value == 7.0);
    queue_length = 9;
    CHECK(registry.collect().find("test_queue_length")->series.at(0).value == 9.0);
  }
  CHECK(registry.collect().find("test_queue_length")->series.empty());
  CHECK_THROWS_AS(registry.add_counter_callback({"test_cb_total", "x"}, {}), std::invalid_argument);
}

TEST_CASE("callbacks sharing a name differ by label values and are exposed as one family",
          "[counter]") {
  metric_registry registry;
  const metric_info adjustments{"test_pool_adjustments_total", "Adjustments."};
  callback_registration warmup =
      registry.add_counter_callback(adjustments, [] { return 3.0; }, {{"reason", "warmup"}});
  callback_registration starvation =
      registry.add_counter_callback(adjustments, [] { return 1.0; }, {{"reason", "starvation"}});
  CHECK_THROWS_AS(
      registry.add_counter_callback(adjustments, [] { return 0.0; }, {{"reason", "warmup"}}),
      std::invalid_argument);
  CHECK_THROWS_AS(
      registry.add_counter_callback(adjustments, [] { return 0.0; }, {{"cause", "other"}}),
      std::invalid_argument);
  const registry_snapshot snapshot = registry.collect();
  REQUIRE(snapshot.families.size() == 1);
  const family_snapshot& family = snapshot.families[0];
  CHECK(family.type == metric_type::counter);
  REQUIRE(family.series.size() == 2);
  const std::vector<label> key{{"reason", "starvation"}};
  CHECK(family.find(key)->value == 1.0);
}
