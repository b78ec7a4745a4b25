#pragma once
// What the thread pool tells the outside world: a stats snapshot and a stream of events.
//
// The diagnostics layer turns these into counters (harrier_thread_pool_*) and trace events; the
// pool itself depends on nothing above the core. Names mirror .NET's ThreadPool event source.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace harrier {

// Why the thread goal changed, as .NET's HillClimbing.StateOrTransition.
enum class adjustment_reason : std::uint8_t {
  warmup,                // hill climbing: not enough samples yet
  initializing,          // the goal was set from outside hill climbing (start, options)
  random_move,           // hill climbing: the square wave moved the goal
  climbing_move,         // hill climbing: the control setting moved the goal
  change_point,          // hill climbing: throughput shifted level; history restarted
  stabilizing,           // hill climbing: the goal moved back toward the control setting
  starvation,            // starvation gate or a stalled (unannotated blocked) worker
  thread_timed_out,      // an idle worker above the minimum exited
  cooperative_blocking,  // blocking(...) / sync_wait on a worker began or ended
};
inline constexpr std::size_t k_adjustment_reason_count = 9;

std::string_view to_string(adjustment_reason reason) noexcept;

enum class thread_pool_event_kind : std::uint8_t {
  adjustment,     // goal changed: old_goal, new_goal, reason, throughput
  worker_start,   // a worker thread started: worker index in `worker`
  worker_stop,    // a worker thread exited
  worker_park,    // a worker went to sleep (no work)
  worker_unpark,  // a worker woke up
  sample,         // hill climbing took a sample: throughput, new_goal = current goal
};

struct thread_pool_event {
  thread_pool_event_kind kind = thread_pool_event_kind::adjustment;
  std::chrono::steady_clock::time_point time{};
  std::uint32_t old_goal = 0;
  std::uint32_t new_goal = 0;
  adjustment_reason reason = adjustment_reason::initializing;
  double throughput = 0;  // completed items per second over the last sample, when known
  std::uint32_t worker = 0;
};

struct thread_pool_stats {
  std::uint32_t threads = 0;         // live worker threads
  std::uint32_t goal = 0;            // target number of working threads
  std::uint32_t parked_threads = 0;  // sleeping for lack of work (or above the goal)
  std::size_t global_queue_length = 0;
  std::size_t local_queue_length = 0;  // sum over workers, LIFO slots included
  std::uint64_t completed_items = 0;
  std::uint32_t blocked_threads = 0;  // annotated (blocking(), sync_wait) plus detected stalls
  std::array<std::uint64_t, k_adjustment_reason_count> adjustments{};  // by adjustment_reason
  // The monitor's rounds: every monitor_interval while the pool works, every
  // idle_monitor_interval once it has been idle for a few (a worker's wake-up brings the short
  // interval back at once).
  std::uint64_t monitor_ticks = 0;
};

}  // namespace harrier
