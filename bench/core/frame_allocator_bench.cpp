// Measures what the per-thread frame allocator saves on a request-shaped chain of tasks.
//
// One "request" awaits four nested tasks (as connection loop → middleware → handler → write would).
// The same loop runs with recycling on and off, interleaved, several repetitions; the medians are
// printed as one JSON object with --json. Heap allocations per request come from the allocator's
// own counters, so they are exact; times are wall-clock on a shared machine (see the medians).

#include <harrier/core/frame_allocator.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/core/task.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

harrier::task<int> leaf(int x) {
  co_return x + 1;
}
harrier::task<int> handler(int x) {
  co_return co_await leaf(x) * 2;
}
harrier::task<int> middleware(int x) {
  co_return co_await handler(x) + 1;
}
harrier::task<int> request(int x) {
  int a = co_await middleware(x);
  co_return a + co_await leaf(a);
}

harrier::task<long> request_loop(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i)
    sum += co_await request(i);
  co_return sum;
}

struct run_result {
  double ns_per_request;
  double heap_allocations_per_request;
};

run_result run(bool recycling, int requests) {
  harrier::frame_allocator::set_thread_recycling(recycling);
  harrier::sync_wait(request_loop(1000));  // warm up the caches
  const auto before = harrier::frame_allocator::thread_stats();
  const auto start = std::chrono::steady_clock::now();
  volatile long sink = harrier::sync_wait(request_loop(requests));
  (void)sink;
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto after = harrier::frame_allocator::thread_stats();
  return {std::chrono::duration<double, std::nano>(elapsed).count() / requests,
          static_cast<double>(after.heap_allocations - before.heap_allocations) / requests};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  int requests = 2'000'000;
  int repetitions = 7;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    if (std::strcmp(argv[i], "--quick") == 0) requests = 200'000, repetitions = 3;
  }
  std::vector<double> on_ns, off_ns, on_allocs, off_allocs;
  for (int r = 0; r < repetitions; ++r) {
    const run_result on = run(true, requests);
    const run_result off = run(false, requests);
    on_ns.push_back(on.ns_per_request);
    off_ns.push_back(off.ns_per_request);
    on_allocs.push_back(on.heap_allocations_per_request);
    off_allocs.push_back(off.heap_allocations_per_request);
  }
  const double on = median(on_ns), off = median(off_ns);
  if (json) {
    std::printf(
        "{\"recycled_ns_per_request\": %.1f, \"malloc_ns_per_request\": %.1f, "
        "\"frame_recycling_speedup\": %.2f, \"recycled_heap_allocations_per_request\": %.3f, "
        "\"malloc_heap_allocations_per_request\": %.3f, \"repetitions\": %d}\n",
        on, off, off / on, median(on_allocs), median(off_allocs), repetitions);
  } else {
    std::printf("5 task frames per request, median of %d runs of %d requests\n", repetitions,
                requests);
    std::printf("  recycled frames: %7.1f ns/request, %.3f heap allocations/request\n", on,
                median(on_allocs));
    std::printf("  malloc frames:   %7.1f ns/request, %.3f heap allocations/request\n", off,
                median(off_allocs));
    std::printf("  speedup: %.2fx\n", off / on);
  }
}
