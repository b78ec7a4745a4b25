// connection_core's timeouts: the deadline word, the check, and the watchdog coroutine.
//
// The word m_deadline holds one of:
//   0                       no deadline (a handler is running, or we are writing);
//   (phase << 3) | kind > 0 a deadline of that kind, armed in that phase;
//   -kind < 0               that deadline fired; the pending receive was (or will be) cancelled.
// The connection arms a deadline before each receive and disarms it after; a new phase number
// starts the clock again (a new keep-alive wait, a new request head, a new body), the same number
// keeps it running (the next read of the same head). check_timeouts, called by the server's
// heartbeat or the connection's own watchdog, perhaps on another thread, notes when it first saw a
// phase armed, and once the phase's timeout has passed swaps the word to
// "fired" with a compare-exchange: a deadline disarmed a moment before cannot fire, and the
// connection learns from disarm() whether its receive ended because of a timeout. A fired word
// stays fired: the connection is closing.
//
// Precision: a newly armed phase is seen at the next check, so a timeout fires between its
// configured value and that plus timeout_check_interval (1 s by default, the granularity of
// Kestrel's heartbeat). Unlike Kestrel, the body rate clock keeps running while the handler is
// between two reads of the body; with the default 240 B/s that only matters to a handler that
// takes longer over a chunk than the client took to send it. In exchange the request path reads no
// clock and arms no timer: two atomic operations per receive.

#include "http/connection_core.hpp"

#include <algorithm>

namespace harrier::http::detail {

namespace {
constexpr int k_kind_bits = 3;
constexpr std::int64_t k_kind_mask = (std::int64_t{1} << k_kind_bits) - 1;
// How long a rejected connection reads and drops input before closing (see close_connection).
constexpr std::chrono::seconds k_linger_timeout{2};
// How long a new connection waits for its first request once shutdown has begun (run).
constexpr std::chrono::seconds k_first_request_grace{1};
// The watchdogs' regular wake-ups fall on multiples of this (see watchdog()).
constexpr std::chrono::nanoseconds k_watchdog_grain = std::chrono::milliseconds(50);
}  // namespace

void connection_core::arm_deadline(deadline_kind kind, bool new_phase) noexcept {
  if (new_phase) ++m_phase;
  const std::int64_t word = (m_phase << k_kind_bits) | static_cast<std::int64_t>(kind);
  // ordering: seq_cst, so that begin_shutdown (store flag, load word) and run() (store word,
  // load flag) cannot both miss each other.
  std::int64_t current = m_deadline.load(std::memory_order_seq_cst);
  while (current >= 0 &&
         !m_deadline.compare_exchange_weak(current, word, std::memory_order_seq_cst)) {
  }
}

deadline_kind connection_core::disarm_deadline() noexcept {
  std::int64_t current = m_deadline.load(std::memory_order_seq_cst);
  while (current > 0 && !m_deadline.compare_exchange_weak(current, 0, std::memory_order_seq_cst)) {
  }
  return current < 0 ? static_cast<deadline_kind>(-current) : deadline_kind::none;
}

std::chrono::nanoseconds connection_core::check_timeouts(transport_clock::time_point now) noexcept {
  return std::min(check_deadline(now), check_send_rate(now));
}

// A send pending for longer than the larger of the grace period and its size at the minimum
// response rate aborts the connection, as Kestrel's MinResponseDataRate does (timed, as the
// deadlines are, from the first check that sees the send). Without it a client that stops
// reading holds its connection, the handler and the unsent response for as long as it likes;
// nginx's send_timeout (60 s) is the same defence. A send that completes just as the check
// decides is aborted all the same: it took its whole allowance.
std::chrono::nanoseconds connection_core::check_send_rate(
    transport_clock::time_point now) noexcept {
  const server_limits& limits = m_options.limits;
  if (limits.min_response_bytes_per_second <= 0) return std::chrono::nanoseconds::max();
  // ordering: acquire pairs with send_begins' release: the size is this send's.
  const std::uint64_t seq = m_send_seq.load(std::memory_order_acquire);
  if ((seq & 1) == 0) return std::chrono::nanoseconds::max();  // no send pending
  if (seq != m_send_seen_seq) {
    m_send_seen_seq = seq;
    m_send_seen_since = now;
  }
  const double bytes = static_cast<double>(m_send_bytes.load(std::memory_order_relaxed));
  const auto allowed = std::max(limits.min_response_rate_grace,
                                std::chrono::nanoseconds(static_cast<std::int64_t>(
                                    bytes / limits.min_response_bytes_per_second * 1e9)));
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - m_send_seen_since);
  if (elapsed < allowed) return allowed - elapsed;
  // ordering: relaxed; the flag is read after the aborted send completes, which the
  // cancellation orders.
  if (!m_send_too_slow.exchange(true, std::memory_order_relaxed)) {
    // Not abort(): that cancels request::aborted(), whose callbacks are the application's, and
    // the server's heartbeat calls this holding its connection list's lock. The send fails
    // instead, and the connection cancels request::aborted() itself (send_failed).
    m_abort.request_cancellation();
    abort_transport();
  }
  return std::chrono::nanoseconds::max();
}

std::chrono::nanoseconds connection_core::check_deadline(transport_clock::time_point now) noexcept {
  const server_limits& limits = m_options.limits;
  for (;;) {
    std::int64_t word = m_deadline.load(std::memory_order_seq_cst);
    if (word <= 0) return std::chrono::nanoseconds::max();
    // A disarmed word (0) between two reads of the same phase does not reset m_seen_since: phase
    // numbers are never reused, so seeing the same word again means the same head or body, and a
    // client that trickles bytes does not extend its deadline.
    if (word != m_seen_word) {
      m_seen_word = word;
      m_seen_since = now;
    }
    std::chrono::nanoseconds timeout{};
    switch (static_cast<deadline_kind>(word & k_kind_mask)) {
      case deadline_kind::keep_alive:
        timeout = limits.keep_alive_timeout;
        break;
      case deadline_kind::first_request:
        timeout = limits.keep_alive_timeout;
        // ordering: seq_cst, as everywhere with the flag; a late view only delays the grace by
        // one check.
        if (m_shutting_down.load(std::memory_order_seq_cst)) {
          timeout = std::min<std::chrono::nanoseconds>(timeout, k_first_request_grace);
        }
        break;
      case deadline_kind::headers:
        timeout = limits.request_headers_timeout;
        break;
      case deadline_kind::body_rate: {
        // ordering: relaxed; an approximate count only moves the deadline slightly.
        const double received =
            static_cast<double>(m_body_received_for_watchdog.load(std::memory_order_relaxed));
        const auto earned = std::chrono::nanoseconds(
            static_cast<std::int64_t>(received / limits.min_request_body_bytes_per_second * 1e9));
        timeout = std::max(limits.min_request_body_rate_grace, earned);
        break;
      }
      default:
        timeout = k_linger_timeout;
        break;
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(now - m_seen_since);
    if (elapsed < timeout) return timeout - elapsed;
    const std::int64_t fired = -(word & k_kind_mask);
    if (m_deadline.compare_exchange_strong(word, fired, std::memory_order_seq_cst)) {
      const auto kind = static_cast<deadline_kind>(word & k_kind_mask);
      (is_idle_deadline(kind) ? m_idle_cancel : m_recv_cancel).request_cancellation();
      return std::chrono::nanoseconds::max();
    }
    // The connection moved on (disarmed, or a new phase) since the load: look again.
  }
}

task<void> connection_core::watchdog() {
  const std::chrono::nanoseconds interval = m_options.limits.timeout_check_interval;
  // ordering: acquire pairs with run()'s release store at the end of the connection.
  while (!m_watchdog->stop.load(std::memory_order_acquire)) {
    const transport_clock::time_point now = m_transport.now();
    const std::chrono::nanoseconds remaining = check_timeouts(now);
    // The regular wake-up is rounded down to a multiple of k_watchdog_grain on the transport's
    // clock, so that the connections' checks share wake-ups of the I/O thread: at most 20 a
    // second, however many connections there are. With "now + interval" each connection woke
    // it on its own: 5,000 idle connections cost 22-24 % of a CPU on io_uring (which waits with
    // nanosecond precision), 2.2-2.6 % on epoll (millisecond waits batch a little). One instant
    // for all measured 1.0-1.5 %, but runs every connection's check in one burst (5,000 x
    // ~2 us) ahead of the requests queued behind it; this 50 ms grain (bursts of a twentieth)
    // 1.6-1.9 %, a 10 ms one 1.5-2.7 %. The wait stays at most one interval, so timeouts keep
    // their precision. (The server does not use this: its heartbeat checks every connection.)
    std::chrono::nanoseconds wait = interval;
    if (interval > k_watchdog_grain) {
      const auto target =
          std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()) + interval;
      wait = interval - target % k_watchdog_grain;
    }
    wait = std::min(wait, remaining);
    (void)co_await m_transport.sleep_for(wait, m_watchdog->cancel.token());
  }
  m_watchdog->done.set();
}

}  // namespace harrier::http::detail
