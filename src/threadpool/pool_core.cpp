// pool_core: lifecycle, posting, the thread goal and the events. The worker loop is in
// worker.cpp, the monitor (gate, stalls, hill climbing) in monitor.cpp.
//
// Shutdown, in order (stop()):
//   1. Stop the monitor, so that no thread is started or goal moved behind our back.
//   2. Set m_stopping and wake every sleeper. A worker exits only when it finds no work anywhere
//      (its own queue first), so every queued item runs, and items that running items post run
//      too (on the poster's own queue, or from the global queue).
//   3. Join every worker thread, repeatedly, until none is left (a worker that was starting a
//      replacement for a blocked worker may add one more before it sees m_stopping).
//   4. Drain what outside threads posted to the global queue after the last worker left, on the
//      calling thread, then close the queue: later posts throw.
//
// Lock order: m_control_mutex, then m_idle_mutex. m_listener_mutex is never held while calling
// out, and the listener is called with m_control_mutex held only for adjustments; it must not
// call stop(), and it may call stats() (which takes no lock).

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "core/logger.hpp"
#include "threadpool/futex.hpp"
#include "threadpool/pool_core.hpp"

namespace harrier::detail {
namespace {

hill_climbing_options hill_options(const thread_pool_options& o) {
  hill_climbing_options h;
  h.min_threads = o.min_threads;
  h.max_threads = o.max_threads;
  h.slow_start = o.hill_climbing_slow_start;
  return h;
}

thread_pool_options validated(thread_pool_options o) {
  const std::uint32_t processors = processor_count();
  if (o.min_threads == 0) o.min_threads = processors;
  if (o.blocking_immediate_threads == 0) o.blocking_immediate_threads = processors;
  if (o.max_threads < o.min_threads) {
    throw std::invalid_argument("thread_pool_options: max_threads (" +
                                std::to_string(o.max_threads) + ") must be >= min_threads (" +
                                std::to_string(o.min_threads) + ")");
  }
  if (o.monitor_interval.count() <= 0 || o.idle_monitor_interval.count() <= 0 ||
      o.starvation_gate_period.count() <= 0) {
    throw std::invalid_argument(
        "thread_pool_options: monitor_interval, idle_monitor_interval and starvation_gate_period "
        "must be positive");
  }
  return o;
}

}  // namespace

pool_core::pool_core(thread_pool& owner, thread_pool_options options)
    : m_owner(owner),
      m_options(validated(std::move(options))),
      m_processors(processor_count()),
      m_slots(new std::atomic<worker_slot*>[m_options.max_threads]),
      m_hill_climbing(hill_options(m_options)) {
  for (std::uint32_t i = 0; i < m_options.max_threads; ++i)
    m_slots[i].store(nullptr);
  m_sleepers.reserve(m_options.max_threads);
}

pool_core::~pool_core() {
  stop();
  for (std::uint32_t i = 0; i < m_options.max_threads; ++i)
    delete m_slots[i].load();
}

void pool_core::start() {
  std::lock_guard lock(m_control_mutex);
  m_base_goal = m_options.min_threads;
  set_goal_locked(adjustment_reason::initializing, 0, true);
  for (std::uint32_t i = 0; i < m_options.min_threads; ++i)
    start_worker_locked();
  m_monitor = std::thread([this] { monitor_main(); });
}

void pool_core::stop() {
  if (current_core() == this) {
    throw std::logic_error("thread_pool::stop() called on one of the pool's own workers");
  }
  std::lock_guard stop_lock(m_stop_mutex);
  if (m_stopped) return;
  {
    std::lock_guard lock(m_monitor_mutex);
    m_monitor_stop = true;
  }
  m_monitor_cv.notify_all();
  // It may wait quietly, off the condition variable (monitor.cpp). ordering: seq_cst, with the
  // monitor's compare-exchange: a 2 left here makes its next quiet wait return at once.
  if (m_monitor_word.exchange(2, std::memory_order_seq_cst) == 1) futex_wake_one(m_monitor_word);
  if (m_monitor.joinable()) m_monitor.join();

  m_stopping.store(true, std::memory_order_seq_cst);
  wake_all_for_stop();
  for (;;) {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(m_control_mutex);
      const std::uint32_t count = m_slot_count.load(std::memory_order_relaxed);
      for (std::uint32_t i = 0; i < count; ++i) {
        worker_slot* slot = m_slots[i].load(std::memory_order_relaxed);
        if (slot != nullptr && slot->thread.joinable()) threads.push_back(std::move(slot->thread));
      }
    }
    if (threads.empty()) break;
    for (std::thread& t : threads)
      t.join();
    wake_all_for_stop();  // a worker that parked while we joined the others
  }
  std::array<void*, 64> batch;
  while (!m_global.close_if_empty()) {
    const std::size_t n = m_global.pop_batch(batch);
    for (std::size_t i = 0; i < n; ++i)
      run_item(batch[i]);
  }
  m_stopped = true;
}

void pool_core::post_item(void* item) {
  worker_slot* slot = current_slot();
  if (slot != nullptr && current_core() == this) {
    // ordering: acq_rel; the monitor may take the previous item concurrently (see worker.cpp).
    void* previous = slot->lifo.exchange(item, std::memory_order_acq_rel);
    if (previous != nullptr) {
      const bool was_empty = slot->queue.empty();
      slot->queue.push(previous,
                       [this](std::span<void* const> overflow) { m_global.push_batch(overflow); });
      // Only a ring item can be stolen (the LIFO slot alone needs nobody), and only the first
      // one needs a wake-up: while the ring stays non-empty the worker woken for it, finding
      // work, wakes the next (see worker.cpp), and this worker is awake to run it anyway. This
      // saves the handshake's fence on most posts of a burst (measured: 9 % of spawn time).
      if (was_empty) notify_work();
    }
    return;
  }
  if (!m_global.push(item)) throw std::logic_error("thread_pool::post() after stop()");
  notify_work();
}

void pool_core::post_handles(std::span<const std::coroutine_handle<>> handles) {
  if (handles.empty()) return;
  worker_slot* slot = current_slot();
  if (slot != nullptr && current_core() == this) {
    queue_on_ring(*slot, handles);
  } else if (!m_global.push_handles(handles)) {
    throw std::logic_error("thread_pool::post_batch() after stop()");
  }
  notify_work();
}

// One thread per queued item at most, as .NET requests one per work item. Waking every sleeper
// up to the goal whenever the monitor saw anything queued (a heartbeat probe, a timer) kept them
// all from reaching idle_timeout, so a goal that hill climbing raised under load held its threads
// through any idle time (audit 3: 280 threads through a minute); starting threads with nothing
// queued would undo retirements the same way.
void pool_core::ensure_workers(std::size_t queued) {
  std::vector<worker_slot*> woken;
  {
    std::lock_guard lock(m_control_mutex);
    if (m_stopping.load(std::memory_order_relaxed)) return;
    const std::uint32_t goal = m_goal.load(std::memory_order_relaxed);
    for (std::size_t added = 0; added < queued && m_unparked.load(std::memory_order_relaxed) < goal;
         ++added) {
      {
        std::lock_guard idle(m_idle_mutex);
        if (worker_slot* slot = wake_one_locked()) {
          woken.push_back(slot);
          continue;
        }
      }
      if (m_threads.load(std::memory_order_relaxed) >= goal) break;
      if (!start_worker_locked()) break;
    }
  }
  for (worker_slot* slot : woken)
    unpark(*slot);
}

bool pool_core::start_worker_locked() {
  if (m_threads.load(std::memory_order_relaxed) >= m_options.max_threads) return false;
  const std::uint32_t count = m_slot_count.load(std::memory_order_relaxed);
  worker_slot* slot = nullptr;
  for (std::uint32_t i = 0; i < count && slot == nullptr; ++i) {
    worker_slot* candidate = m_slots[i].load(std::memory_order_relaxed);
    if (candidate->state == slot_state::free) slot = candidate;
    if (candidate->state == slot_state::exited) {
      // The thread left its loop (under this mutex); join it before reusing the slot.
      if (candidate->thread.joinable()) candidate->thread.join();
      candidate->state = slot_state::free;
      slot = candidate;
    }
  }
  if (slot == nullptr) {
    if (count >= m_options.max_threads) return false;
    slot = new worker_slot(count);
    // ordering: release publishes the constructed slot to thieves that acquire it.
    m_slots[count].store(slot, std::memory_order_release);
    m_slot_count.store(count + 1, std::memory_order_release);
  }
  slot->state = slot_state::running;
  slot->seen_items = ~std::uint64_t{0};
  m_threads.fetch_add(1, std::memory_order_relaxed);
  m_unparked.fetch_add(1, std::memory_order_relaxed);
  try {
    slot->thread = std::thread([this, slot] { worker_main(*slot); });
  } catch (const std::system_error& e) {
    slot->state = slot_state::free;
    m_threads.fetch_sub(1, std::memory_order_relaxed);
    m_unparked.fetch_sub(1, std::memory_order_relaxed);
    harrier_logger()->error("thread_pool: could not start a worker thread: {}", e.what());
    return false;
  }
  return true;
}

std::uint32_t pool_core::compute_goal_locked() const noexcept {
  const std::uint64_t sum =
      std::uint64_t{m_base_goal} + m_compensation_annotated + m_compensation_stalled;
  return static_cast<std::uint32_t>(
      std::clamp<std::uint64_t>(sum, m_options.min_threads, m_options.max_threads));
}

void pool_core::set_goal_locked(adjustment_reason reason, double throughput, bool always_emit) {
  const std::uint32_t old_goal = m_goal.load(std::memory_order_relaxed);
  const std::uint32_t new_goal = compute_goal_locked();
  if (old_goal == new_goal && !always_emit) return;
  m_goal.store(new_goal, std::memory_order_relaxed);
  m_adjustments[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  if (m_has_listener.load(std::memory_order_relaxed)) {
    thread_pool_event event;
    event.kind = thread_pool_event_kind::adjustment;
    event.time = steady::now();
    event.old_goal = old_goal;
    event.new_goal = new_goal;
    event.reason = reason;
    event.throughput = throughput;
    emit(event);
  }
}

void pool_core::emit(const thread_pool_event& event) const {
  std::shared_ptr<const std::function<void(const thread_pool_event&)>> listener;
  {
    std::lock_guard lock(m_listener_mutex);
    listener = m_listener;
  }
  if (listener && *listener) {
    try {
      (*listener)(event);
    } catch (...) {
      harrier_logger()->error("thread_pool: the event listener threw; event dropped");
    }
  }
}

void pool_core::emit_simple(thread_pool_event_kind kind, std::uint32_t worker) const {
  if (!m_has_listener.load(std::memory_order_relaxed)) return;
  thread_pool_event event;
  event.kind = kind;
  event.time = steady::now();
  event.old_goal = event.new_goal = m_goal.load(std::memory_order_relaxed);
  event.worker = worker;
  emit(event);
}

void pool_core::set_event_listener(std::function<void(const thread_pool_event&)> listener) {
  auto shared = listener ? std::make_shared<const std::function<void(const thread_pool_event&)>>(
                               std::move(listener))
                         : nullptr;
  std::lock_guard lock(m_listener_mutex);
  m_has_listener.store(shared != nullptr, std::memory_order_relaxed);
  m_listener = std::move(shared);
}

std::size_t pool_core::queued_items() const noexcept {
  std::size_t total = m_global.size();
  const std::uint32_t count = m_slot_count.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < count; ++i) {
    const worker_slot* slot = m_slots[i].load(std::memory_order_acquire);
    if (slot == nullptr) continue;
    total += slot->queue.size();
    if (slot->lifo.load(std::memory_order_relaxed) != nullptr) ++total;
  }
  return total;
}

std::uint64_t pool_core::total_started() const noexcept {
  std::uint64_t total = 0;
  const std::uint32_t count = m_slot_count.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < count; ++i) {
    const worker_slot* slot = m_slots[i].load(std::memory_order_acquire);
    if (slot != nullptr) total += slot->items_started.load(std::memory_order_relaxed);
  }
  return total;
}

std::uint64_t pool_core::total_completed() const noexcept {
  std::uint64_t total = 0;
  const std::uint32_t count = m_slot_count.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < count; ++i) {
    const worker_slot* slot = m_slots[i].load(std::memory_order_acquire);
    if (slot != nullptr) total += slot->items_completed.load(std::memory_order_relaxed);
  }
  return total;
}

thread_pool_stats pool_core::stats() const {
  thread_pool_stats s;
  s.threads = m_threads.load(std::memory_order_relaxed);
  s.goal = m_goal.load(std::memory_order_relaxed);
  s.parked_threads = m_sleeper_count.load(std::memory_order_relaxed);
  s.global_queue_length = m_global.size();
  s.local_queue_length = queued_items() - s.global_queue_length;
  s.completed_items = total_completed();
  s.blocked_threads = m_blocked_annotated.load(std::memory_order_relaxed) +
                      m_stalled_seen.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < k_adjustment_reason_count; ++i) {
    s.adjustments[i] = m_adjustments[i].load(std::memory_order_relaxed);
  }
  s.monitor_ticks = m_monitor_ticks.load(std::memory_order_relaxed);
  return s;
}

void pool_core::on_blocking_begin() noexcept {
  worker_slot* slot = current_slot();
  if (slot == nullptr || current_core() != this) return;
  slot->annotated_blocked.store(true, std::memory_order_relaxed);
  // The LIFO item would wait for the whole blocking call: make it stealable.
  if (void* item = slot->lifo.exchange(nullptr, std::memory_order_acquire)) {
    slot->queue.push(item,
                     [this](std::span<void* const> overflow) { m_global.push_batch(overflow); });
  }
  {
    std::lock_guard lock(m_control_mutex);
    const std::uint32_t blocked = m_blocked_annotated.load(std::memory_order_relaxed) + 1;
    m_blocked_annotated.store(blocked, std::memory_order_relaxed);
    if (m_compensation_annotated < blocked &&
        m_compensation_annotated < m_options.blocking_immediate_threads) {
      ++m_compensation_annotated;
      m_last_compensation_step = steady::now();
      set_goal_locked(adjustment_reason::cooperative_blocking, 0);
    }
  }
  try {
    // The blocked worker's replacement is ready before work comes for it (at least one).
    ensure_workers(std::max<std::size_t>(queued_items(), 1));
  } catch (...) {
    // Starting a thread failed (logged there); the monitor retries.
  }
}

void pool_core::on_blocking_end() noexcept {
  worker_slot* slot = current_slot();
  if (slot == nullptr || current_core() != this) return;
  slot->annotated_blocked.store(false, std::memory_order_relaxed);
  std::lock_guard lock(m_control_mutex);
  const std::uint32_t blocked = m_blocked_annotated.load(std::memory_order_relaxed) - 1;
  m_blocked_annotated.store(blocked, std::memory_order_relaxed);
  if (m_compensation_annotated > blocked) {
    m_compensation_annotated = blocked;
    set_goal_locked(adjustment_reason::cooperative_blocking, 0);
  }
}

}  // namespace harrier::detail
