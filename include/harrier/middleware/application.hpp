#pragma once
// application: the builder a service author starts from (ASP.NET Core's WebApplication).
//
//   int main(int argc, char** argv) {
//     auto app = harrier::application::create(argc, argv);
//     app.map_get("/hello/{name}", [](harrier::from_route<"name"> name) {
//       return "Hello, " + *name + "!";
//     });
//     app.run();  // until SIGINT/SIGTERM, then graceful shutdown
//   }
//
// create() layers the configuration (defaults < --config file < HARRIER_* environment < command
// line; see configuration.hpp and application::options_schema()), validates it (unknown keys and
// bad values throw configuration_error naming them), and answers --help by printing the options
// and exiting 0.
//
// The pipeline: routing runs first (so every middleware sees the matched route template), then the
// middleware in registration order, then the matched endpoint, or 404 / 405 with Allow.
// Registration (use, map_*) happens before start(); the pipeline is built once at start().
// Several applications can run in one process (each with its own pool, I/O threads and metrics);
// a program that embeds them starts and stops them with co_await app.start() / app.stop().
//
// Threads: the thread pool runs handlers (unless --dispatch inline), the io_context's I/O
// thread(s) harvest completions, and a heartbeat thread refreshes the Date header and watches for
// starvation. run() blocks SIGINT and SIGTERM in every thread it creates and waits for them.

#include <harrier/core/task.hpp>
#include <harrier/middleware/configuration.hpp>
#include <harrier/middleware/context.hpp>
#include <harrier/middleware/endpoint.hpp>
#include <harrier/middleware/pipeline.hpp>
#include <harrier/middleware/results.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace harrier {

class thread_pool;
namespace net {
class io_context;
class endpoint;
}  // namespace net

class application;

// map_get/map_post/map_put/map_delete/map_patch for anything with a map(methods, pattern,
// handler) (the application and its route groups).
template <typename Derived>
class route_builder {
 public:
  template <typename F>
  Derived& map_get(std::string_view pattern, F&& handler) {
    return self().map({"GET"}, pattern, std::forward<F>(handler));
  }
  template <typename F>
  Derived& map_post(std::string_view pattern, F&& handler) {
    return self().map({"POST"}, pattern, std::forward<F>(handler));
  }
  template <typename F>
  Derived& map_put(std::string_view pattern, F&& handler) {
    return self().map({"PUT"}, pattern, std::forward<F>(handler));
  }
  template <typename F>
  Derived& map_delete(std::string_view pattern, F&& handler) {
    return self().map({"DELETE"}, pattern, std::forward<F>(handler));
  }
  template <typename F>
  Derived& map_patch(std::string_view pattern, F&& handler) {
    return self().map({"PATCH"}, pattern, std::forward<F>(handler));
  }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
};

// Routes under a common prefix, with middleware of their own that runs (after the application's)
// only for them.
class route_group : public route_builder<route_group> {
 public:
  route_group& use(middleware_fn middleware);
  template <typename F>
  route_group& map(std::vector<std::string> methods, std::string_view pattern, F&& handler) {
    add(std::move(methods), pattern, make_endpoint(std::forward<F>(handler)));
    return *this;
  }
  route_group group(std::string_view prefix);

 private:
  friend class application;
  struct state;
  route_group(application& app, std::shared_ptr<state> s) : m_app(&app), m_state(std::move(s)) {}
  void add(std::vector<std::string> methods, std::string_view pattern, endpoint_fn endpoint);
  application* m_app;
  std::shared_ptr<state> m_state;
};

class application : public route_builder<application> {
 public:
  // The settings every application understands (--urls, --io, --dispatch, threads, limits...).
  static std::vector<option_spec> options_schema();

  // Builds an application from the process's arguments and environment. extra_options: settings
  // of the application's own, accepted alongside the built-in ones (read them via config()).
  // `usage` is printed above the options for --help.
  static application create(int argc, char** argv, std::vector<option_spec> extra_options = {},
                            std::string_view usage = {});
  // An application configured in code only (embedding, tests): no argv, no environment.
  static application create(configuration config);

  application(application&&) noexcept;
  application& operator=(application&&) noexcept;
  // A started application is stopped first (blocking: destroy it from outside its own threads).
  ~application();

  application& use(middleware_fn middleware);

  template <typename F>
  application& map(std::vector<std::string> methods, std::string_view pattern, F&& handler) {
    add_endpoint(std::move(methods), pattern, make_endpoint(std::forward<F>(handler)), {});
    return *this;
  }
  route_group group(std::string_view prefix);

  // Maps GET /metrics (Prometheus text) and GET /counters (JSON snapshot) on this application's
  // metric registry, GET /dashboard (a live page charting /counters) and GET /trace?seconds=N.
  application& map_diagnostics();

  // Starts the pool, the I/O threads and the server; completes once every URL is listening (and
  // logged "listening on ..."). The work is done on the awaiting thread, which the awaiter resumes
  // on. A failure (std::system_error when an endpoint cannot be bound) is thrown from the
  // co_await, and whatever had been started is stopped again. Lazy, as every task; from plain
  // code: harrier::sync_wait(app.start()).
  task<void> start();
  // Graceful shutdown (see http::server::stop), then the pool and I/O threads stop. Idempotent:
  // a second call completes when the first one has (at once if it already did), back on its own
  // pool if it was awaited on one, else on the thread that finished the first. Without a
  // successful start() it completes at once.
  // Threads: awaited from a plain thread (main, sync_wait), the shutdown runs on that thread and
  // the awaiter resumes on it. Awaited from a worker of another thread_pool (another application),
  // that worker is not blocked: a thread of the shutdown's own does the waiting and joining, then
  // posts the awaiter back to its pool (so blocking on it with sync_wait there needs that pool to
  // be able to add a thread). Awaited from one of this application's own threads (a handler, a
  // worker of its pool, an I/O thread with --dispatch inline) it throws std::logic_error: the
  // shutdown would wait for that very request, and join that very thread.
  task<void> stop();
  // start(), wait for SIGINT or SIGTERM, stop(). Blocking. Returns the process exit code: 0 after
  // a graceful shutdown, 1 when start() failed (the reason is logged at critical level, e.g.
  // "cannot start: harrier: cannot bind on 127.0.0.1:5000: Address already in use").
  int run();

  // True once a graceful shutdown has begun (readiness checks turn unhealthy).
  bool is_stopping() const noexcept;
  const configuration& config() const noexcept;
  const std::vector<option_spec>& schema() const noexcept;
  bool is_development() const noexcept;
  // Valid between start() and stop().
  std::vector<std::string> urls() const;
  thread_pool& pool();
  net::io_context& io();

  struct impl;

 private:
  friend class route_group;
  explicit application(std::unique_ptr<impl> state);
  void add_endpoint(std::vector<std::string> methods, std::string_view pattern,
                    endpoint_fn endpoint, std::vector<middleware_fn> group_middleware);
  std::unique_ptr<impl> m_impl;
};

}  // namespace harrier
