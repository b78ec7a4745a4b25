#pragma once
// The standard metrics of harrier: one name and help text per figure, so that every layer
// registers the same strings (design.md, "Metric names"). Names follow OpenTelemetry's HTTP
// semantic conventions in Prometheus form where they exist (http.server.request.duration is
// http_server_request_duration_seconds) and mirror .NET's runtime counters otherwise.
//
// Who reports what (wired by the lead; every layer uses metric_registry's make_* with these):
//   http:       request duration (histogram vec: method, route, status), active requests
//   net:        active connections, connections total, I/O completions, pending operations,
//               backend info (gauge vec: backend, set to 1)
//   threadpool: threads, thread goal, queue length, completed items, adjustments (counter vec:
//               reason), blocked threads — thread-pool figures are best as scrape-time callbacks
//   diagnostics: heartbeat lag (heartbeat.hpp), process_* (process_metrics.hpp)

#include <array>
#include <string_view>
#include <vector>

#include <harrier/diagnostics/metric_registry.hpp>

namespace harrier::diagnostics::metrics {

// Label names. Label values must be UTF-8 and of bounded cardinality: as OpenTelemetry advises,
// use the route template (not the raw path) and "_OTHER" for a method outside the known set.
inline constexpr std::string_view k_label_method = "method";
inline constexpr std::string_view k_label_route = "route";
inline constexpr std::string_view k_label_status = "status";
inline constexpr std::string_view k_label_reason = "reason";
inline constexpr std::string_view k_label_backend = "backend";

// OpenTelemetry's default explicit buckets for http.server.request.duration, in seconds
// (semantic conventions, "Metric: http.server.request.duration"; the same as ASP.NET Core's).
inline constexpr std::array<double, 14> k_http_duration_buckets_seconds = {
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10};

// The same, in the form metric_registry::make_histogram(_vec) takes.
inline std::vector<double> http_duration_buckets_seconds() {
  return {k_http_duration_buckets_seconds.begin(), k_http_duration_buckets_seconds.end()};
}

// HTTP (histogram with labels method, route, status; up-down counter).
inline constexpr metric_info k_http_server_request_duration_seconds{
    "http_server_request_duration_seconds", "Duration of HTTP server requests, in seconds."};
inline constexpr metric_info k_http_server_active_requests{
    "http_server_active_requests", "Number of HTTP requests currently being handled."};

// Connections (up-down counter; counter).
inline constexpr metric_info k_harrier_active_connections{"harrier_active_connections",
                                                          "Number of connections currently open."};
inline constexpr metric_info k_harrier_connections_total{
    "harrier_connections_total", "Number of connections accepted since start."};
inline constexpr metric_info k_harrier_connections_refused_total{
    "harrier_connections_refused_total",
    "Number of accepted connections answered 503 and closed: over the concurrent connection "
    "limit."};
inline constexpr metric_info k_harrier_accept_failures_total{
    "harrier_accept_failures_total",
    "Number of failed accepts that were the listener's (out of descriptors or memory, ...); each "
    "makes the accept loop back off."};
// Counter with label reason (rejection_name: missing_host, headers_too_large, ...).
inline constexpr metric_info k_harrier_http_rejected_requests_total{
    "harrier_http_rejected_requests_total",
    "Number of requests answered by the protocol layer without reaching the application "
    "(malformed, over a limit, timed out), by reason."};

// Thread pool.
inline constexpr metric_info k_harrier_thread_pool_threads{"harrier_thread_pool_threads",
                                                           "Number of thread-pool worker threads."};
inline constexpr metric_info k_harrier_thread_pool_thread_goal{
    "harrier_thread_pool_thread_goal",
    "Number of worker threads the pool currently aims for (hill climbing and starvation)."};
inline constexpr metric_info k_harrier_thread_pool_queue_length{
    "harrier_thread_pool_queue_length", "Number of work items queued and not yet started."};
inline constexpr metric_info k_harrier_thread_pool_completed_items_total{
    "harrier_thread_pool_completed_items_total", "Number of work items the pool has completed."};
inline constexpr metric_info k_harrier_thread_pool_adjustments_total{
    "harrier_thread_pool_adjustments_total",
    "Number of thread-count adjustments, by reason (Warmup, ClimbingMove, Starvation, ...)."};
inline constexpr metric_info k_harrier_thread_pool_blocked_threads{
    "harrier_thread_pool_blocked_threads",
    "Number of worker threads currently blocked (annotated or detected)."};

inline constexpr metric_info k_harrier_thread_pool_long_items_total{
    "harrier_thread_pool_long_items_total",
    "Number of work items reported for holding a worker longer than the blocking detector's "
    "threshold."};

// I/O.
inline constexpr metric_info k_harrier_io_completions_total{"harrier_io_completions_total",
                                                            "Number of I/O completions harvested."};
inline constexpr metric_info k_harrier_io_batched_waits_total{
    "harrier_io_batched_waits_total",
    "Number of I/O waits that let completions gather into a batch (io_uring, under load)."};
inline constexpr metric_info k_harrier_io_pending_operations{
    "harrier_io_pending_operations", "Number of I/O operations submitted and not yet completed."};
inline constexpr metric_info k_harrier_io_backend_info{
    "harrier_io_backend_info", "The I/O backend in use (label backend), always 1."};

// Heartbeat.
inline constexpr metric_info k_harrier_heartbeat_lag_seconds{
    "harrier_heartbeat_lag_seconds",
    "How late the last heartbeat tick (or its thread-pool probe) was, in seconds."};

// Process (the names of Prometheus' client libraries' process collectors).
inline constexpr metric_info k_process_cpu_seconds_total{
    "process_cpu_seconds_total", "Total user and system CPU time spent in seconds."};
inline constexpr metric_info k_process_resident_memory_bytes{"process_resident_memory_bytes",
                                                             "Resident memory size in bytes."};
inline constexpr metric_info k_process_open_fds{"process_open_fds",
                                                "Number of open file descriptors."};
inline constexpr metric_info k_process_threads{"process_threads",
                                               "Number of OS threads in the process."};
inline constexpr metric_info k_process_start_time_seconds{
    "process_start_time_seconds", "Start time of the process since unix epoch in seconds."};

}  // namespace harrier::diagnostics::metrics
