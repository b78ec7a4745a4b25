#include <harrier/core/sync_wait.hpp>
#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/diagnostics/dashboard.hpp>
#include <harrier/diagnostics/heartbeat.hpp>
#include <harrier/diagnostics/metric_exposition.hpp>
#include <harrier/diagnostics/metric_names.hpp>
#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/diagnostics/process_metrics.hpp>
#include <harrier/diagnostics/trace_names.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>
#include <harrier/http/date_cache.hpp>
#include <harrier/http/server.hpp>
#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/application.hpp>
#include <harrier/middleware/builtin.hpp>
#include <harrier/middleware/diagnostics.hpp>
#include <harrier/net/endpoint.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/net/timer.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/logger.hpp"
#include "middleware/application_options.hpp"

namespace harrier {

struct route_group::state {
  std::string prefix;
  std::vector<middleware_fn> middleware;
};

struct application::impl {
  // Each application has its own metrics, so that several can live in one process and each
  // /metrics shows its own server and pool. First member: it outlives everything that reports
  // into it.
  std::unique_ptr<diagnostics::metric_registry> own_registry =
      std::make_unique<diagnostics::metric_registry>();
  diagnostics::metric_registry* registry = own_registry.get();

  configuration config;
  std::vector<option_spec> schema;
  detail::application_settings settings;

  std::unique_ptr<app_pipeline> requests;

  std::unique_ptr<thread_pool> pool;
  std::unique_ptr<net::io_context> io;
  std::unique_ptr<http::server> server;
  std::unique_ptr<diagnostics::heartbeat> heartbeat;
  std::unique_ptr<diagnostics::blocking_detector> detector;
  std::vector<diagnostics::callback_registration> metric_callbacks;
  std::vector<std::string> urls;
  bool started = false;
  bool stopped = false;
  std::atomic<bool> stopping{false};  // readiness: set before the shutdown delay
};

namespace {

// Scrape-time callbacks for the pool, the server and the I/O layer: nothing on the hot path.
void register_runtime_metrics(application::impl& s);

// What every application runs before its own middleware: request metrics (first, so they time
// everything) and, when configured, request timeouts.
void install_builtin_middleware(application::impl& s) {
  if (s.settings.request_metrics) s.requests->use(request_metrics(*s.registry));
  if (s.settings.request_timeout.count() > 0) {
    s.requests->use(request_timeouts(s.settings.request_timeout,
                                     [state = &s]() -> net::io_context& { return *state->io; }));
  }
}

// Thread-pool decisions as trace events (only while a trace is being recorded).
void trace_pool_event(const thread_pool_event& e) {
  namespace names = diagnostics::trace_names;
  auto& rec = diagnostics::default_trace_recorder();
  if (!rec.enabled()) return;
  switch (e.kind) {
    case thread_pool_event_kind::adjustment:
      rec.instant(names::k_adjustment, names::k_category_threadpool,
                  {{"reason", to_string(e.reason)},
                   {"threads_from", e.old_goal},
                   {"threads_to", e.new_goal}});
      rec.counter(names::k_pool_counters, names::k_category_threadpool, {{"goal", e.new_goal}});
      break;
    case thread_pool_event_kind::worker_start:
      rec.instant(names::k_worker_start, names::k_category_threadpool, {{"worker", e.worker}});
      break;
    case thread_pool_event_kind::worker_stop:
      rec.instant(names::k_worker_stop, names::k_category_threadpool, {{"worker", e.worker}});
      break;
    case thread_pool_event_kind::worker_park:
      rec.begin(names::k_worker_park, names::k_category_threadpool);
      break;
    case thread_pool_event_kind::worker_unpark:
      rec.end(names::k_worker_park, names::k_category_threadpool);
      break;
    default:
      break;
  }
}

}  // namespace

std::vector<option_spec> application::options_schema() {
  return detail::builtin_options();
}

application::application(std::unique_ptr<impl> state) : m_impl(std::move(state)) {}
application::application(application&&) noexcept = default;
application& application::operator=(application&&) noexcept = default;
application::~application() {
  if (m_impl && m_impl->started && !m_impl->stopped) stop();
}

application application::create(int argc, char** argv, std::vector<option_spec> extra_options,
                                std::string_view usage) {
  std::vector<option_spec> schema = detail::builtin_options();
  schema.insert(schema.end(), extra_options.begin(), extra_options.end());
  configuration config;
  try {
    config.add_command_line(argc, argv, schema);
    config.add_environment("HARRIER_");
    if (config.get_boolean("help", schema)) {
      if (!usage.empty()) std::printf("%.*s\n\n", static_cast<int>(usage.size()), usage.data());
      std::printf("Options (also from a --config JSON file, or HARRIER_<NAME> variables):\n%s",
                  configuration::help(schema).c_str());
      std::exit(0);
    }
    if (auto file = config.get("config"); file && !file->empty()) config.add_json_file(*file);
    config.validate(schema);
  } catch (const configuration_error& e) {
    std::fprintf(stderr, "%s: %s\n", argc > 0 ? argv[0] : "harrier", e.what());
    std::exit(2);
  }
  auto state = std::make_unique<impl>();
  state->config = std::move(config);
  state->schema = std::move(schema);
  state->settings = detail::read_settings(state->config, state->schema);
  state->requests = std::make_unique<app_pipeline>(state->settings.development);
  install_builtin_middleware(*state);
  return application(std::move(state));
}

application application::create(configuration config) {
  auto state = std::make_unique<impl>();
  state->schema = detail::builtin_options();
  config.validate(state->schema);
  state->config = std::move(config);
  state->settings = detail::read_settings(state->config, state->schema);
  state->requests = std::make_unique<app_pipeline>(state->settings.development);
  install_builtin_middleware(*state);
  return application(std::move(state));
}

application& application::use(middleware_fn middleware) {
  m_impl->requests->use(std::move(middleware));
  return *this;
}

void application::add_endpoint(std::vector<std::string> methods, std::string_view pattern,
                               endpoint_fn endpoint, std::vector<middleware_fn> group_middleware) {
  m_impl->requests->add_endpoint(std::move(methods), pattern, std::move(endpoint),
                                 std::move(group_middleware));
}

route_group application::group(std::string_view prefix) {
  auto s = std::make_shared<route_group::state>();
  s->prefix = std::string(prefix);
  while (!s->prefix.empty() && s->prefix.back() == '/')
    s->prefix.pop_back();
  return route_group(*this, std::move(s));
}

route_group& route_group::use(middleware_fn middleware) {
  m_state->middleware.push_back(std::move(middleware));
  return *this;
}

route_group route_group::group(std::string_view prefix) {
  auto s = std::make_shared<route_group::state>(*m_state);
  std::string p(prefix);
  while (!p.empty() && p.back() == '/')
    p.pop_back();
  s->prefix += p;
  return route_group(*m_app, std::move(s));
}

void route_group::add(std::vector<std::string> methods, std::string_view pattern,
                      endpoint_fn endpoint) {
  std::string full = m_state->prefix;
  if (pattern != "/" || full.empty()) full += pattern;
  // The group's middleware as it is now; later use() calls apply to later routes only.
  m_app->add_endpoint(std::move(methods), full, std::move(endpoint), m_state->middleware);
}

void application::start() {
  impl& s = *m_impl;
  if (s.started) throw std::logic_error("application::start called twice");
  s.started = true;
  detail::apply_log_level(s.settings.log_level);

  s.requests->build();
  thread_pool_options pool_options = s.settings.pool;
  if (s.settings.blocking_warning.count() > 0) {
    s.detector = std::make_unique<diagnostics::blocking_detector>(
        diagnostics::blocking_detector_options{.threshold = s.settings.blocking_warning},
        s.registry);
    pool_options.detector = s.detector.get();
  }
  s.pool = std::make_unique<thread_pool>(pool_options);
  s.pool->set_event_listener(trace_pool_event);
  if (!s.settings.trace_file.empty()) diagnostics::default_trace_recorder().start();
  net::io_options io_options;
  io_options.backend = s.settings.backend;
  io_options.dispatch = s.settings.inline_dispatch ? nullptr : s.pool.get();
  io_options.io_threads = s.settings.io_threads;
  s.io = std::make_unique<net::io_context>(io_options);

  s.heartbeat =
      std::make_unique<diagnostics::heartbeat>(diagnostics::heartbeat_options{}, s.registry);
  s.heartbeat->add_callback(
      [](std::chrono::system_clock::time_point now) { http::date_cache::shared().refresh(now); });
  if (s.detector) {
    s.heartbeat->add_callback([detector = s.detector.get()](std::chrono::system_clock::time_point) {
      detector->scan(diagnostics::blocking_detector::clock::now());
    });
  }
  s.heartbeat->set_pool_load_probe([pool = s.pool.get()] {
    const thread_pool_stats stats = pool->stats();
    return diagnostics::pool_load{stats.global_queue_length + stats.local_queue_length,
                                  stats.threads};
  });
  s.heartbeat->set_dispatcher(
      [pool = s.pool.get()](std::function<void()> item) { pool->post(std::move(item)); });
  s.heartbeat->start();

  http::server_options server_options = s.settings.server;
  s.server =
      std::make_unique<http::server>(*s.io, std::move(server_options), s.requests->handler());
  s.server->start();
  register_runtime_metrics(s);
  auto logger = detail::harrier_logger();
  for (const std::string& name : s.config.ignored_environment_keys(s.schema)) {
    logger->warn("ignoring environment variable {}: it names no setting", name);
  }
  for (const net::endpoint& e : s.server->local_endpoints()) {
    const std::string url =
        e.is_unix() ? "http://unix:" + e.to_string().substr(5) : "http://" + e.to_string();
    s.urls.push_back(url);
    // The contract line that tests and tools wait for: printed even when the log level hides info.
    if (logger->should_log(spdlog::level::info)) {
      logger->info("listening on {} (io: {}, dispatch: {})", url, net::to_string(s.io->backend()),
                   s.settings.inline_dispatch ? "inline" : "pool");
    } else {
      std::fprintf(stderr, "listening on %s\n", url.c_str());
    }
  }
  logger->flush();
}

void application::stop() {
  impl& s = *m_impl;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.stopping.store(true);
  auto logger = detail::harrier_logger();
  if (s.settings.shutdown_delay.count() > 0) {
    logger->info("shutdown requested: serving {} ms more with readiness unhealthy",
                 s.settings.shutdown_delay.count());
    std::this_thread::sleep_for(s.settings.shutdown_delay);
  }
  logger->info(
      "shutting down: draining connections (timeout {} s)",
      std::chrono::duration_cast<std::chrono::seconds>(s.settings.server.shutdown_timeout).count());
  sync_wait(s.server->stop());
  s.metric_callbacks.clear();
  s.heartbeat->stop();
  s.io->stop();
  s.pool->stop();
  s.pool->set_event_listener(nullptr);
  s.pool.reset();  // its workers unregistered from the detector, which may go now
  s.detector.reset();
  if (!s.settings.trace_file.empty()) {
    auto& recorder = diagnostics::default_trace_recorder();
    recorder.stop();
    try {
      recorder.write_chrome_trace(s.settings.trace_file);
      logger->info("trace written to {} ({} events)", s.settings.trace_file,
                   recorder.stats().recorded);
    } catch (const std::exception& e) {
      logger->error("cannot write the trace: {}", e.what());
    }
  }
  logger->info("stopped");
  logger->flush();
}

int application::run() {
  // Block the shutdown signals before any thread starts, so every thread inherits the mask and
  // only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  start();
  int received = 0;
  sigwait(&signals, &received);
  detail::harrier_logger()->info("received {}", received == SIGINT ? "SIGINT" : "SIGTERM");
  stop();
  return 0;
}

application& application::map_diagnostics() {
  auto* registry = m_impl->registry;
  map_get("/metrics", [registry] {
    return results::text(diagnostics::to_prometheus_text(registry->collect()),
                         std::string(diagnostics::k_prometheus_content_type));
  });
  map_get("/counters", [registry] {
    return results::text(diagnostics::to_json_text(registry->collect()),
                         std::string(diagnostics::k_json_content_type));
  });
  // GET /trace?seconds=N: records N seconds (1 to 60, default 5) and returns the Chrome trace.
  impl* state = m_impl.get();  // stays put when the application object moves
  map_get("/trace", [state](from_query<"seconds", std::optional<int>> seconds) -> task<result> {
    const int n = seconds->value_or(5);
    if (n < 1 || n > 60) {
      throw http_error(400, "Bad Request", "seconds must be between 1 and 60");
    }
    auto& recorder = diagnostics::default_trace_recorder();
    const bool already = recorder.enabled();  // --trace is recording: just take a window of it
    if (!already) recorder.start();
    co_await net::sleep_for(*state->io, std::chrono::seconds(n));
    if (!already) recorder.stop();
    co_return results::text(recorder.to_chrome_trace_json(), "application/json");
  });
  map_get("/dashboard", [] {
    return results::text(std::string(diagnostics::dashboard_html()),
                         std::string(diagnostics::k_dashboard_content_type));
  });
  return *this;
}

namespace {

void register_runtime_metrics(application::impl& s) {
  namespace names = diagnostics::metrics;
  diagnostics::metric_registry& r = *s.registry;
  auto& regs = s.metric_callbacks;
  diagnostics::register_process_metrics(r);  // start() runs once per application

  thread_pool* pool = s.pool.get();
  auto pool_gauge = [&](diagnostics::metric_info info, auto read) {
    regs.push_back(r.add_gauge_callback(
        info, [pool, read] { return static_cast<double>(read(pool->stats())); }));
  };
  pool_gauge(names::k_harrier_thread_pool_threads,
             [](const thread_pool_stats& st) { return st.threads; });
  pool_gauge(names::k_harrier_thread_pool_thread_goal,
             [](const thread_pool_stats& st) { return st.goal; });
  pool_gauge(names::k_harrier_thread_pool_queue_length, [](const thread_pool_stats& st) {
    return st.global_queue_length + st.local_queue_length;
  });
  pool_gauge(names::k_harrier_thread_pool_blocked_threads,
             [](const thread_pool_stats& st) { return st.blocked_threads; });
  regs.push_back(r.add_counter_callback(names::k_harrier_thread_pool_completed_items_total, [pool] {
    return static_cast<double>(pool->stats().completed_items);
  }));
  for (std::size_t i = 0; i < k_adjustment_reason_count; ++i) {
    const auto reason = static_cast<adjustment_reason>(i);
    regs.push_back(r.add_counter_callback(
        names::k_harrier_thread_pool_adjustments_total,
        [pool, i] { return static_cast<double>(pool->stats().adjustments[i]); },
        {{std::string(names::k_label_reason), std::string(to_string(reason))}}));
  }

  http::server* server = s.server.get();
  regs.push_back(r.add_gauge_callback(names::k_harrier_active_connections, [server] {
    return static_cast<double>(server->stats().active_connections);
  }));
  regs.push_back(r.add_counter_callback(names::k_harrier_connections_total, [server] {
    return static_cast<double>(server->stats().connections_total);
  }));
  net::io_context* io = s.io.get();
  regs.push_back(r.add_counter_callback(names::k_harrier_io_completions_total, [io] {
    return static_cast<double>(io->stats().completions);
  }));
  regs.push_back(r.add_gauge_callback(names::k_harrier_io_pending_operations, [io] {
    return static_cast<double>(io->stats().pending_operations);
  }));
  regs.push_back(r.add_gauge_callback(
      names::k_harrier_io_backend_info, [] { return 1.0; },
      {{std::string(names::k_label_backend), std::string(net::to_string(io->backend()))}}));
}

}  // namespace

bool application::is_stopping() const noexcept {
  return m_impl->stopping.load();
}

const configuration& application::config() const noexcept {
  return m_impl->config;
}
const std::vector<option_spec>& application::schema() const noexcept {
  return m_impl->schema;
}
bool application::is_development() const noexcept {
  return m_impl->settings.development;
}
std::vector<std::string> application::urls() const {
  return m_impl->urls;
}
thread_pool& application::pool() {
  return *m_impl->pool;
}
net::io_context& application::io() {
  return *m_impl->io;
}

}  // namespace harrier
