// harrier_diagnostics_bench: what a metric update costs the thread that makes it.
//
// Each figure is the CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID, so time spent
// preempted on a shared machine does not count) over a tight loop of N operations, divided by N,
// best of 5 runs; threads start together, so with 2 threads both loops run at the same time
// ("ns per add" is per thread, and contention shows up as a larger figure). For comparison, the
// same loop on one std::atomic shared by both threads shows what sharding saves.
// Usage: harrier_diagnostics_bench [--json]

#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/diagnostics/metric_exposition.hpp>
#include <harrier/diagnostics/metric_names.hpp>
#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

using namespace harrier::diagnostics;

namespace {

constexpr std::uint64_t k_iterations = 5'000'000;
constexpr int k_runs = 5;

double thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Runs body(iterations) on `threads` threads at once; returns the best ns per operation.
template <typename Body>
double ns_per_op(int threads, std::uint64_t iterations, Body body) {
  double best = 1e30;
  for (int run = 0; run < k_runs; ++run) {
    std::barrier start(threads + 1);
    std::vector<double> elapsed(static_cast<std::size_t>(threads));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        start.arrive_and_wait();
        const double begin = thread_cpu_ns();
        body(iterations);
        elapsed[static_cast<std::size_t>(t)] = thread_cpu_ns() - begin;
      });
    }
    start.arrive_and_wait();
    for (std::thread& th : pool)
      th.join();
    const double worst = *std::max_element(elapsed.begin(), elapsed.end());
    best = std::min(best, worst / static_cast<double>(iterations));
  }
  return best;
}

struct figure {
  const char* name;
  double value;
  const char* unit;
};

}  // namespace

int main(int argc, char** argv) {
  const bool json = argc > 1 && std::strcmp(argv[1], "--json") == 0;
  metric_registry registry;
  const counter_handle counter = registry.make_counter(metrics::k_harrier_connections_total);
  const up_down_counter_handle active =
      registry.make_up_down_counter(metrics::k_http_server_active_requests);
  const histogram_vec duration_vec = registry.make_histogram_vec(
      metrics::k_http_server_request_duration_seconds, {"method", "route", "status"},
      {metrics::k_http_duration_buckets_seconds.begin(),
       metrics::k_http_duration_buckets_seconds.end()});
  const histogram_handle duration = duration_vec.with({"GET", "/plaintext", "200"});
  std::atomic<std::uint64_t> shared{0};
  trace_recorder recorder;

  auto add = [&](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i)
      counter.add(1);
  };
  auto up_down = [&](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i)
      active.add((i & 1) != 0 ? 1 : -1);
  };
  auto observe = [&](std::uint64_t n) {
    // Mostly fast requests, as on /plaintext: the first buckets.
    for (std::uint64_t i = 0; i < n; ++i)
      duration.observe((i & 7) != 0 ? 0.0004 : 0.03);
  };
  auto resolve = [&](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      if (!duration_vec.with({"GET", "/plaintext", "200"})) std::abort();
    }
  };
  blocking_detector detector;
  auto watched_item = [&](std::uint64_t n) {
    detector.register_current_thread("bench");
    for (std::uint64_t i = 0; i < n; ++i) {
      blocking_detector::item_begin();
      blocking_detector::item_end();
    }
    detector.unregister_current_thread();
  };
  auto shared_atomic = [&](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i)
      shared.fetch_add(1, std::memory_order_relaxed);
  };
  auto trace = [&](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i)
      recorder.instant("bench", "bench", {{"i", static_cast<std::int64_t>(i)}});
  };

  std::vector<figure> figures;
  figures.push_back({"counter_add_1_thread", ns_per_op(1, k_iterations, add), "ns/op"});
  figures.push_back({"counter_add_2_threads", ns_per_op(2, k_iterations, add), "ns/op"});
  figures.push_back(
      {"up_down_counter_add_2_threads", ns_per_op(2, k_iterations, up_down), "ns/op"});
  figures.push_back(
      {"shared_atomic_add_2_threads_baseline", ns_per_op(2, k_iterations, shared_atomic), "ns/op"});
  figures.push_back({"histogram_observe_1_thread", ns_per_op(1, k_iterations, observe), "ns/op"});
  figures.push_back({"histogram_observe_2_threads", ns_per_op(2, k_iterations, observe), "ns/op"});
  figures.push_back(
      {"resolve_existing_series_1_thread", ns_per_op(1, k_iterations / 10, resolve), "ns/op"});
  figures.push_back(
      {"resolve_existing_series_2_threads", ns_per_op(2, k_iterations / 10, resolve), "ns/op"});
  figures.push_back({"blocking_detector_item_begin_end_1_thread",
                     ns_per_op(1, k_iterations, watched_item), "ns/item"});
  figures.push_back({"trace_event_off_1_thread", ns_per_op(1, k_iterations, trace), "ns/op"});
  recorder.start();
  figures.push_back({"trace_event_on_1_thread", ns_per_op(1, k_iterations / 10, trace), "ns/op"});
  figures.push_back({"trace_event_on_2_threads", ns_per_op(2, k_iterations / 10, trace), "ns/op"});
  recorder.stop();

  // One scrape of 100 labelled histogram series (e.g. 20 routes x 5 statuses) plus the rest.
  const histogram_vec routes =
      registry.make_histogram_vec({"bench_route_duration_seconds", "Bench."}, {"route", "status"},
                                  {metrics::k_http_duration_buckets_seconds.begin(),
                                   metrics::k_http_duration_buckets_seconds.end()});
  for (int r = 0; r < 20; ++r) {
    for (int s = 0; s < 5; ++s)
      routes.with({"/route" + std::to_string(r), std::to_string(200 + s)}).observe(0.01);
  }
  auto scrape = [&](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::string text = to_prometheus_text(registry.collect());
      if (text.empty()) std::abort();
    }
  };
  figures.push_back(
      {"scrape_prometheus_101_histograms", ns_per_op(1, 200, scrape) / 1000.0, "us/scrape"});

  if (json) {
    std::printf("{\"benchmark\":\"diagnostics\"");
    for (const figure& f : figures)
      std::printf(",\"%s\":%.2f", f.name, f.value);
    std::printf("}\n");
  } else {
    for (const figure& f : figures)
      std::printf("%-42s %10.2f %s\n", f.name, f.value, f.unit);
  }
  return 0;
}
