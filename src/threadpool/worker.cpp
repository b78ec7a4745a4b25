// The worker loop: where a worker finds its next item, and how it sleeps when there is none.
//
// Finding work, in order (Go's findrunnable and Tokio's worker, in their shape):
//   1. Every 61st item, the global queue first, so that work posted from outside cannot starve
//      behind a worker that keeps feeding itself (61, as Go and Tokio use; not tuned here). The
//      same tick checks whether more threads are awake than the goal allows; if so this worker
//      hands its queue to the global queue and parks ("retires").
//   2. The LIFO slot (the item this worker posted last), at most 3 times in a row (Tokio's cap),
//      so that two items that post each other cannot starve the rest of the queue.
//   3. The local ring, oldest first.
//   4. The global queue, a batch at a time (its share: length / awake workers + 1, as Go).
//   5. Searching: steal the older half of a random victim's ring, two rounds (the short,
//      bounded spin), rechecking the global queue between rounds.
//   6. Park.
// LIFO slots are never stolen by other workers (as Tokio): a worker that blocks with an item in
// its LIFO slot gives it up itself (on_blocking_begin), or the monitor moves it to the global
// queue once the worker has held one item for stall_threshold.
//
// Parking without lost wake-ups (the protocol of Tokio's idle.rs, simplified):
//   poster:  publish the item; seq_cst fence; if nobody is searching and somebody sleeps, take
//            the idle lock and wake one sleeper, which wakes as a searcher (so the next poster
//            does not wake another one for the same burst).
//   parker:  under the idle lock, stop searching, register as a sleeper; seq_cst fence; look at
//            every queue once more; if anything is there, unregister and go back to searching.
// The two fences order "publish, then read the sleeper count" against "register, then read the
// queues": at least one side sees the other, so either the poster wakes the parker or the parker
// sees the item. A searcher that finds work while it was the last searcher wakes one more
// sleeper, so that a burst fans out to as many workers as it needs, one wake-up at a time.
// Two refinements keep the thread count at the goal: nobody is woken while the awake workers
// (blocked ones included) already meet the goal, and a parker that sees work goes back for it
// only in that case too (otherwise a worker retiring above the goal would come straight back);
// the awake workers, or the monitor raising the goal, take the work. And a worker posting to its
// own ring notifies only when the ring was empty: later items of a burst are covered by the
// searcher woken for the first, which wakes the next when it finds work.
// ThreadSanitizer does not model fences, so under TSan both halves use a seq_cst read-modify-write
// of m_sleeper_count instead (RMWs on one variable are totally ordered and the later one
// synchronises with the earlier, which gives the same guarantee at the price of a shared cache
// line, too dear for the hot path of release builds).
// The wake itself is a per-worker futex word: the waker stores 1 and wakes; the sleeper
// exchanges it back to 0, so a wake that lands before the sleeper's futex_wait is not lost.
//
// Driving I/O (executor::attach_driver; Tokio's topology, Go's netpoller in its shape):
// - A parking worker first tries to take the attached io_driver (a try-lock, m_driver_held) and
//   waits in it, in the kernel's event wait, instead of on its futex word; the other parkers
//   sleep on their futex. What drive() wakes goes onto the driving worker's own ring, and the
//   worker leaves the sleepers as if woken and runs it. It then wakes a sleeper as a searcher
//   (Go's wakep; Tokio wakes one only for more than one item): that one steals half of a batch,
//   or finds nothing and takes the driver over, so that an item that runs long (or blocks) does
//   not leave the I/O unattended while other workers sleep. So with one worker a completion runs
//   on the thread that harvested it, with no hop and no wake-up, as inline dispatch; with more,
//   the rest are a steal away and the driver changes hands.
// - Waking a worker that waits in the driver: unpark() stores the park word (seq_cst), then
//   reads in_driver (seq_cst) and calls the driver's wake(); the parker stores in_driver, and the
//   driver re-reads the park word (the drive() interrupt) after publishing that it is about to
//   wait. Either the waker sees in_driver or the parker sees the word: no lost wake-up. A waker
//   that saw in_driver false futex-wakes instead; a parker that enters the driver later sees the
//   word first.
// - A worker that runs dry polls the driver without waiting before it parks (Go's findrunnable
//   does the same): under load the next batch is usually ready, and the park protocol around a
//   wait (two lock acquisitions, the sleeper handshake, the events) costs more than the poll.
//   Measured (epoll, one pinned CPU, wrk -c64 /plaintext): see bench/RESULTS.md, session 6.
// - A worker that waits in the driver does not exit on idle_timeout: it watches the I/O.
// - Busy workers drive it too, without waiting, every 61st item (as Tokio's event_interval), so
//   a pool that never runs dry still polls; what that poll wakes queues behind the global queue
//   rather than on the worker's ring (see next_item). And when nobody drove it during a whole
//   monitor_interval (every worker inside a long or blocked item), the monitor drives it once,
//   as Go's sysmon polls the network: what it wakes goes to the global queue, where the stall
//   rules see it and add a thread if the workers are blocked. A blocked handler therefore holds
//   up other connections' I/O for at most the monitor's reaction, not until it returns.
// - detach_driver() clears m_driver, then takes the lock once (waking a holder that still
//   waits), so nobody is inside when it returns; m_driver_wakers covers an unpark() that read
//   m_driver before it was cleared.

#include <harrier/core/blocking.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <thread>

#include <sys/syscall.h>
#include <unistd.h>

#include <harrier/diagnostics/blocking_detector.hpp>

#include "threadpool/futex.hpp"
#include "threadpool/pool_core.hpp"

namespace harrier::detail {
namespace {

constexpr std::uint32_t k_global_check_interval = 61;  // Go, Tokio; not tuned here
constexpr std::uint32_t k_max_lifo_streak = 3;         // Tokio's MAX_LIFO_POLLS_PER_TICK
constexpr int k_search_rounds = 2;                     // the bounded spin before parking
constexpr std::size_t k_max_global_batch = 64;         // half a ring of 128; Go caps at half

#if defined(__SANITIZE_THREAD__)
constexpr bool k_fences_modelled = false;
#else
constexpr bool k_fences_modelled = true;
#endif

std::uint32_t next_random(std::uint32_t& state) noexcept {
  // xorshift32: victim choice only needs to be cheap and spread out.
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

}  // namespace

void pool_core::worker_main(worker_slot& slot) {
  t_current_slot = &slot;
  t_current_core = this;
  {
    std::string name = m_options.thread_name.substr(0, 10) + "-" + std::to_string(slot.index);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  }
  slot.tid = static_cast<int>(syscall(SYS_gettid));
  if (pthread_getcpuclockid(pthread_self(), &slot.cpu_clock) == 0) {
    // ordering: release publishes cpu_clock to the monitor, which acquires has_cpu_clock.
    slot.has_cpu_clock.store(true, std::memory_order_release);
  }
  slot.rng = 0x9e3779b9u * (slot.index + 1) | 1u;
  blocking_observer* previous = set_thread_blocking_observer(this);
  if (m_options.detector != nullptr) m_options.detector->register_current_thread();
  emit_simple(thread_pool_event_kind::worker_start, slot.index);

  std::uint64_t started = slot.items_started.load(std::memory_order_relaxed);
  std::uint64_t completed = slot.items_completed.load(std::memory_order_relaxed);
  while (void* item = next_item(slot)) {
    // ordering: relaxed; single writer, read by the monitor and stats() as estimates.
    slot.items_started.store(++started, std::memory_order_relaxed);
    slot.busy.store(true, std::memory_order_relaxed);
    diagnostics::blocking_detector::item_begin();  // a no-op on an unregistered thread
    run_item(item);
    diagnostics::blocking_detector::item_end();
    slot.busy.store(false, std::memory_order_relaxed);
    slot.items_completed.store(++completed, std::memory_order_relaxed);
  }

  if (m_options.detector != nullptr) m_options.detector->unregister_current_thread();
  set_thread_blocking_observer(previous);
  slot.has_cpu_clock.store(false, std::memory_order_release);
  emit_simple(thread_pool_event_kind::worker_stop, slot.index);
  std::lock_guard lock(m_control_mutex);
  slot.state = slot_state::exited;
  t_current_slot = nullptr;
  t_current_core = nullptr;
}

void* pool_core::next_item(worker_slot& slot) {
  if (++slot.tick % k_global_check_interval == 0) {
    // What this poll harvests queues behind what waits in the global queue, not on our ring:
    // with a full ring it overflowed there anyway, and each later poll's harvest, put on the
    // ring, went ahead of those older items (epoll, 1,000 connections: p99 112 ms, 24 ms with
    // an I/O thread posting to the pool).
    // ordering: relaxed; a hint, re-read under the driver lock.
    if (m_driver.load(std::memory_order_relaxed) != nullptr &&
        drive_io(&slot, std::chrono::nanoseconds(0), true) > 1) {
      notify_work();
    }
    if (void* item = take_global(slot)) return item;
    if (m_unparked.load(std::memory_order_relaxed) > m_goal.load(std::memory_order_relaxed) &&
        !m_stopping.load(std::memory_order_relaxed)) {
      retire_to_global(slot);
      if (park(slot) == park_result::exit) return nullptr;
    }
  }
  if (slot.lifo_streak < k_max_lifo_streak) {
    if (slot.lifo.load(std::memory_order_relaxed) != nullptr) {
      // ordering: acquire pairs with the release of whoever stored the item (us, or nobody
      // else: only the owner stores into its LIFO slot).
      if (void* item = slot.lifo.exchange(nullptr, std::memory_order_acquire)) {
        ++slot.lifo_streak;
        return item;
      }
    }
  }
  slot.lifo_streak = 0;
  if (void* item = slot.queue.pop()) return item;
  if (void* item = slot.lifo.exchange(nullptr, std::memory_order_acquire)) return item;
  return find_elsewhere(slot);
}

void* pool_core::find_elsewhere(worker_slot& slot) {
  for (;;) {
    if (void* item = take_global(slot)) {
      if (slot.searching) transition_from_searching(slot);
      return item;
    }
    if (transition_to_searching(slot)) {
      for (int round = 0; round < k_search_rounds; ++round) {
        void* item = steal(slot);
        if (item == nullptr) item = take_global(slot);
        if (item != nullptr) {
          transition_from_searching(slot);
          return item;
        }
      }
      // Ready I/O, without waiting, before parking (Go's findrunnable polls the network too):
      // under load the next batch is usually there, and parking around it costs more.
      // ordering: relaxed; a hint, re-read under the driver lock.
      if (m_driver.load(std::memory_order_relaxed) != nullptr &&
          drive_io(&slot, std::chrono::nanoseconds(0)) > 0) {
        if (void* item = slot.queue.pop()) {
          transition_from_searching(slot);  // the last searcher wakes a sleeper
          return item;
        }
      }
    }
    if (m_stopping.load(std::memory_order_acquire) && !any_work_visible()) {
      if (slot.searching) {
        slot.searching = false;
        m_searching.fetch_sub(1, std::memory_order_seq_cst);
      }
      m_unparked.fetch_sub(1, std::memory_order_relaxed);
      m_threads.fetch_sub(1, std::memory_order_relaxed);
      return nullptr;
    }
    if (park(slot) == park_result::exit) return nullptr;
    if (void* item = slot.queue.pop()) {  // harvested by this worker while it was parked
      if (slot.searching) transition_from_searching(slot);
      return item;
    }
  }
}

void* pool_core::take_global(worker_slot& slot) {
  const std::size_t length = m_global.size();
  if (length == 0) return nullptr;
  const std::uint32_t awake =
      std::max<std::uint32_t>(1, m_unparked.load(std::memory_order_relaxed));
  std::size_t want = std::min<std::size_t>(length / awake + 1, k_max_global_batch);
  want = std::min<std::size_t>(want, decltype(slot.queue)::capacity - slot.queue.size());
  if (want == 0) want = 1;
  std::array<void*, k_max_global_batch> batch;
  const std::size_t got = m_global.pop_batch(std::span<void*>(batch.data(), want));
  if (got == 0) return nullptr;
  if (got > 1) {
    const std::size_t pushed =
        slot.queue.push_some(std::span<void* const>(batch.data() + 1, got - 1));
    if (pushed < got - 1) {
      m_global.push_batch(std::span<void* const>(batch.data() + 1 + pushed, got - 1 - pushed));
    }
  }
  return batch[0];
}

void* pool_core::steal(worker_slot& slot) {
  const std::uint32_t count = m_slot_count.load(std::memory_order_acquire);
  if (count <= 1) return nullptr;
  const std::uint32_t start = next_random(slot.rng) % count;
  for (std::uint32_t i = 0; i < count; ++i) {
    // ordering: acquire pairs with the release that published the slot.
    worker_slot* victim = m_slots[(start + i) % count].load(std::memory_order_acquire);
    if (victim == nullptr || victim == &slot) continue;
    if (void* item = victim->queue.steal_half_into(slot.queue)) return item;
  }
  return nullptr;
}

bool pool_core::transition_to_searching(worker_slot& slot) {
  if (!slot.searching) {
    slot.searching = true;
    // ordering: seq_cst, part of the poster/parker handshake described above.
    m_searching.fetch_add(1, std::memory_order_seq_cst);
  }
  return true;
}

void pool_core::transition_from_searching(worker_slot& slot) {
  slot.searching = false;
  // ordering: seq_cst; the last searcher to find work wakes another to look for more.
  if (m_searching.fetch_sub(1, std::memory_order_seq_cst) == 1) notify_work();
}

bool pool_core::any_work_visible() const noexcept {
  if (!m_global.empty()) return true;
  const std::uint32_t count = m_slot_count.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < count; ++i) {
    worker_slot* s = m_slots[i].load(std::memory_order_acquire);
    if (s != nullptr && !s->queue.empty()) return true;
  }
  return false;
}

void pool_core::retire_to_global(worker_slot& slot) {
  std::array<void*, 64> batch;
  std::size_t n = 0;
  if (void* item = slot.lifo.exchange(nullptr, std::memory_order_acquire)) batch[n++] = item;
  for (;;) {
    void* item = slot.queue.pop();
    if (item != nullptr) batch[n++] = item;
    if (n == batch.size() || (item == nullptr && n > 0)) {
      m_global.push_batch(std::span<void* const>(batch.data(), n));
      n = 0;
    }
    if (item == nullptr) break;
  }
  notify_work();
}

pool_core::park_result pool_core::park(worker_slot& slot) {
  {
    std::lock_guard lock(m_idle_mutex);
    if (slot.searching) {
      slot.searching = false;
      m_searching.fetch_sub(1, std::memory_order_seq_cst);
    }
    slot.sleeping = true;
    m_sleepers.push_back(&slot);
    m_sleeper_count.fetch_add(1, std::memory_order_seq_cst);
    m_unparked.fetch_sub(1, std::memory_order_relaxed);
  }
  m_parks.fetch_add(1, std::memory_order_relaxed);
  // ordering: the epoch moves on every park, after this worker registered as a sleeper (seq_cst
  // RMW, so a waiter that reads the new epoch also sees the registration). A waiter read the
  // epoch before it looked at the counts: either it saw this park (not saturated), or its
  // futex_wait finds the epoch changed, or it registered in m_idle_waiters early enough for the
  // load below to see it and wake it.
  m_idle_epoch.fetch_add(1, std::memory_order_seq_cst);
  if (m_idle_waiters.load(std::memory_order_seq_cst) != 0) futex_wake_all(m_idle_epoch);
  // ordering: seq_cst fence, the parker's half of the handshake: registered, then look. (Under
  // TSan the seq_cst fetch_add above is the handshake.)
  if constexpr (k_fences_modelled) std::atomic_thread_fence(std::memory_order_seq_cst);
  // Work is visible: go back for it, unless the awake workers already meet the goal (then they
  // will take it, and a worker retiring above the goal must not come straight back).
  if (m_stopping.load(std::memory_order_seq_cst) ||
      (m_unparked.load(std::memory_order_relaxed) < m_goal.load(std::memory_order_relaxed) &&
       any_work_visible())) {
    if (leave_sleepers(slot)) return park_result::woken;
    // Somebody woke us meanwhile: consume their wake-up below.
  }

  emit_simple(thread_pool_event_kind::worker_park, slot.index);
  auto deadline = steady::now() + m_options.idle_timeout;
  for (;;) {
    // ordering: acquire pairs with the waker's store of 1.
    if (slot.park_word.exchange(0, std::memory_order_acquire) == 1) break;
    auto now = steady::now();
    // ordering: relaxed; a hint, re-read under the driver lock.
    if (m_driver.load(std::memory_order_relaxed) != nullptr && now < deadline) {
      const std::ptrdiff_t woke = drive_io(&slot, deadline - now);
      if (woke >= 0) {
        deadline = steady::now() + m_options.idle_timeout;  // the driving worker stays
        if (woke == 0) continue;
        // The harvest is on our ring: leave the sleepers as if woken, unless a waker already
        // took us out (then its wake-up is consumed at the top of the loop).
        if (leave_sleepers(slot)) {
          // A sleeper (if any may wake) searches: it steals half of a batch, or finds nothing
          // and takes the driver over while this worker runs what it harvested.
          notify_work();
          break;
        }
        continue;
      }
    }
    if (now >= deadline) {
      std::lock_guard control(m_control_mutex);
      std::lock_guard idle(m_idle_mutex);
      const std::uint32_t threads = m_threads.load(std::memory_order_relaxed);
      if (slot.sleeping && threads > m_options.min_threads &&
          !m_stopping.load(std::memory_order_relaxed)) {
        slot.sleeping = false;
        std::erase(m_sleepers, &slot);
        m_sleeper_count.fetch_sub(1, std::memory_order_relaxed);
        m_threads.fetch_sub(1, std::memory_order_relaxed);
        if (m_base_goal > m_options.min_threads &&
            m_goal.load(std::memory_order_relaxed) >= threads) {
          --m_base_goal;
          m_hill_climbing.force_change(m_base_goal);
        }
        set_goal_locked(adjustment_reason::thread_timed_out, 0, true);
        return park_result::exit;
      }
      deadline = now + m_options.idle_timeout;
      continue;
    }
    futex_wait(slot.park_word, 0, deadline - now);
  }
  emit_simple(thread_pool_event_kind::worker_unpark, slot.index);
  return park_result::woken;
}

bool pool_core::leave_sleepers(worker_slot& slot) {
  std::lock_guard lock(m_idle_mutex);
  if (!slot.sleeping) return false;
  slot.sleeping = false;
  std::erase(m_sleepers, &slot);
  m_sleeper_count.fetch_sub(1, std::memory_order_relaxed);
  m_unparked.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool pool_core::saturated() const noexcept {
  // ordering: relaxed; a hint (a stale answer costs one early or late harvest), except in
  // wait_for_idle_thread, which re-checks under the handshake.
  return saturated_as_of(std::memory_order_relaxed);
}

bool pool_core::saturated_as_of(std::memory_order order) const noexcept {
  const std::uint32_t unparked = m_unparked.load(order);
  if (unparked == 0 || m_stopping.load(order)) return false;  // a post starts or wakes a worker
  if (m_searching.load(order) != 0) return false;             // one is looking for work now
  // A sleeper counts only if a post may wake it: at the goal, posted work waits for the awake.
  return m_sleeper_count.load(order) == 0 || unparked >= m_goal.load(order);
}

void pool_core::wait_for_idle_thread(std::chrono::nanoseconds timeout) noexcept {
  const std::uint32_t epoch = m_idle_epoch.load(std::memory_order_seq_cst);
  // ordering: seq_cst, the waiter's half of the handshake with park() (see there): epoch first,
  // then registered, then look.
  m_idle_waiters.fetch_add(1, std::memory_order_seq_cst);
  if (saturated_as_of(std::memory_order_seq_cst)) futex_wait(m_idle_epoch, epoch, timeout);
  m_idle_waiters.fetch_sub(1, std::memory_order_relaxed);
}

void pool_core::notify_work() {
  // ordering: the poster's half of the handshake: published, then look (see the top).
  std::uint32_t sleepers;
  if constexpr (k_fences_modelled) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    sleepers = m_sleeper_count.load(std::memory_order_relaxed);
  } else {
    sleepers = m_sleeper_count.fetch_add(0, std::memory_order_seq_cst);
  }
  if (sleepers == 0) return;
  if (m_searching.load(std::memory_order_seq_cst) != 0) return;
  worker_slot* woken = nullptr;
  {
    std::lock_guard lock(m_idle_mutex);
    if (m_searching.load(std::memory_order_relaxed) != 0) return;
    woken = wake_one_locked();
  }
  if (woken != nullptr) unpark(*woken);
}

worker_slot* pool_core::wake_one_locked() {
  if (m_sleepers.empty()) return nullptr;
  if (m_unparked.load(std::memory_order_relaxed) >= m_goal.load(std::memory_order_relaxed)) {
    return nullptr;  // at the goal: the awake workers will get to it
  }
  worker_slot* slot = m_sleepers.back();
  m_sleepers.pop_back();
  slot->sleeping = false;
  slot->searching = true;
  m_sleeper_count.fetch_sub(1, std::memory_order_relaxed);
  m_searching.fetch_add(1, std::memory_order_seq_cst);
  m_unparked.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

void pool_core::unpark(worker_slot& slot) {
  // A worker wakes: the pool is leaving idleness, so a monitor that waits quietly ticks again.
  nudge_monitor();
  // ordering: seq_cst pairs with the sleeper's acquire exchange, and orders the store before the
  // in_driver read (the driver's wake-up protocol at the top). The futex wake follows the store,
  // so a sleeper that checks after it sees 1 and one that sleeps before it is woken.
  slot.park_word.store(1, std::memory_order_seq_cst);
  if (slot.in_driver.load(std::memory_order_seq_cst)) {
    m_driver_wakers.fetch_add(1, std::memory_order_seq_cst);
    if (io_driver* driver = m_driver.load(std::memory_order_seq_cst)) driver->wake();
    // ordering: release pairs with detach_driver's acquire: the wake() happened before.
    m_driver_wakers.fetch_sub(1, std::memory_order_release);
    return;
  }
  futex_wake_one(slot.park_word);
}

void pool_core::queue_on_ring(worker_slot& slot, std::span<const std::coroutine_handle<>> handles) {
  for (std::coroutine_handle<> h : handles) {
    slot.queue.push(h.address(),
                    [this](std::span<void* const> overflow) { m_global.push_batch(overflow); });
  }
}

std::ptrdiff_t pool_core::drive_io(worker_slot* slot, std::chrono::nanoseconds timeout,
                                   bool behind_global) {
  // ordering: acquire pairs with the previous holder's release: the driver's state it left.
  if (m_driver_held.load(std::memory_order_relaxed) ||
      m_driver_held.exchange(true, std::memory_order_acquire)) {
    return -1;
  }
  io_driver* driver = m_driver.load(std::memory_order_acquire);
  if (driver == nullptr) {
    m_driver_held.store(false, std::memory_order_release);
    return -1;
  }
  std::vector<std::coroutine_handle<>>& out = slot != nullptr ? slot->harvested : m_monitor_harvest;
  const bool interruptible = slot != nullptr && timeout.count() != 0;
  // ordering: seq_cst, the parker's half of the wake-up protocol (see the top).
  if (interruptible) slot->in_driver.store(true, std::memory_order_seq_cst);
  driver->drive(timeout, interruptible ? &slot->park_word : nullptr, out);
  if (interruptible) slot->in_driver.store(false, std::memory_order_relaxed);
  // ordering: relaxed; one writer at a time (the lock holder), read by the monitor as a hint.
  m_driver_turns.store(m_driver_turns.load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
  m_driver_held.store(false, std::memory_order_release);

  const std::size_t n = out.size();
  if (n != 0) {
    if (slot != nullptr && !behind_global) {
      queue_on_ring(*slot, out);
    } else {
      // The monitor stops before the queue closes (stop()), so this push cannot be refused.
      m_global.push_handles(out);
    }
    out.clear();
  }
  return static_cast<std::ptrdiff_t>(n);
}

bool pool_core::attach_driver(io_driver& driver) {
  if (m_stopping.load(std::memory_order_seq_cst)) return false;
  io_driver* expected = nullptr;
  // ordering: release publishes the driver to the holders' acquire load.
  if (!m_driver.compare_exchange_strong(expected, &driver, std::memory_order_acq_rel)) {
    return false;
  }
  notify_work();  // a parked worker wakes, finds nothing to do, and parks in the driver
  return true;
}

void pool_core::detach_driver(io_driver& driver) noexcept {
  if (m_driver.load(std::memory_order_acquire) != &driver) return;
  // Cleared before the lock is taken: a holder that comes now finds no driver and lets go at
  // once. Taking the lock first was a livelock: a worker woken out of drive() let go and took
  // the lock straight back to wait again, and on a loaded machine (CI) the detaching thread,
  // between two tries, lost that race for a minute or more.
  m_driver.store(nullptr, std::memory_order_seq_cst);
  while (m_driver_held.exchange(true, std::memory_order_acquire)) {
    driver.wake();  // a worker that still waits in it returns
    std::this_thread::yield();
  }
  m_driver_held.store(false, std::memory_order_release);
  // ordering: seq_cst, with unpark()'s increment before its m_driver load: an unpark() that
  // read the driver before it was cleared is seen here.
  while (m_driver_wakers.load(std::memory_order_seq_cst) != 0)
    std::this_thread::yield();
}

void pool_core::wake_all_for_stop() {
  std::vector<worker_slot*> woken;
  {
    std::lock_guard lock(m_idle_mutex);
    for (worker_slot* slot : m_sleepers) {
      slot->sleeping = false;
      m_unparked.fetch_add(1, std::memory_order_relaxed);
    }
    woken.swap(m_sleepers);
    m_sleeper_count.store(0, std::memory_order_seq_cst);
  }
  for (worker_slot* slot : woken)
    unpark(*slot);
}

}  // namespace harrier::detail
