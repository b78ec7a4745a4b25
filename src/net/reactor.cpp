#include "net/reactor.hpp"

#include "net/io_context_impl.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/diagnostics/trace_names.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>

#include "core/logger.hpp"

namespace harrier::net::detail {
namespace {

thread_local reactor* t_current = nullptr;

// How long the exiting I/O thread waits for the kernel to hand back cancelled requests.
constexpr std::int64_t k_exit_grace_ns = 2'000'000'000;
// While exiting, the thread polls at this period to notice that the last request came back.
constexpr std::int64_t k_exit_poll_ns = 1'000'000;
// While every worker of the dispatch pool is busy, the thread harvests at least this often
// (otherwise when a worker runs out of work). It bounds how long a timer, an accept or a queued
// submission can wait behind busy workers; what it harvests would wait in the pool's queue
// anyway. 1 ms: well under the starvation gate's reaction (20-30 ms); not tuned further.
constexpr std::int64_t k_saturated_poll_ns = 1'000'000;

enum : std::uint8_t {
  k_phase_registering = 0,
  k_phase_submitted = 1,
  k_phase_cancelled_early = 2,
  k_phase_cancel_queued = 3
};

void on_cancel(void* context) noexcept {
  auto* op = static_cast<io_operation*>(context);
  std::uint8_t expected = k_phase_registering;
  // ordering: acq_rel; the awaiter's CAS on the same variable decides who saw whom.
  if (op->cancel_phase.compare_exchange_strong(expected, k_phase_cancelled_early,
                                               std::memory_order_acq_rel)) {
    return;  // the awaiter has not submitted; it completes the operation itself
  }
  // ordering: release; the I/O thread reads it after destroying the registration, which waits
  // for this callback to return, so the cancel node is pushed by then.
  op->cancel_phase.store(k_phase_cancel_queued, std::memory_order_release);
  op->owner->request_cancel(op);
}

}  // namespace

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void io_operation::attach_cancellation(cancellation_token&& t) noexcept {
  if (socket != nullptr) owner = socket->owner;
  if (owner == nullptr) return;  // a closed stream: the operation completes at once anyway
  // Registered in suspend_operation, and only if the operation has to wait.
  registration.emplace(cancellation_registration::deferred, std::move(t), &on_cancel, this);
}

bool suspend_operation(io_operation& op, std::coroutine_handle<> waiter) noexcept {
  op.waiter = waiter;
  if (op.socket != nullptr) op.owner = op.socket->owner;
  if (op.registration && op.registration->is_cancellation_requested()) {
    op.registration.reset();
    op.result = -ECANCELED;
    return false;
  }
  if (op.owner->try_complete_inline(op)) {
    // Not registered yet (deferred): nothing to undo but the token's reference.
    op.registration.reset();
    return false;
  }
  if (op.registration) {
    // Registers now; a cancellation requested meanwhile runs on_cancel here (phase 2).
    op.registration->arm();
    std::uint8_t expected = k_phase_registering;
    if (!op.cancel_phase.compare_exchange_strong(expected, k_phase_submitted,
                                                 std::memory_order_acq_rel)) {
      op.registration.reset();
      op.result = -ECANCELED;
      return false;
    }
  }
  if (!op.owner->try_park(op)) op.owner->submit(&op);
  return true;
}

reactor::reactor(io_context_impl& context, executor* dispatch) noexcept
    : m_context(context), m_dispatch(dispatch) {}

reactor::~reactor() = default;

reactor* reactor::current() noexcept {
  return t_current;
}

void reactor::submit(io_operation* op) noexcept {
  if (on_io_thread()) {
    start_or_refuse(op);
    return;
  }
  push_remote(static_cast<submit_link*>(op), queue_node::node_kind::submit);
}

void reactor::request_cancel(io_operation* op) noexcept {
  if (on_io_thread()) {
    consume_cancel(op);
    return;
  }
  push_remote(static_cast<cancel_link*>(op), queue_node::node_kind::cancel);
}

void reactor::request_close(socket_state* s) noexcept {
  if (on_io_thread()) {
    close_socket(s);
    return;
  }
  push_remote(static_cast<close_link*>(s), queue_node::node_kind::close);
}

void reactor::push_remote(queue_node* node, queue_node::node_kind kind) noexcept {
  // ordering: relaxed increment: it is sequenced before the push (a seq_cst RMW), and the
  // destroyer can only run after the pushed node was consumed.
  m_producers.fetch_add(1, std::memory_order_relaxed);
  m_incoming.push(node, kind);
  maybe_wake();
  // ordering: release pairs with wait_for_producers' acquire: our last touches of *this
  // happen before the destruction.
  m_producers.fetch_sub(1, std::memory_order_release);
}

void reactor::wait_for_producers() const noexcept {
  while (m_producers.load(std::memory_order_acquire) != 0)
    std::this_thread::yield();
}

void reactor::request_stop() noexcept {
  m_producers.fetch_add(1, std::memory_order_relaxed);
  // ordering: seq_cst, part of the sleep protocol (see the header).
  m_stop_requested.store(true, std::memory_order_seq_cst);
  maybe_wake();
  m_producers.fetch_sub(1, std::memory_order_release);
}

void reactor::request_exit() noexcept {
  m_exit_requested.store(true, std::memory_order_seq_cst);
  m_exit_requested.notify_all();  // a worker-driven reactor's I/O thread waits for it
  request_stop();
}

void reactor::maybe_wake() noexcept {
  // ordering: seq_cst; see the sleep protocol in the header.
  if (m_sleeping.load(std::memory_order_seq_cst) &&
      m_sleeping.exchange(false, std::memory_order_seq_cst)) {
    m_wakeups.fetch_add(1, std::memory_order_relaxed);
    interrupt_wait();
  }
}

socket_state* reactor::adopt(int fd, int family, bool listening) {
  auto* s = new socket_state(fd, this, family, listening);
  try {
    register_socket(s);
  } catch (...) {
    delete s;
    throw;
  }
  std::lock_guard lock(m_live_mutex);
  s->live_next = m_live;
  if (m_live != nullptr) m_live->live_prev = s;
  m_live = s;
  return s;
}

void reactor::finalize(socket_state* s) noexcept {
  ::close(s->fd);
  {
    std::lock_guard lock(m_live_mutex);
    if (s->live_prev != nullptr) {
      s->live_prev->live_next = s->live_next;
    } else {
      m_live = s->live_next;
    }
    if (s->live_next != nullptr) s->live_next->live_prev = s->live_prev;
  }
  delete s;
}

void reactor::close_leftovers() noexcept {
  std::lock_guard lock(m_live_mutex);
  while (m_live != nullptr) {
    socket_state* s = m_live;
    m_live = s->live_next;
    while (s->is_listener && !s->pending.empty()) {  // accepted ahead, never taken
      const int fd = s->pending.pop().result;
      if (fd >= 0) ::close(fd);
    }
    ::close(s->fd);
    delete s;
  }
}

io_stats reactor::stats() const noexcept {
  io_stats s;
  s.completions = m_completions.load(std::memory_order_relaxed);
  s.wait_calls = m_wait_calls.load(std::memory_order_relaxed);
  s.wakeups = m_wakeups.load(std::memory_order_relaxed);
  s.batched_waits = m_batched_waits.load(std::memory_order_relaxed);
  s.pending_operations = m_pending_published.load(std::memory_order_relaxed);
  return s;
}

void reactor::complete(io_operation* op, int result) noexcept {
  op->result = result;
  --m_open_ops;
  // ordering: relaxed; statistics read by scrapes, synchronising with nothing.
  m_pending_published.store(m_open_ops, std::memory_order_relaxed);
  bump(m_completions);
  // Waits for a cancellation callback running on another thread; none can start afterwards.
  if (op->registration) op->registration.reset();
  // ordering: acquire pairs with on_cancel's release store.
  if (op->cancel_phase.load(std::memory_order_acquire) == k_phase_cancel_queued &&
      !op->cancel_consumed) {
    op->completion_deferred = true;  // resumed when its cancel node is consumed
    return;
  }
  m_ready.push_back(op->waiter);
}

void reactor::complete_cancelled(io_operation* op) noexcept {
  if (op->deliver_received && !m_stop_handled && !op->socket->closing && deliver_received(op)) {
    return;
  }
  complete(op, -ECANCELED);
}

void reactor::adopt_parked(io_operation* op) noexcept {
  // Counted once: a receive served on a stale edge parks again (epoll), already counted.
  if (op->started) return;
  op->started = true;
  ++m_open_ops;
  m_pending_published.store(m_open_ops, std::memory_order_relaxed);
}

void reactor::start_or_refuse(io_operation* op) noexcept {
  op->started = true;
  ++m_open_ops;
  m_pending_published.store(m_open_ops, std::memory_order_relaxed);
  if (op->cancel_before_start || m_stop_handled || (op->socket != nullptr && op->socket->closing)) {
    complete_cancelled(op);
    return;
  }
  if (op->kind == op_kind::timer) {
    m_timers.push(op);
    return;
  }
  start_op(op);
}

void reactor::consume_cancel(io_operation* op) noexcept {
  op->cancel_consumed = true;
  if (op->completion_deferred) {
    m_ready.push_back(op->waiter);
  } else if (!op->started) {
    if (take_parked(op)) {
      adopt_parked(op);
      complete_cancelled(op);
    } else {
      op->cancel_before_start = true;  // its submit node is still behind in the queue
    }
  } else if (op->kind == op_kind::timer) {
    m_timers.remove(op);
    complete(op, -ECANCELED);
  } else {
    cancel_op(op);
  }
}

void reactor::drain_incoming() noexcept {
  std::uintptr_t tagged = m_incoming.take_all();
  while (tagged != 0) {
    queue_node* node = mpsc_queue::node_of(tagged);
    const std::uintptr_t next = node->next;
    switch (mpsc_queue::kind_of(tagged)) {
      case queue_node::node_kind::submit:
        start_or_refuse(static_cast<io_operation*>(static_cast<submit_link*>(node)));
        break;
      case queue_node::node_kind::cancel:
        consume_cancel(static_cast<io_operation*>(static_cast<cancel_link*>(node)));
        break;
      case queue_node::node_kind::close:
        close_socket(static_cast<socket_state*>(static_cast<close_link*>(node)));
        break;
    }
    tagged = next;
  }
}

void reactor::fire_timers() noexcept {
  if (m_timers.empty()) return;
  const std::int64_t now = now_ns();
  while (!m_timers.empty() && m_timers.top()->timer.deadline_ns <= now) {
    complete(m_timers.pop(), 0);
  }
}

std::int64_t reactor::next_timeout_ns() const noexcept {
  if (m_timers.empty()) return -1;
  const std::int64_t left = m_timers.top()->timer.deadline_ns - now_ns();
  return left > 0 ? left : 0;
}

void reactor::trace_batch(std::size_t completions, bool pooled) const noexcept {
  auto& recorder = diagnostics::default_trace_recorder();
  if (recorder.enabled()) [[unlikely]] {
    // One instant per harvested batch, on the harvesting thread's lane: how many it woke.
    recorder.instant(diagnostics::trace_names::k_io_batch, diagnostics::trace_names::k_category_io,
                     {{"completions", completions}, {"dispatch", pooled ? "pool" : "inline"}});
  }
}

void reactor::dispatch_ready() noexcept {
  if (m_ready.empty()) return;
  m_running.swap(m_ready);
  trace_batch(m_running.size(), m_dispatch != nullptr);
  if (m_dispatch != nullptr) {
    try {
      m_dispatch->post_batch(m_running);
    } catch (const std::logic_error&) {
      // The executor stopped before this io_context (an embedder's shutdown order) and took
      // none of the batch: run it here rather than lose it or end the process.
      for (std::coroutine_handle<> h : m_running)
        h.resume();
    }
  } else {
    // Inline: a resumed coroutine may start operations that complete at once; they land in
    // m_ready and run on the next turn of the loop, after the next poll. Each is an item for
    // the blocking detector (no-ops unless this thread registered: io_options::detector).
    for (std::coroutine_handle<> h : m_running) {
      diagnostics::blocking_detector::item_begin();
      h.resume();
      diagnostics::blocking_detector::item_end();
    }
  }
  m_running.clear();
}

void reactor::handle_stop() noexcept {
  m_stop_handled = true;
  while (!m_timers.empty())
    complete(m_timers.pop(), -ECANCELED);
  std::vector<socket_state*> open_sockets;
  {
    std::lock_guard lock(m_live_mutex);
    for (socket_state* s = m_live; s != nullptr; s = s->live_next)
      open_sockets.push_back(s);
  }
  for (socket_state* s : open_sockets)
    abort_socket(s);
}

std::int64_t reactor::announce_wait(std::int64_t timeout_ns,
                                    const std::atomic<std::uint32_t>* interrupt) noexcept {
  if (timeout_ns == 0) return 0;
  // ordering: seq_cst; see the sleep protocol in the header (and, for interrupt, the driver's
  // wake-up protocol in threadpool/worker.cpp).
  m_sleeping.store(true, std::memory_order_seq_cst);
  if (!m_incoming.empty() ||
      (!m_stop_handled && m_stop_requested.load(std::memory_order_seq_cst)) ||
      (interrupt != nullptr && interrupt->load(std::memory_order_seq_cst) != 0)) {
    return 0;
  }
  return timeout_ns;
}

void reactor::drive(std::chrono::nanoseconds timeout, const std::atomic<std::uint32_t>* interrupt,
                    std::vector<std::coroutine_handle<>>& ready) noexcept {
  reactor* const previous = t_current;
  t_current = this;
  drain_incoming();
  if (!m_stop_handled && m_stop_requested.load(std::memory_order_seq_cst)) handle_stop();
  fire_timers();
  std::int64_t wait = 0;
  if (m_ready.empty() && !m_exit_requested.load(std::memory_order_relaxed)) {
    wait = timeout.count();
    const std::int64_t timer = next_timeout_ns();
    if (timer >= 0 && (wait < 0 || timer < wait)) wait = timer;
  }
  poll(announce_wait(wait, interrupt));
  m_sleeping.store(false, std::memory_order_relaxed);
  if (!m_incoming.empty()) drain_incoming();
  fire_timers();
  if (!m_ready.empty()) {
    trace_batch(m_ready.size(), true);
    ready.insert(ready.end(), m_ready.begin(), m_ready.end());
    m_ready.clear();
  }
  t_current = previous;
}

void reactor::attach_to_dispatch() {
  const io_options& options = m_context.options();
  m_worker_driven = options.workers_drive_io && options.io_threads == 1 && m_dispatch != nullptr &&
                    drivable_from_any_thread() && m_dispatch->attach_driver(*this);
}

void reactor::run() noexcept {
  t_current = this;
  if (m_worker_driven) {
    // The pool's workers run drive() until exit is requested.
    // ordering: seq_cst pairs with request_exit's store.
    m_exit_requested.wait(false, std::memory_order_seq_cst);
    m_dispatch->detach_driver(*this);
  }
  std::int64_t exit_deadline = 0;
  while (true) {
    drain_incoming();
    if (!m_stop_handled && m_stop_requested.load(std::memory_order_seq_cst)) handle_stop();
    fire_timers();
    dispatch_ready();
    std::int64_t timeout = m_ready.empty() ? next_timeout_ns() : 0;
    if (m_exit_requested.load(std::memory_order_seq_cst)) {
      if (m_open_ops == 0 && m_ready.empty() && m_incoming.empty()) break;
      const std::int64_t now = now_ns();
      if (exit_deadline == 0) exit_deadline = now + k_exit_grace_ns;
      if (now > exit_deadline) {
        harrier::detail::harrier_logger()->error(
            "net: I/O thread exiting with {} operations still pending in the kernel", m_open_ops);
        break;
      }
      if (timeout < 0 || timeout > k_exit_poll_ns) timeout = k_exit_poll_ns;
    }
    if (timeout != 0 && m_dispatch != nullptr && !m_stop_handled && harvests_on_idle() &&
        m_dispatch->saturated()) {
      // Every worker is busy: what arrives now would only queue. Waiting in the kernel instead
      // would wake this thread on every arrival, and on a CPU it shares with a worker each
      // wake-up preempts that worker. Harvest when a worker parks, in one batch. Measured (epoll,
      // one pinned CPU, one worker, wrk -c64 /plaintext): 0.30 -> 0.054 context switches and
      // 8.4 -> 6.5 us of CPU per request.
      const std::int64_t bound =
          timeout < 0 || timeout > k_saturated_poll_ns ? k_saturated_poll_ns : timeout;
      m_dispatch->wait_for_idle_thread(std::chrono::nanoseconds(bound));
      timeout = 0;
    }
    poll(announce_wait(timeout, nullptr));
    m_sleeping.store(false, std::memory_order_relaxed);
  }
  t_current = nullptr;
}

}  // namespace harrier::net::detail
