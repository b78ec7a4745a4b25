#pragma once
// executor: something that resumes coroutines on its own threads.
//
// The core knows no threads; the thread pool implements this interface, and the platform layer
// hands the coroutines it wakes to an executor without knowing which kind. post() never resumes
// the coroutine inline (inline_executor is the one documented exception, for "inline dispatch").

#include <chrono>
#include <coroutine>
#include <span>

namespace harrier {

class executor {
 public:
  virtual ~executor() = default;

  // Queues h to be resumed later on one of this executor's threads. Thread-safe.
  virtual void post(std::coroutine_handle<> h) = 0;

  // Queues a batch at once: one wake-up for many completions. The default posts one by one.
  virtual void post_batch(std::span<const std::coroutine_handle<>> batch) {
    for (std::coroutine_handle<> h : batch)
      post(h);
  }

  // Whether every thread of this executor is busy running work, so that a coroutine posted now
  // would wait in a queue. A hint for an I/O thread deciding when to harvest. Default: false.
  virtual bool saturated() const noexcept { return false; }
  // Blocks the caller until a thread of this executor runs out of work, `timeout` passes, or
  // spuriously. Default: returns at once.
  virtual void wait_for_idle_thread(std::chrono::nanoseconds /*timeout*/) noexcept {}

  // co_await ex.schedule(): continue on one of this executor's threads.
  struct schedule_awaiter {
    executor* target;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { target->post(h); }
    void await_resume() const noexcept {}
  };
  schedule_awaiter schedule() noexcept { return schedule_awaiter{this}; }
};

// Resumes every posted coroutine at once, on the posting thread. Used for inline dispatch (as
// Kestrel's UnsafePreferInlineScheduling): cheapest, but a handler that blocks stalls its caller.
class inline_executor final : public executor {
 public:
  void post(std::coroutine_handle<> h) override { h.resume(); }
};

}  // namespace harrier
