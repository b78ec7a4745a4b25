#pragma once
// metric_registry: counters, gauges and histograms that every layer reports into.
//
// Two costs are kept apart on purpose, as in the Prometheus and OpenTelemetry clients:
// - Resolving a series (a family plus one set of label values, e.g. method="GET", route="/json",
//   status="200") takes the registry's mutex, may allocate, and is done once; it returns a handle.
// - Using a handle (counter_handle::add, histogram_handle::observe, ...) takes no lock and never
//   allocates: it adds into the calling thread's shard of the series (detail/sharded_cells.hpp).
//   Cost, measured by bench/diagnostics (GCC 12 -O2, 2-vCPU AMD EPYC VM, per-thread CPU time):
//     counter_handle::add / up_down_counter_handle::add   4.6 ns, 1 thread and 2 threads each
//     histogram_handle::observe (14 OTel buckets)          9.4 ns, 1 thread and 2 threads each
//     metric_vec::with(...) on an existing series           25 ns (mutex + map; no allocation)
//   An add is one relaxed lock-xadd on a cache line no other thread writes; an observation is
//   that plus a compare-exchange for the sum.
// Reading (collect()) sums the shards under the registry's mutex and evaluates the scrape-time
// callbacks (gauges for a pool's thread count, a queue's length, open connections, ...).
//
// Lifetimes: the registry owns every series; handles and vecs are plain pointers into it and must
// not outlive it. A default-constructed handle is detached: its operations do nothing, so a layer
// may keep handles as members and run without diagnostics wired in. Series are never removed.
//
// Registration is get-or-create: registering a name again with the same type, labels and buckets
// returns the existing family (so two layers can name the same metric); any mismatch, an invalid
// name, or a counter whose name does not end in "_total" throws std::invalid_argument.
//
// Callbacks run on the collecting thread with the registry's mutex held: they must be quick and
// must not call back into the registry.

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <harrier/diagnostics/detail/sharded_cells.hpp>
#include <harrier/diagnostics/metric_snapshot.hpp>

namespace harrier::diagnostics {

// A metric's name and help text; metric_names.hpp defines the standard ones.
struct metric_info {
  std::string_view name;
  std::string_view help;
};

namespace detail {

class family;

// How a family stores its series; counters, up-down counters and settable gauges differ in cells
// even where the exposition type is the same.
enum class family_kind : unsigned char { counter, up_down_counter, gauge, histogram, callback };

// The cells of one series. Counters and up-down counters use word 0 of each shard; histograms use
// words [0, bound_count] for the buckets (the last is +Inf) and word bound_count + 1 for the sum
// (a double's bits); settable gauges use gauge_bits only.
struct series_storage {
  series_storage(std::size_t words_per_shard, const double* bucket_bounds, std::size_t bounds)
      : words(words_per_shard), bounds(bucket_bounds), bound_count(bounds) {}

  sharded_words words;
  std::atomic<std::uint64_t> gauge_bits{0};
  const double* bounds;
  std::size_t bound_count;
};

series_storage* resolve_series(family& f, std::span<const std::string_view> label_values);

}  // namespace detail

// A monotonic counter (Prometheus "counter"; the name ends in _total).
class counter_handle {
 public:
  counter_handle() noexcept = default;

  void add(std::uint64_t n) const noexcept {
    // ordering: relaxed; a statistic (detail/sharded_cells.hpp).
    if (m_series) m_series->words.this_thread_row()[0].fetch_add(n, std::memory_order_relaxed);
  }
  void inc() const noexcept { add(1); }
  // The sum over all shards (exact once the writers have been joined).
  std::uint64_t value() const noexcept { return m_series ? m_series->words.sum(0) : 0; }
  explicit operator bool() const noexcept { return m_series != nullptr; }

  explicit counter_handle(detail::series_storage* series) noexcept : m_series(series) {}

 private:
  detail::series_storage* m_series = nullptr;
};

// A value that goes up and down by deltas from many threads (active requests, connections):
// sharded like a counter, exposed as a Prometheus "gauge".
class up_down_counter_handle {
 public:
  up_down_counter_handle() noexcept = default;

  void add(std::int64_t delta) const noexcept {
    // ordering: relaxed; a statistic. Negative deltas wrap and sum correctly (two's complement).
    if (m_series)
      m_series->words.this_thread_row()[0].fetch_add(static_cast<std::uint64_t>(delta),
                                                     std::memory_order_relaxed);
  }
  void inc() const noexcept { add(1); }
  void dec() const noexcept { add(-1); }
  std::int64_t value() const noexcept {
    return m_series ? static_cast<std::int64_t>(m_series->words.sum(0)) : 0;
  }
  explicit operator bool() const noexcept { return m_series != nullptr; }

  explicit up_down_counter_handle(detail::series_storage* series) noexcept : m_series(series) {}

 private:
  detail::series_storage* m_series = nullptr;
};

// A value that is set (last writer wins): a lag, a configured size, an "info" metric set to 1.
class gauge_handle {
 public:
  gauge_handle() noexcept = default;

  void set(double value) const noexcept {
    // ordering: relaxed; readers want the latest value, not other memory published with it.
    if (m_series)
      m_series->gauge_bits.store(std::bit_cast<std::uint64_t>(value), std::memory_order_relaxed);
  }
  void add(double delta) const noexcept {
    if (m_series) detail::add_double_bits(m_series->gauge_bits, delta);
  }
  double value() const noexcept {
    return m_series ? std::bit_cast<double>(m_series->gauge_bits.load(std::memory_order_relaxed))
                    : 0.0;
  }
  explicit operator bool() const noexcept { return m_series != nullptr; }

  explicit gauge_handle(detail::series_storage* series) noexcept : m_series(series) {}

 private:
  detail::series_storage* m_series = nullptr;
};

// A distribution over fixed bucket upper bounds (inclusive, as Prometheus' "le"); durations are
// observed in seconds. NaN observations are ignored (they would poison the sum forever).
class histogram_handle {
 public:
  histogram_handle() noexcept = default;

  void observe(double value) const noexcept {
    if (m_series == nullptr || value != value) return;
    const std::size_t n = m_series->bound_count;
    std::size_t bucket = 0;
    // Linear: the standard bucket lists are 10-20 long and the early buckets are the common case.
    while (bucket < n && value > m_series->bounds[bucket])
      ++bucket;
    std::atomic<std::uint64_t>* row = m_series->words.this_thread_row();
    row[bucket].fetch_add(1, std::memory_order_relaxed);  // ordering: relaxed; a statistic
    detail::add_double_bits(row[n + 1], value);
  }
  template <typename Rep, typename Period>
  void observe(std::chrono::duration<Rep, Period> d) const noexcept {
    observe(std::chrono::duration<double>(d).count());
  }
  explicit operator bool() const noexcept { return m_series != nullptr; }

  explicit histogram_handle(detail::series_storage* series) noexcept : m_series(series) {}

 private:
  detail::series_storage* m_series = nullptr;
};

// A family with labels: with(values) resolves one series (lock, maybe allocation; do it once and
// keep the handle). The values are given in the order of the label names at registration; a wrong
// count throws std::invalid_argument. A default-constructed vec returns detached handles.
template <typename Handle>
class metric_vec {
 public:
  metric_vec() noexcept = default;
  explicit metric_vec(detail::family* f) noexcept : m_family(f) {}

  Handle with(std::initializer_list<std::string_view> label_values) const {
    return with(std::span<const std::string_view>(label_values.begin(), label_values.size()));
  }
  Handle with(std::span<const std::string_view> label_values) const {
    return m_family ? Handle(detail::resolve_series(*m_family, label_values)) : Handle();
  }

 private:
  detail::family* m_family = nullptr;
};

using counter_vec = metric_vec<counter_handle>;
using up_down_counter_vec = metric_vec<up_down_counter_handle>;
using gauge_vec = metric_vec<gauge_handle>;
using histogram_vec = metric_vec<histogram_handle>;

class metric_registry;

// Keeps a scrape-time callback registered; destroying it (or reset()) unregisters the callback,
// after which it is guaranteed not to be running. detach() keeps it for the registry's lifetime.
class [[nodiscard]] callback_registration {
 public:
  callback_registration() noexcept = default;
  callback_registration(metric_registry* registry, std::uint64_t id) noexcept
      : m_registry(registry), m_id(id) {}
  callback_registration(callback_registration&& other) noexcept;
  callback_registration& operator=(callback_registration&& other) noexcept;
  ~callback_registration() { reset(); }

  void reset() noexcept;
  void detach() noexcept { m_registry = nullptr; }

 private:
  metric_registry* m_registry = nullptr;
  std::uint64_t m_id = 0;
};

class metric_registry {
 public:
  metric_registry();
  ~metric_registry();
  metric_registry(const metric_registry&) = delete;
  metric_registry& operator=(const metric_registry&) = delete;

  counter_handle make_counter(metric_info info);
  counter_vec make_counter_vec(metric_info info, std::vector<std::string> label_names);

  up_down_counter_handle make_up_down_counter(metric_info info);
  up_down_counter_vec make_up_down_counter_vec(metric_info info,
                                               std::vector<std::string> label_names);

  gauge_handle make_gauge(metric_info info);
  gauge_vec make_gauge_vec(metric_info info, std::vector<std::string> label_names);

  // bucket_bounds: finite, strictly increasing upper bounds; +Inf is implicit.
  histogram_handle make_histogram(metric_info info, std::vector<double> bucket_bounds);
  histogram_vec make_histogram_vec(metric_info info, std::vector<std::string> label_names,
                                   std::vector<double> bucket_bounds);

  // Scrape-time values, read by calling `read` at each collect(). Several callbacks may share one
  // name when they have the same label names and different label values (e.g. one per reason).
  callback_registration add_gauge_callback(metric_info info, std::function<double()> read,
                                           std::vector<label> const_labels = {});
  callback_registration add_counter_callback(metric_info info, std::function<double()> read,
                                             std::vector<label> const_labels = {});

  // A consistent-enough copy of every figure now (each series summed once), with a timestamp.
  registry_snapshot collect() const;

 private:
  friend class callback_registration;
  struct state;

  detail::family& get_or_create(metric_info info, metric_type type, detail::family_kind kind,
                                std::vector<std::string> labels, std::vector<double> bounds);
  callback_registration add_callback(metric_info info, metric_type type,
                                     std::function<double()> read, std::vector<label> labels);
  void remove_callback(std::uint64_t id) noexcept;

  std::unique_ptr<state> m_state;
};

// The process-wide registry that harrier-server exposes on /metrics and /counters.
metric_registry& default_metric_registry();

}  // namespace harrier::diagnostics
