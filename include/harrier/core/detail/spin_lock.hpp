#pragma once
// spin_lock: a lock for critical sections of a few pointer writes on hot paths (internal).
//
// Why not std::mutex: an uncontended pthread_mutex_lock/unlock pair costs ~55 instructions and
// two calls; this costs one exchange and one store. Used where every request takes the lock a
// few times (cancellation registrations, the block pool) and nobody holds it across a call that
// can block or take long. A waiter spins on a plain load (no cache-line ping-pong) and yields
// the CPU after k_spins_before_yield tries, so a holder preempted on a shared CPU gets to run.
// Meets BasicLockable: std::lock_guard and std::unique_lock work with it.

#include <atomic>
#include <thread>

namespace harrier::detail {

class spin_lock {
 public:
  void lock() noexcept {
    // ordering: acquire pairs with unlock's release: the last holder's writes are seen.
    while (m_held.exchange(true, std::memory_order_acquire)) {
      for (int spins = 0; m_held.load(std::memory_order_relaxed); ++spins) {
        if (spins >= k_spins_before_yield) std::this_thread::yield();
      }
    }
  }
  void unlock() noexcept { m_held.store(false, std::memory_order_release); }

 private:
  static constexpr int k_spins_before_yield = 64;
  std::atomic<bool> m_held{false};
};

}  // namespace harrier::detail
