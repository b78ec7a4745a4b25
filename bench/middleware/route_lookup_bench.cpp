// Route lookup cost at 10, 100 and 1,000 routes: shows that matching is a trie walk, flat in the
// number of routes. Each table holds routes shaped like a real API ("/api/v1/<resource>/{id:int}",
// "/api/v1/<resource>/{id:int}/items/{item}", "/api/v1/<resource>"); lookups cycle over all of
// them. Median of several repetitions; --json prints one object.

#include <harrier/middleware/route_table.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double ns_per_lookup(std::size_t routes, int lookups, int repetitions) {
  harrier::route_table table;
  std::vector<std::string> paths;
  for (std::size_t i = 0; table.size() < routes; ++i) {
    const std::string base = "/api/v1/resource" + std::to_string(i);
    table.add({"GET"}, base, table.size());
    paths.push_back(base);
    if (table.size() < routes) {
      table.add({"GET"}, base + "/{id:int}", table.size());
      paths.push_back(base + "/42");
    }
    if (table.size() < routes) {
      table.add({"GET"}, base + "/{id:int}/items/{item}", table.size());
      paths.push_back(base + "/42/items/abc");
    }
  }
  harrier::route_match match;
  std::vector<double> samples;
  std::size_t checksum = 0;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < lookups; ++i) {
      table.match("GET", paths[static_cast<std::size_t>(i) % paths.size()], match);
      checksum += match.endpoint;
    }
    samples.push_back(
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
        lookups);
  }
  if (checksum == 0) std::puts("");  // keeps the loop from being optimised away
  return median(samples);
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  int lookups = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    if (std::strcmp(argv[i], "--quick") == 0) lookups = 100'000;
  }
  const double at10 = ns_per_lookup(10, lookups, 5);
  const double at100 = ns_per_lookup(100, lookups, 5);
  const double at1000 = ns_per_lookup(1000, lookups, 5);
  if (json) {
    std::printf(
        "{\"route_lookup_ns_10\": %.1f, \"route_lookup_ns_100\": %.1f, \"route_lookup_ns_1000\": "
        "%.1f, \"route_lookup_ratio_1000_vs_10\": %.2f}\n",
        at10, at100, at1000, at1000 / at10);
  } else {
    std::printf(
        "route lookup, median of 5 x %d lookups:\n  10 routes: %.1f ns\n  100 routes: %.1f "
        "ns\n  1000 routes: %.1f ns\n",
        lookups, at10, at100, at1000);
  }
}
