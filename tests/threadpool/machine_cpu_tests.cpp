// machine_cpu_reader: the busy share of the CPUs this process may use, from /proc/stat.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "threadpool/machine_cpu.hpp"

using harrier::detail::machine_cpu_reader;

TEST_CASE("the busy share sums the allowed CPUs' lines only, steal counted as busy",
          "[threadpool][machine_cpu]") {
  const char* stat =
      "cpu  900 0 300 5000 100 0 0 0 0 0\n"
      "cpu0 100 10 50 800 20 5 5 10 0 0\n"
      "cpu1 400 0 100 100 0 0 0 0 0 0\n"
      "cpu12 1 1 1 1 1 1 1 1 0 0\n"
      "intr 12345 0 0\n"
      "ctxt 999\n";
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
  std::vector<bool> cpu0_only{true};
  REQUIRE(machine_cpu_reader::sum_cpus(stat, cpu0_only, busy, total));
  CHECK(busy == 100 + 10 + 50 + 5 + 5 + 10);
  CHECK(total == busy + 800 + 20);
  std::vector<bool> both{true, true};
  REQUIRE(machine_cpu_reader::sum_cpus(stat, both, busy, total));
  CHECK(busy == 180 + 500);
  CHECK(total == 180 + 820 + 500 + 100);
  std::vector<bool> absent(13, false);
  absent[7] = true;
  CHECK_FALSE(machine_cpu_reader::sum_cpus(stat, absent, busy, total));
}

TEST_CASE("the busy share is unknown at first, then a fraction that sees a spinning thread",
          "[threadpool][machine_cpu]") {
  machine_cpu_reader reader;
  CHECK(reader.busy_since_last() == -1);  // no baseline yet
  std::atomic<bool> stop{false};
  std::thread spinner([&] {
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // jiffies are 10 ms
  const double busy = reader.busy_since_last();
  stop.store(true);
  spinner.join();
  CHECK(busy > 0.0);
  CHECK(busy <= 1.0);
}
