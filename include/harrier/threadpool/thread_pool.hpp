#pragma once
// thread_pool: harrier's work-stealing scheduler, an implementation of harrier::executor.
//
// Contract:
// - post(coroutine_handle) / post(callable) never run the work inline. Posted from one of this
//   pool's workers, the work goes to that worker's own queue (its LIFO slot: the newest item runs
//   next, which keeps a request's data in cache); posted from any other thread it goes to the
//   global queue. Idle workers steal the oldest half of a busy worker's queue.
// - Work posted from one thread is not ordered with respect to other threads' work; a worker's
//   own items run newest-first for the LIFO slot and oldest-first behind it.
// - post(callable) stores the callable in a recycled node (detail/job_allocator.hpp), so the
//   steady state allocates nothing. An exception escaping a callable is logged, not rethrown.
// - thread_pool::current() is the pool whose worker is calling, or nullptr.
// - stop() drains: it runs every queued item, including items posted by the draining items
//   themselves and by other threads until it returns, then joins every thread. Anything an
//   outside thread slipped into the global queue after the workers left runs on the thread that
//   called stop(). After stop() returns, post() throws std::logic_error. The destructor stops.
//   Calling stop() on one of the pool's own workers throws std::logic_error (it would join itself).
// - Thread count: see thread_pool_options and src/threadpool/monitor.cpp for the rules that move
//   the goal (hill climbing, the starvation gate, blocking compensation, idle exit).

#include <harrier/core/executor.hpp>
#include <harrier/core/spawn.hpp>
#include <harrier/core/task.hpp>
#include <harrier/threadpool/detail/job_allocator.hpp>
#include <harrier/threadpool/thread_pool_events.hpp>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

namespace harrier {

namespace diagnostics {
class blocking_detector;
}

// Default cap on threads: 512. .NET allows 32767, which lets a flood of blocking calls create
// thousands of threads (each with 8 MiB of reserved stack and a scheduler entry) and thrash;
// 512 leaves room for heavy blocking compensation (64 blocked items need 66 threads on two
// cores) while bounding memory (~4 GiB reserved, far less resident). A guess, not tuned.
inline constexpr std::uint32_t k_default_max_threads = 512;

// The processors this process may run on, as .NET's Environment.ProcessorCount counts them: the
// calling thread's CPU affinity (taskset, cpusets), lowered by a cgroup v2 CPU quota (a
// container's --cpus) rounded up; at least 1. "The processor count" in the options below.
std::uint32_t processor_count() noexcept;

struct thread_pool_options {
  // Threads kept even when idle; also the starting goal. 0 means processor_count().
  std::uint32_t min_threads = 0;
  std::uint32_t max_threads = k_default_max_threads;
  // An idle worker above min_threads exits after this long asleep (.NET: 20 s).
  std::chrono::milliseconds idle_timeout{20'000};
  // The monitor thread wakes this often to look for starvation and stalls (ours: 10 ms).
  std::chrono::milliseconds monitor_interval{10};
  // ... and this often while the pool is idle (five ticks in a row with no item started, none
  // running, nothing queued, no compensation): an idle server then wakes ~4 times a second, not
  // 100. A worker's wake-up brings monitor_interval back at once.
  std::chrono::milliseconds idle_monitor_interval{250};

  // Starvation gate, .NET's rule with our period: when work is queued and no item was dequeued
  // during a whole period while process CPU use is below the threshold, add gate_step threads.
  std::chrono::milliseconds starvation_gate_period{100};
  std::uint32_t starvation_gate_step = 1;
  double starvation_gate_cpu_threshold = 0.80;  // .NET: 80 %

  // Stall detection (ours): a worker that has held the same item for stall_threshold while its
  // thread CPU clock advanced less than stall_cpu_fraction of that time is blocked, annotated or
  // not; while work is queued the goal rises by one per stalled worker, and falls back as soon as
  // they move on.
  bool detect_stalled_workers = true;
  std::chrono::milliseconds stall_threshold{20};
  double stall_cpu_fraction = 0.25;

  // Hill climbing (see hill_climbing.hpp); off keeps the goal at min_threads plus compensation.
  bool hill_climbing = true;
  // Our slow start on top of .NET's hill climbing (see hill_climbing.hpp).
  bool hill_climbing_slow_start = true;

  // Blocking compensation (blocking(), sync_wait on a worker), as .NET's cooperative blocking:
  // up to blocking_immediate_threads replacements at once (0 means the processor count), then
  // one more per step, the step growing by blocking_step_delay up to blocking_max_delay.
  std::uint32_t blocking_immediate_threads = 0;
  std::chrono::milliseconds blocking_step_delay{25};
  std::chrono::milliseconds blocking_max_delay{250};

  std::string thread_name = "harrier-pool";  // pthread name prefix (15 characters kept)

  // When set, every worker registers with it and marks each item's start and end (about 2 ns
  // per item), and the monitor scans it every detector->scan_period() while items run, so that
  // it names an item that holds its worker too long. Must outlive the pool.
  diagnostics::blocking_detector* detector = nullptr;

  // .NET's rules, for comparisons: the gate every 500 ms adding one thread, no stall
  // detection, hill climbing without our slow start. The other settings are as above.
  static thread_pool_options dotnet_gate_model(std::uint32_t min_threads) {
    thread_pool_options o;
    o.min_threads = min_threads;
    o.starvation_gate_period = std::chrono::milliseconds(500);
    o.starvation_gate_step = 1;
    o.detect_stalled_workers = false;
    o.hill_climbing_slow_start = false;
    return o;
  }
};

namespace detail {

class pool_core;

// A posted callable: a node that knows how to run and free itself. Tagged with the low bit in
// the queues, to tell it from a coroutine frame address (which is at least 2-byte aligned).
struct pool_job {
  void (*invoke)(pool_job*) noexcept;
};

template <typename F>
struct pool_job_node final : pool_job {
  F fn;
  explicit pool_job_node(F&& f) : pool_job{&run}, fn(std::move(f)) {}
  static void run(pool_job* base) noexcept {
    auto* self = static_cast<pool_job_node*>(base);
    try {
      self->fn();
    } catch (...) {
      report_escaped_exception(std::current_exception(), "thread_pool::post callable");
    }
    self->~pool_job_node();
    job_deallocate(self, sizeof(pool_job_node));
  }
};

// A callable post() accepts; coroutine handles (which are callable too) take the direct path.
template <typename F>
concept pool_callable = std::is_invocable_v<std::add_lvalue_reference_t<std::decay_t<F>>> &&
    !std::is_convertible_v<F, std::coroutine_handle<>>;

}  // namespace detail

class thread_pool final : public executor {
 public:
  explicit thread_pool(thread_pool_options options = {});
  ~thread_pool() override;
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  void post(std::coroutine_handle<> h) override;
  // From a worker the batch goes to the worker's ring (stealable at once, no LIFO slot); from
  // outside to the global queue under one lock. Either way one wake-up, which fans out.
  void post_batch(std::span<const std::coroutine_handle<>> batch) override;
  // Work posted now would wait: every awake worker is busy, none is searching, and no parked
  // worker may be woken (none parked, or the awake ones already meet the goal); see executor.
  bool saturated() const noexcept override;
  // Returns when a worker parks (runs out of work), after `timeout`, or spuriously.
  void wait_for_idle_thread(std::chrono::nanoseconds timeout) noexcept override;
  // Idle workers drive the attached io_driver (one at a time); a busy worker drives it every
  // 61st item, and the monitor when nobody did for a monitor_interval. One driver per pool.
  bool attach_driver(io_driver& driver) override;
  void detach_driver(io_driver& driver) noexcept override;

  // Runs fn() (any void() callable) on the pool.
  template <detail::pool_callable F>
  void post(F&& fn) {
    using node = detail::pool_job_node<std::decay_t<F>>;
    static_assert(alignof(node) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__,
                  "thread_pool::post: over-aligned callables are not supported");
    void* memory = detail::job_allocate(sizeof(node));
    node* job;
    try {
      job = ::new (memory) node(std::decay_t<F>(std::forward<F>(fn)));
    } catch (...) {
      detail::job_deallocate(memory, sizeof(node));
      throw;
    }
    try {
      post_job(job);
    } catch (...) {  // posted after stop(): nothing took the node
      job->~node();
      detail::job_deallocate(job, sizeof(node));
      throw;
    }
  }

  // Drains and joins; see the contract above. Idempotent.
  void stop();

  static thread_pool* current() noexcept;

  thread_pool_stats stats() const;

  // listener is called for every event (adjustments, worker start/stop/park/unpark, samples), on
  // the thread that caused it (a worker or the monitor). It must be quick and must not call back
  // into the pool's stop() (stats() and post() are fine). Replacing it is thread-safe; nullptr
  // removes it. Whatever it refers to must outlive the pool (stop() still reports workers
  // stopping) or be removed first; a call already under way may finish after the replacement.
  void set_event_listener(std::function<void(const thread_pool_event&)> listener);

  const thread_pool_options& options() const noexcept;

 private:
  void post_job(detail::pool_job* job);
  std::unique_ptr<detail::pool_core> m_core;
};

// Runs work on pool and completes with its result. The calling coroutine resumes on the pool
// worker that finished the task (there is no hop back to the caller's thread; co_await another
// executor's schedule() for that). Lazy, as every task: nothing happens until it is awaited.
template <typename T>
task<T> run(thread_pool& pool, task<T> work) {
  co_await pool.schedule();
  co_return co_await std::move(work);
}

inline task<void> run(thread_pool& pool, task<void> work) {
  co_await pool.schedule();
  co_await std::move(work);
}

// spawn(pool, task) is harrier::spawn(executor&, task<void>) from the core: the task starts on
// a pool worker and its frame is freed when it finishes.

}  // namespace harrier
