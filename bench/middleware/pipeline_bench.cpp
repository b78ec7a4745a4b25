// The application layer's cost per request, on the HTTP layer with a transport that completes at
// once (bench/support/instant_transport.hpp): no system call, so the figures are parsing, routing,
// the middleware chain, binding, the result and the response.
//
// Three shapes, interleaved and repeated (medians of 7 runs of 200,000 keep-alive requests):
//   raw:   an http::request_handler that sends "Hello, World!" (the protocol floor);
//   app0:  the same through app_pipeline: route match, context, a minimal-API endpoint;
//   app5:  app0 behind five pass-through middleware.
// middleware_ns = (app5 - app0) / 5 is the cost of one middleware stage. --json prints one object.

#include <harrier/core/sync_wait.hpp>
#include <harrier/http/connection.hpp>
#include <harrier/http/request.hpp>
#include <harrier/http/response.hpp>
#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/results.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "support/instant_transport.hpp"

namespace {

using namespace harrier;

constexpr std::string_view k_request =
    "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk/4.1.0\r\nAccept: "
    "*/*\r\n\r\n";

double run(const http::request_handler& handler, std::size_t requests) {
  bench::instant_transport t;
  t.batch = std::string(k_request);
  t.batches_left = requests;
  const auto start = std::chrono::steady_clock::now();
  {
    http::http1_connection<bench::instant_transport> connection(t, http::http1_options{}, handler);
    sync_wait(connection.run());
  }
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
             .count() /
         static_cast<double>(requests);
}

void fill(app_pipeline& app, int middleware) {
  for (int i = 0; i < middleware; ++i) {
    app.use([](context& ctx, next_handler next) -> task<void> { co_await next(ctx); });
  }
  app.add_endpoint({"GET"}, "/plaintext", make_endpoint([] { return "Hello, World!"; }));
  app.add_endpoint({"GET"}, "/json", make_endpoint([] { return results::text("{}"); }));
  app.build();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  std::size_t requests = 200'000;
  int runs = 7;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    if (std::strcmp(argv[i], "--quick") == 0) requests = 20'000, runs = 3;
  }
  const http::request_handler raw = [](http::request&, http::response& res) -> task<void> {
    co_await res.send(200, "text/plain; charset=utf-8", "Hello, World!");
  };
  app_pipeline app0, app5;
  fill(app0, 0);
  fill(app5, 5);
  const auto h0 = app0.handler();
  const auto h5 = app5.handler();
  run(raw, 10'000);  // warm the frame and block caches
  std::vector<double> raw_ns, app0_ns, app5_ns;
  for (int r = 0; r < runs; ++r) {
    raw_ns.push_back(run(raw, requests));
    app0_ns.push_back(run(h0, requests));
    app5_ns.push_back(run(h5, requests));
  }
  const double r = median(raw_ns), a0 = median(app0_ns), a5 = median(app5_ns);
  if (json) {
    std::printf(
        "{\"raw_handler_ns_per_request\": %.1f, \"app_pipeline_ns_per_request\": %.1f, "
        "\"app_pipeline_5_middleware_ns_per_request\": %.1f, \"app_layer_ns\": %.1f, "
        "\"middleware_ns_per_stage\": %.1f, \"runs\": %d}\n",
        r, a0, a5, a0 - r, (a5 - a0) / 5, runs);
  } else {
    std::printf("raw handler:                %7.1f ns/request\n", r);
    std::printf("app_pipeline:               %7.1f ns/request (app layer %.1f ns)\n", a0, a0 - r);
    std::printf("app_pipeline + 5 middleware: %6.1f ns/request (%.1f ns per middleware)\n", a5,
                (a5 - a0) / 5);
  }
}
