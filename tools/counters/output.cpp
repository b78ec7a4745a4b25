// render_table, csv_*, json_document: formatting only; the figures are computed in figures.cpp.

#include "output.hpp"

#include <harrier/diagnostics/metric_exposition.hpp>

#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace harrier::tools {

namespace {

// Up to two decimals, without trailing zeros: 12, 12.5, 0.25.
std::string compact_number(double v) {
  std::string text = fmt::format("{:.2f}", v);
  while (text.back() == '0')
    text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

}  // namespace

std::string render_table(std::string_view url, const figures& f) {
  std::string out = fmt::format("Press Ctrl-C to quit\n\n[harrier] {}    {}\n", url,
                                diagnostics::format_iso8601_utc(f.timestamp));
  for (const figure_column& c : k_figure_columns) {
    const double v = f.*c.field;
    const std::string value = std::isfinite(v) ? compact_number(v) : "-";
    const std::string name =
        c.unit.empty() ? std::string(c.label) : fmt::format("{} ({})", c.label, c.unit);
    out += fmt::format("    {:<36}{:>12}\n", name, value);
  }
  return out;
}

std::string csv_header() {
  std::string out = "timestamp";
  for (const figure_column& c : k_figure_columns)
    out += fmt::format(",{}", c.key);
  return out + "\n";
}

std::string csv_row(const figures& f) {
  std::string out = diagnostics::format_iso8601_utc(f.timestamp);
  for (const figure_column& c : k_figure_columns) {
    const double v = f.*c.field;
    out += std::isfinite(v) ? fmt::format(",{}", compact_number(v)) : ",";
  }
  return out + "\n";
}

std::string json_document(std::string_view url, double interval_seconds,
                          const std::vector<figures>& samples) {
  nlohmann::json list = nlohmann::json::array();
  for (const figures& f : samples) {
    nlohmann::json sample = {
        {"timestamp", diagnostics::format_iso8601_utc(f.timestamp)},
        {"timestamp_unix_seconds",
         std::chrono::duration<double>(f.timestamp.time_since_epoch()).count()}};
    for (const figure_column& c : k_figure_columns) {
      const double v = f.*c.field;
      sample[std::string(c.key)] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
    }
    list.push_back(std::move(sample));
  }
  const nlohmann::json doc = {
      {"url", url}, {"interval_seconds", interval_seconds}, {"samples", std::move(list)}};
  return doc.dump(2) + "\n";
}

}  // namespace harrier::tools
