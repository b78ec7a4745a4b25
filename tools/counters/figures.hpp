#pragma once
// The figures harrier-counters shows, computed from two consecutive /counters snapshots.
//
// Levels (threads, queue length, connections, ...) come from the newer snapshot. Rates divide the
// rise of a counter by the time between the two snapshots' own timestamps (the server's clock, so
// the tool's polling jitter does not distort them); a counter that went down (a restarted server)
// gives NaN rather than a negative rate. Latency percentiles come from the histogram's rise over
// the interval, all series (methods, routes, statuses) merged, so they describe the last interval
// like dotnet-counters' figures, not the whole life of the server. A figure whose metric the server
// does not expose, or a rate without a previous snapshot, is NaN ("-" in the table, empty in CSV,
// null in JSON).

#include <array>
#include <chrono>
#include <string_view>

#include <harrier/diagnostics/metric_snapshot.hpp>

namespace harrier::tools {

struct figures {
  std::chrono::system_clock::time_point timestamp;
  double threads;
  double thread_goal;
  double queue_length;
  double completed_items_per_second;
  double requests_per_second;
  double active_requests;
  double active_connections;
  double p50_latency_ms;
  double p99_latency_ms;
  double cpu_percent;  // of one core, like top: 200 means two cores busy
  double heartbeat_lag_ms;
  double completed_items_total;
  double requests_total;
};

// One column of the table and of the CSV/JSON output.
struct figure_column {
  std::string_view key;    // CSV header and JSON key
  std::string_view label;  // the table's row label
  std::string_view unit;   // for the table
  double figures::*field;
};

inline constexpr std::array<figure_column, 13> k_figure_columns{{
    {"threads", "Thread pool threads", "", &figures::threads},
    {"thread_goal", "Thread pool thread goal", "", &figures::thread_goal},
    {"queue_length", "Thread pool queue length", "", &figures::queue_length},
    {"completed_items_per_second", "Completed work items", "/s",
     &figures::completed_items_per_second},
    {"requests_per_second", "Requests", "/s", &figures::requests_per_second},
    {"active_requests", "Current requests", "", &figures::active_requests},
    {"active_connections", "Current connections", "", &figures::active_connections},
    {"p50_latency_ms", "Request duration p50", "ms", &figures::p50_latency_ms},
    {"p99_latency_ms", "Request duration p99", "ms", &figures::p99_latency_ms},
    {"cpu_percent", "CPU usage", "%", &figures::cpu_percent},
    {"heartbeat_lag_ms", "Heartbeat lag", "ms", &figures::heartbeat_lag_ms},
    {"completed_items_total", "Completed work items (total)", "", &figures::completed_items_total},
    {"requests_total", "Requests (total)", "", &figures::requests_total},
}};

// `previous` may be null (the first sample): rates and interval percentiles are then NaN.
figures compute_figures(const diagnostics::registry_snapshot* previous,
                        const diagnostics::registry_snapshot& current);

}  // namespace harrier::tools
