#pragma once
// io_operation: the state of one pending network operation, shared by every backend.
//
// Where it lives: inside the awaitable (recv_op, send_op, ...), which lives in the awaiting
// coroutine's frame for the whole co_await. Starting an operation therefore allocates nothing.
// Its size is part of every connection's idle cost (the frame holds one per co_await site), so
// what only one kind needs lives in that kind's awaitable (sendv's msghdr, recv_provided's
// buffer), not here.
//
// Who touches what:
// - The awaiting thread fills the parameters, registers on the cancellation token and submits.
//   After submit() it must not touch the operation again: the I/O thread may complete it and the
//   coroutine may resume on another thread at once.
// - The owning reactor's I/O thread starts it in the backend, records the result and hands the
//   waiter to the dispatch executor. Fields marked "I/O thread" are only touched there.
// - The cancellation callback (any thread) only moves `cancel_phase` and pushes `cancel_link` onto
//   the reactor's queue.
// - Size: every co_await site of a connection's coroutine holds one of these, idle or not, so the
//   layout is kept tight (a one-word queue node each, no token copy, per-kind data in a union).
//
// Cancellation protocol (cancel_phase). The awaitable takes the token when it is built and
// registers on it in await_suspend, after an attempt to complete at once (a send the kernel
// takes, data already there) has failed: an operation that does not wait costs no registration.
//   0 registering -> 1 submitted        (the awaiter, in await_suspend)
//   0 registering -> 2 cancelled early  (the callback ran before submit: complete synchronously)
//   1 submitted   -> 3 cancel queued    (the callback; cancel_link is now on the reactor's queue)
// On completion the I/O thread first destroys the registration (which waits for a running
// callback), then, if a cancel is queued but not yet consumed, defers the resume until it has
// consumed that cancel node, so the node never outlives the operation. The coroutine is resumed
// exactly once.

#include <harrier/core/cancellation.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

namespace harrier::net::detail {

class reactor;
class buffer_ring;
struct socket_state;

// An intrusive node of a reactor's multi-producer queue: one word. What kind of node it is (and so
// which object it belongs to) travels in the low bits of the pointers that link it.
struct queue_node {
  enum class node_kind : std::uintptr_t { submit = 0, cancel = 1, close = 2 };
  static constexpr std::uintptr_t k_kind_mask = 3;
  std::uintptr_t next = 0;  // tagged pointer to the next node
};
struct submit_link : queue_node {};
struct cancel_link : queue_node {};

enum class op_kind : std::uint8_t {
  recv,
  recv_provided,
  send,
  sendv,
  send_file,
  accept,
  connect,
  timer
};

class io_operation : public submit_link, public cancel_link {
 public:
  // Prepares the registration at once (registered in await_suspend, see above): the awaitable
  // is constructed in place in the coroutine frame (it is not movable), so its address is final,
  // and the token need not be kept (the registration takes over its reference).
  io_operation(op_kind k, reactor* r, socket_state* s, cancellation_token&& t) noexcept
      : kind(k), owner(r), socket(s) {
    if (t.can_be_cancelled()) attach_cancellation(std::move(t));
  }
  io_operation(const io_operation&) = delete;
  io_operation& operator=(const io_operation&) = delete;

  struct buffer_params {
    std::byte* data;
    std::size_t length;
  };
  struct vector_params {
    const ::iovec* iov;
    std::uint32_t count;
    std::uint32_t index;  // first iovec not yet fully sent
    std::size_t offset;   // bytes of iov[index] already sent
    ::msghdr* message;    // io_uring's SENDMSG reads it at submission (lives in sendv_op)
  };
  struct timer_params {
    std::int64_t deadline_ns;  // steady_clock
    std::uint64_t sequence;    // FIFO among equal deadlines
    std::size_t heap_index;
  };
  struct file_params {
    int fd;                // the file, read with sendfile(2) from `offset` on
    std::uint64_t offset;  // progress is `transferred`, added to it
    std::size_t length;
  };
  struct connect_params {
    const ::sockaddr* address;
    ::socklen_t length;
  };

  op_kind kind;
  // I/O thread only.
  bool started = false;
  bool cancel_consumed = false;
  bool cancel_before_start = false;
  bool completion_deferred = false;
  bool no_wait = false;  // accept: complete with -EAGAIN rather than wait (listener::try_accept)
  bool deliver_received = false;  // recv_provided: recv_cancel::deliver_received
  std::atomic<std::uint8_t> cancel_phase{0};

  int result = 0;               // bytes or accepted fd when >= 0, -errno otherwise
  std::size_t transferred = 0;  // send/sendv/send_file progress; accept: the listener's family
  reactor* owner;
  socket_state* socket;  // nullptr for timers
  std::coroutine_handle<> waiter;
  io_operation* link_next = nullptr;  // parked on a socket's waiter list (I/O thread)
  io_operation* link_prev = nullptr;

  union {
    buffer_params buffer;
    vector_params vector;
    timer_params timer;
    connect_params connect;
    file_params file;
  };

  std::optional<cancellation_registration> registration;

 private:
  void attach_cancellation(cancellation_token&& t) noexcept;
};

// The await_suspend shared by all operations: completes at once if the backend can, else
// registers on the token and submits to the owner. Returns false when the operation completed
// synchronously (cancelled before it started, or the backend finished it at once); the awaiter
// then resumes without suspending.
bool suspend_operation(io_operation& op, std::coroutine_handle<> waiter) noexcept;

}  // namespace harrier::net::detail
