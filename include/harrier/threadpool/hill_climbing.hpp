#pragma once
// hill_climbing: the thread-count controller, modelled on .NET's HillClimbing, as a pure function
// of the samples it is fed.
//
// The pool's monitor thread calls update() once per sample interval with the number of work items
// completed, the seconds elapsed and the goal in force during the sample. The controller returns
// the new goal, the reason, and how long the next sample should last. There are no threads, no
// clock and no global state inside (its randomness is a seeded generator), so tests feed it
// synthetic workload models and check where the goal goes.
//
// The algorithm (as .NET's, constants from its defaults):
// - The goal follows a square wave around a "control setting": `wave_period` samples per period,
//   alternating control and control + magnitude. Throughput is measured per sample.
// - Over the last `history_waves` periods, the Goertzel algorithm extracts the component of the
//   throughput and of the thread count at the wave's frequency. Their ratio says how much
//   throughput one more thread buys; `bias` (.NET's TargetThroughputRatio) is subtracted, so a
//   thread must pay for itself. The components at the adjacent frequencies estimate the noise;
//   confidence = (thread component / noise) / target SNR.
// - move = clamp(ratio) * clamp(confidence), raised to `gain_exponent`, scaled by
//   max_change_per_second * sample seconds and capped by max_change_per_sample; the control
//   setting moves by it. The wave magnitude grows with the noise (more noise, bigger probe).
// - A sample with too few completions to be meaningful ((goal - 1) / completions above
//   max_sample_error) is accumulated into the next one instead.
//
// Departures from .NET, each for a complaint its users filed:
// - No growth without waiting work: when the sample says no work was waiting (workers went idle
//   with empty queues), the goal never rises, neither by the control setting nor by the wave.
//   .NET adds threads to an empty queue because throughput stops depending on threads there.
// - Change points: when the latest wave's mean throughput differs from the rest of the history by
//   more than `change_point_ratio`, the history restarts from that wave (reason change_point), so
//   the controller follows a shifted peak within a few waves rather than a whole history.
//   Only samples taken at the same goal are compared, so the wave itself is not a change.
// - The wave rests while the CPU is above `cpu_utilization_high` (95 %): .NET already refuses a
//   positive move then, because more threads cannot run faster, yet keeps probing with the wave,
//   which runs surplus threads that only take turns on the busy CPUs (one pinned CPU serving
//   HTTP: ~14 % more CPU per request). Blocking work lowers the utilisation and the wave resumes.
// - Slow start (for .NET's known 1-2 threads/s ramp under blocking): while work is waiting and
//   the sample says the machine's CPU is used below `slow_start_target_utilization`, the goal
//   jumps toward goal * target / utilization (at most doubling per sample), as TCP's slow start
//   doubles its window. Each jump must pay: if the next sample's throughput gained less than half
//   of what the thread increase promised, slow start ends (the limit is not threads: a lock, a
//   connection pool, a machine busy with other work), the goal goes back halfway between the
//   last two, and the wave takes over. It also
//   ends when CPU use reaches the target; a change point re-arms it. Without a utilisation in
//   the samples (negative), the controller is .NET's alone.

#include <harrier/threadpool/thread_pool_events.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

namespace harrier {

struct hill_climbing_options {
  std::uint32_t min_threads = 1;
  std::uint32_t max_threads = 512;
  std::uint32_t wave_period = 4;                        // samples per square wave (.NET: 4)
  std::uint32_t history_waves = 8;                      // waves of history analysed (.NET: 8)
  std::uint32_t max_wave_magnitude = 20;                // .NET: 20
  double wave_magnitude_multiplier = 1.0;               // .NET: 1
  double bias = 0.15;                                   // .NET's TargetThroughputRatio
  double target_signal_to_noise = 3.0;                  // .NET: 3.0
  double max_change_per_second = 4.0;                   // .NET: 4
  double max_change_per_sample = 20.0;                  // .NET: 20
  std::chrono::milliseconds sample_interval_low{10};    // .NET: 10 ms
  std::chrono::milliseconds sample_interval_high{200};  // .NET: 200 ms
  double gain_exponent = 2.0;                           // .NET: 2.0
  double error_smoothing = 0.01;                        // .NET's ThroughputErrorSmoothingFactor
  double max_sample_error = 0.15;                       // .NET: 15 %
  double cpu_utilization_high = 0.95;  // .NET's CpuUtilizationHigh: no upward move above it
  double change_point_ratio = 0.5;     // ours: 50 % level shift restarts the history
  bool slow_start = true;              // ours, see above
  double slow_start_target_utilization = 0.95;  // ours: close to full, measured on bench/
  std::uint64_t random_seed = 0x9e3779b97f4a7c15ULL;
};

struct hill_climbing_sample {
  double completions = 0;          // work items completed during the sample
  double elapsed_seconds = 0;      // length of the sample
  std::uint32_t current_goal = 0;  // goal in force during the sample
  bool work_waiting = true;        // false: workers ran out of work (no growth allowed)
  double cpu_utilization = -1;     // share of the machine's CPU used during the sample; <0: unknown
};

struct hill_climbing_decision {
  std::uint32_t new_goal = 0;
  adjustment_reason reason = adjustment_reason::warmup;
  double throughput = 0;  // completions per second of the (accumulated) sample
  std::chrono::milliseconds next_sample_interval{0};
};

class hill_climbing {
 public:
  explicit hill_climbing(hill_climbing_options options = {});

  hill_climbing_decision update(const hill_climbing_sample& sample);

  // The goal was changed from outside (starvation, blocking): continue from it.
  void force_change(std::uint32_t new_goal) noexcept;

  double control_setting() const noexcept { return m_control_setting; }
  const hill_climbing_options& options() const noexcept { return m_options; }

 private:
  struct wave {
    double re = 0;
    double im = 0;
  };
  wave wave_component(const std::vector<double>& series, std::uint32_t count,
                      double period) const noexcept;
  std::uint32_t next_random(std::uint32_t low, std::uint32_t high) noexcept;
  void record(double throughput, std::uint32_t goal) noexcept;

  hill_climbing_options m_options;
  std::uint32_t m_samples_to_measure;
  std::vector<double> m_throughputs;
  std::vector<double> m_thread_counts;
  std::uint64_t m_total_samples = 0;
  std::uint32_t m_history_start = 0;  // samples since the last change point (caps the analysis)
  double m_control_setting = 0;
  double m_average_noise = 0;
  double m_accumulated_seconds = 0;
  double m_accumulated_completions = 0;
  std::uint32_t m_last_goal = 0;
  bool m_slow_start = true;
  bool m_verify_jump = false;
  double m_jump_from_throughput = 0;
  std::uint32_t m_jump_from_goal = 0;
  std::chrono::milliseconds m_current_interval;
  std::uint64_t m_random_state;
};

}  // namespace harrier
