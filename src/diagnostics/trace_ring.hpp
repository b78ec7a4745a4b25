#pragma once
// The per-thread ring of trace_recorder (internal to src/diagnostics).
//
// Ownership: the recorder's state holds every ring by shared_ptr, and the owning thread's
// thread_local cache holds one more reference, so a ring outlives whichever goes first.
//
// The `busy` flag is a try-lock shared by exactly two parties: the owning thread (writing an
// event, or renaming its lane) and at most one maintenance operation (export, stats or start,
// serialised by the recorder's mutex). The owner only ever tries (exchange) and drops its event
// on failure, so it never waits; maintenance spins, which is short because an owner holds the
// flag only for the copy of one event.

#include <harrier/diagnostics/trace_recorder.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace harrier::diagnostics {

struct stored_trace_arg {
  const char* key = nullptr;
  trace_arg::kind type = trace_arg::kind::none;
  std::int64_t integer = 0;
  double real = 0;
};

struct stored_trace_event {
  const char* name = nullptr;
  const char* category = nullptr;
  std::uint64_t ts_us = 0;
  std::uint64_t dur_us = 0;
  char phase = 'i';
  unsigned char arg_count = 0;
  unsigned char text_bytes = 0;  // the text argument (at most one) lives in `text`
  stored_trace_arg args[k_max_trace_args];
  char text[k_max_text_arg_bytes];
};

struct trace_recorder::thread_ring {
  thread_ring(std::size_t capacity, std::uint32_t thread_id, std::string thread_name)
      : slots(capacity), tid(thread_id), name(std::move(thread_name)) {}

  // ordering: acquire on taking, release on giving back, so that the slots and `written`
  // written under the flag are visible to the next holder.
  bool try_lock() noexcept { return !busy.exchange(true, std::memory_order_acquire); }
  void lock() noexcept {
    while (!try_lock())
      std::this_thread::yield();
  }
  void unlock() noexcept { busy.store(false, std::memory_order_release); }

  std::atomic<bool> busy{false};
  // ordering: release by the exiting thread, acquire by start(); only decides reclamation.
  std::atomic<bool> thread_exited{false};
  std::vector<stored_trace_event> slots;  // guarded by busy
  std::uint64_t written = 0;              // guarded by busy; events since start()
  const std::uint32_t tid;
  std::string name;  // guarded by busy
};

}  // namespace harrier::diagnostics
