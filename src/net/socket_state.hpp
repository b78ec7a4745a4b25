#pragma once
// socket_state: the per-socket record that the reactors work on (internal).
//
// Ownership: the handle (tcp_stream / listener / connect_op) owns it until close(); close() hands
// it to its reactor, whose I/O thread cancels what is pending, waits until the kernel has
// released every request that names the descriptor (io_uring), then closes the descriptor and
// frees the record. The handle never touches it after close().
//
// Size matters: one of these exists per connection, idle or not (target: under 1 KiB per idle
// connection in user space, together with the connection's coroutine frame).

#include <harrier/net/detail/io_operation.hpp>

#include "net/receive_slot.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>

namespace harrier::net::detail {

// An intrusive FIFO of parked operations (I/O thread only).
class op_list {
 public:
  bool empty() const noexcept { return m_head == nullptr; }
  io_operation* front() const noexcept { return m_head; }
  void push_back(io_operation* op) noexcept {
    op->link_next = nullptr;
    op->link_prev = m_tail;
    if (m_tail != nullptr) {
      m_tail->link_next = op;
    } else {
      m_head = op;
    }
    m_tail = op;
  }
  void remove(io_operation* op) noexcept {
    if (op->link_prev != nullptr) {
      op->link_prev->link_next = op->link_next;
    } else {
      m_head = op->link_next;
    }
    if (op->link_next != nullptr) {
      op->link_next->link_prev = op->link_prev;
    } else {
      m_tail = op->link_prev;
    }
    op->link_next = op->link_prev = nullptr;
  }
  io_operation* pop_front() noexcept {
    io_operation* op = m_head;
    if (op != nullptr) remove(op);
    return op;
  }

 private:
  io_operation* m_head = nullptr;
  io_operation* m_tail = nullptr;
};

// A multishot completion that arrived while nobody was waiting: received bytes in a provided
// buffer, or an accepted descriptor.
struct pending_completion {
  int result;
  std::uint16_t buffer_id;
  bool has_buffer;
};

// FIFO of pending completions: 4 inline, a vector beyond (only a peer that outruns a reader that
// does not read gets there, and listeners that accept ahead; the reactor also stops the multishot
// receive at k_pause_at). Small on purpose: every connection carries one.
class completion_queue {
 public:
  static constexpr std::size_t k_inline = 4;
  static constexpr std::size_t k_pause_at = 3;
  // Listeners take accepted connections off the kernel's backlog ahead of the application's
  // accept calls, up to this many (an accepted descriptor is cheap; a full backlog costs the
  // client a 1 s SYN retransmission).
  static constexpr std::size_t k_accept_ahead = 128;
  bool empty() const noexcept { return m_inline_count == 0; }
  std::size_t size() const noexcept {
    return m_inline_count + (m_overflow ? m_overflow->size() : 0);
  }
  void push(pending_completion c) {
    if (m_inline_count < k_inline && !m_overflow) {
      m_inline[(m_head + m_inline_count) % k_inline] = c;
      ++m_inline_count;
    } else {
      if (!m_overflow) m_overflow = std::make_unique<std::deque<pending_completion>>();
      m_overflow->push_back(c);
    }
  }
  pending_completion pop() noexcept {
    pending_completion c = m_inline[m_head];
    m_head = static_cast<std::uint8_t>((m_head + 1) % k_inline);
    --m_inline_count;
    if (m_overflow) {  // keep FIFO order: the oldest overflow entry joins the ring
      m_inline[(m_head + m_inline_count) % k_inline] = m_overflow->front();
      m_overflow->pop_front();
      ++m_inline_count;
      if (m_overflow->empty()) m_overflow.reset();
    }
    return c;
  }

 private:
  pending_completion m_inline[k_inline];
  std::uint8_t m_head = 0;
  std::uint8_t m_inline_count = 0;
  std::unique_ptr<std::deque<pending_completion>> m_overflow;  // rare: one pointer inline
};

struct close_link : queue_node {};

struct socket_state : close_link {
  socket_state(int descriptor, reactor* r, int address_family, bool listening) noexcept
      : owner(r), fd(descriptor), family(address_family), is_listener(listening) {}

  reactor* owner;
  int fd;
  int family;
  std::uint32_t inflight = 0;  // io_uring requests in the kernel naming this socket (I/O)
  bool is_listener;
  // I/O thread only from here on.
  bool closing = false;
  bool multishot_armed = false;   // io_uring multishot recv/accept in flight
  bool multishot_paused = false;  // cancelled because nobody reads; re-armed on the next recv
  bool starved = false;           // io_uring: waiting for provided buffers to come back
  bool maybe_readable = true;     // epoll: see epoll_reactor.cpp
  bool read_side_final = false;   // epoll: EOF or an error was reported; stays readable
  op_list recv_waiters;           // recv, recv_provided, accept
  op_list send_waiters;           // send, sendv, connect
  completion_queue pending;
  receive_slot recv_slot;             // a receive parked by another thread (receive_slot.hpp)
  socket_state* live_prev = nullptr;  // the reactor's list of open sockets (for stop())
  socket_state* live_next = nullptr;
  std::int64_t last_arrival_ns = 0;  // io_uring: when data last arrived (batch_wait.hpp)
};

}  // namespace harrier::net::detail
