// processor_count(): the CPUs the process may use, not the machine's.

#include <harrier/threadpool/thread_pool.hpp>

#include <sched.h>

#include <catch2/catch.hpp>

#include <thread>

TEST_CASE("the processor count follows the CPU affinity, as taskset sets it", "[threadpool]") {
  ::cpu_set_t original;
  REQUIRE(::sched_getaffinity(0, sizeof(original), &original) == 0);
  const int allowed = CPU_COUNT(&original);
  CHECK(harrier::processor_count() >= 1);
  CHECK(harrier::processor_count() <= static_cast<std::uint32_t>(allowed));
  CHECK(harrier::processor_count() <= std::max(1u, std::thread::hardware_concurrency()));

  // Pin this thread to its first allowed CPU: the count drops to 1, and so does a default pool.
  ::cpu_set_t one;
  CPU_ZERO(&one);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &original)) {
      CPU_SET(cpu, &one);
      break;
    }
  }
  REQUIRE(::sched_setaffinity(0, sizeof(one), &one) == 0);
  const std::uint32_t pinned = harrier::processor_count();
  std::uint32_t pool_threads = 0;
  {
    harrier::thread_pool pool;
    pool_threads = pool.stats().threads;
  }
  REQUIRE(::sched_setaffinity(0, sizeof(original), &original) == 0);
  CHECK(pinned == 1);
  CHECK(pool_threads == 1);
}
