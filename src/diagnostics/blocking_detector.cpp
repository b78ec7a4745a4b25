// blocking_detector: worker slots, the odd/even item sequence, and the scanner.
//
// ordering: `sequence` is written only by its worker (relaxed: load, then store of +1) and read
// by the scanner (relaxed): the scanner needs no data published with it, only to see whether it
// changed between two scans, which coherence of the one atomic guarantees. The description is
// guarded by `busy`, a try-lock (acquire on taking, release on giving back) between the worker
// (which only tries) and the scanner (which spins; the worker holds it for one small copy).

#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/diagnostics/metric_names.hpp>
#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/diagnostics/thread_stack.hpp>
#include <harrier/diagnostics/trace_names.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>

#include "core/logger.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace harrier::diagnostics {

struct blocking_detector::worker_slot {
  std::atomic<std::uint64_t> sequence{0};  // odd while an item runs
  std::atomic<bool> busy{false};
  char description[k_max_item_description_bytes] = {};
  std::size_t description_bytes = 0;       // guarded by busy
  std::uint64_t description_sequence = 0;  // guarded by busy: the item it describes
  pthread_t thread{};
  std::string name;
  watched_thread_role role = watched_thread_role::pool_worker;
  // Scanner-only bookkeeping.
  std::uint64_t seen_sequence = 0;
  clock::time_point first_seen{};
  std::uint64_t reported_sequence = 0;
};

namespace {

thread_local blocking_detector::worker_slot* t_slot = nullptr;

std::string pthread_name() {
  char buffer[64] = {};
  if (::pthread_getname_np(::pthread_self(), buffer, sizeof buffer) != 0) return "?";
  return buffer;
}

}  // namespace

struct blocking_detector::state {
  blocking_detector_options options;
  counter_handle reports_counter;
  std::mutex mutex;  // guards slots; taken by (un)registration and scan
  std::vector<std::unique_ptr<worker_slot>> slots;
  std::atomic<std::uint64_t> reports{0};
  // The log's rate limit (guarded by mutex, as scan() is).
  bool logged_any = false;
  clock::time_point last_logged{};
  std::uint64_t unlogged = 0;            // reports since the last line
  std::int64_t unlogged_longest_ms = 0;  // the longest of them, when reported
  std::string unlogged_example;          // one of their descriptions
};

blocking_detector::blocking_detector(blocking_detector_options options, metric_registry* registry)
    : m_state(std::make_unique<state>()) {
  m_state->options = options;
  if (registry != nullptr) {
    m_state->reports_counter =
        registry->make_counter(metrics::k_harrier_thread_pool_long_items_total);
  }
}

blocking_detector::~blocking_detector() = default;

void blocking_detector::register_current_thread(std::string_view name, watched_thread_role role) {
  auto slot = std::make_unique<worker_slot>();
  slot->thread = ::pthread_self();
  slot->name = name.empty() ? pthread_name() : std::string(name);
  slot->role = role;
  std::lock_guard lock(m_state->mutex);
  t_slot = slot.get();
  m_state->slots.push_back(std::move(slot));
}

void blocking_detector::unregister_current_thread() noexcept {
  worker_slot* const slot = std::exchange(t_slot, nullptr);
  if (slot == nullptr) return;
  std::lock_guard lock(m_state->mutex);
  std::erase_if(m_state->slots, [slot](const auto& s) { return s.get() == slot; });
}

void blocking_detector::item_begin() noexcept {
  worker_slot* const slot = t_slot;
  if (slot == nullptr) return;
  const std::uint64_t s = slot->sequence.load(std::memory_order_relaxed);
  // To the next odd value. The old description is not cleared here (that would cost an atomic
  // exchange per item): it is tagged with its item's sequence and ignored once that moved on.
  slot->sequence.store((s | 1) == s ? s + 2 : s + 1, std::memory_order_relaxed);
}

void blocking_detector::item_end() noexcept {
  worker_slot* const slot = t_slot;
  if (slot == nullptr) return;
  const std::uint64_t s = slot->sequence.load(std::memory_order_relaxed);
  if ((s & 1) != 0) slot->sequence.store(s + 1, std::memory_order_relaxed);  // to even
}

void blocking_detector::describe_current_item(std::string_view description) noexcept {
  worker_slot* const slot = t_slot;
  if (slot == nullptr || slot->busy.exchange(true, std::memory_order_acquire)) return;
  const std::size_t n = std::min(description.size(), k_max_item_description_bytes);
  std::memcpy(slot->description, description.data(), n);
  slot->description_bytes = n;
  slot->description_sequence = slot->sequence.load(std::memory_order_relaxed);
  slot->busy.store(false, std::memory_order_release);
}

std::size_t blocking_detector::scan(clock::time_point now) {
  std::size_t reported = 0;
  state& st = *m_state;
  std::lock_guard lock(st.mutex);
  for (const auto& slot : m_state->slots) {
    const std::uint64_t s = slot->sequence.load(std::memory_order_relaxed);
    if ((s & 1) == 0) continue;  // idle
    if (s != slot->seen_sequence) {
      slot->seen_sequence = s;  // a new item since the last scan
      slot->first_seen = now;
      continue;
    }
    if (s == slot->reported_sequence || now - slot->first_seen < st.options.threshold) continue;
    slot->reported_sequence = s;

    std::string description;
    while (slot->busy.exchange(true, std::memory_order_acquire))
      std::this_thread::yield();
    if (slot->description_sequence == s)
      description.assign(slot->description, slot->description_bytes);
    slot->busy.store(false, std::memory_order_release);

    const auto held_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - slot->first_seen).count();
    default_trace_recorder().instant(trace_names::k_long_item, trace_names::k_category_threadpool,
                                     {{"held_ms", held_ms}, {"item", description}});
    st.reports_counter.inc();
    st.reports.fetch_add(1, std::memory_order_relaxed);
    ++reported;
    if (st.logged_any && now - st.last_logged < st.options.log_interval) {
      ++st.unlogged;  // said in one line once the interval is over (below)
      if (held_ms >= st.unlogged_longest_ms) {
        st.unlogged_longest_ms = held_ms;
        st.unlogged_example = description;
      }
      continue;
    }
    log_unlogged(now);
    st.logged_any = true;
    st.last_logged = now;
    std::string stack;
    if (st.options.capture_stacks) {
      stack = format_stack(capture_thread_stack(slot->thread));
      if (stack.empty()) stack = "  (the thread did not answer the stack request)\n";
    }
    const bool io_thread = slot->role == watched_thread_role::io_thread;
    harrier::detail::harrier_logger()->warn(
        "Work item on {}thread {} has been running for at least {} ms{}: {}.{}{}",
        io_thread ? "I/O " : "", slot->name, held_ms,
        description.empty() ? std::string() : " (" + description + ")",
        io_thread ? "a blocked I/O thread stalls every connection it serves (inline dispatch)"
                  : "a blocked worker starves the thread pool",
        stack.empty() ? "" : " Its stack:\n", stack);
  }
  if (st.unlogged > 0 && now - st.last_logged >= st.options.log_interval) {
    log_unlogged(now);
    st.last_logged = now;
  }
  return reported;
}

// The reports counted since the last line, in one line (nothing when there were none).
void blocking_detector::log_unlogged(clock::time_point now) {
  state& st = *m_state;
  if (st.unlogged == 0) return;
  const auto since_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - st.last_logged).count();
  harrier::detail::harrier_logger()->warn(
      "{} more work item{} ran past the {} ms threshold in the last {} ms (the longest seen at "
      "{} ms{}); one warning with a stack is logged per {} ms",
      st.unlogged, st.unlogged == 1 ? "" : "s", st.options.threshold.count(), since_ms,
      st.unlogged_longest_ms,
      st.unlogged_example.empty() ? std::string() : ": " + st.unlogged_example,
      st.options.log_interval.count());
  st.unlogged = 0;
  st.unlogged_longest_ms = 0;
  st.unlogged_example.clear();
}

bool blocking_detector::any_item_running() const {
  std::lock_guard lock(m_state->mutex);
  return std::any_of(m_state->slots.begin(), m_state->slots.end(), [](const auto& slot) {
    return (slot->sequence.load(std::memory_order_relaxed) & 1) != 0;
  });
}

bool blocking_detector::wants_scan() const {
  {
    std::lock_guard lock(m_state->mutex);
    if (m_state->unlogged > 0) return true;
  }
  return any_item_running();
}

std::chrono::milliseconds blocking_detector::threshold() const noexcept {
  return m_state->options.threshold;
}

std::chrono::milliseconds blocking_detector::scan_period() const noexcept {
  using std::chrono::milliseconds;
  return std::clamp(m_state->options.threshold / 10, milliseconds(10), milliseconds(100));
}

std::uint64_t blocking_detector::reports() const noexcept {
  return m_state->reports.load(std::memory_order_relaxed);
}

}  // namespace harrier::diagnostics
