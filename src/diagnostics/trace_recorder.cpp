// trace_recorder: per-thread rings, the write path, and recording sessions.
//
// The write path (record) is: find this thread's ring through a thread_local cache keyed by the
// recorder's unique id (a miss, once per thread and recorder, takes the recorder's mutex and may
// allocate the ring), try-lock the ring, copy the event into slot written % capacity, unlock.
// See trace_ring.hpp for the try-lock protocol. Export lives in trace_export.cpp.

#include <harrier/diagnostics/trace_recorder.hpp>

#include "diagnostics/trace_state.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace harrier::diagnostics {

namespace {

std::uint64_t next_recorder_id() noexcept {
  static std::atomic<std::uint64_t> next{1};
  // ordering: relaxed; only uniqueness matters.
  return next.fetch_add(1, std::memory_order_relaxed);
}

std::uint32_t current_tid() noexcept {
  return static_cast<std::uint32_t>(::syscall(SYS_gettid));
}

std::string current_thread_name() {
  char buffer[64] = {};
  if (::pthread_getname_np(::pthread_self(), buffer, sizeof buffer) != 0) return {};
  return buffer;
}

}  // namespace

trace_recorder::trace_recorder(std::size_t events_per_thread) : m_state(std::make_unique<state>()) {
  if (events_per_thread == 0)
    throw std::invalid_argument("trace_recorder: events_per_thread must be at least 1");
  m_state->id = next_recorder_id();
  m_state->capacity = events_per_thread;
}

trace_recorder::~trace_recorder() = default;

std::uint64_t trace_recorder::now_us() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

void trace_recorder::start() {
  std::lock_guard lock(m_state->mutex);
  std::erase_if(m_state->rings, [](const std::shared_ptr<thread_ring>& ring) {
    return ring->thread_exited.load(std::memory_order_acquire);
  });
  for (const auto& ring : m_state->rings) {
    ring->lock();
    ring->written = 0;
    ring->unlock();
  }
  m_state->dropped.store(0, std::memory_order_relaxed);
  // ordering: relaxed; see enabled(). Writers racing with start() may land in the new session.
  m_enabled.store(true, std::memory_order_relaxed);
}

void trace_recorder::stop() noexcept {
  m_enabled.store(false, std::memory_order_relaxed);
}

trace_recorder::thread_ring* trace_recorder::this_thread_ring() {
  // One cached ring per thread; the destructor runs at thread exit and lets start() reclaim it.
  struct ring_cache {
    std::uint64_t recorder_id = 0;
    std::shared_ptr<thread_ring> ring;
    ~ring_cache() {
      if (ring) ring->thread_exited.store(true, std::memory_order_release);
    }
  };
  static thread_local ring_cache cache;
  if (cache.recorder_id == m_state->id) [[likely]]
    return cache.ring.get();

  const std::uint32_t tid = current_tid();
  std::shared_ptr<thread_ring> ring;
  {
    std::lock_guard lock(m_state->mutex);
    for (const auto& existing : m_state->rings) {
      if (existing->tid == tid && !existing->thread_exited.load(std::memory_order_acquire))
        ring = existing;
    }
    if (!ring) {
      ring = std::make_shared<thread_ring>(m_state->capacity, tid, current_thread_name());
      m_state->rings.push_back(ring);
    }
  }
  cache.recorder_id = m_state->id;
  cache.ring = std::move(ring);
  return cache.ring.get();
}

void trace_recorder::record(char phase, const char* name, const char* category, std::uint64_t ts_us,
                            std::uint64_t dur_us, std::initializer_list<trace_arg> args) noexcept {
  thread_ring* ring = nullptr;
  try {
    ring = this_thread_ring();
  } catch (...) {  // out of memory for a new ring: lose the event, never the caller
    m_state->dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!ring->try_lock()) {
    // ordering: relaxed; a statistic.
    m_state->dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  stored_trace_event& e = ring->slots[ring->written % ring->slots.size()];
  e.name = name;
  e.category = category;
  e.ts_us = ts_us;
  e.dur_us = dur_us;
  e.phase = phase;
  e.arg_count = 0;
  e.text_bytes = 0;
  bool have_text = false;
  for (const trace_arg& a : args) {
    if (e.arg_count == k_max_trace_args || a.type == trace_arg::kind::none) continue;
    if (a.type == trace_arg::kind::text) {
      if (have_text) continue;  // one text argument per event
      have_text = true;
      const std::size_t n = std::min(a.text.size(), k_max_text_arg_bytes);
      std::memcpy(e.text, a.text.data(), n);
      e.text_bytes = static_cast<unsigned char>(n);
    }
    e.args[e.arg_count++] = stored_trace_arg{a.key, a.type, a.integer, a.real};
  }
  ++ring->written;
  ring->unlock();
}

void trace_recorder::set_thread_name(std::string_view name) {
  thread_ring* ring = this_thread_ring();
  ring->lock();  // only an export can hold it, briefly
  ring->name.assign(name);
  ring->unlock();
}

trace_stats trace_recorder::stats() const {
  trace_stats out;
  std::lock_guard lock(m_state->mutex);
  for (const auto& ring : m_state->rings) {
    ring->lock();
    out.recorded += ring->written;
    if (ring->written > ring->slots.size()) out.overwritten += ring->written - ring->slots.size();
    ring->unlock();
  }
  out.threads = m_state->rings.size();
  out.dropped = m_state->dropped.load(std::memory_order_relaxed);
  return out;
}

trace_recorder& default_trace_recorder() {
  // Never destroyed: threads that outlive main() may still record.
  static trace_recorder* const recorder = new trace_recorder;
  return *recorder;
}

}  // namespace harrier::diagnostics
