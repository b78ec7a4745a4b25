// What response compression costs, to choose its default levels and threshold.
//
// Part 1, the encoders alone: each sample body compressed whole, at several gzip levels and
// brotli qualities; the median of repeated runs gives ns per KiB of input and the size ratio.
// Part 2, small bodies (128 B to 4 KiB at gzip 4 and br 4): time and bytes saved, where the
// threshold sits. Then the fixed cost per response: a 2 KiB body through a fresh gzip encoder
// (deflateInit2 and its ~256 KiB of memory each time) against a reset, reused one, and a fresh
// brotli encoder. Part 3, end to end: requests for a 4 KiB JSON body through app_pipeline on a
// transport that completes at once (bench/support/instant_transport.hpp), without the middleware,
// with it and a client that accepts nothing, with gzip and with br.
//
// Samples: JSON made here (an API listing, 2 KiB and 64 KiB), harrier's own dashboard page and
// script (HTML and JS), and Debian's Chart.js (a 200 KiB static asset) when installed.
// --quick runs fewer repetitions; --json prints one object per line.

#include <harrier/core/sync_wait.hpp>
#include <harrier/http/connection.hpp>
#include <harrier/http/request.hpp>
#include <harrier/http/response.hpp>
#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/compression.hpp>
#include <harrier/middleware/results.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "middleware/brotli_encoder.hpp"
#include "middleware/gzip_encoder.hpp"
#include "support/instant_transport.hpp"

// The repository's root, for the dashboard samples; CMake defines it.
#ifndef HARRIER_SOURCE_DIR
#define HARRIER_SOURCE_DIR "."
#endif

namespace {

using namespace harrier;
using clock_type = std::chrono::steady_clock;

bool g_json = false;
int g_runs = 9;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median ns per call of `fn`, each run timing enough calls to last a few milliseconds.
double time_ns(const std::function<void()>& fn) {
  fn();  // warm up
  const auto probe_start = clock_type::now();
  fn();
  const double once =
      std::chrono::duration<double, std::nano>(clock_type::now() - probe_start).count();
  const int calls = std::max(1, static_cast<int>(5e6 / std::max(once, 1.0)));
  std::vector<double> per_call;
  for (int r = 0; r < g_runs; ++r) {
    const auto start = clock_type::now();
    for (int i = 0; i < calls; ++i)
      fn();
    per_call.push_back(std::chrono::duration<double, std::nano>(clock_type::now() - start).count() /
                       calls);
  }
  return median(per_call);
}

std::string api_json(std::size_t bytes) {
  nlohmann::json items = nlohmann::json::array();
  unsigned seed = 12345;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u; };
  for (int i = 0; items.dump().size() < bytes; ++i) {
    items.push_back({{"id", i},
                     {"name", "User " + std::to_string(next() % 10000)},
                     {"email", "user" + std::to_string(next() % 10000) + "@example.com"},
                     {"active", next() % 2 == 0},
                     {"score", static_cast<double>(next() % 100000) / 100.0},
                     {"tags", {"alpha", next() % 3 == 0 ? "beta" : "gamma"}}});
  }
  std::string s = items.dump();
  return s;
}

std::optional<std::string> read_file(const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > limit) s.resize(limit);
  return s;
}

struct sample {
  std::string name;
  std::string body;
};

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

void encoder_costs(const std::vector<sample>& samples) {
  if (!g_json) {
    std::printf("%-14s %8s %-10s %10s %10s %8s\n", "sample", "bytes", "coding", "ns/KiB", "MB/s",
                "ratio");
  }
  for (const sample& s : samples) {
    auto report = [&](const std::string& coding, const std::function<std::size_t()>& compress) {
      std::size_t out_size = 0;
      const double ns = time_ns([&] { out_size = compress(); });
      const double kib = static_cast<double>(s.body.size()) / 1024.0;
      const double ratio = static_cast<double>(out_size) / static_cast<double>(s.body.size());
      if (g_json) {
        std::printf(
            "{\"sample\": \"%s\", \"bytes\": %zu, \"coding\": \"%s\", \"ns_per_kib\": %.0f, "
            "\"ratio\": %.4f}\n",
            s.name.c_str(), s.body.size(), coding.c_str(), ns / kib, ratio);
      } else {
        std::printf("%-14s %8zu %-10s %10.0f %10.1f %8.3f\n", s.name.c_str(), s.body.size(),
                    coding.c_str(), ns / kib, static_cast<double>(s.body.size()) / ns * 1e3, ratio);
      }
    };
    std::string out;
    for (int level : {1, 4, 6, 9}) {
      detail::gzip_encoder encoder(level);
      report("gzip-" + std::to_string(level), [&] {
        out.clear();
        encoder.reset();
        encoder.write(bytes(s.body), out);
        encoder.finish(out);
        return out.size();
      });
    }
    if (!detail::brotli_available()) continue;
    for (int quality : {1, 3, 4, 5, 6}) {
      report("br-" + std::to_string(quality), [&] {
        out.clear();
        detail::brotli_encoder encoder(quality, 18, s.body.size());
        encoder.write(bytes(s.body), out);
        encoder.finish(out);
        return out.size();
      });
    }
  }
}

// Small bodies, where the threshold sits: what compressing costs and what it saves.
void small_bodies() {
  if (!g_json) std::printf("\n%-8s %-8s %10s %12s\n", "bytes", "coding", "ns", "bytes saved");
  for (std::size_t size : {128, 256, 512, 1024, 2048, 4096}) {
    const std::string body = api_json(size).substr(0, size);
    std::string out;
    auto report = [&](const char* coding, double ns) {
      const long saved = static_cast<long>(body.size()) - static_cast<long>(out.size());
      if (g_json) {
        std::printf(
            "{\"small_body_bytes\": %zu, \"coding\": \"%s\", \"ns\": %.0f, "
            "\"bytes_saved\": %ld}\n",
            size, coding, ns, saved);
      } else {
        std::printf("%-8zu %-8s %10.0f %12ld\n", size, coding, ns, saved);
      }
    };
    const double gzip_ns = time_ns([&] {
      out.clear();
      detail::gzip_encoder encoder(4);
      encoder.write(bytes(body), out);
      encoder.finish(out);
    });
    report("gzip-4", gzip_ns);
    if (!detail::brotli_available()) continue;
    const double br_ns = time_ns([&] {
      out.clear();
      detail::brotli_encoder encoder(4, 18, body.size());
      encoder.write(bytes(body), out);
      encoder.finish(out);
    });
    report("br-4", br_ns);
  }
}

void fixed_costs(const std::string& body) {
  std::string out;
  const double fresh = time_ns([&] {
    out.clear();
    detail::gzip_encoder encoder(4);
    encoder.write(bytes(body), out);
    encoder.finish(out);
  });
  detail::gzip_encoder reused(4);
  const double reset = time_ns([&] {
    out.clear();
    reused.reset();
    reused.write(bytes(body), out);
    reused.finish(out);
  });
  double brotli = 0;
  if (detail::brotli_available()) {
    brotli = time_ns([&] {
      out.clear();
      detail::brotli_encoder encoder(4, 18, body.size());
      encoder.write(bytes(body), out);
      encoder.finish(out);
    });
  }
  if (g_json) {
    std::printf(
        "{\"body_bytes\": %zu, \"gzip4_fresh_ns\": %.0f, \"gzip4_reused_ns\": %.0f, "
        "\"br4_fresh_ns\": %.0f}\n",
        body.size(), fresh, reset, brotli);
  } else {
    std::printf(
        "\n%zu-byte JSON body, whole: gzip-4 fresh encoder %.0f ns, reused %.0f ns; "
        "br-4 fresh %.0f ns\n",
        body.size(), fresh, reset, brotli);
  }
}

double run_requests(const http::request_handler& handler, const std::string& request,
                    std::size_t requests, std::size_t& bytes_per_response) {
  bench::instant_transport t;
  t.batch = request;
  t.batches_left = requests;
  const auto start = clock_type::now();
  {
    http::http1_connection<bench::instant_transport> connection(t, http::http1_options{}, handler);
    sync_wait(connection.run());
  }
  bytes_per_response = t.bytes_sent / requests;
  return std::chrono::duration<double, std::nano>(clock_type::now() - start).count() /
         static_cast<double>(requests);
}

void end_to_end(const std::string& body) {
  auto fill = [&body](app_pipeline& app, bool compress) {
    if (compress) app.use(response_compression());
    app.add_endpoint({"GET"}, "/json", make_endpoint([&body](http::response& res) {
                       return res.send(200, "application/json", body);
                     }));
    app.build();
  };
  app_pipeline plain, compressed;
  fill(plain, false);
  fill(compressed, true);
  auto request = [](std::string_view accept) {
    std::string r = "GET /json HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";
    if (!accept.empty()) r += "Accept-Encoding: " + std::string(accept) + "\r\n";
    return r + "\r\n";
  };
  struct shape {
    const char* name;
    const app_pipeline* app;
    std::string request;
  };
  const std::vector<shape> shapes = {
      {"no middleware", &plain, request("gzip, br")},
      {"identity", &compressed, request("")},
      {"gzip", &compressed, request("gzip")},
      {"br", &compressed, request("br")},
  };
  const std::size_t requests = g_runs >= 9 ? 20'000 : 4'000;
  for (const shape& s : shapes) {
    std::size_t response_bytes = 0;
    std::vector<double> ns;
    run_requests(s.app->handler(), s.request, 1'000, response_bytes);
    for (int r = 0; r < g_runs; ++r)
      ns.push_back(run_requests(s.app->handler(), s.request, requests, response_bytes));
    if (g_json) {
      std::printf(
          "{\"end_to_end\": \"%s\", \"body_bytes\": %zu, \"ns_per_request\": %.0f, "
          "\"response_bytes\": %zu}\n",
          s.name, body.size(), median(ns), response_bytes);
    } else {
      std::printf("%zu-byte JSON, %-14s %8.0f ns/request, %6zu bytes on the wire\n", body.size(),
                  s.name, median(ns), response_bytes);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) g_json = true;
    if (std::strcmp(argv[i], "--quick") == 0) g_runs = 3;
  }
  std::vector<sample> samples;
  samples.push_back({"json-2k", api_json(2 * 1024)});
  samples.push_back({"json-64k", api_json(64 * 1024)});
  const std::string source_dir = HARRIER_SOURCE_DIR;
  if (auto html = read_file(source_dir + "/src/diagnostics/dashboard/dashboard.html", 1 << 20)) {
    samples.push_back({"dashboard.html", *html});
  }
  if (auto js = read_file(source_dir + "/src/diagnostics/dashboard/dashboard.js", 1 << 20)) {
    samples.push_back({"dashboard.js", *js});
  }
  if (auto chart = read_file("/usr/share/javascript/chart.js/chart.min.js", 1 << 20)) {
    samples.push_back({"chart.min.js", *chart});
  }
  encoder_costs(samples);
  small_bodies();
  fixed_costs(samples[0].body);
  if (!g_json) std::printf("\n");
  end_to_end(api_json(4 * 1024));
}
