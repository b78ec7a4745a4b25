// application: building an application (create, routes, groups, diagnostics endpoints). Starting
// and stopping it is application_lifecycle.cpp; the state both share is application_state.hpp.

#include <harrier/core/sync_wait.hpp>
#include <harrier/diagnostics/dashboard.hpp>
#include <harrier/diagnostics/metric_exposition.hpp>
#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>
#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/application.hpp>
#include <harrier/middleware/builtin.hpp>
#include <harrier/middleware/diagnostics.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/net/timer.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "middleware/application_options.hpp"
#include "middleware/application_state.hpp"

namespace harrier {

struct route_group::state {
  std::string prefix;
  std::vector<middleware_fn> middleware;
};

// What every application runs before its own middleware: request metrics (an observer around
// the whole pipeline, so they time everything) and, when configured, request timeouts.
void install_builtin_middleware(application::impl& s) {
  if (s.settings.request_metrics)
    s.requests->set_request_observer(request_metrics_observer(*s.registry));
  // First: everything after it (logging, handlers) sees the client behind the proxy.
  if (s.settings.forwarded_headers) s.requests->use(forwarded_headers(s.settings.forwarded));
  if (s.settings.request_timeout.count() > 0) {
    s.requests->use(request_timeouts(s.settings.request_timeout,
                                     [state = &s]() -> net::io_context& { return *state->io; }));
  }
  if (s.settings.compression) s.requests->use(response_compression());
}

std::vector<option_spec> application::options_schema() {
  return detail::builtin_options();
}

application::application(std::unique_ptr<impl> state) : m_impl(std::move(state)) {}
application::application(application&&) noexcept = default;
application& application::operator=(application&&) noexcept = default;
application::~application() {
  if (m_impl && m_impl->started && !m_impl->stopped.is_set()) sync_wait(stop());
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
  try {
    // Values that pass the schema's checks but not the settings' own (a URL, min above max,
    // a proxy address): the same clear line and exit code, not an escaping exception.
    state->settings = detail::read_settings(config, schema);
  } catch (const configuration_error& e) {
    std::fprintf(stderr, "%s: %s\n", argc > 0 ? argv[0] : "harrier", e.what());
    std::exit(2);
  }
  state->config = std::move(config);
  state->schema = std::move(schema);
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
