#pragma once
// trace_recorder's shared state (internal to src/diagnostics): the rings of every thread that
// recorded, guarded by `mutex`, which the write path takes only on a thread's first event.

#include "diagnostics/trace_ring.hpp"

#include <memory>
#include <mutex>
#include <vector>

namespace harrier::diagnostics {

struct trace_recorder::state {
  std::uint64_t id = 0;  // unique per recorder; keys the thread_local ring cache
  std::size_t capacity = 0;
  mutable std::mutex mutex;
  std::vector<std::shared_ptr<thread_ring>> rings;
  std::atomic<std::uint64_t> dropped{0};
};

}  // namespace harrier::diagnostics
