// hill_climbing: see the design comment in include/harrier/threadpool/hill_climbing.hpp.
//
// The arithmetic follows .NET's PortableThreadPool.HillClimbing.Update step by step (read for the
// algorithm, not copied); the comments mark where we depart from it.

#include <harrier/threadpool/hill_climbing.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace harrier {

hill_climbing::hill_climbing(hill_climbing_options options)
    : m_options(options),
      m_samples_to_measure(options.wave_period * options.history_waves),
      m_throughputs(m_samples_to_measure, 0.0),
      m_thread_counts(m_samples_to_measure, 0.0),
      m_control_setting(options.min_threads),
      m_last_goal(options.min_threads),
      m_slow_start(options.slow_start),
      m_current_interval(options.sample_interval_low),
      m_random_state(options.random_seed | 1) {
  if (options.wave_period < 2 || options.history_waves < 2) {
    throw std::invalid_argument("hill_climbing: wave_period and history_waves must be >= 2");
  }
  if (options.min_threads == 0 || options.max_threads < options.min_threads) {
    throw std::invalid_argument("hill_climbing: need 0 < min_threads <= max_threads");
  }
  m_current_interval = std::chrono::milliseconds(
      next_random(static_cast<std::uint32_t>(options.sample_interval_low.count()),
                  static_cast<std::uint32_t>(options.sample_interval_high.count())));
}

std::uint32_t hill_climbing::next_random(std::uint32_t low, std::uint32_t high) noexcept {
  // xorshift64*: deterministic for a given seed, which is all the tests need.
  m_random_state ^= m_random_state >> 12;
  m_random_state ^= m_random_state << 25;
  m_random_state ^= m_random_state >> 27;
  const std::uint64_t r = m_random_state * 0x2545F4914F6CDD1DULL;
  return low + static_cast<std::uint32_t>((r >> 33) % (high - low + 1));
}

void hill_climbing::force_change(std::uint32_t new_goal) noexcept {
  m_last_goal = new_goal;
  m_control_setting = std::clamp<double>(new_goal, m_options.min_threads, m_options.max_threads);
}

// Goertzel: the component of `series` (the last `count` samples) at frequency 1/period.
hill_climbing::wave hill_climbing::wave_component(const std::vector<double>& series,
                                                  std::uint32_t count,
                                                  double period) const noexcept {
  const double w = 2.0 * std::numbers::pi / period;
  const double cosine = std::cos(w);
  const double coefficient = 2.0 * cosine;
  double q1 = 0;
  double q2 = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint64_t index = (m_total_samples - count + i) % m_samples_to_measure;
    const double q0 = coefficient * q1 - q2 + series[index];
    q2 = q1;
    q1 = q0;
  }
  return wave{(q1 - q2 * cosine) / count, (q2 * std::sin(w)) / count};
}

void hill_climbing::record(double throughput, std::uint32_t goal) noexcept {
  const std::uint64_t index = m_total_samples % m_samples_to_measure;
  m_throughputs[index] = throughput;
  m_thread_counts[index] = goal;
  ++m_total_samples;
  ++m_history_start;
}

hill_climbing_decision hill_climbing::update(const hill_climbing_sample& sample) {
  const hill_climbing_options& o = m_options;
  const std::uint32_t current = sample.current_goal;
  if (current != m_last_goal) force_change(current);  // changed from outside: follow it

  double seconds = sample.elapsed_seconds + m_accumulated_seconds;
  double completions = sample.completions + m_accumulated_completions;

  hill_climbing_decision decision;
  decision.new_goal = current;
  decision.reason = adjustment_reason::warmup;

  // Too few completions for the sample to say anything: fold it into the next one (.NET).
  if (m_total_samples > 0 &&
      (completions <= 0 || (current - 1.0) / completions >= o.max_sample_error)) {
    m_accumulated_seconds = seconds;
    m_accumulated_completions = completions;
    decision.throughput = seconds > 0 ? completions / seconds : 0;
    decision.next_sample_interval = o.sample_interval_low;
    return decision;
  }
  m_accumulated_seconds = 0;
  m_accumulated_completions = 0;
  const double throughput = seconds > 0 ? completions / seconds : 0;
  decision.throughput = throughput;
  record(throughput, current);

  adjustment_reason state = adjustment_reason::warmup;
  double ratio = 0;
  double confidence = 0;
  const std::uint32_t available = static_cast<std::uint32_t>(
      std::min<std::uint64_t>({m_total_samples - 1, m_samples_to_measure, m_history_start}));
  const std::uint32_t sample_count = available / o.wave_period * o.wave_period;

  // Slow start (ours): see the header.
  if (m_slow_start && o.slow_start) {
    if (m_verify_jump) {
      m_verify_jump = false;
      const double promised = static_cast<double>(current) / m_jump_from_goal - 1.0;
      const double gained =
          m_jump_from_throughput > 0 ? throughput / m_jump_from_throughput - 1.0 : 0;
      if (gained < 0.5 * promised) {
        // The jump did not pay: settle halfway back, as a binary search would, and hand over
        // to the wave. Rounded down, toward the goal that did as well: rounded up, a jump from
        // 1 to 2 that gained nothing never went back (one pinned CPU then ran two workers).
        m_slow_start = false;
        const long halfway = (static_cast<long>(m_jump_from_goal) + static_cast<long>(current)) / 2;
        m_control_setting = static_cast<double>(halfway);
        m_history_start = 0;
        m_average_noise = 0;
        m_last_goal = static_cast<std::uint32_t>(halfway);
        decision.new_goal = static_cast<std::uint32_t>(halfway);
        decision.reason = adjustment_reason::climbing_move;
        decision.next_sample_interval = o.sample_interval_low * 5;
        return decision;
      }
    }
    if (m_slow_start && (!sample.work_waiting || sample.cpu_utilization < 0 ||
                         sample.cpu_utilization >= o.slow_start_target_utilization)) {
      if (sample.work_waiting && sample.cpu_utilization >= 0) m_slow_start = false;  // CPU is full
    } else if (m_slow_start) {
      const double factor =
          std::min(2.0, o.slow_start_target_utilization / std::max(sample.cpu_utilization, 0.01));
      const long target = std::clamp<long>(static_cast<long>(std::ceil(current * factor)),
                                           current + 1, o.max_threads);
      if (target > static_cast<long>(current)) {
        m_verify_jump = true;
        m_jump_from_goal = current;
        m_jump_from_throughput = throughput;
        m_control_setting = static_cast<double>(target);
        m_history_start = 0;  // the analysis restarts at the new level...
        m_average_noise = 0;  // ...and so does the noise, which the ramp itself inflated
        m_last_goal = static_cast<std::uint32_t>(target);
        decision.new_goal = static_cast<std::uint32_t>(target);
        decision.reason = adjustment_reason::climbing_move;
        decision.next_sample_interval = o.sample_interval_low * 5;  // let the threads start
        return decision;
      }
      m_slow_start = false;  // at the maximum
    }
  }

  if (sample_count > o.wave_period) {
    // Change point (ours): the latest wave against older samples taken at the same goal.
    double recent = 0;
    double older = 0;
    for (std::uint32_t i = sample_count - o.wave_period; i < sample_count; ++i) {
      const std::uint64_t index = (m_total_samples - sample_count + i) % m_samples_to_measure;
      double sum = 0;
      int matches = 0;
      for (std::uint32_t j = 0; j < sample_count - o.wave_period; ++j) {
        const std::uint64_t other = (m_total_samples - sample_count + j) % m_samples_to_measure;
        if (m_thread_counts[other] == m_thread_counts[index]) {
          sum += m_throughputs[other];
          ++matches;
        }
      }
      if (matches > 0) {
        recent += m_throughputs[index];
        older += sum / matches;
      }
    }
    if (older > 0 && std::abs(recent - older) > o.change_point_ratio * older) {
      m_history_start = o.wave_period;  // keep only the latest wave
      m_average_noise = 0;
      m_slow_start = true;
      decision.reason = adjustment_reason::change_point;
      decision.next_sample_interval = m_current_interval;
      return decision;
    }

    double throughput_sum = 0;
    double thread_sum = 0;
    for (std::uint32_t i = 0; i < sample_count; ++i) {
      const std::uint64_t index = (m_total_samples - sample_count + i) % m_samples_to_measure;
      throughput_sum += m_throughputs[index];
      thread_sum += m_thread_counts[index];
    }
    const double average_throughput = throughput_sum / sample_count;
    const double average_threads = thread_sum / sample_count;
    if (average_throughput > 0 && average_threads > 0) {
      const double waves = static_cast<double>(sample_count) / o.wave_period;
      const double adjacent1 = sample_count / (waves + 1);
      const double adjacent2 = sample_count / (waves - 1);
      wave tput = wave_component(m_throughputs, sample_count, o.wave_period);
      tput.re /= average_throughput;
      tput.im /= average_throughput;
      const wave e1 = wave_component(m_throughputs, sample_count, adjacent1);
      double error = std::hypot(e1.re, e1.im) / average_throughput;
      if (adjacent2 <= sample_count) {
        const wave e2 = wave_component(m_throughputs, sample_count, adjacent2);
        error = std::max(error, std::hypot(e2.re, e2.im) / average_throughput);
      }
      wave threads = wave_component(m_thread_counts, sample_count, o.wave_period);
      threads.re /= average_threads;
      threads.im /= average_threads;
      m_average_noise = m_average_noise == 0
                            ? error
                            : o.error_smoothing * error + (1 - o.error_smoothing) * m_average_noise;
      const double threads_magnitude = std::hypot(threads.re, threads.im);
      if (threads_magnitude > 0) {
        // ratio = (tput - bias * threads) / threads, complex; we need its real part.
        const double num_re = tput.re - o.bias * threads.re;
        const double num_im = tput.im - o.bias * threads.im;
        ratio =
            (num_re * threads.re + num_im * threads.im) / (threads_magnitude * threads_magnitude);
      }
      const double noise = std::max(m_average_noise, error);
      confidence = noise > 0 ? (threads_magnitude / noise) / o.target_signal_to_noise : 1.0;
      state = adjustment_reason::climbing_move;
    }
  }

  double move = std::clamp(ratio, -1.0, 1.0) * std::clamp(confidence, 0.0, 1.0);
  const double gain = o.max_change_per_second * seconds;
  move = std::pow(std::abs(move), o.gain_exponent) * (move >= 0 ? 1.0 : -1.0) * gain;
  move = std::min(move, o.max_change_per_sample);
  // .NET: a positive move is refused while the CPU is above 95 % busy (more threads cannot
  // run any faster).
  if (sample.cpu_utilization > o.cpu_utilization_high) move = std::min(move, 0.0);
  if (!sample.work_waiting) move = std::min(move, 0.0);  // ours: no growth without work

  const double previous_control = m_control_setting;
  m_control_setting += move;
  int magnitude =
      static_cast<int>(0.5 + m_control_setting * m_average_noise * o.target_signal_to_noise *
                                 o.wave_magnitude_multiplier * 2.0);
  magnitude = std::clamp(magnitude, 1, static_cast<int>(o.max_wave_magnitude));
  m_control_setting =
      std::min<double>(m_control_setting, static_cast<double>(o.max_threads) - magnitude);
  m_control_setting = std::max<double>(m_control_setting, o.min_threads);

  // Ours: the wave rests while the CPU is above 95 % busy. It probes whether more threads raise
  // throughput, and .NET's own rule above says they cannot then; probing anyway runs surplus
  // threads that only take turns on the busy CPUs (one pinned CPU: ~14 % more CPU per request,
  // bench/http). Once work blocks, utilisation drops and the wave resumes.
  const bool cpu_full = sample.cpu_utilization > o.cpu_utilization_high;
  const std::uint64_t phase = cpu_full ? 0 : (m_total_samples / (o.wave_period / 2)) % 2;
  long goal = static_cast<long>(m_control_setting + static_cast<double>(magnitude) * phase);
  goal = std::clamp<long>(goal, o.min_threads, o.max_threads);
  if (!sample.work_waiting) goal = std::min<long>(goal, current);  // ours

  if (state != adjustment_reason::warmup) {
    state = static_cast<long>(previous_control) != static_cast<long>(m_control_setting)
                ? adjustment_reason::climbing_move
                : adjustment_reason::stabilizing;
  }
  decision.new_goal = static_cast<std::uint32_t>(goal);
  decision.reason = state;
  if (decision.new_goal != current) {
    m_last_goal = decision.new_goal;
    m_current_interval = std::chrono::milliseconds(
        next_random(static_cast<std::uint32_t>(o.sample_interval_low.count()),
                    static_cast<std::uint32_t>(o.sample_interval_high.count())));
  }
  // At the minimum with a negative ratio, sample longer: nothing to gain from probing fast (.NET).
  decision.next_sample_interval = m_current_interval;
  if (ratio < 0 && decision.new_goal == o.min_threads) {
    decision.next_sample_interval = std::chrono::milliseconds(
        static_cast<long>(0.5 + m_current_interval.count() * 10.0 * std::min(-ratio, 1.0)));
  }
  return decision;
}

}  // namespace harrier
