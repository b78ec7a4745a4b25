#pragma once
// Telling the scheduler that this thread is about to block.
//
// A pool worker that blocks (a synchronous call, sync_wait on a worker: the `.Result` of our world)
// takes a thread away from every other queued work item. The pool installs a blocking_observer on
// each of its worker threads; blocking(...) and sync_wait notify it so that the pool can inject a
// replacement at once and retire it afterwards, as .NET's cooperative blocking does.
//
// On a thread with no observer (main, a test thread, a foreign thread) these are no-ops.

#include <type_traits>
#include <utility>

namespace harrier {

class blocking_observer {
 public:
  virtual void on_blocking_begin() noexcept = 0;
  virtual void on_blocking_end() noexcept = 0;

 protected:
  ~blocking_observer() = default;
};

// Installs observer for the calling thread (nullptr removes it). Returns the previous one.
blocking_observer* set_thread_blocking_observer(blocking_observer* observer) noexcept;
blocking_observer* thread_blocking_observer() noexcept;

// RAII: the calling thread blocks for the lifetime of this object. Nested regions notify once.
class blocking_region {
 public:
  blocking_region() noexcept;
  ~blocking_region();
  blocking_region(const blocking_region&) = delete;
  blocking_region& operator=(const blocking_region&) = delete;

 private:
  blocking_observer* m_observer;
};

// Runs fn() as a blocking call: blocking(fn) is the annotation for "this will wait on something
// that is not the pool" (a synchronous read, a lock held elsewhere, a sleep).
template <typename F>
decltype(auto) blocking(F&& fn) {
  blocking_region region;
  return std::forward<F>(fn)();
}

}  // namespace harrier
