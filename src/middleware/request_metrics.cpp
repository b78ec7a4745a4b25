#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/diagnostics/metric_names.hpp>
#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/diagnostics/trace_names.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>
#include <harrier/http/rejection.hpp>
#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/context.hpp>
#include <harrier/middleware/diagnostics.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <unordered_map>

#include "middleware/standard_methods.hpp"

namespace harrier {
namespace {

namespace names = diagnostics::metrics;

struct series_key {
  const void* route;  // the route template's address: stable for the application's lifetime
  std::size_t method;
  int status;
  bool operator==(const series_key&) const = default;
};

struct series_key_hash {
  std::size_t operator()(const series_key& k) const noexcept {
    return std::hash<const void*>{}(k.route) ^ (k.method * 0x9e3779b97f4a7c15ULL) ^
           (static_cast<std::size_t>(k.status) << 20);
  }
};

// Numbers the middleware instances: the per-thread caches below are keyed by it rather than by
// the state's address, which a later application's state may reuse after this one is gone
// (with handles into a destroyed registry still cached under it).
std::atomic<std::uint64_t> g_next_state_id{1};

struct request_metrics_state {
  const std::uint64_t id = g_next_state_id.fetch_add(1, std::memory_order_relaxed);
  diagnostics::histogram_vec durations;
  diagnostics::up_down_counter_handle active;

  diagnostics::histogram_handle handle_for(const context& ctx, std::string_view method,
                                           int status) {
    const std::string_view route = ctx.route_template();
    const series_key key{route.data(), detail::standard_method_index(method), status};
    // The last series this thread recorded: a run of requests to one route hits it, and then
    // the two hash lookups below are skipped.
    thread_local std::uint64_t last_state = 0;
    thread_local series_key last_key{};
    thread_local diagnostics::histogram_handle last_handle;
    if (last_state == id && last_key == key) return last_handle;
    // One cache per thread and per state; a handful of entries per route in practice.
    thread_local std::unordered_map<
        std::uint64_t,
        std::unordered_map<series_key, diagnostics::histogram_handle, series_key_hash>>
        caches;
    auto& cache = caches[id];
    auto it = cache.find(key);
    if (it != cache.end()) {
      last_state = id;
      last_key = key;
      last_handle = it->second;
      return it->second;
    }
    const std::string status_text = std::to_string(status);
    const std::string_view method_label = key.method < detail::k_standard_methods.size()
                                              ? detail::k_standard_methods[key.method]
                                              : "_OTHER";
    auto handle = durations.with({method_label, route, status_text});
    cache.emplace(key, handle);
    return handle;
  }
};

class metrics_observer final : public request_observer {
 public:
  explicit metrics_observer(diagnostics::metric_registry& registry) {
    m_state.durations = registry.make_histogram_vec(
        names::k_http_server_request_duration_seconds,
        {std::string(names::k_label_method), std::string(names::k_label_route),
         std::string(names::k_label_status)},
        names::http_duration_buckets_seconds());
    m_state.active = registry.make_up_down_counter(names::k_http_server_active_requests);
  }

  void begin(context& ctx) override {
    m_state.active.inc();
    // Names the work item for the blocking detector: "GET /sync/sleep?ms=300" in its warning.
    char what[diagnostics::k_max_item_description_bytes];
    std::size_t n = 0;
    for (std::string_view part :
         {ctx.request().method(), std::string_view(" "), ctx.request().target()}) {
      const std::size_t take = std::min(part.size(), sizeof what - n);
      std::memcpy(what + n, part.data(), take);
      n += take;
    }
    diagnostics::blocking_detector::describe_current_item(std::string_view(what, n));
  }

  void end(context& ctx, std::chrono::steady_clock::duration elapsed, int status) override {
    m_state.active.dec();
    m_state.handle_for(ctx, ctx.request().method(), status).observe(elapsed);
    auto& recorder = diagnostics::default_trace_recorder();
    if (recorder.enabled()) [[unlikely]] {
      // One copied text argument per event: "GET /users/{id:int}" (truncated past 47 bytes).
      const std::string what =
          std::string(ctx.request().method()) + " " +
          std::string(ctx.route_template().empty() ? ctx.request().path() : ctx.route_template());
      const auto duration_us =
          std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
      recorder.complete(
          diagnostics::trace_names::k_request, diagnostics::trace_names::k_category_http,
          diagnostics::trace_recorder::now_us() - static_cast<std::uint64_t>(duration_us),
          static_cast<std::uint64_t>(duration_us),
          {{"request", std::string_view(what)}, {"status", status}});
    }
  }

 private:
  request_metrics_state m_state;
};

}  // namespace

std::shared_ptr<request_observer> request_metrics_observer(diagnostics::metric_registry& registry) {
  return std::make_shared<metrics_observer>(registry);
}

middleware_fn request_metrics(diagnostics::metric_registry& registry) {
  return [observer = request_metrics_observer(registry)](context& ctx,
                                                         next_handler next) -> task<void> {
    const auto start = std::chrono::steady_clock::now();
    observer->begin(ctx);
    try {
      co_await next(ctx);
    } catch (...) {
      observer->end(ctx, std::chrono::steady_clock::now() - start, status_after_exception(ctx));
      throw;
    }
    observer->end(ctx, std::chrono::steady_clock::now() - start, ctx.response().status());
  };
}

}  // namespace harrier
