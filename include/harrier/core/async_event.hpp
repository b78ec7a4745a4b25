#pragma once
// async_event: a manual-reset event that coroutines await.
//
// Contract:
// - `co_await ev.wait()` completes at once if the event is set; otherwise the coroutine suspends
//   until set() is called, and is resumed inside set(), on the setting thread (so set() from a
//   thread that must not run application code should post the waiters elsewhere: use
//   set(executor&)).
// - set() is idempotent and thread-safe; every waiter is resumed exactly once. reset() makes the
//   event unset again (waiters already resumed are not affected).
// - The event must outlive its waiters' suspension.

#include <harrier/core/executor.hpp>

#include <atomic>
#include <coroutine>

namespace harrier {

class async_event {
 public:
  explicit async_event(bool initially_set = false) noexcept
      : m_state(initially_set ? set_state() : nullptr) {}
  async_event(const async_event&) = delete;
  async_event& operator=(const async_event&) = delete;

  bool is_set() const noexcept { return m_state.load(std::memory_order_acquire) == set_state(); }

  // Resumes every waiter on this thread.
  void set() noexcept { resume_all(take_waiters(), nullptr); }
  // Posts every waiter to ex instead of resuming it here.
  void set(executor& ex) { resume_all(take_waiters(), &ex); }
  void reset() noexcept {
    void* expected = set_state();
    m_state.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
  }

  struct awaiter {
    async_event& event;
    awaiter* next = nullptr;
    std::coroutine_handle<> handle;

    bool await_ready() const noexcept { return event.is_set(); }
    bool await_suspend(std::coroutine_handle<> h) noexcept {
      handle = h;
      void* old = event.m_state.load(std::memory_order_acquire);
      do {
        if (old == set_state()) return false;  // set meanwhile: do not suspend
        next = static_cast<awaiter*>(old);
        // ordering: release publishes handle/next to the thread that will take the list.
      } while (!event.m_state.compare_exchange_weak(old, this, std::memory_order_release,
                                                    std::memory_order_acquire));
      return true;
    }
    void await_resume() const noexcept {}
  };
  awaiter wait() noexcept { return awaiter{*this}; }

 private:
  // The state is nullptr (unset, no waiters), set_state() (set), or the head of a waiter list.
  static void* set_state() noexcept { return &s_set_tag; }
  static inline char s_set_tag = 0;  // only its address is used

  awaiter* take_waiters() noexcept {
    // ordering: acq_rel acquires the waiters' handles and publishes "set" to later waiters.
    void* old = m_state.exchange(set_state(), std::memory_order_acq_rel);
    return old == set_state() ? nullptr : static_cast<awaiter*>(old);
  }
  static void resume_all(awaiter* list, executor* ex) {
    while (list != nullptr) {
      awaiter* next = list->next;  // read before resuming: the awaiter dies with its coroutine
      if (ex != nullptr) {
        ex->post(list->handle);
      } else {
        list->handle.resume();
      }
      list = next;
    }
  }

  std::atomic<void*> m_state;
};

}  // namespace harrier
