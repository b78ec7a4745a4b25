#pragma once
// The standard trace event names and categories, so that every layer records the same strings
// and tools (tests, the dashboard) can look for them. trace_recorder stores only the pointers,
// which these literals satisfy. Suggested arguments are listed with each event.

namespace harrier::diagnostics::trace_names {

// Categories (the "cat" field; Perfetto can filter on them).
inline constexpr const char* k_category_threadpool = "threadpool";
inline constexpr const char* k_category_io = "io";
inline constexpr const char* k_category_http = "http";
inline constexpr const char* k_category_diagnostics = "diagnostics";

// Thread pool (instant events on the worker's lane unless said otherwise).
inline constexpr const char* k_worker_start = "worker_start";
inline constexpr const char* k_worker_stop = "worker_stop";
inline constexpr const char* k_worker_park = "worker_park";    // B/E around the park
inline constexpr const char* k_adjustment = "adjustment";      // reason, threads_from, threads_to
inline constexpr const char* k_starvation = "starvation";      // queue_length, threads
inline constexpr const char* k_compensation = "compensation";  // blocked, goal
inline constexpr const char* k_long_item = "long_item";        // held_ms, item (detector)
inline constexpr const char* k_pool_counters = "thread_pool";  // C: threads, goal, queue_length

// I/O.
inline constexpr const char* k_io_batch = "io_batch";  // i: completions, dispatch

// HTTP: one request is a span on the lane of the thread that ran it, with nested steps.
inline constexpr const char* k_accept = "accept";                      // i: fd
inline constexpr const char* k_request = "request";                    // X: method, route, status
inline constexpr const char* k_headers_parsed = "headers_parsed";      // i
inline constexpr const char* k_handler = "handler";                    // X: route
inline constexpr const char* k_response_written = "response_written";  // i: bytes

// Diagnostics.
inline constexpr const char* k_heartbeat_late = "heartbeat_late";  // i: lag_ms

}  // namespace harrier::diagnostics::trace_names
