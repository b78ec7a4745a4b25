// Measures the CPU cost of the HTTP/1.1 protocol layer alone, per request.
//
// The connection runs on a transport whose operations complete at once: recv hands out the next
// prepared batch of requests, send only counts bytes. So the figures are parsing, the handler
// call, response serialisation and the coroutine plumbing, with no system call: the floor under
// what the real server spends per request on top of the kernel. Two shapes: one request per recv
// (a keep-alive client such as wrk) and 16 pipelined requests per recv. The requests carry the
// headers wrk sends. Heap allocations per request are counted by replacing operator new.
// Prints medians of several runs; one JSON object with --json.

#include <harrier/core/cancellation.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/http/connection.hpp>
#include <harrier/http/request.hpp>
#include <harrier/http/response.hpp>

#include "support/instant_transport.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t bytes) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using namespace harrier;
using harrier::bench::instant_transport;

constexpr std::string_view k_request =
    "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
    "User-Agent: wrk/4.1.0\r\nAccept: */*\r\n\r\n";

struct result {
  double ns_per_request;
  double allocations_per_request;
  double sends_per_request;
};

result run(std::size_t depth, std::size_t requests) {
  instant_transport t;
  for (std::size_t i = 0; i < depth; ++i)
    t.batch += k_request;
  t.batches_left = requests / depth;
  http::http1_options options;
  http::request_handler handler = [](http::request&, http::response& res) -> task<void> {
    co_await res.send(200, "text/plain", "Hello, World!");
  };
  const std::uint64_t allocations_before = g_allocations.load();
  const auto start = std::chrono::steady_clock::now();
  {
    http::http1_connection<instant_transport> connection(t, options, handler);
    sync_wait(connection.run());
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const std::uint64_t allocations = g_allocations.load() - allocations_before;
  const double n = static_cast<double>(requests);
  return {std::chrono::duration<double, std::nano>(elapsed).count() / n,
          static_cast<double>(allocations) / n, static_cast<double>(t.sends) / n};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const bool json = argc > 1 && std::strcmp(argv[1], "--json") == 0;
  constexpr std::size_t k_requests = 200'000;
  constexpr int k_runs = 5;
  (void)run(1, 10'000);  // warm up frame and block caches
  std::vector<double> single_ns, single_alloc, single_sends, piped_ns, piped_alloc, piped_sends;
  for (int i = 0; i < k_runs; ++i) {
    const result s = run(1, k_requests);
    const result p = run(16, k_requests);
    single_ns.push_back(s.ns_per_request);
    single_alloc.push_back(s.allocations_per_request);
    single_sends.push_back(s.sends_per_request);
    piped_ns.push_back(p.ns_per_request);
    piped_alloc.push_back(p.allocations_per_request);
    piped_sends.push_back(p.sends_per_request);
  }
  if (json) {
    std::printf(
        "{\"keep_alive_ns_per_request\": %.1f, \"keep_alive_heap_allocations_per_request\": %.4f, "
        "\"keep_alive_sends_per_request\": %.4f, \"pipelined16_ns_per_request\": %.1f, "
        "\"pipelined16_heap_allocations_per_request\": %.4f, "
        "\"pipelined16_sends_per_request\": %.4f}\n",
        median(single_ns), median(single_alloc), median(single_sends), median(piped_ns),
        median(piped_alloc), median(piped_sends));
  } else {
    std::printf("keep-alive (1 request per recv): %8.1f ns/request, %.4f allocations, %.4f sends\n",
                median(single_ns), median(single_alloc), median(single_sends));
    std::printf("pipelined 16 per recv:           %8.1f ns/request, %.4f allocations, %.4f sends\n",
                median(piped_ns), median(piped_alloc), median(piped_sends));
  }
  return 0;
}
