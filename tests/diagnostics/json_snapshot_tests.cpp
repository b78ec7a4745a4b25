#include <harrier/diagnostics/metric_exposition.hpp>
#include <harrier/diagnostics/metric_registry.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>

using namespace harrier::diagnostics;
using nlohmann::json;

TEST_CASE("the JSON snapshot carries a timestamp and every family with its type and help",
          "[json]") {
  metric_registry registry;
  registry.make_counter({"test_connections_total", "Connections."}).add(4);
  registry.make_up_down_counter_vec({"test_active", "Active."}, {"kind"}).with({"tcp"}).add(2);
  const auto before = std::chrono::system_clock::now();
  const json doc = json::parse(to_json_text(registry.collect()));
  const auto after = std::chrono::system_clock::now();

  REQUIRE(doc.at("timestamp").is_string());
  CHECK(doc.at("timestamp").get<std::string>().size() == 24);  // 2026-11-26T08:30:03.123Z
  CHECK(doc.at("timestamp").get<std::string>().back() == 'Z');
  const double ts = doc.at("timestamp_unix_seconds").get<double>();
  CHECK(ts >= std::chrono::duration<double>(before.time_since_epoch()).count() - 0.001);
  CHECK(ts <= std::chrono::duration<double>(after.time_since_epoch()).count() + 0.001);

  const json& counter = doc.at("metrics").at("test_connections_total");
  CHECK(counter.at("type") == "counter");
  CHECK(counter.at("help") == "Connections.");
  CHECK(counter.at("series").at(0).at("labels") == json::object());
  CHECK(counter.at("series").at(0).at("value") == 4);

  const json& gauge = doc.at("metrics").at("test_active");
  CHECK(gauge.at("type") == "gauge");
  CHECK(gauge.at("series").at(0).at("labels") == json{{"kind", "tcp"}});
  CHECK(gauge.at("series").at(0).at("value") == 2);
}

TEST_CASE("histograms in the JSON snapshot have count, sum, p50/p90/p99 and buckets", "[json]") {
  metric_registry registry;
  const histogram_handle h =
      registry.make_histogram({"test_duration_seconds", "Duration."}, {0.1, 0.2, 0.4});
  for (int i = 0; i < 10; ++i)
    h.observe(0.05);
  for (int i = 0; i < 10; ++i)
    h.observe(0.15);
  registry.make_histogram_vec({"test_empty_seconds", "Never observed."}, {"route"}, {1.0})
      .with({"/idle"});
  const json doc = json::parse(to_json_text(registry.collect(), 2));

  const json& family = doc.at("metrics").at("test_duration_seconds");
  CHECK(family.at("type") == "histogram");
  CHECK(family.at("bucket_bounds") == json{0.1, 0.2, 0.4});
  const json& s = family.at("series").at(0);
  CHECK(s.at("count") == 20);
  CHECK(s.at("sum").get<double>() == Approx(2.0));
  CHECK(s.at("p50").get<double>() == Approx(0.1));
  CHECK(s.at("p90").get<double>() == Approx(0.18));
  CHECK(s.at("p99").get<double>() == Approx(0.198));
  CHECK(s.at("bucket_counts") == json{10, 10, 0, 0});

  const json& empty = doc.at("metrics").at("test_empty_seconds").at("series").at(0);
  CHECK(empty.at("labels") == json{{"route", "/idle"}});
  CHECK(empty.at("count") == 0);
  CHECK(empty.at("p50").is_null());
  CHECK(empty.at("p99").is_null());
}

TEST_CASE("a JSON snapshot reads back into the same figures", "[json]") {
  metric_registry registry;
  registry.make_counter_vec({"test_requests_total", "Requests."}, {"route"}).with({"/a"}).add(7);
  registry.make_gauge({"test_lag_seconds", "Lag."}).set(0.5);
  const histogram_handle h = registry.make_histogram({"test_duration_seconds", "D."}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  const registry_snapshot original = registry.collect();
  const registry_snapshot back = from_json_text(to_json_text(original));

  CHECK(std::chrono::abs(back.timestamp - original.timestamp) < std::chrono::milliseconds(1));
  REQUIRE(back.families.size() == 3);
  const family_snapshot* requests = back.find("test_requests_total");
  REQUIRE(requests != nullptr);
  CHECK(requests->type == metric_type::counter);
  CHECK(requests->series.at(0).labels == std::vector<label>{{"route", "/a"}});
  CHECK(requests->series.at(0).value == 7);
  CHECK(back.find("test_lag_seconds")->series.at(0).value == 0.5);
  const family_snapshot* duration = back.find("test_duration_seconds");
  REQUIRE(duration != nullptr);
  CHECK(duration->bucket_bounds == std::vector<double>{0.1, 1});
  CHECK(duration->series.at(0).bucket_counts == std::vector<std::uint64_t>{1, 1, 0});
  CHECK(estimate_quantile(*duration, duration->series.at(0), 0.5) == Approx(0.1));
}

TEST_CASE("reading JSON that is not a snapshot throws and names the problem", "[json]") {
  CHECK_THROWS_AS(from_json_text("not json"), std::invalid_argument);
  CHECK_THROWS_AS(from_json_text(R"({"metrics":{}})"), std::invalid_argument);
  CHECK_THROWS_WITH(
      from_json_text(
          R"({"timestamp_unix_seconds":1,"metrics":{"x":{"type":"summary","help":"","series":[]}}})"),
      Catch::Contains("summary"));
}

TEST_CASE("label values that are not UTF-8 do not break the JSON snapshot", "[json]") {
  metric_registry registry;
  registry.make_counter_vec({"test_requests_total", "Requests."}, {"method"})
      .with({"G\xff\xfeT"})
      .inc();
  const json doc = json::parse(to_json_text(registry.collect()));
  CHECK(doc.at("metrics").at("test_requests_total").at("series").at(0).at("value") == 1);
}
