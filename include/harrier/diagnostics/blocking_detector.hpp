#pragma once
// blocking_detector: finds a work item that has held its worker thread longer than a threshold,
// and logs where that thread is, once per item (and at most one such warning per log_interval,
// see "The log" below):
//
//   Work item on thread harrier-worker-2 has been running for at least 1503 ms (GET
//   /sync/sleep?ms=3000): a blocked worker starves the thread pool. Its stack:
//     #0 clock_nanosleep+0x65 (libc.so.6)  ...
//
// None of .NET, Go or Tokio says this out of the box; it turns "CPU low, latency high" into the
// line of code to fix.
//
// How, and what it costs the workers: each registered worker thread owns a slot with a sequence
// number that is odd while an item runs (item_begin / item_end: one relaxed load and one store
// each, no clock read, no RMW; about 2 ns per begin+end pair, bench/diagnostics). A scanner
// (scan(now)) remembers when it first saw each odd sequence; an item whose sequence is still the
// same after `threshold` is reported. The reported time is therefore a lower bound, short by up
// to one scan period, and the report comes up to two periods after the threshold. A thread_pool
// given the detector scans it from its monitor every scan_period() while items run, and not at
// all while it is idle. (It was scanned from the 1 s heartbeat: a 1 s block went unreported
// with a 300 ms threshold, and reports came up to 2 s late.) The stack is captured with
// capture_thread_stack() (thread_stack.hpp); the item may have moved on between the check and the
// capture, in which case the stack is of its successor.
//
// The log: the first report is logged in full; later ones within options.log_interval of the
// last line are only counted (no stack is captured for them), and the next scan after the
// interval says how many there were, the longest, and one of their descriptions. Every report
// still counts in reports(), the metric and the trace.
//
// Descriptions: the code running an item may name it (describe_current_item("GET /route")),
// copied into the slot (truncated to k_max_item_description_bytes) under a try-lock that the
// worker never waits on; a scanner that holds it at that instant makes the worker skip it.
//
// Threads: register_current_thread() / unregister_current_thread() are called by each worker
// (the pool, at worker start and exit); the hot calls are static and act on the calling
// thread's slot (no-ops on an unregistered thread). scan() may run on any one thread at a time.
// A worker must unregister before its thread exits (the scanner signals registered threads) and
// before the detector is destroyed.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace harrier::diagnostics {

class metric_registry;

inline constexpr std::size_t k_max_item_description_bytes = 95;

// What a watched thread is, for the warning's words: a blocked pool worker starves the pool; a
// blocked I/O thread (inline dispatch runs handlers on it) stalls every connection it serves.
enum class watched_thread_role { pool_worker, io_thread };

struct blocking_detector_options {
  std::chrono::milliseconds threshold{1000};  // as the issue asks; configurable
  bool capture_stacks = true;
  // At most one warning (with its stack) per interval: the reports in between are counted, and
  // said in one line once the interval is over. 50 clients on /sync/sleep logged 251 warnings
  // with stacks, ~4,000 lines, in 6 s (audit 5).
  std::chrono::milliseconds log_interval{10'000};
};

class blocking_detector {
 public:
  using clock = std::chrono::steady_clock;
  struct worker_slot;

  // With a registry, counts reports in harrier_thread_pool_long_items_total.
  explicit blocking_detector(blocking_detector_options options = {},
                             metric_registry* registry = nullptr);
  ~blocking_detector();
  blocking_detector(const blocking_detector&) = delete;
  blocking_detector& operator=(const blocking_detector&) = delete;

  // The calling thread becomes a watched worker; `name` labels it in warnings (default: the
  // thread's pthread name).
  void register_current_thread(std::string_view name = {},
                               watched_thread_role role = watched_thread_role::pool_worker);
  void unregister_current_thread() noexcept;

  // Hot path, on the worker around each item it runs.
  static void item_begin() noexcept;
  static void item_end() noexcept;
  static void describe_current_item(std::string_view description) noexcept;

  // Checks every worker at time `now`; logs and returns the number of new reports. Scans are
  // serialised (one at a time, under a lock).
  std::size_t scan(clock::time_point now);

  // Whether a watched thread is inside an item now (a lock and a load per thread): a scanner
  // that sleeps while nothing runs (the pool's quiet monitor) looks here first.
  bool any_item_running() const;
  // Whether a scan has something to do: an item runs, or reports wait to be summarised in the
  // log once log_interval is over (so that the line comes then, not at the next burst).
  bool wants_scan() const;

  std::chrono::milliseconds threshold() const noexcept;
  // How often to scan: a tenth of the threshold, between 10 and 100 ms, so that a report comes
  // at most a fifth of the threshold (and 200 ms) late. A scan with nothing to report costs a
  // lock and a load per worker.
  std::chrono::milliseconds scan_period() const noexcept;

  std::uint64_t reports() const noexcept;

 private:
  struct state;
  void log_unlogged(clock::time_point now);
  std::unique_ptr<state> m_state;
};

}  // namespace harrier::diagnostics
