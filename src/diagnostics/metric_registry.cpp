// metric_registry: families, series resolution and collection.
//
// One mutex guards the registry's structure (families, series, callbacks). It is taken by
// registration, by resolving a labelled series (vec.with(...)), by callback (un)registration and
// by collect(); never by a handle's operations, which only touch the series' sharded cells. A
// series, once created, lives as long as the registry (handles point into it), so families keep
// series behind unique_ptr and never erase them.

#include <harrier/diagnostics/metric_registry.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace harrier::diagnostics {

namespace {

using detail::family_kind;

bool is_valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  auto head = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  };
  if (!head(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return head(c) || (c >= '0' && c <= '9'); });
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  auto head = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!head(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return head(c) || (c >= '0' && c <= '9'); });
}

// Orders label-value keys; transparent, so that looking up an existing series with the caller's
// string_views allocates nothing.
struct label_key_less {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const noexcept {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](std::string_view x, std::string_view y) { return x < y; });
  }
};

struct callback_entry {
  std::uint64_t id;
  std::vector<label> labels;
  std::function<double()> read;
};

}  // namespace

namespace detail {

std::uint32_t assign_shard_index() noexcept {
  static std::atomic<std::uint32_t> next{0};
  // ordering: relaxed; only the uniqueness of the returned value matters, not its order.
  return next.fetch_add(1, std::memory_order_relaxed) % k_shard_count;
}

class family {
 public:
  family(std::mutex& registry_mutex, metric_info info, metric_type type, family_kind kind,
         std::vector<std::string> label_names, std::vector<double> bounds)
      : mutex(registry_mutex),
        name(info.name),
        help(info.help),
        type(type),
        kind(kind),
        label_names(std::move(label_names)),
        bounds(std::move(bounds)) {}

  std::size_t words_per_shard() const noexcept {
    switch (kind) {
      case family_kind::counter:
      case family_kind::up_down_counter:
        return 1;
      case family_kind::histogram:
        return bounds.size() + 2;  // buckets with +Inf, then the sum
      case family_kind::gauge:
      case family_kind::callback:
        return 0;
    }
    return 0;
  }

  std::mutex& mutex;
  std::string name;
  std::string help;
  metric_type type;
  family_kind kind;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  // Label values -> series; `order` keeps creation order for stable output.
  std::map<std::vector<std::string>, std::unique_ptr<series_storage>, label_key_less> series;
  std::vector<std::pair<const std::vector<std::string>*, series_storage*>> order;
  std::vector<callback_entry> callbacks;
};

series_storage* resolve_series(family& f, std::span<const std::string_view> label_values) {
  if (label_values.size() != f.label_names.size()) {
    throw std::invalid_argument(fmt::format("metric {}: {} label value(s) given, expected {} ({})",
                                            f.name, label_values.size(), f.label_names.size(),
                                            fmt::join(f.label_names, ", ")));
  }
  std::lock_guard lock(f.mutex);
  auto it = f.series.find(label_values);
  if (it == f.series.end()) {
    auto storage =
        std::make_unique<series_storage>(f.words_per_shard(), f.bounds.data(), f.bounds.size());
    std::vector<std::string> key(label_values.begin(), label_values.end());
    it = f.series.emplace(std::move(key), std::move(storage)).first;
    f.order.emplace_back(&it->first, it->second.get());
  }
  return it->second.get();
}

}  // namespace detail

struct metric_registry::state {
  mutable std::mutex mutex;
  std::vector<std::unique_ptr<detail::family>> families;
  std::uint64_t next_callback_id = 1;
};

metric_registry::metric_registry() : m_state(std::make_unique<state>()) {}
metric_registry::~metric_registry() = default;

detail::family& metric_registry::get_or_create(metric_info info, metric_type type, family_kind kind,
                                               std::vector<std::string> labels,
                                               std::vector<double> bounds) {
  if (!is_valid_metric_name(info.name))
    throw std::invalid_argument(
        fmt::format("metric name '{}' is invalid: expected [a-zA-Z_:][a-zA-Z0-9_:]*", info.name));
  const bool ends_total = info.name.ends_with("_total");
  if (type == metric_type::counter && !ends_total)
    throw std::invalid_argument(
        fmt::format("counter '{}' must be named with the suffix _total (Prometheus)", info.name));
  if (type != metric_type::counter && ends_total)
    throw std::invalid_argument(
        fmt::format("'{}' is not a counter, so it must not end in _total", info.name));
  for (const std::string& l : labels) {
    if (!is_valid_label_name(l))
      throw std::invalid_argument(fmt::format(
          "metric {}: label name '{}' is invalid: expected [a-zA-Z_][a-zA-Z0-9_]*, not __*",
          info.name, l));
    if (type == metric_type::histogram && l == "le")
      throw std::invalid_argument(
          fmt::format("histogram {}: the label 'le' is reserved for buckets", info.name));
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
      throw std::invalid_argument(fmt::format(
          "histogram {}: bucket bounds must be finite and strictly increasing", info.name));
  }

  std::lock_guard lock(m_state->mutex);
  for (auto& f : m_state->families) {
    if (f->name != info.name) continue;
    if (f->type != type || f->kind != kind || f->label_names != labels || f->bounds != bounds)
      throw std::invalid_argument(fmt::format(
          "metric {} is already registered with another type, kind, labels or buckets", f->name));
    return *f;
  }
  m_state->families.push_back(std::make_unique<detail::family>(
      m_state->mutex, info, type, kind, std::move(labels), std::move(bounds)));
  return *m_state->families.back();
}

counter_handle metric_registry::make_counter(metric_info info) {
  return make_counter_vec(info, {}).with({});
}

counter_vec metric_registry::make_counter_vec(metric_info info,
                                              std::vector<std::string> label_names) {
  return counter_vec(
      &get_or_create(info, metric_type::counter, family_kind::counter, std::move(label_names), {}));
}

up_down_counter_handle metric_registry::make_up_down_counter(metric_info info) {
  return make_up_down_counter_vec(info, {}).with({});
}

up_down_counter_vec metric_registry::make_up_down_counter_vec(
    metric_info info, std::vector<std::string> label_names) {
  return up_down_counter_vec(&get_or_create(info, metric_type::gauge, family_kind::up_down_counter,
                                            std::move(label_names), {}));
}

gauge_handle metric_registry::make_gauge(metric_info info) {
  return make_gauge_vec(info, {}).with({});
}

gauge_vec metric_registry::make_gauge_vec(metric_info info, std::vector<std::string> label_names) {
  return gauge_vec(
      &get_or_create(info, metric_type::gauge, family_kind::gauge, std::move(label_names), {}));
}

histogram_handle metric_registry::make_histogram(metric_info info,
                                                 std::vector<double> bucket_bounds) {
  return make_histogram_vec(info, {}, std::move(bucket_bounds)).with({});
}

histogram_vec metric_registry::make_histogram_vec(metric_info info,
                                                  std::vector<std::string> label_names,
                                                  std::vector<double> bucket_bounds) {
  return histogram_vec(&get_or_create(info, metric_type::histogram, family_kind::histogram,
                                      std::move(label_names), std::move(bucket_bounds)));
}

callback_registration metric_registry::add_gauge_callback(metric_info info,
                                                          std::function<double()> read,
                                                          std::vector<label> const_labels) {
  return add_callback(info, metric_type::gauge, std::move(read), std::move(const_labels));
}

callback_registration metric_registry::add_counter_callback(metric_info info,
                                                            std::function<double()> read,
                                                            std::vector<label> const_labels) {
  return add_callback(info, metric_type::counter, std::move(read), std::move(const_labels));
}

callback_registration metric_registry::add_callback(metric_info info, metric_type type,
                                                    std::function<double()> read,
                                                    std::vector<label> labels) {
  if (!read) throw std::invalid_argument(fmt::format("metric {}: empty callback", info.name));
  std::vector<std::string> names;
  for (const label& l : labels)
    names.push_back(l.name);
  detail::family& f = get_or_create(info, type, family_kind::callback, std::move(names), {});
  std::lock_guard lock(m_state->mutex);
  for (const callback_entry& e : f.callbacks) {
    if (e.labels == labels)
      throw std::invalid_argument(
          fmt::format("metric {}: a callback with these labels is already registered", f.name));
  }
  const std::uint64_t id = m_state->next_callback_id++;
  f.callbacks.push_back(callback_entry{id, std::move(labels), std::move(read)});
  return callback_registration(this, id);
}

void metric_registry::remove_callback(std::uint64_t id) noexcept {
  std::lock_guard lock(m_state->mutex);
  for (auto& f : m_state->families) {
    std::erase_if(f->callbacks, [id](const callback_entry& e) { return e.id == id; });
  }
}

registry_snapshot metric_registry::collect() const {
  registry_snapshot out;
  out.timestamp = std::chrono::system_clock::now();
  std::lock_guard lock(m_state->mutex);
  out.families.reserve(m_state->families.size());
  for (const auto& f : m_state->families) {
    family_snapshot fs{f->name, f->help, f->type, f->bounds, {}};
    for (const callback_entry& e : f->callbacks) {
      fs.series.push_back(series_snapshot{e.labels, e.read(), {}, 0, 0});
    }
    for (const auto& [values, storage] : f->order) {
      series_snapshot s;
      for (std::size_t i = 0; i < values->size(); ++i)
        s.labels.push_back(label{f->label_names[i], (*values)[i]});
      switch (f->kind) {
        case family_kind::counter:
          s.value = static_cast<double>(storage->words.sum(0));
          break;
        case family_kind::up_down_counter:
          s.value = static_cast<double>(static_cast<std::int64_t>(storage->words.sum(0)));
          break;
        case family_kind::gauge:
          // ordering: relaxed; see gauge_handle::set.
          s.value = std::bit_cast<double>(storage->gauge_bits.load(std::memory_order_relaxed));
          break;
        case family_kind::histogram: {
          const std::size_t n = f->bounds.size();
          for (std::size_t b = 0; b <= n; ++b) {
            s.bucket_counts.push_back(storage->words.sum(b));
            s.count += s.bucket_counts.back();
          }
          for (std::size_t shard = 0; shard < detail::k_shard_count; ++shard)
            s.sum += std::bit_cast<double>(
                storage->words.row(shard)[n + 1].load(std::memory_order_relaxed));
          break;
        }
        case family_kind::callback:
          break;
      }
      fs.series.push_back(std::move(s));
    }
    out.families.push_back(std::move(fs));
  }
  return out;
}

callback_registration::callback_registration(callback_registration&& other) noexcept
    : m_registry(std::exchange(other.m_registry, nullptr)), m_id(other.m_id) {}

callback_registration& callback_registration::operator=(callback_registration&& other) noexcept {
  if (this != &other) {
    reset();
    m_registry = std::exchange(other.m_registry, nullptr);
    m_id = other.m_id;
  }
  return *this;
}

void callback_registration::reset() noexcept {
  if (m_registry) std::exchange(m_registry, nullptr)->remove_callback(m_id);
}

metric_registry& default_metric_registry() {
  // Never destroyed: threads that outlive main() (detached workers) may still update handles.
  static metric_registry* const registry = new metric_registry;
  return *registry;
}

}  // namespace harrier::diagnostics
