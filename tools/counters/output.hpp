#pragma once
// How harrier-counters prints figures: the monitor's table, and the collect formats.
//
// CSV: one header line, then one line per sample; a NaN figure is an empty cell. JSON: one
// document {"url", "interval_seconds", "samples": [{"timestamp", "timestamp_unix_seconds",
// <figure keys>...}]} with null for NaN; written once at the end, so it is always complete.

#include <string>
#include <string_view>
#include <vector>

#include "figures.hpp"

namespace harrier::tools {

// The monitor's table: a header naming the URL and the sample's time, one row per figure.
std::string render_table(std::string_view url, const figures& f);

std::string csv_header();
std::string csv_row(const figures& f);

std::string json_document(std::string_view url, double interval_seconds,
                          const std::vector<figures>& samples);

}  // namespace harrier::tools
