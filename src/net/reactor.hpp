#pragma once
// reactor: one I/O thread and the backend it drives (internal). The part every backend shares.
//
// Two topologies (the design brief's; measured in bench/RESULTS.md):
// - Worker-driven (Tokio's), with a dispatch executor that accepts a driver (thread_pool), a
//   backend that any thread may wait in (epoll), one I/O thread and io_options::workers_drive_io:
//   the reactor is the pool's io_driver. An idle worker runs drive(), one at a time under the
//   pool's lock (which also hands the I/O-thread-only state below from one holder to the next),
//   and runs what it harvested itself (threadpool/worker.cpp). A stop request is handled by the
//   next drive() (a worker waiting in it is woken). The I/O thread only waits for
//   request_exit(), then takes the driver back (detach_driver) and finishes as below. Why
//   io_uring does not qualify: io_uring_reactor.cpp. Measured (epoll, one pinned CPU, one
//   worker, wrk -c64 /plaintext): 7.7 -> 6.9 us of CPU and 0.063 -> 0.003 context switches per
//   request, p99 0.9-1.2 -> 0.49 ms, as inline dispatch.
// - I/O threads (Kestrel's), otherwise. Each reactor owns one ring or epoll set and one thread.
//   The thread loops:
//   1. poll(): submit what was queued and wait (one io_uring_enter / epoll_wait) until a
//      completion, a wake-up or the earliest timer; harvest every completion in one batch;
//   2. drain the cross-thread queue (submissions, cancellations, closes from other threads);
//   3. fire due timers;
//   4. hand all woken coroutines to dispatch->post_batch() at once (or resume them inline).
// Backends that harvest on idle (both): while every worker of the dispatch pool is busy, step 1
// does not wait in the kernel; the thread first waits for a worker to park (bounded by
// k_saturated_poll_ns), then harvests without waiting. Arrivals then do not wake it one by one,
// and on a CPU it shares with a worker, do not preempt that worker. This needs workers that do
// not wait for this thread meanwhile: their receives park in the socket (receive_slot.hpp), and
// their sends go out directly (epoll) or with the next harvest (io_uring, like inline dispatch's
// sends after its batch).
// Operations started on the I/O thread itself (inline dispatch) go straight to the backend.
//
// Sleep protocol (no lost wake-up, no eventfd write while the thread is awake): the I/O thread
// stores sleeping=true then checks the queue; a producer pushes then checks sleeping. Both use
// seq_cst, so at least one of them sees the other, and only a producer that flips sleeping from
// true to false writes the eventfd.
//
// Shutdown: request_stop() makes the thread cancel everything pending (operations complete with
// operation_canceled) and from then on complete new operations at once with operation_canceled;
// request_exit() makes it leave the loop once nothing is pending (bounded by k_exit_grace_ns).
// Destruction waits until no other thread is still inside push_remote()/request_stop(): a
// producer may still be writing the eventfd after its operation completed elsewhere
// (m_producers).

#include <harrier/core/executor.hpp>
#include <harrier/net/detail/io_operation.hpp>
#include <harrier/net/io_context.hpp>

#include "net/mpsc_queue.hpp"
#include "net/socket_state.hpp"
#include "net/timer_heap.hpp"

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <mutex>
#include <vector>

namespace harrier::net::detail {

class io_context_impl;

class reactor : public io_driver {
 public:
  reactor(io_context_impl& context, executor* dispatch) noexcept;
  virtual ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  // Backend setup, on the I/O thread before run(). Throws std::system_error.
  virtual void open() = 0;
  virtual backend_kind kind() const noexcept = 0;
  // On the I/O thread after open(): offers this reactor to the dispatch executor as its
  // io_driver when the worker-driven topology applies (see the top).
  void attach_to_dispatch();
  bool worker_driven() const noexcept { return m_worker_driven; }
  // The I/O thread's body.
  void run() noexcept;

  // io_driver, for the worker-driven topology: one turn of the loop by the lock's holder.
  void drive(std::chrono::nanoseconds timeout, const std::atomic<std::uint32_t>* interrupt,
             std::vector<std::coroutine_handle<>>& ready) noexcept override;
  void wake() noexcept override { maybe_wake(); }

  // Any thread.
  void submit(io_operation* op) noexcept;
  void request_cancel(io_operation* op) noexcept;
  void request_close(socket_state* s) noexcept;
  void request_stop() noexcept;
  void request_exit() noexcept;
  bool on_io_thread() const noexcept { return current() == this; }
  static reactor* current() noexcept;
  io_context_impl& context() noexcept { return m_context; }

  // Called on the awaiting thread before submit(): a backend that can finish the operation at
  // once (epoll: a send that fits the socket buffer) does so and returns true.
  virtual bool try_complete_inline(io_operation&) noexcept { return false; }
  // Called on the awaiting thread after the cancel phase is published, instead of submit(): a
  // backend that can park the operation where the I/O thread finds it without a hop (epoll: a
  // receive on a drained socket, receive_slot.hpp) does so and returns true. From then on the
  // I/O thread owns the operation, as if it had been submitted.
  virtual bool try_park(io_operation&) noexcept { return false; }
  // Makes a socket state for a descriptor (any thread). Throws std::system_error.
  socket_state* adopt(int fd, int family, bool listening);
  // Closes every socket still open (after the thread has exited).
  void close_leftovers() noexcept;

  io_stats stats() const noexcept;
  // Waits until no other thread is inside submit()/request_*() (destruction; threads joined).
  void wait_for_producers() const noexcept;

 protected:
  // I/O thread only.
  virtual void start_op(io_operation* op) noexcept = 0;
  virtual void cancel_op(io_operation* op) noexcept = 0;    // started, not completed
  virtual void close_socket(socket_state* s) noexcept = 0;  // ends with finalize(s)
  virtual void abort_socket(socket_state* s) noexcept = 0;  // cancel its pending ops (stop)
  // Takes back an operation that try_park parked and the I/O thread never started (it is being
  // cancelled). False if it is not parked; the backend then makes sure it cannot park later.
  virtual bool take_parked(io_operation*) noexcept { return false; }
  // A cancelled recv_provided that asked for recv_cancel::deliver_received, held by this thread
  // and on no list, its socket open and the reactor not stopped (complete_cancelled checks):
  // completes it with what its socket had received by now, if anything, and returns true.
  // False leaves it to be completed with -ECANCELED.
  virtual bool deliver_received(io_operation*) noexcept { return false; }
  virtual void poll(std::int64_t timeout_ns) noexcept = 0;  // -1: no limit
  // Any thread.
  virtual void register_socket(socket_state*) {}
  virtual void interrupt_wait() noexcept = 0;
  // Whether poll() may be called by any thread (one at a time), for the worker-driven topology.
  virtual bool drivable_from_any_thread() const noexcept { return false; }
  // Whether to wait for an idle worker before harvesting while the pool is saturated (see the
  // top). Constant per backend.
  virtual bool harvests_on_idle() const noexcept { return false; }

  // Records the result and queues the waiter for dispatch (I/O thread only).
  void complete(io_operation* op, int result) noexcept;
  // A cancelled (or refused) operation, held by this thread and on no list: -ECANCELED, or what
  // its socket had received when it asked for that (deliver_received).
  void complete_cancelled(io_operation* op) noexcept;
  // Counts a parked operation the I/O thread took over as started, once: one served on a stale
  // edge parks again and may be taken over again (I/O thread only).
  void adopt_parked(io_operation* op) noexcept;
  // Closes the descriptor and frees the state (I/O thread, or after the thread has exited).
  void finalize(socket_state* s) noexcept;
  bool stopping() const noexcept { return m_stop_handled; }
  void count_wait() noexcept { bump(m_wait_calls); }
  void count_batched_wait() noexcept { bump(m_batched_waits); }
  // Wakes the I/O thread if it sleeps (any thread).
  void maybe_wake() noexcept;
  // Whether the I/O thread is (about to be) asleep in its wait; a hint, any thread.
  bool io_thread_sleeping() const noexcept {
    // ordering: relaxed; a stale answer only picks the slower of two correct paths.
    return m_sleeping.load(std::memory_order_relaxed);
  }
  // Pushes onto the queue from another thread and wakes the I/O thread if it sleeps. Counted in
  // m_producers: once the node is pushed, the operation may complete and the io_context may be
  // destroyed while this thread is still inside maybe_wake(); destruction waits for the count.
  void push_remote(queue_node* node, queue_node::node_kind kind) noexcept;

 private:
  void start_or_refuse(io_operation* op) noexcept;
  void consume_cancel(io_operation* op) noexcept;
  void drain_incoming() noexcept;
  void fire_timers() noexcept;
  void dispatch_ready() noexcept;
  void trace_batch(std::size_t completions, bool pooled) const noexcept;
  // The sleep protocol's waiting half: announces the wait, then returns 0 (do not wait) if
  // anything arrived meanwhile (the queue, a stop request, *interrupt), else timeout_ns.
  std::int64_t announce_wait(std::int64_t timeout_ns,
                             const std::atomic<std::uint32_t>* interrupt) noexcept;
  void handle_stop() noexcept;
  std::int64_t next_timeout_ns() const noexcept;

  io_context_impl& m_context;
  executor* m_dispatch;
  mpsc_queue m_incoming;
  std::atomic<int> m_producers{0};
  std::atomic<bool> m_sleeping{false};
  std::atomic<bool> m_stop_requested{false};
  std::atomic<bool> m_exit_requested{false};
  bool m_stop_handled = false;
  bool m_worker_driven = false;  // set before the constructor of io_context returns
  std::uint64_t m_open_ops = 0;  // started and not yet completed (I/O thread)
  timer_heap m_timers;
  std::vector<std::coroutine_handle<>> m_ready;
  std::vector<std::coroutine_handle<>> m_running;

  std::mutex m_live_mutex;  // adopt() runs on any thread; finalize() on the I/O thread
  socket_state* m_live = nullptr;

  // Statistics the I/O thread alone writes (stats() reads them from any thread): bumped with a
  // load and a store, not fetch_add, whose locked instruction this thread would pay on every
  // completion for nothing.
  static void bump(std::atomic<std::uint64_t>& counter) noexcept {
    // ordering: relaxed; a single writer, readers want a recent value only.
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> m_completions{0};
  // m_open_ops published for stats(): written by the I/O thread only (a plain store each time).
  std::atomic<std::uint64_t> m_pending_published{0};
  std::atomic<std::uint64_t> m_wait_calls{0};
  std::atomic<std::uint64_t> m_wakeups{0};
  std::atomic<std::uint64_t> m_batched_waits{0};
};

// Nanoseconds on steady_clock.
std::int64_t now_ns() noexcept;

}  // namespace harrier::net::detail
