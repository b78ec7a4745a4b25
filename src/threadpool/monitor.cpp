// The monitor thread: every monitor_interval (10 ms) it looks at the pool and moves the goal.
//
// Rules, in the order they are applied each tick:
// 1. Stalled workers (ours; the design brief's "sharper signal"). A worker that has been inside
//    the same item for stall_threshold (20 ms) while its thread CPU clock (pthread_getcpuclockid)
//    advanced by less than stall_cpu_fraction (25 %) of the time, and whom the kernel shows
//    sleeping (not runnable: a preempted thread's clock stops too), is blocked, whether or not
//    it said so. While work is queued, the goal carries one extra thread per stalled worker and
//    does not give it back; once the queue is empty it keeps only what is still blocked. Why:
//    .NET's gate fires only when nothing at all was dequeued for 500 ms, so a flood of 100 ms
//    blocking calls on two threads (items keep finishing every 50 ms) never trips it and
//    recovery is left to hill climbing at 1-2 threads/s. Counting the blocked threads themselves
//    reacts in 20-30 ms and adds exactly as many threads as are blocked: a cascade of blocking
//    items doubles the thread count every ~20-30 ms instead of adding one per 500 ms, and the
//    count falls back by itself when the blocking stops (no overshoot left to undo). The same tick
//    moves a long-held worker's LIFO item to the global queue, since no thief may take it.
//    Annotated blocked workers (blocking(), sync_wait) beyond the immediate replacements of
//    rule 2 are counted here too, without the detection delay: while work is queued, every
//    blocked worker has its replacement within one tick. .NET's stepping alone (+1 per 25-250 ms)
//    would take seconds to cover 64 blocked items; the brief asks for half a second.
// 2. Cooperative blocking, stepped (.NET): beyond blocking_immediate_threads replacements, one
//    more per step, the step growing by 25 ms per extra thread up to 250 ms. This is the rule
//    when nothing is queued (a replacement is ready for the next item) and when stall detection
//    is off (the .NET model).
// 3. The starvation gate (.NET's rule, shorter period): work queued, nothing dequeued during a
//    whole starvation_gate_period (100 ms; .NET 500 ms), process CPU below 80 % of the machine:
//    base goal + starvation_gate_step. It catches what 1 cannot see (a worker spinning on a
//    lock burns CPU, so it is not "stalled", yet nothing moves).
// 4. Hill climbing, at the interval it asks for (10-200 ms), fed the completions since the last
//    sample; "work waiting" is false when workers parked during the sample with empty queues;
//    CPU utilisation is the larger of the process's CPU time over its CPUs' capacity and how
//    busy those CPUs were (machine_cpu.hpp), during the sample.
// 5. Wake sleepers or start threads until the awake count reaches the goal, one per queued item
//    at most (pool_core.cpp, ensure_workers).
// 6. The blocking detector (options.detector), every detector->scan_period() (10-100 ms) while
//    items run: it names an item that holds its worker past the threshold, with its stack. Its
//    report (a stack capture, a log line) is rare, and comes after the tick's thread injection.
//    The detector may watch threads outside the pool too (I/O threads under inline dispatch);
//    while an item runs on one of them with the pool quiet, the quiet wait lasts one scan period
//    (below), and the tick after it scans.
// Quiet: after k_quiet_ticks ticks in a row with no item started, none running, nothing queued
// and no compensation in force, the rules have nothing to look at, and the monitor waits
// options.idle_monitor_interval (250 ms) between ticks instead of monitor_interval (100 wake-ups a
// second were most of an idle server's CPU: 0.3-0.5 % with 0-5,000 idle connections, against
// nginx's 0); scan_period instead when the detector has something to scan (rule 6). Any worker's
// wake-up (unpark) nudges it back at once; what starts without one (a lone worker that drives
// the I/O and runs what it harvests) is seen at the next quiet tick, at most
// idle_monitor_interval late. The quiet time is left out of the hill climbing's samples and the
// gate's period, which start afresh, as if the pool had just started (.NET's hill climbing, fed
// by completions, sees nothing of idle time either).
// Before them, each tick: an attached io_driver that no worker drove since the last tick (every
// worker is inside an item) is driven once here, without waiting, so that what it wakes is
// queued where rules 1-3 see it (worker.cpp, "Driving I/O").

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <unistd.h>

#include <harrier/diagnostics/blocking_detector.hpp>

#include "threadpool/futex.hpp"
#include "threadpool/machine_cpu.hpp"
#include "threadpool/pool_core.hpp"

namespace harrier::detail {
namespace {

std::int64_t clock_ns(clockid_t clock) noexcept {
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A thread whose CPU clock stands still is either blocked or waiting for a CPU (the machine is
// busy, with our other workers or other processes). Only the first is starvation: the kernel's
// view of the thread (state R: running or runnable) tells them apart. Linux-only, like the rest
// of this file's clocks; on a read error the thread counts as blocked.
bool thread_is_runnable(int tid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buffer[512];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return false;
  buffer[n] = '\0';
  const char* paren = std::strrchr(buffer, ')');  // the name may contain spaces and parens
  return paren != nullptr && paren[1] == ' ' && paren[2] == 'R';
}

std::int64_t to_ns(steady::duration d) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// Five: a worker that blocks right after a nudge keeps the ticks coming past stall_threshold
// (20 ms), and an idle server's timers (its heartbeats, a wake-up or two a second) cost five
// ticks each. Measured idle: 100 monitor wake-ups a second before, ~10 with this.
constexpr int k_quiet_ticks = 5;

}  // namespace

void pool_core::monitor_main() {
  pthread_setname_np(pthread_self(), "harrier-monitor");
  const auto start = steady::now();
  auto last_sample = start;
  std::uint64_t completed_at_sample = total_completed();
  std::uint64_t parks_at_sample = m_parks.load(std::memory_order_relaxed);
  auto sample_interval = std::chrono::milliseconds(100);
  std::int64_t cpu_at_sample = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  auto last_gate = start;
  std::uint64_t started_at_gate = total_started();
  std::int64_t cpu_at_gate = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  std::uint64_t driver_turns_seen = ~std::uint64_t{0};
  std::uint64_t started_at_tick = total_started();
  int quiet_ticks = 0;  // quiet ticks in a row
  steady::duration quiet_wait = m_options.idle_monitor_interval;
  // The machine's side of "CPU to spare" for hill climbing (machine_cpu.hpp). (Not for the
  // starvation gate: it rescues a pool where nothing moves, whatever the neighbours do.)
  machine_cpu_reader machine_at_sample;
  (void)machine_at_sample.busy_since_last();
  diagnostics::blocking_detector* const detector = m_options.detector;
  const auto scan_period = detector != nullptr ? detector->scan_period() : steady::duration{};
  auto last_scan = start;

  std::unique_lock monitor_lock(m_monitor_mutex);
  for (;;) {
    if (quiet_ticks >= k_quiet_ticks) {
      monitor_lock.unlock();
      wait_quietly(quiet_wait);
      monitor_lock.lock();
      if (m_monitor_stop) return;
      const auto now = steady::now();
      last_sample = now;
      completed_at_sample = total_completed();
      parks_at_sample = m_parks.load(std::memory_order_relaxed);
      cpu_at_sample = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
      last_gate = now;
      started_at_gate = total_started();
      cpu_at_gate = cpu_at_sample;
      (void)machine_at_sample.busy_since_last();
    } else if (m_monitor_cv.wait_for(monitor_lock, m_options.monitor_interval,
                                     [this] { return m_monitor_stop; })) {
      return;
    }
    const auto now = steady::now();
    // ordering: relaxed; a statistic.
    m_monitor_ticks.store(m_monitor_ticks.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
    // ordering: relaxed; hints (drive_io takes the lock).
    if (m_driver.load(std::memory_order_relaxed) != nullptr) {
      const std::uint64_t turns = m_driver_turns.load(std::memory_order_relaxed);
      if (turns == driver_turns_seen && drive_io(nullptr, std::chrono::nanoseconds(0)) > 0) {
        notify_work();
      }
      driver_turns_seen = m_driver_turns.load(std::memory_order_relaxed);
    }
    const std::size_t queued = queued_items();
    std::vector<void*> rescued;
    std::unique_lock control(m_control_mutex);

    // 1. Stalled workers.
    if (m_options.detect_stalled_workers) {
      std::uint32_t stalled = 0;
      const std::uint32_t count = m_slot_count.load(std::memory_order_relaxed);
      for (std::uint32_t i = 0; i < count; ++i) {
        worker_slot& slot = *m_slots[i].load(std::memory_order_relaxed);
        if (slot.state != slot_state::running ||
            !slot.has_cpu_clock.load(std::memory_order_acquire)) {
          continue;
        }
        const std::uint64_t items = slot.items_started.load(std::memory_order_relaxed);
        const bool busy = slot.busy.load(std::memory_order_relaxed);
        const std::int64_t cpu = clock_ns(slot.cpu_clock);
        if (!busy || items != slot.seen_items || cpu < 0) {
          slot.seen_items = items;
          slot.seen_since = now;
          slot.seen_cpu_ns = cpu;
          slot.runnable_checks = 0;
          continue;
        }
        const std::int64_t held_ns = to_ns(now - slot.seen_since);
        if (held_ns < to_ns(m_options.stall_threshold)) continue;
        if (void* item = slot.lifo.exchange(nullptr, std::memory_order_acquire)) {
          rescued.push_back(item);
        }
        if (slot.annotated_blocked.load(std::memory_order_relaxed)) continue;  // counted already
        if (static_cast<double>(cpu - slot.seen_cpu_ns) <
            m_options.stall_cpu_fraction * static_cast<double>(held_ns)) {
          // Read the kernel's state once per item: a thread found sleeping is taken as blocked
          // for the rest of the item (a /proc read costs ~10 us, and 64 blocked workers would
          // pay it every tick otherwise).
          if (slot.runnable_checks == 0) {
            if (thread_is_runnable(slot.tid)) {
              slot.seen_since = now;  // preempted, not blocked: judge from here on
              slot.seen_cpu_ns = cpu;
              continue;
            }
            slot.runnable_checks = 1;
          }
          ++stalled;
        } else {
          // Busy computing: restart the window so a later stall is judged on its own.
          slot.seen_since = now;
          slot.seen_cpu_ns = cpu;
        }
      }
      m_stalled_seen.store(stalled, std::memory_order_relaxed);
      // Annotated blocked workers not yet covered by the cooperative-blocking compensation count
      // too: with work queued they need no detection delay (see rule 1 and 2 above).
      const std::uint32_t annotated = m_blocked_annotated.load(std::memory_order_relaxed);
      const std::uint32_t needed =
          stalled +
          (annotated > m_compensation_annotated ? annotated - m_compensation_annotated : 0);
      // While work is queued the compensation only grows: a worker that finishes its blocking
      // item takes the next one, which looks unblocked for the first stall_threshold; dropping
      // the goal in that gap would park a thread only to wake it one tick later (measured: the
      // 64-item flood peaked at 30 threads and took 0.42 s that way). Once the queue is empty it
      // falls to what is still blocked.
      const std::uint32_t compensation = queued > 0 ? std::max(m_compensation_stalled, needed)
                                                    : std::min(m_compensation_stalled, needed);
      if (compensation != m_compensation_stalled) {
        m_compensation_stalled = compensation;
        set_goal_locked(adjustment_reason::starvation, 0);
      }
    }

    // 2. Cooperative blocking beyond the immediate replacements.
    const std::uint32_t blocked = m_blocked_annotated.load(std::memory_order_relaxed);
    if (blocked > m_compensation_annotated) {
      const std::uint32_t extra =
          m_compensation_annotated + 1 > m_options.blocking_immediate_threads
              ? m_compensation_annotated + 1 - m_options.blocking_immediate_threads
              : 1;
      const auto delay = std::min<std::chrono::milliseconds>(m_options.blocking_step_delay * extra,
                                                             m_options.blocking_max_delay);
      if (now - m_last_compensation_step >= delay) {
        ++m_compensation_annotated;
        m_last_compensation_step = now;
        set_goal_locked(adjustment_reason::cooperative_blocking, 0);
      }
    }

    // 3. The starvation gate.
    if (now - last_gate >= m_options.starvation_gate_period) {
      const std::uint64_t started = total_started();
      const std::int64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
      const double capacity = static_cast<double>(to_ns(now - last_gate)) * m_processors;
      const double cpu_use = capacity > 0 ? static_cast<double>(cpu - cpu_at_gate) / capacity : 0;
      if (queued > 0 && started == started_at_gate &&
          cpu_use < m_options.starvation_gate_cpu_threshold &&
          m_base_goal < m_options.max_threads) {
        m_base_goal = std::min(m_base_goal + m_options.starvation_gate_step, m_options.max_threads);
        m_hill_climbing.force_change(m_base_goal);
        set_goal_locked(adjustment_reason::starvation, 0);
      }
      last_gate = now;
      started_at_gate = started;
      cpu_at_gate = cpu;
    }

    // 4. Hill climbing.
    if (m_options.hill_climbing && now - last_sample >= sample_interval) {
      const std::uint64_t completed = total_completed();
      const std::uint64_t parks = m_parks.load(std::memory_order_relaxed);
      hill_climbing_sample sample;
      sample.completions = static_cast<double>(completed - completed_at_sample);
      sample.elapsed_seconds = std::chrono::duration<double>(now - last_sample).count();
      sample.current_goal = m_base_goal;
      sample.work_waiting = queued > 0 || parks == parks_at_sample;
      const std::int64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
      if (cpu >= 0 && cpu_at_sample >= 0) {
        sample.cpu_utilization = static_cast<double>(cpu - cpu_at_sample) /
                                 (static_cast<double>(to_ns(now - last_sample)) * m_processors);
      }
      // Busy CPUs are busy whoever uses them: with neighbours saturating the machine, more
      // threads would only take CPU from them (machine_cpu.hpp).
      sample.cpu_utilization =
          std::max(sample.cpu_utilization, machine_at_sample.busy_since_last());
      cpu_at_sample = cpu;
      const hill_climbing_decision decision = m_hill_climbing.update(sample);
      if (m_has_listener.load(std::memory_order_relaxed)) {
        thread_pool_event event;
        event.kind = thread_pool_event_kind::sample;
        event.time = now;
        event.old_goal = event.new_goal = m_goal.load(std::memory_order_relaxed);
        event.reason = decision.reason;
        event.throughput = decision.throughput;
        emit(event);
      }
      if (decision.new_goal != m_base_goal) {
        m_base_goal = decision.new_goal;
        set_goal_locked(decision.reason, decision.throughput);
      }
      sample_interval = std::max(decision.next_sample_interval, m_options.monitor_interval);
      last_sample = now;
      completed_at_sample = completed;
      parks_at_sample = parks;
    }
    const bool compensating = m_compensation_stalled != 0 || m_compensation_annotated != 0;
    control.unlock();

    // Quiet?
    const std::uint64_t started_now = total_started();
    bool quiet = queued == 0 && rescued.empty() && !compensating &&
                 started_now == started_at_tick &&
                 m_blocked_annotated.load(std::memory_order_relaxed) == 0;
    for (std::uint32_t i = 0, count = m_slot_count.load(std::memory_order_relaxed);
         quiet && i < count; ++i) {
      quiet = !m_slots[i].load(std::memory_order_relaxed)->busy.load(std::memory_order_relaxed);
    }
    // Threads outside the pool that the detector watches (I/O threads under inline dispatch)
    // still need rule 6's scans while one is inside an item, and so do reports that wait for the
    // detector's log line (blocking_detector.hpp, "The log"). With the pool quiet, those scans are
    // all a tick is for, so the quiet wait lasts one scan period instead. (Ticking every
    // monitor_interval for them cost an inline-dispatch server under load 0.7 % of a CPU: each
    // tick took a hill-climbing sample of the idle pool, reading /proc/stat.)
    bool scan_only = false;
    if (quiet && detector != nullptr) {
      try {
        scan_only = detector->wants_scan();
      } catch (...) {  // the detector's lock failed: judge by the pool alone
      }
    }
    started_at_tick = started_now;
    quiet_ticks = quiet ? quiet_ticks + 1 : 0;
    quiet_wait = m_options.idle_monitor_interval;
    if (scan_only) quiet_wait = std::min(quiet_wait, scan_period);

    // 5. Rescued LIFO items and the awake count.
    if (!rescued.empty()) {
      m_global.push_batch(rescued);
      notify_work();
    }
    monitor_lock.unlock();
    try {
      ensure_workers(queued + rescued.size());
    } catch (...) {
      // Thread creation failed; logged in start_worker_locked. Try again next tick.
    }
    // 6. The blocking detector, unless nothing runs.
    if (detector != nullptr && (!quiet || scan_only) && now - last_scan >= scan_period) {
      last_scan = now;
      try {
        detector->scan(now);
      } catch (...) {
        // Out of memory for a report: the next scan reports it.
      }
    }
    monitor_lock.lock();
  }
}

// The quiet wait: `period`, or until nudge_monitor (or stop) sets the word to 2.
void pool_core::wait_quietly(steady::duration period) noexcept {
  std::uint32_t expected = 0;
  // ordering: seq_cst, with stop()'s exchange: a 2 already there (a nudge or stop before this
  // wait began) makes the wait return at once.
  if (m_monitor_word.compare_exchange_strong(expected, 1, std::memory_order_seq_cst)) {
    const auto deadline = steady::now() + period;
    for (;;) {
      const auto left = deadline - steady::now();
      if (left <= steady::duration::zero()) break;
      futex_wait(m_monitor_word, 1, left);
      if (m_monitor_word.load(std::memory_order_seq_cst) != 1) break;
    }
  }
  m_monitor_word.store(0, std::memory_order_seq_cst);
}

void pool_core::nudge_monitor() noexcept {
  // ordering: relaxed first look: while the monitor ticks (always, in a busy pool) this is one
  // load of a line nobody writes. A nudge that misses a wait just beginning leaves it to end on
  // its own, at most idle_monitor_interval later.
  if (m_monitor_word.load(std::memory_order_relaxed) != 1) return;
  std::uint32_t expected = 1;
  if (m_monitor_word.compare_exchange_strong(expected, 2, std::memory_order_seq_cst)) {
    futex_wake_one(m_monitor_word);
  }
}

}  // namespace harrier::detail
