// heartbeat: the tick thread, lag measurement, the pool probe and the rate-limited warning.
//
// The probe is shared with the work item it posts (shared_ptr), so a probe that runs after the
// heartbeat is gone touches only memory it owns. Its two fields are atomics because the item runs
// on a pool thread while the heartbeat reads them.

#include <harrier/diagnostics/heartbeat.hpp>
#include <harrier/diagnostics/metric_names.hpp>
#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/diagnostics/trace_names.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>

#include "core/logger.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace harrier::diagnostics {

namespace {

using clock = heartbeat::clock;

std::int64_t to_ns(clock::time_point t) {
  return t.time_since_epoch().count();
}

struct dispatch_probe {
  // ordering: the item stores latency_ns (relaxed) then clears `pending` with release; the
  // heartbeat loads `pending` with acquire before reading latency_ns.
  std::atomic<bool> pending{false};
  std::atomic<std::int64_t> latency_ns{0};
};

}  // namespace

struct heartbeat::state {
  heartbeat_options options;
  std::string waiting;  // "waiting for " + options.probe_runner, the probe's cause in a warning
  gauge_handle lag_gauge;

  std::mutex callbacks_mutex;  // held while callbacks run
  std::vector<std::pair<std::uint64_t, tick_callback>> callbacks;
  std::uint64_t next_callback_id = 1;
  std::function<pool_load()> load_probe;  // guarded by callbacks_mutex
  dispatcher post;                        // guarded by callbacks_mutex

  std::shared_ptr<dispatch_probe> probe = std::make_shared<dispatch_probe>();
  clock::time_point probe_posted_at{};  // tick thread only

  std::optional<clock::time_point> last_warning;  // tick thread only
  std::atomic<std::uint64_t> suppressed{0};
  std::atomic<std::uint64_t> warnings{0};
  std::atomic<std::uint64_t> ticks{0};
  std::atomic<double> last_lag_seconds{0};

  std::mutex thread_mutex;
  std::condition_variable wake;
  bool stopping = false;  // guarded by thread_mutex
  std::thread thread;
};

heartbeat::heartbeat(heartbeat_options options, metric_registry* registry)
    : m_state(std::make_unique<state>()) {
  if (options.interval <= std::chrono::milliseconds::zero())
    throw std::invalid_argument("heartbeat: interval must be positive");
  m_state->waiting = "waiting for " + options.probe_runner;
  m_state->options = std::move(options);
  if (registry != nullptr)
    m_state->lag_gauge = registry->make_gauge(metrics::k_harrier_heartbeat_lag_seconds);
}

heartbeat::~heartbeat() {
  stop();
}

std::uint64_t heartbeat::add_callback(tick_callback callback) {
  std::lock_guard lock(m_state->callbacks_mutex);
  const std::uint64_t id = m_state->next_callback_id++;
  m_state->callbacks.emplace_back(id, std::move(callback));
  return id;
}

void heartbeat::remove_callback(std::uint64_t id) {
  std::lock_guard lock(m_state->callbacks_mutex);
  std::erase_if(m_state->callbacks, [id](const auto& entry) { return entry.first == id; });
}

void heartbeat::set_pool_load_probe(std::function<pool_load()> probe) {
  std::lock_guard lock(m_state->callbacks_mutex);
  m_state->load_probe = std::move(probe);
}

void heartbeat::set_dispatcher(dispatcher post) {
  std::lock_guard lock(m_state->callbacks_mutex);
  m_state->post = std::move(post);
}

void heartbeat::start() {
  std::lock_guard lock(m_state->thread_mutex);
  if (m_state->thread.joinable()) return;
  m_state->stopping = false;
  m_state->thread = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "harrier-heartbt");
    const clock::duration interval = m_state->options.interval;
    clock::time_point next = clock::now() + interval;
    std::unique_lock guard(m_state->thread_mutex);
    while (!m_state->wake.wait_until(guard, next, [this] { return m_state->stopping; })) {
      guard.unlock();
      const clock::time_point now = clock::now();
      tick(next, now);
      next += interval;
      // After a long stall, resume the rhythm from now instead of firing the missed ticks.
      if (next <= now) next = now + interval;
      guard.lock();
    }
  });
}

void heartbeat::stop() noexcept {
  std::thread thread;
  {
    std::lock_guard lock(m_state->thread_mutex);
    m_state->stopping = true;
    thread = std::move(m_state->thread);
  }
  m_state->wake.notify_all();
  if (thread.joinable()) thread.join();
}

void heartbeat::tick(clock::time_point scheduled, clock::time_point now) {
  state& s = *m_state;
  clock::duration lag = std::max(now - scheduled, clock::duration::zero());
  std::string_view cause = "late";

  std::unique_lock lock(s.callbacks_mutex);
  if (s.post) {
    if (s.probe->pending.load(std::memory_order_acquire)) {
      // The previous probe is still waiting for a worker: that wait is the lag that matters.
      if (now - s.probe_posted_at > lag) {
        lag = now - s.probe_posted_at;
        cause = s.waiting;
      }
    } else {
      const clock::duration last{s.probe->latency_ns.load(std::memory_order_relaxed)};
      if (last > lag) {
        lag = last;
        cause = s.waiting;
      }
      s.probe->pending.store(true, std::memory_order_relaxed);
      s.probe_posted_at = now;
      const std::int64_t posted_ns = to_ns(clock::now());
      try {
        s.post([probe = s.probe, posted_ns] {
          probe->latency_ns.store(to_ns(clock::now()) - posted_ns, std::memory_order_relaxed);
          probe->pending.store(false, std::memory_order_release);
        });
      } catch (const std::exception& e) {  // e.g. a pool already stopped: no probe this tick
        s.probe->pending.store(false, std::memory_order_relaxed);
        harrier::detail::harrier_logger()->debug("heartbeat: the pool probe was refused: {}",
                                                 e.what());
      } catch (...) {
        s.probe->pending.store(false, std::memory_order_relaxed);
      }
    }
  }

  const double lag_seconds = std::chrono::duration<double>(lag).count();
  s.last_lag_seconds.store(lag_seconds, std::memory_order_relaxed);
  s.lag_gauge.set(lag_seconds);
  s.ticks.fetch_add(1, std::memory_order_relaxed);

  const auto wall_now = std::chrono::system_clock::now();
  for (auto& [id, callback] : s.callbacks) {
    try {
      callback(wall_now);
    } catch (const std::exception& e) {  // one faulty callback must not stop the heartbeat
      harrier::detail::harrier_logger()->error("heartbeat callback {} threw: {}", id, e.what());
    } catch (...) {
      harrier::detail::harrier_logger()->error("heartbeat callback {} threw a non-exception", id);
    }
  }

  if (lag <= s.options.lag_warning_threshold) return;
  const auto lag_ms = std::chrono::duration_cast<std::chrono::milliseconds>(lag).count();
  default_trace_recorder().instant(trace_names::k_heartbeat_late,
                                   trace_names::k_category_diagnostics, {{"lag_ms", lag_ms}});
  if (s.last_warning && now - *s.last_warning < s.options.warning_min_interval) {
    s.suppressed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  s.last_warning = now;
  std::string figures;
  try {
    if (s.load_probe) {
      const pool_load load = s.load_probe();
      figures = fmt::format(" (queue length {}, threads {})", load.queue_length, load.threads);
    }
  } catch (...) {  // warn without the figures rather than not at all
  }
  lock.unlock();

  const std::uint64_t suppressed = s.suppressed.exchange(0, std::memory_order_relaxed);
  harrier::detail::harrier_logger()->warn(
      "Heartbeat took longer than expected ({} ms {}); this may be {} starvation{}{}", lag_ms,
      cause, s.options.starved, figures,
      suppressed == 0 ? std::string()
                      : fmt::format(" [{} similar warning(s) suppressed]", suppressed));
  s.warnings.fetch_add(1, std::memory_order_relaxed);
}

double heartbeat::last_lag_seconds() const noexcept {
  return m_state->last_lag_seconds.load(std::memory_order_relaxed);
}
std::uint64_t heartbeat::ticks() const noexcept {
  return m_state->ticks.load(std::memory_order_relaxed);
}
std::uint64_t heartbeat::warnings_logged() const noexcept {
  return m_state->warnings.load(std::memory_order_relaxed);
}
std::uint64_t heartbeat::warnings_suppressed() const noexcept {
  return m_state->suppressed.load(std::memory_order_relaxed);
}

}  // namespace harrier::diagnostics
