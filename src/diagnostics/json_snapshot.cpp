// The JSON snapshot of a registry_snapshot (schema in metric_exposition.hpp), for GET /counters.
//
// nlohmann::json stays in this file so that no public header pays for it. Non-finite numbers
// (a NaN gauge, an empty histogram's percentiles) become null, since JSON has no spelling for them.

#include <harrier/diagnostics/metric_exposition.hpp>

#include <cmath>
#include <ctime>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace harrier::diagnostics {

namespace {

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace

std::string format_iso8601_utc(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::string to_json_text(const registry_snapshot& snapshot, int indent) {
  nlohmann::json metrics = nlohmann::json::object();
  for (const family_snapshot& f : snapshot.families) {
    nlohmann::json family = {{"type", to_string(f.type)}, {"help", f.help}};
    if (f.type == metric_type::histogram) family["bucket_bounds"] = f.bucket_bounds;
    nlohmann::json series = nlohmann::json::array();
    for (const series_snapshot& s : f.series) {
      nlohmann::json labels = nlohmann::json::object();
      for (const label& l : s.labels)
        labels[l.name] = l.value;
      nlohmann::json entry = {{"labels", std::move(labels)}};
      if (f.type == metric_type::histogram) {
        entry["count"] = s.count;
        entry["sum"] = number_or_null(s.sum);
        entry["p50"] = number_or_null(estimate_quantile(f, s, 0.50));
        entry["p90"] = number_or_null(estimate_quantile(f, s, 0.90));
        entry["p99"] = number_or_null(estimate_quantile(f, s, 0.99));
        entry["bucket_counts"] = s.bucket_counts;
      } else {
        entry["value"] = number_or_null(s.value);
      }
      series.push_back(std::move(entry));
    }
    family["series"] = std::move(series);
    metrics[f.name] = std::move(family);
  }
  const double unix_seconds =
      std::chrono::duration<double>(snapshot.timestamp.time_since_epoch()).count();
  nlohmann::json doc = {{"timestamp", format_iso8601_utc(snapshot.timestamp)},
                        {"timestamp_unix_seconds", unix_seconds},
                        {"metrics", std::move(metrics)}};
  // Label values come from requests (a method, a path): invalid UTF-8 becomes U+FFFD, not a throw.
  return doc.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

metric_type parse_type(const std::string& name, const std::string& family) {
  if (name == "counter") return metric_type::counter;
  if (name == "gauge") return metric_type::gauge;
  if (name == "histogram") return metric_type::histogram;
  throw std::invalid_argument(
      fmt::format("JSON snapshot: metric {} has type '{}', expected counter, gauge or histogram",
                  family, name));
}

double number_or_nan(const nlohmann::json& v) {
  return v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

registry_snapshot from_json_text(std::string_view json_text) {
  registry_snapshot out;
  try {
    const nlohmann::json doc = nlohmann::json::parse(json_text);
    const double unix_seconds = doc.at("timestamp_unix_seconds").get<double>();
    out.timestamp = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::duration<double>(unix_seconds)));
    for (const auto& [name, family] : doc.at("metrics").items()) {
      family_snapshot f;
      f.name = name;
      f.help = family.at("help").get<std::string>();
      f.type = parse_type(family.at("type").get<std::string>(), name);
      if (f.type == metric_type::histogram)
        f.bucket_bounds = family.at("bucket_bounds").get<std::vector<double>>();
      for (const nlohmann::json& entry : family.at("series")) {
        series_snapshot s;
        for (const auto& [label_name, value] : entry.at("labels").items())
          s.labels.push_back(label{label_name, value.get<std::string>()});
        if (f.type == metric_type::histogram) {
          s.count = entry.at("count").get<std::uint64_t>();
          s.sum = number_or_nan(entry.at("sum"));
          s.bucket_counts = entry.at("bucket_counts").get<std::vector<std::uint64_t>>();
        } else {
          s.value = number_or_nan(entry.at("value"));
        }
        f.series.push_back(std::move(s));
      }
      out.families.push_back(std::move(f));
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(
        fmt::format("JSON snapshot is not of harrier's schema: {}", e.what()));
  }
  return out;
}

}  // namespace harrier::diagnostics
