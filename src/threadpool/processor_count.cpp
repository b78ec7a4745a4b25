// processor_count(): how many processors the pool should assume it has.
//
// std::thread::hardware_concurrency() counts the machine's CPUs. A process pinned with taskset,
// placed in a cpuset, or limited by a container's CPU quota has fewer, and sizing the pool (and
// the starvation gate's CPU-utilisation estimate) by the machine then oversubscribes it: two
// workers and an I/O thread time-sharing one pinned CPU switch context where one worker would
// not. .NET's Environment.ProcessorCount honours affinity and the cgroup quota; so does this.

#include <harrier/threadpool/thread_pool.hpp>

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

namespace harrier {
namespace {

// cgroup v2 "cpu.max": "<quota> <period>" or "max <period>". 0 when there is no quota.
std::uint32_t cgroup_quota_cpus() {
  std::ifstream file("/sys/fs/cgroup/cpu.max");
  std::string quota;
  std::uint64_t period = 0;
  if (!(file >> quota >> period) || quota == "max" || period == 0) return 0;
  try {
    const std::uint64_t q = std::stoull(quota);
    return static_cast<std::uint32_t>(std::max<std::uint64_t>(1, (q + period - 1) / period));
  } catch (...) {
    return 0;
  }
}

}  // namespace

std::uint32_t processor_count() noexcept {
  std::uint32_t count = std::max(1u, std::thread::hardware_concurrency());
  ::cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    count = std::max(1, CPU_COUNT(&set));
  }
  try {
    if (const std::uint32_t quota = cgroup_quota_cpus(); quota != 0) count = std::min(count, quota);
  } catch (...) {  // an unreadable cgroup file leaves the affinity count
  }
  return count;
}

}  // namespace harrier
