#pragma once
// executor: something that resumes coroutines on its own threads.
//
// The core knows no threads; the thread pool implements this interface, and the platform layer
// hands the coroutines it wakes to an executor without knowing which kind. post() never resumes
// the coroutine inline (inline_executor is the one documented exception, for "inline dispatch").

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <span>
#include <vector>

namespace harrier {

// An event source that an executor's idle threads may wait in, instead of a thread of its own
// (Tokio's topology: a worker that runs out of work harvests the I/O completions itself, so a
// completion reaches its coroutine with no hop between threads). The executor lets one thread at
// a time into drive().
class io_driver {
 public:
  virtual ~io_driver() = default;
  // Harvests what is ready and appends the coroutines it woke to `ready`, for the caller to run.
  // Waits up to `timeout` for something to happen (negative: no limit; zero: no wait), unless
  // wake() is called or `*interrupt` (when given) is non-zero once the wait is about to start.
  virtual void drive(std::chrono::nanoseconds timeout, const std::atomic<std::uint32_t>* interrupt,
                     std::vector<std::coroutine_handle<>>& ready) noexcept = 0;
  // Any thread: a drive() that waits, or is about to, returns soon. For `interrupt` to be seen
  // without a lost wake-up, store it (seq_cst) before calling wake().
  virtual void wake() noexcept = 0;
};

class executor {
 public:
  virtual ~executor() = default;

  // Queues h to be resumed later on one of this executor's threads. Thread-safe.
  virtual void post(std::coroutine_handle<> h) = 0;

  // Queues a batch at once: one wake-up for many completions. The default posts one by one.
  // An executor that no longer takes work (a stopped thread_pool) throws std::logic_error from
  // post(), and from post_batch() having taken none of the batch.
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

  // Offers `driver` to this executor's idle threads. True: from now until detach_driver()
  // returns, they drive it whenever they run out of work (and now and then while busy), and the
  // caller need not wait for its events on a thread of its own. An executor takes at most one
  // driver. Default: false.
  virtual bool attach_driver(io_driver& /*driver*/) { return false; }
  // Takes an attached driver back: when it returns, no thread of this executor is inside, or
  // will enter, its drive() or wake(). Calls driver.wake() while it waits for a thread inside.
  virtual void detach_driver(io_driver& /*driver*/) noexcept {}

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
