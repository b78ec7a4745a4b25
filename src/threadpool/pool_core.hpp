#pragma once
// pool_core: the state shared by the workers, the monitor and the public thread_pool facade.
//
// Who owns what:
// - worker_slot: one per worker thread, allocated on first use and kept until the pool dies (so
//   a thief may read a slot whose thread has exited: its queue is then empty). The owner thread
//   alone pushes to its queue and reads its private fields; thieves touch only the queue and the
//   LIFO slot; the monitor reads the published atomics.
// - Idle bookkeeping (m_idle_mutex, m_sleepers, m_searching, m_sleeper_count): see worker.cpp for
//   the parking protocol and why no wake-up is lost.
// - Goal control (m_control_mutex): base goal (hill climbing and the gate), compensation for
//   annotated blocking, compensation for detected stalls; goal = their sum, clamped. See
//   monitor.cpp.

#include <harrier/core/blocking.hpp>
#include <harrier/threadpool/detail/local_queue.hpp>
#include <harrier/threadpool/hill_climbing.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <pthread.h>
#include <time.h>

#include "threadpool/global_queue.hpp"

namespace harrier::detail {

using steady = std::chrono::steady_clock;

// Items are tagged pointers: a coroutine frame address, or a pool_job address with bit 0 set.
inline void* tag_job(pool_job* job) noexcept {
  return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(job) | 1u);
}
inline void run_item(void* item) {
  const auto bits = reinterpret_cast<std::uintptr_t>(item);
  if (bits & 1u) {
    pool_job* job = reinterpret_cast<pool_job*>(bits & ~std::uintptr_t{1});
    job->invoke(job);
  } else {
    std::coroutine_handle<>::from_address(item).resume();
  }
}

enum class slot_state : std::uint8_t { free, running, exited };

struct alignas(64) worker_slot {
  explicit worker_slot(std::uint32_t i) : index(i) {}

  local_queue<256> queue;
  alignas(64) std::atomic<void*> lifo{nullptr};
  alignas(64) std::atomic<std::uint32_t> park_word{0};  // 1: woken
  std::atomic<bool> in_driver{false};  // parked in the io_driver: unpark() calls its wake()
  // Published for the monitor and stats (written by the owner).
  alignas(64) std::atomic<std::uint64_t> items_started{0};
  std::atomic<std::uint64_t> items_completed{0};
  std::atomic<bool> busy{false};               // inside an item
  std::atomic<bool> annotated_blocked{false};  // inside blocking()/sync_wait
  clockid_t cpu_clock{};                       // set before has_cpu_clock
  int tid = 0;                                 // kernel thread id, set before has_cpu_clock
  std::atomic<bool> has_cpu_clock{false};

  // Guarded by the pool's m_idle_mutex.
  bool sleeping = false;
  bool searching = false;  // written by the owner or, under the mutex, by a waker

  // Guarded by the pool's m_control_mutex.
  slot_state state = slot_state::free;
  std::thread thread;

  // Owner-private.
  std::uint32_t tick = 0;
  std::uint32_t lifo_streak = 0;
  std::uint32_t rng = 0;
  std::vector<std::coroutine_handle<>> harvested;  // io_driver::drive()'s output, reused

  // Monitor-private.
  std::uint64_t seen_items = ~std::uint64_t{0};
  std::int64_t seen_cpu_ns = 0;
  steady::time_point seen_since{};
  std::uint32_t runnable_checks = 0;  // /proc state reads for the current item

  const std::uint32_t index;
};

class pool_core final : public blocking_observer {
 public:
  explicit pool_core(thread_pool& owner, thread_pool_options options);
  ~pool_core();

  void start();
  void stop();

  // Posting (any thread).
  void post_item(void* item);
  // A batch of coroutines: onto the calling worker's ring, or all or none onto the global queue
  // (std::logic_error after stop()).
  void post_handles(std::span<const std::coroutine_handle<>> handles);

  thread_pool_stats stats() const;
  // executor::saturated / wait_for_idle_thread (worker.cpp).
  bool saturated() const noexcept;
  bool saturated_as_of(std::memory_order order) const noexcept;
  void wait_for_idle_thread(std::chrono::nanoseconds timeout) noexcept;
  // executor::attach_driver / detach_driver (worker.cpp).
  bool attach_driver(io_driver& driver);
  void detach_driver(io_driver& driver) noexcept;
  void set_event_listener(std::function<void(const thread_pool_event&)> listener);
  const thread_pool_options& options() const noexcept { return m_options; }
  thread_pool& owner() noexcept { return m_owner; }

  // blocking_observer, called on this pool's worker threads.
  void on_blocking_begin() noexcept override;
  void on_blocking_end() noexcept override;

  // worker.cpp
  void worker_main(worker_slot& slot);

  // monitor.cpp
  void monitor_main();
  // Wakes a monitor that waits quietly (the pool was idle); anything else: nothing. Lock-free,
  // so any thread may call it holding any lock.
  void nudge_monitor() noexcept;
  void wait_quietly(steady::duration period) noexcept;

 private:
  friend struct worker_access;

  // worker.cpp: finding work and parking.
  void* next_item(worker_slot& slot);
  void* find_elsewhere(worker_slot& slot);
  void* take_global(worker_slot& slot);
  void* steal(worker_slot& slot);
  bool transition_to_searching(worker_slot& slot);
  void transition_from_searching(worker_slot& slot);
  enum class park_result { woken, exit };
  park_result park(worker_slot& slot);
  // A parked worker that found work itself leaves the sleepers as if woken; false when a waker
  // already took it out (its wake-up is then still to be consumed).
  bool leave_sleepers(worker_slot& slot);
  bool any_work_visible() const noexcept;
  void retire_to_global(worker_slot& slot);
  void notify_work();
  worker_slot* wake_one_locked();
  void unpark(worker_slot& slot);
  void wake_all_for_stop();
  // Drives the attached io_driver if no other thread does (-1 otherwise) and queues what it woke
  // on the slot's ring, or on the global queue for the monitor (slot == nullptr) and for a busy
  // worker's periodic poll (behind_global: behind older completions there). A parking
  // worker (a non-zero timeout) can be woken out of the driver by unpark(). Returns how many
  // coroutines it queued.
  std::ptrdiff_t drive_io(worker_slot* slot, std::chrono::nanoseconds timeout,
                          bool behind_global = false);
  void queue_on_ring(worker_slot& slot, std::span<const std::coroutine_handle<>> handles);

  // pool_core.cpp: threads and goal.
  void ensure_workers(std::size_t queued);  // wakes or starts up to `queued` workers
  bool start_worker_locked();
  // Recomputes the goal from its parts; counts and emits an adjustment when it changed (or
  // always, with always_emit).
  void set_goal_locked(adjustment_reason reason, double throughput, bool always_emit = false);
  std::uint32_t compute_goal_locked() const noexcept;
  void emit(const thread_pool_event& event) const;
  void emit_simple(thread_pool_event_kind kind, std::uint32_t worker) const;
  std::size_t queued_items() const noexcept;
  std::uint64_t total_started() const noexcept;
  std::uint64_t total_completed() const noexcept;

  thread_pool& m_owner;
  thread_pool_options m_options;
  std::uint32_t m_processors;

  global_queue m_global;
  std::unique_ptr<std::atomic<worker_slot*>[]> m_slots;  // max_threads entries
  std::atomic<std::uint32_t> m_slot_count{0};            // slots ever used

  // Idle bookkeeping.
  std::mutex m_idle_mutex;
  std::vector<worker_slot*> m_sleepers;
  std::atomic<std::uint32_t> m_searching{0};
  std::atomic<std::uint32_t> m_sleeper_count{0};
  std::atomic<std::uint32_t> m_unparked{0};  // live threads not asleep (blocked ones included)
  std::atomic<std::uint64_t> m_parks{0};
  // Threads blocked in wait_for_idle_thread, and the word they sleep on (bumped by a parking
  // worker that sees a waiter).
  std::atomic<std::uint32_t> m_idle_waiters{0};
  std::atomic<std::uint32_t> m_idle_epoch{0};

  // The attached io_driver (worker.cpp has the protocol). Holders read m_driver under
  // m_driver_held; detach_driver clears it, then takes the lock once, so no holder is inside.
  std::atomic<io_driver*> m_driver{nullptr};
  std::atomic<bool> m_driver_held{false};
  std::atomic<std::uint64_t> m_driver_turns{0};  // written by holders only
  std::atomic<std::uint32_t> m_driver_wakers{
      0};  // unpark() calls between reading m_driver and wake()
  std::vector<std::coroutine_handle<>> m_monitor_harvest;  // the monitor's drive() output

  // Threads and goal.
  mutable std::mutex m_control_mutex;
  std::atomic<std::uint32_t> m_threads{0};
  std::atomic<std::uint32_t> m_goal{0};
  std::uint32_t m_base_goal = 0;
  std::atomic<std::uint32_t> m_blocked_annotated{0};  // written under m_control_mutex
  std::uint32_t m_compensation_annotated = 0;
  std::uint32_t m_compensation_stalled = 0;
  std::atomic<std::uint32_t> m_stalled_seen{0};
  steady::time_point m_last_compensation_step{};
  std::atomic<std::uint64_t> m_adjustments[k_adjustment_reason_count] = {};

  std::atomic<bool> m_stopping{false};
  bool m_stopped = false;   // guarded by m_stop_mutex
  std::mutex m_stop_mutex;  // serialises stop()

  // Monitor.
  std::thread m_monitor;
  std::mutex m_monitor_mutex;
  std::condition_variable m_monitor_cv;
  bool m_monitor_stop = false;
  // The monitor's quiet wait (monitor.cpp): 0 ticking, 1 waiting quietly, 2 nudged awake.
  std::atomic<std::uint32_t> m_monitor_word{0};
  std::atomic<std::uint64_t> m_monitor_ticks{0};  // written by the monitor only
  hill_climbing m_hill_climbing;

  // Event listener: copied under the mutex, called outside it.
  mutable std::mutex m_listener_mutex;
  std::shared_ptr<const std::function<void(const thread_pool_event&)>> m_listener;
  std::atomic<bool> m_has_listener{false};
};

// The calling thread's worker slot and pool (nullptr outside any pool). Set by worker_main.
// constinit: the hot path (post from a worker) reads them with no TLS initialisation guard.
inline constinit thread_local worker_slot* t_current_slot = nullptr;
inline constinit thread_local pool_core* t_current_core = nullptr;
inline worker_slot* current_slot() noexcept {
  return t_current_slot;
}
inline pool_core* current_core() noexcept {
  return t_current_core;
}

}  // namespace harrier::detail
