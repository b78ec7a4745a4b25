#pragma once
// receive_slot: where a stream's one receive parks without a hop to the I/O thread (internal).
//
// Why: with pool dispatch, the worker that finished a request starts the connection's next
// receive. Handing that receive to the I/O thread costs a queue push and, when the thread
// sleeps, an eventfd write whose wake-up preempts the worker on a busy CPU (epoll, one worker
// pinned to one CPU: 0.36 context switches per request, ~25% more CPU than inline dispatch).
// Instead the receiving thread tries the system call itself and, on a drained socket, parks the
// operation in this word, as Go's netpoll parks a goroutine in its pollDesc. The I/O thread
// takes it out on the next read edge.
//
// The word holds one of:
//   k_ready   readiness unknown: an edge arrived, or the last receive did not drain the socket.
//             The next receive tries the system call.
//   k_idle    the last receive drained the socket and no read edge came since: the next receive
//             parks without a system call (edge-triggered epoll reports every later arrival).
//   k_closed  the socket is aborted or closing: nothing parks here any more (sticky).
//   an io_operation*  a parked receive. Only the I/O thread takes it out.
//
// Who writes what (a stream has at most one pending receive, tcp_stream's contract, so the
// receiving thread is the only writer besides the I/O thread):
// - the receiving thread, before its operation is published: ready -> idle (it consumes the
//   readiness, then tries the call), idle -> ready (its call did not drain the socket),
//   idle -> op (park; from then on the operation belongs to the I/O thread);
// - the I/O thread: anything but closed -> ready on a read edge (serving a parked operation it
//   took, after which ready -> idle if its call drained the socket, or ready -> op to park it
//   again), op -> ready (cancellation), idle -> ready (see race 2), anything -> closed (abort).
//
// Races:
// 1. A read edge between the receiver's EAGAIN and its park turns idle into ready; the park's
//    CAS (idle -> op) fails and the receiver submits the operation to the I/O thread instead,
//    which tries the call again.
// 2. A cancellation between the receiver publishing its cancel phase (submitted) and parking:
//    the I/O thread finds the operation neither started nor parked. It marks it
//    cancel_before_start and turns idle into ready, so the park fails and the operation is
//    submitted, then refused with operation_canceled.
// 3. Stop and close make the word closed: a receive started afterwards cannot park; it is
//    submitted and refused.
//
// io_uring reads the same word with its own meaning of idle, since its multishot receive stays
// armed and the kernel fills provided buffers without a system call from anyone:
//   k_idle    the multishot receive is armed and nothing is queued on the socket: a receive may
//             park, and the next multishot completion is handed to it (take_for_delivery).
//   k_ready   anything else (completions queued; multishot not armed, paused or starved): a
//             receive is submitted, and the I/O thread serves it from the queue or re-arms.
// Only the I/O thread moves the word to idle (note_drained, when it finds that state) and back
// to ready (take_for_delivery before it queues a completion; take_on_edge when the multishot
// ends, moving a parked receive to its waiters); the receiver only parks (idle -> op). Races 2
// and 3 are the same as above.

#include <harrier/net/detail/io_operation.hpp>

#include <atomic>
#include <cstdint>

namespace harrier::net::detail {

struct receive_slot {
  static constexpr std::uintptr_t k_ready = 1;
  static constexpr std::uintptr_t k_idle = 2;
  static constexpr std::uintptr_t k_closed = 3;

  static bool is_operation(std::uintptr_t word) noexcept { return word > k_closed; }
  static io_operation* operation_of(std::uintptr_t word) noexcept {
    return reinterpret_cast<io_operation*>(word);
  }
  static std::uintptr_t word_of(io_operation* op) noexcept {
    return reinterpret_cast<std::uintptr_t>(op);
  }

  // ordering: every transition is acq_rel/acquire: a park (release) publishes the operation's
  // fields to the I/O thread that takes it (acquire), and the readiness states carry no data.
  std::atomic<std::uintptr_t> word{k_ready};
  // Set by the I/O thread once EOF or an error was reported: the socket stays readable with no
  // further edge to come, so receivers always try the call (epoll's read_side_final, for
  // threads other than the I/O thread).
  std::atomic<bool> read_final{false};

  // Receiving thread: parks `op` if the socket is known drained. False: submit it instead.
  bool try_park(io_operation& op) noexcept {
    if (read_final.load(std::memory_order_acquire)) return false;
    std::uintptr_t expected = k_idle;
    return word.compare_exchange_strong(expected, word_of(&op), std::memory_order_acq_rel,
                                        std::memory_order_acquire);
  }

  // I/O thread, on a read edge: marks the socket ready and returns the parked operation, if any.
  io_operation* take_on_edge() noexcept {
    std::uintptr_t w = word.load(std::memory_order_acquire);
    while (w != k_closed && !word.compare_exchange_weak(w, k_ready, std::memory_order_acq_rel,
                                                        std::memory_order_acquire)) {
    }
    return is_operation(w) ? operation_of(w) : nullptr;
  }

  // I/O thread (io_uring), with a completion nobody waits for in its queue: returns the parked
  // operation to hand it to (the word stays idle), or nullptr after making the word ready (the
  // caller queues the completion; a receive that comes later is submitted and finds it).
  io_operation* take_for_delivery() noexcept {
    std::uintptr_t w = word.load(std::memory_order_acquire);
    while (true) {
      if (is_operation(w)) {
        if (word.compare_exchange_weak(w, k_idle, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
          return operation_of(w);
        }
      } else if (w == k_idle) {
        if (word.compare_exchange_weak(w, k_ready, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
          return nullptr;
        }
      } else {
        return nullptr;  // ready or closed
      }
    }
  }

  // I/O thread: takes `op` back if it is parked here (cancellation). If not, makes sure it
  // cannot park later (race 2).
  bool take(io_operation* op) noexcept {
    std::uintptr_t expected = word_of(op);
    if (word.compare_exchange_strong(expected, k_ready, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
      return true;
    }
    expected = k_idle;
    word.compare_exchange_strong(expected, k_ready, std::memory_order_acq_rel,
                                 std::memory_order_acquire);
    return false;
  }

  // I/O thread: the socket is aborted or closing. Returns the parked operation, if any.
  io_operation* close() noexcept {
    const std::uintptr_t w = word.exchange(k_closed, std::memory_order_acq_rel);
    return is_operation(w) ? operation_of(w) : nullptr;
  }

  // I/O thread, after serving an operation it took: parks it again (EAGAIN), or records whether
  // the call drained the socket. False when the word changed meanwhile (only closed can).
  bool repark(io_operation* op) noexcept {
    std::uintptr_t expected = k_ready;
    return word.compare_exchange_strong(expected, word_of(op), std::memory_order_acq_rel,
                                        std::memory_order_acquire);
  }
  // I/O thread, after serving an operation it took (the word is ready): the call drained the
  // socket, so the next receive may park without trying.
  void note_drained() noexcept {
    std::uintptr_t expected = k_ready;
    word.compare_exchange_strong(expected, k_idle, std::memory_order_acq_rel,
                                 std::memory_order_acquire);
  }

  // Receiving thread: takes the readiness (ready -> idle) before trying the call, so that an
  // edge during the call leaves ready behind. False if the word was not ready.
  bool consume_ready() noexcept {
    std::uintptr_t expected = k_ready;
    return word.compare_exchange_strong(expected, k_idle, std::memory_order_acq_rel,
                                        std::memory_order_acquire);
  }
  // Receiving thread: its call filled the buffer, so more may wait (idle -> ready).
  void note_not_drained() noexcept {
    std::uintptr_t expected = k_idle;
    word.compare_exchange_strong(expected, k_ready, std::memory_order_acq_rel,
                                 std::memory_order_acquire);
  }
};

}  // namespace harrier::net::detail
