#pragma once
// async_event: a one-shot event one coroutine can await, set from any thread.
//
// Used to wait for the connection's timeout watchdog and its read-ahead to finish before the
// connection (and the transport they use) goes away. One waiter at most; set() at most once per
// use, reset() between uses.
//
// State: nullptr (not set, nobody waiting), the waiter's frame address, or k_set.

#include <atomic>
#include <coroutine>

namespace harrier::http::detail {

class async_event {
 public:
  void set() noexcept {
    // ordering: acq_rel. Release publishes what the setter did before set(); acquire makes the
    // waiter's suspension visible before we resume it.
    void* old = m_state.exchange(set_marker(), std::memory_order_acq_rel);
    if (old != nullptr && old != set_marker()) std::coroutine_handle<>::from_address(old).resume();
  }

  // Makes the event unset again. Only when it is set and nobody waits (between two uses).
  void reset() noexcept { m_state.store(nullptr, std::memory_order_relaxed); }

  bool is_set() const noexcept { return m_state.load(std::memory_order_acquire) == set_marker(); }

  auto operator co_await() noexcept {
    struct awaiter {
      async_event& event;
      bool await_ready() const noexcept { return event.is_set(); }
      bool await_suspend(std::coroutine_handle<> h) noexcept {
        void* expected = nullptr;
        // ordering: acq_rel. Release publishes our frame to set(); acquire (on failure: the event
        // was set meanwhile) pairs with set()'s release.
        return event.m_state.compare_exchange_strong(
            expected, h.address(), std::memory_order_acq_rel, std::memory_order_acquire);
      }
      void await_resume() const noexcept {}
    };
    return awaiter{*this};
  }

 private:
  void* set_marker() const noexcept { return const_cast<async_event*>(this); }
  std::atomic<void*> m_state{nullptr};
};

}  // namespace harrier::http::detail
