// harrier-server: the example server whose contract is fixed in the design brief.
//
// Routes: /plaintext, /json, POST /echo, /async/delay?ms=N, /sync/sleep?ms=N,
// /sync-over-async?ms=N, /cpu?n=N, /healthz, and the diagnostics endpoints.
//
// Two routes are wrong on purpose. /sync/sleep blocks its pool worker without telling the pool, and
// /sync-over-async blocks a worker on an async timer's result (the `.Result` of .NET); they exist
// to show thread-pool starvation and how the pool answers it. Do not write handlers like them.

#include <harrier/harrier.hpp>
#include <harrier/middleware/application.hpp>
#include <harrier/middleware/builtin.hpp>
#include <harrier/net/timer.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <thread>

namespace {

constexpr std::string_view k_usage =
    "harrier-server: the harrier example server.\n"
    "\n"
    "Routes:\n"
    "  GET  /plaintext             Hello, World! (text/plain)\n"
    "  GET  /json                  {\"message\":\"Hello, World!\"}\n"
    "  POST /echo                  the request body back, same Content-Type\n"
    "  GET  /async/delay?ms=N      awaits a timer (a worker is free meanwhile)\n"
    "  GET  /sync/sleep?ms=N       BLOCKS its worker thread: the starvation anti-pattern, on "
    "purpose\n"
    "  GET  /sync-over-async?ms=N  blocks a worker on an async delay's result (.Result), on "
    "purpose\n"
    "  GET  /cpu?n=N               CPU-bound work (n iterations)\n"
    "  GET  /healthz               liveness and readiness (503 while shutting down)\n"
    "  GET  /metrics               Prometheus metrics\n"
    "  GET  /counters              the same figures as JSON\n"
    "  GET  /dashboard             a live dashboard of those figures\n"
    "  GET  /trace?seconds=N       a Chrome trace of the next N seconds (1-60)\n"
    "  GET  /static/...            files from --content-root";

// Milliseconds from the query, bounded so that one request cannot hold a worker for an hour.
constexpr std::int64_t k_max_delay_ms = 60'000;
constexpr std::int64_t k_max_cpu_iterations = 1'000'000'000;

std::int64_t bounded(const std::optional<std::int64_t>& value, std::int64_t fallback,
                     std::int64_t max, std::string_view name) {
  const std::int64_t v = value.value_or(fallback);
  if (v < 0 || v > max) {
    throw harrier::http_error(400, "Bad Request",
                              std::string(name) + " must be between 0 and " + std::to_string(max));
  }
  return v;
}

harrier::task<void> delay(harrier::net::io_context& io, std::int64_t ms) {
  co_await harrier::net::sleep_for(io, std::chrono::milliseconds(ms));
}

}  // namespace

int main(int argc, char** argv) {
  auto app = harrier::application::create(argc, argv,
                                          {{.key = "content_root",
                                            .type = harrier::option_type::string,
                                            .default_value = "examples/wwwroot",
                                            .help = "directory served under /static/"},
                                           {.key = "request_log",
                                            .type = harrier::option_type::boolean,
                                            .default_value = "false",
                                            .help = "log one line per request"}},
                                          k_usage);

  app.use(harrier::exception_handler());
  if (app.config().get_boolean("request_log", app.schema())) app.use(harrier::request_logging());
  const std::string content_root = app.config().get_string("content_root", app.schema());
  if (std::filesystem::is_directory(content_root)) {
    app.use(harrier::static_files({.root = content_root, .request_prefix = "/static"}));
  } else if (app.config().get("content_root")) {
    std::fprintf(stderr, "harrier-server: --content-root %s is not a directory\n",
                 content_root.c_str());
    return 2;
  } else {
    // The default is relative to the working directory: said, rather than a silent 404.
    std::fprintf(stderr,
                 "harrier-server: warning: no %s directory here, so /static/ is not served "
                 "(run from the source tree, or give --content-root)\n",
                 content_root.c_str());
  }

  app.map_get("/plaintext", [] { return harrier::results::text("Hello, World!"); });

  app.map_get("/json", [] {
    // A new object per request, built member by member: nlohmann's initializer-list form
    // (json{{"message", ...}}) first builds a [key, value] array per member and then converts
    // it, ~1,400 more instructions per request (callgrind), a tenth of the whole request.
    nlohmann::json body;
    body["message"] = "Hello, World!";
    return body;
  });

  app.map_post("/echo", [](harrier::context& ctx) -> harrier::task<harrier::result> {
    // No limit of its own: the server's (--limits:max-request-body-size, 413 above it) applies.
    std::string body =
        co_await ctx.request().body().read_all(std::numeric_limits<std::size_t>::max());
    const auto type = ctx.request().header("Content-Type");
    co_return harrier::results::text(std::move(body),
                                     std::string(type.value_or("application/octet-stream")));
  });

  // Awaits a timer, and stops early when the request is cancelled (client gone, request timeout).
  app.map_get("/async/delay",
              [&app](harrier::from_query<"ms", std::optional<std::int64_t>> ms,
                     harrier::cancellation_token aborted) -> harrier::task<harrier::result> {
                const std::int64_t n = bounded(*ms, 100, k_max_delay_ms, "ms");
                const std::error_code ec = co_await harrier::net::sleep_for(
                    app.io(), std::chrono::milliseconds(n), aborted);
                if (ec) throw harrier::operation_cancelled{};
                co_return harrier::results::json({{"delayed_ms", n}});
              });

  // The anti-pattern, on purpose: blocks a pool worker without telling the pool.
  app.map_get("/sync/sleep", [](harrier::from_query<"ms", std::optional<std::int64_t>> ms) {
    const std::int64_t n = bounded(*ms, 100, k_max_delay_ms, "ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(n));
    return nlohmann::json{{"slept_ms", n}};
  });

  // Sync over async, on purpose: blocks a worker on an async operation's result. sync_wait on a
  // worker tells the pool it is blocked, as .Result does in .NET, so the pool can compensate.
  app.map_get("/sync-over-async",
              [&app](harrier::from_query<"ms", std::optional<std::int64_t>> ms) {
                const std::int64_t n = bounded(*ms, 100, k_max_delay_ms, "ms");
                harrier::sync_wait(delay(app.io(), n));
                return nlohmann::json{{"waited_ms", n}};
              });

  app.map_get("/cpu", [](harrier::from_query<"n", std::optional<std::int64_t>> n) {
    const std::int64_t iterations = bounded(*n, 100'000, k_max_cpu_iterations, "n");
    // xorshift: cheap, not optimisable away, and its result proves the work was done.
    std::uint64_t x = 88172645463325252ULL;
    for (std::int64_t i = 0; i < iterations; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
    return nlohmann::json{{"iterations", iterations}, {"result", x}};
  });

  // Liveness and readiness: unhealthy (503) once a graceful shutdown has begun, so that a load
  // balancer stops sending new requests while in-flight ones finish.
  app.map_get("/healthz", [&app] {
    return app.is_stopping() ? harrier::results::text("Unhealthy", "text/plain; charset=utf-8", 503)
                             : harrier::results::text("Healthy");
  });
  app.map_diagnostics();

  return app.run();
}
