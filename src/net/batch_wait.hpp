#pragma once
// batch_wait: how long an io_uring I/O thread lets completions gather before it wakes (internal).
//
// Why: every wake-up of the I/O thread costs a turn of its loop, and with a dispatch pool a
// hand-off to a worker (a futex wake, and a context switch on each side when the threads sit on
// different CPUs). Under load the thread woke for 1.5 completions on average, one batch every
// 16 us, while both workers sat parked 70 % of the time (unpinned, 2 CPUs shared with wrk -c128).
// Linux 6.12's min_wait (IORING_FEAT_MIN_TIMEOUT) lets io_uring_enter wait up to a minimum for a
// number of completions and then return as soon as there is one; waiting like that is worth it
// only when more completions are about to arrive, and it delays the first one by up to the wait.
//
// The rule, from two measurements this class keeps (all times from the harvests' clock):
// - cycle: the time between two arrivals of data on the same connection (an EWMA, 1/8, of the
//   samples, each capped at k_sample_cap_ns so that an idle keep-alive connection that speaks
//   again does not count as a slow one). For a client that waits for each response, it is the
//   time one exchange takes; a wait adds to it, so the wait is held to cycle / 16 (~6 % of an
//   exchange at most), and to the configured maximum. A window of k_window_ns without a
//   sample (idle, or only new connections' first requests) forgets it: it is rebuilt from zero
//   when samples come back, so an estimate from an earlier load does not outlive it.
// - gap: the mean time between arrivals over all connections, over windows of k_window_ns.
//   A wait of w gathers about w / gap more arrivals; the thread waits only when that is at least
//   k_min_gathered. (For N connections in a closed loop gap = cycle / N: waiting starts at about
//   32 busy connections, whatever their speed.)
// Waits shorter than k_floor_ns are not worth the kernel's timer and are not asked for.
// Measured (bench/RESULTS.md, session 23; unpinned, wrk -t2, 2 CPUs; requests/s against the same
// server without it, cap 50 us): 8 connections even, 16 +9 %, 32 +20 %, 64 +58 %, 128 +17-50 %
// with the pool. Pinned to one CPU (the bench's targets) it gained nothing (the threads take
// turns there anyway) and cost p99 +4 %: the reactor does not use it when its thread may run on
// one CPU only. The default cap, 25 us, did as well as 50 or better at 128 and 256 connections
// (+3 to +9 %, three alternating runs).
//
// The kernel's side (io_uring/wait.c): the wait for wait_nr completions lasts at most min_wait;
// when it expires with nothing posted since the wait began and a general timeout is set, the
// thread sleeps on until the first completion or that timeout, so an idle thread is not woken
// by the minimum. Without a general timeout it would return at the minimum: the caller always
// passes one.
//
// One per I/O thread, used by that thread only.

#include <algorithm>
#include <cstdint>

namespace harrier::net::detail {

class batch_wait {
 public:
  static constexpr std::int64_t k_window_ns = 1'000'000;
  static constexpr std::int64_t k_sample_cap_ns = 2'000'000;
  static constexpr std::int64_t k_floor_ns = 5'000;
  static constexpr int k_cycle_share_shift = 4;  // wait <= cycle / 16
  static constexpr std::int64_t k_min_gathered = 2;

  // max_wait_ns <= 0: never wait.
  explicit batch_wait(std::int64_t max_wait_ns) noexcept : m_max_wait_ns(max_wait_ns) {}

  bool enabled() const noexcept { return m_max_wait_ns > 0; }

  // At the start of each harvest, with the clock that stamps its arrivals.
  void begin_harvest(std::int64_t now_ns) noexcept {
    m_now_ns = now_ns;
    if (now_ns - m_window_start_ns >= k_window_ns) {
      m_gap_ns =
          m_window_arrivals == 0 ? k_no_arrivals : (now_ns - m_window_start_ns) / m_window_arrivals;
      if (m_window_samples == 0) m_cycle_ns = 0;
      m_window_start_ns = now_ns;
      m_window_arrivals = 0;
      m_window_samples = 0;
    }
  }

  // Data arrived on a connection during this harvest; last_arrival_ns is the connection's
  // previous arrival (0: none yet), and is updated.
  void on_arrival(std::int64_t& last_arrival_ns) noexcept {
    ++m_window_arrivals;
    if (last_arrival_ns != 0) {
      ++m_window_samples;
      const std::int64_t sample = std::min(m_now_ns - last_arrival_ns, k_sample_cap_ns);
      m_cycle_ns += (sample - m_cycle_ns) / 8;
    }
    last_arrival_ns = m_now_ns;
  }

  // How long the next wait may hold on for more completions (0: return at the first).
  std::int64_t wait_ns() const noexcept {
    const std::int64_t wait = std::min(m_cycle_ns >> k_cycle_share_shift, m_max_wait_ns);
    if (wait < k_floor_ns || wait < k_min_gathered * m_gap_ns) return 0;
    return wait;
  }

  std::int64_t cycle_ns() const noexcept { return m_cycle_ns; }
  std::int64_t gap_ns() const noexcept { return m_gap_ns; }

 private:
  static constexpr std::int64_t k_no_arrivals = INT64_MAX / 4;

  std::int64_t m_max_wait_ns;
  std::int64_t m_now_ns = 0;
  std::int64_t m_cycle_ns = 0;
  std::int64_t m_window_start_ns = 0;
  std::int64_t m_window_arrivals = 0;
  std::int64_t m_window_samples = 0;
  std::int64_t m_gap_ns = k_no_arrivals;
};

}  // namespace harrier::net::detail
