// hill_climbing: deterministic tests on synthetic workload models. Each model maps a thread
// count to a throughput; the test feeds the controller samples of the interval it asks for and
// checks where the goal goes. No threads, no clock.

#include <harrier/threadpool/hill_climbing.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>

namespace {

using model = std::function<double(std::uint32_t threads)>;

// CPU-bound on `cores` cores: linear up to the core count, then context switching costs 3 % per
// extra thread.
model cpu_bound(std::uint32_t cores) {
  return [cores](std::uint32_t n) {
    const double useful = std::min<double>(n, cores);
    const double extra = n > cores ? n - cores : 0;
    return 10'000.0 * useful * std::max(0.1, 1.0 - 0.03 * extra);
  };
}

// Items that mostly wait (I/O-like): throughput grows linearly until a downstream limit at
// `peak` threads, then contention costs 3 % per extra thread.
model blocking_heavy(std::uint32_t peak) {
  return cpu_bound(peak);
}

struct run_result {
  std::uint32_t final_goal = 0;
  std::uint32_t max_goal = 0;
  double seconds = 0;
  std::vector<std::uint32_t> goals;
};

// CPU use of the machine for a model: each item costs `cpu_seconds` of one of `cores` cores.
using utilization_model = std::function<double(double throughput)>;

run_result simulate(harrier::hill_climbing& hc, const model& m, std::uint32_t start_goal,
                    double seconds, double noise = 0.0, std::uint64_t seed = 1,
                    bool work_waiting = true, const utilization_model& utilization = {}) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> jitter(-noise, noise);
  run_result r;
  std::uint32_t goal = start_goal;
  double elapsed_ms = 100;
  double t = 0;
  while (t < seconds) {
    const double dt = elapsed_ms / 1000.0;
    harrier::hill_climbing_sample s;
    s.current_goal = goal;
    s.elapsed_seconds = dt;
    s.completions = std::max(0.0, m(goal) * dt * (1.0 + jitter(rng)));
    s.work_waiting = work_waiting;
    if (utilization) s.cpu_utilization = utilization(s.completions / dt);
    const auto d = hc.update(s);
    goal = d.new_goal;
    elapsed_ms = static_cast<double>(d.next_sample_interval.count());
    t += dt;
    r.goals.push_back(goal);
    r.max_goal = std::max(r.max_goal, goal);
  }
  r.final_goal = goal;
  r.seconds = t;
  return r;
}

harrier::hill_climbing make(std::uint32_t min_threads = 1, std::uint32_t max_threads = 100) {
  harrier::hill_climbing_options o;
  o.min_threads = min_threads;
  o.max_threads = max_threads;
  return harrier::hill_climbing(o);
}

utilization_model items_costing(double cpu_seconds, double cores) {
  return [=](double throughput) { return std::min(1.0, throughput * cpu_seconds / cores); };
}

// The first sample index from which the goal stays within +-tolerance of `target`.
std::size_t settled_from(const run_result& r, double target, double tolerance) {
  std::size_t from = r.goals.size();
  for (std::size_t i = r.goals.size(); i-- > 0;) {
    if (std::abs(r.goals[i] - target) > tolerance) break;
    from = i;
  }
  return from;
}

// The goal over the last `seconds_tail` of goals as the average control setting.
double tail_average(const run_result& r, std::size_t samples) {
  samples = std::min(samples, r.goals.size());
  double sum = 0;
  for (std::size_t i = r.goals.size() - samples; i < r.goals.size(); ++i)
    sum += r.goals[i];
  return sum / samples;
}

}  // namespace

TEST_CASE("hill climbing settles at the core count for CPU-bound work") {
  auto hc = make();
  const auto r = simulate(hc, cpu_bound(8), 1, 60.0);
  INFO("control " << hc.control_setting() << " final goal " << r.final_goal);
  CHECK(hc.control_setting() >= 7.0);
  CHECK(hc.control_setting() <= 9.5);
  CHECK(tail_average(r, 40) <= 10.5);
}

TEST_CASE("hill climbing gets within two threads of a blocking-heavy workload's peak") {
  auto hc = make(2);
  const auto r = simulate(hc, blocking_heavy(24), 2, 60.0);
  INFO("control " << hc.control_setting() << " final goal " << r.final_goal);
  CHECK(std::abs(hc.control_setting() - 24.0) <= 2.0);
}

TEST_CASE("hill climbing follows a change point when the peak moves") {
  auto hc = make(2);
  const auto before = simulate(hc, blocking_heavy(24), 2, 60.0);
  const auto after = simulate(hc, blocking_heavy(8), before.final_goal, 60.0);
  INFO("control " << hc.control_setting());
  CHECK(std::abs(hc.control_setting() - 8.0) <= 2.0);
}

TEST_CASE("hill climbing stays near the peak with 10 % throughput noise") {
  auto hc = make(2);
  const auto r = simulate(hc, blocking_heavy(16), 2, 90.0, 0.10, 42);
  INFO("control " << hc.control_setting());
  CHECK(std::abs(hc.control_setting() - 16.0) <= 3.0);
}

TEST_CASE("hill climbing neither probes nor climbs while the CPU is above 95 % busy") {
  // One core, saturated: throughput cannot rise with threads, and the wave would only run
  // surplus threads that take turns on it.
  auto full = make(1);
  const auto saturated =
      simulate(full, cpu_bound(1), 1, 30.0, 0.05, 3, true, [](double) { return 0.99; });
  CHECK(saturated.max_goal == 1);
  // The same workload with CPU to spare (blocking work would look like this): the wave probes.
  auto spare = make(1);
  const auto probing =
      simulate(spare, cpu_bound(1), 1, 30.0, 0.05, 3, true, [](double) { return 0.5; });
  CHECK(probing.max_goal > 1);
}

TEST_CASE("hill climbing never grows the goal when no work is waiting") {
  auto hc = make(2);
  // Throughput would rise with threads, but workers ran out of work each sample.
  const auto r = simulate(hc, blocking_heavy(50), 4, 30.0, 0.05, 7, /*work_waiting=*/false);
  CHECK(r.max_goal <= 4);
}

TEST_CASE("hill climbing is deterministic for a given seed") {
  auto a = make(2);
  auto b = make(2);
  const auto ra = simulate(a, blocking_heavy(12), 2, 20.0, 0.05, 3);
  const auto rb = simulate(b, blocking_heavy(12), 2, 20.0, 0.05, 3);
  REQUIRE(ra.goals == rb.goals);
}

TEST_CASE("hill climbing folds samples with too few completions into the next") {
  auto hc = make(2);
  harrier::hill_climbing_sample s;
  s.current_goal = 10;
  s.elapsed_seconds = 0.1;
  s.completions = 100;
  hc.update(s);       // the first sample is always taken
  s.completions = 5;  // (10 - 1) / 5 errors: far above 15 %
  const auto d = hc.update(s);
  REQUIRE(d.new_goal == 10);
  REQUIRE(d.next_sample_interval == std::chrono::milliseconds(10));
}

TEST_CASE("slow start reaches a blocking-heavy peak within a second when CPU is to spare") {
  auto hc = make(2);
  // Items wait most of the time: 24 threads saturate a downstream limit; each item costs 5 us of
  // CPU on 8 cores, so even at the peak (240'000 items/s) the CPU is 15 % used: slow start must
  // stop on the throughput check, not on the CPU.
  const auto util = items_costing(0.000'005, 8);
  const auto r = simulate(hc, blocking_heavy(24), 2, 20.0, 0.0, 1, true, util);
  INFO("control " << hc.control_setting());
  CHECK(std::abs(hc.control_setting() - 24.0) <= 3.0);
  const std::size_t first_near = [&] {
    for (std::size_t i = 0; i < r.goals.size(); ++i) {
      if (r.goals[i] >= 16) return i;
    }
    return r.goals.size();
  }();
  CHECK(first_near <= 10);  // samples of 10-200 ms: well under a second or two
}

TEST_CASE("slow start stops at the CPU limit for CPU-bound work") {
  auto hc = make(2);
  // 8 cores; each item 100 us of CPU: throughput 10'000/s per core, CPU full at 8 threads.
  const auto r = simulate(hc, cpu_bound(8), 2, 30.0, 0.0, 1, true, items_costing(0.0001, 8));
  INFO("control " << hc.control_setting() << " max goal " << r.max_goal);
  CHECK(r.max_goal <= 16);  // one doubling past the knee at most, then back
  CHECK(std::abs(hc.control_setting() - 8.0) <= 2.0);
  CHECK(settled_from(r, hc.control_setting(), 2.0) < r.goals.size());
}

TEST_CASE("slow start goes back halfway when a jump does not pay") {
  auto hc = make(2);
  // A lock caps throughput at 4 threads' worth while the CPU stays idle.
  const auto r = simulate(hc, cpu_bound(4), 2, 30.0, 0.0, 1, true, items_costing(0.000'001, 8));
  INFO("control " << hc.control_setting() << " max goal " << r.max_goal);
  CHECK(r.max_goal <= 8);
  CHECK(std::abs(hc.control_setting() - 4.0) <= 2.0);
}

TEST_CASE("a slow-start jump from one thread that does not pay goes back to one") {
  // One core shared with another process: CPU looks spare, but a second thread gains nothing.
  auto hc = make(1);
  harrier::hill_climbing_sample s;
  s.elapsed_seconds = 0.1;
  s.completions = 1000;
  s.current_goal = 1;
  s.cpu_utilization = 0.5;
  const auto jump = hc.update(s);
  REQUIRE(jump.new_goal == 2);
  s.current_goal = 2;
  const auto back = hc.update(s);
  CHECK(back.new_goal == 1);
  CHECK(hc.control_setting() == 1.0);
}

TEST_CASE("slow start never grows the goal when no work is waiting") {
  auto hc = make(2);
  const auto r =
      simulate(hc, blocking_heavy(50), 4, 10.0, 0.0, 1, false, items_costing(0.000'001, 8));
  CHECK(r.max_goal <= 4);
}
