// epoll_reactor: the readiness backend, for kernels or sandboxes that refuse io_uring.
//
// Design:
// - Every socket is registered once, edge-triggered, for both directions (EPOLLIN | EPOLLOUT |
//   EPOLLRDHUP | EPOLLET), so no epoll_ctl is needed per operation. The data pointer is the
//   socket_state; the wake-up eventfd has a null pointer.
// - An operation first tries its system call; on EAGAIN it parks on the socket's recv or send
//   list, and the next edge retries the parked operations in FIFO order. The try-then-park runs
//   on the I/O thread, where edges are processed too, so an edge cannot slip between them.
// - Sends are tried at once on the awaiting thread (try_complete_inline): a response usually fits
//   the socket buffer, so a worker finishes it with one send() and no hop to the I/O thread.
// - maybe_readable: a recv on a socket that was drained (EAGAIN, or a short read) since its last
//   EPOLLIN edge parks without a system call; edge-triggered epoll reports every later arrival.
//   A socket starts drained: its registration reports what it already holds. A listener's
//   accept is the same: after an EAGAIN, the next accept parks until the next edge (the accept
//   loop came back to an empty backlog after every accept_ahead, one accept4 in vain each time).
//   Exception: once EPOLLRDHUP/EPOLLHUP/EPOLLERR was reported, the socket stays readable (EOF or
//   the error) with no further edge to come, so it is always tried (read_side_final). Without
//   that exception a short read of the last bytes before a FIN parked the next recv forever.
//   (TCP urgent data also ends a read early with bytes still queued: such a connection waits for
//   its next arrival or its timeout, which only a peer sending MSG_OOB can cause to itself.)
// - recv_provided takes a block from the block pool only once the socket is readable: an idle
//   connection holds no receive buffer.
// - Receives from other threads (pool dispatch) never hop to the I/O thread when they can help
//   it: the receiving thread tries the call itself and, on a drained socket, parks the
//   operation in the socket's receive_slot, where the next read edge finds it (receive_slot.hpp
//   has the protocol). The I/O thread's own receives keep using maybe_readable and the lists.
// - Worker-driven (reactor.hpp; the default with harrier's thread_pool): epoll_wait is called by
//   whichever pool worker holds the driver, so "the I/O thread" below means that holder; the
//   pool's lock hands this state from one holder to the next.
// - Timers: the wait's timeout is the earliest deadline, rounded up to whole milliseconds
//   (epoll_wait's unit) so that a timer never fires early.

#include <harrier/net/detail/operations.hpp>

#include "net/io_context_impl.hpp"
#include "net/reactor.hpp"
#include "net/socket_io.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

namespace harrier::net::detail {
namespace {

// Events harvested per epoll_wait; more wait for the next call (not tuned; Tokio uses 1024).
constexpr int k_max_events = 256;

bool is_recv_side(op_kind kind) noexcept {
  return kind == op_kind::recv || kind == op_kind::recv_provided || kind == op_kind::accept;
}

class epoll_reactor final : public reactor {
 public:
  epoll_reactor(io_context_impl& context, const io_options& options)
      : reactor(context, options.dispatch) {}

  ~epoll_reactor() override {
    if (m_wake_fd >= 0) ::close(m_wake_fd);
    if (m_epoll >= 0) ::close(m_epoll);
  }

  void open() override {
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    if (m_epoll < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    m_wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m_wake_fd < 0) throw std::system_error(errno, std::system_category(), "eventfd");
    ::epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = nullptr;
    if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_wake_fd, &ev) != 0) {
      throw std::system_error(errno, std::system_category(), "epoll_ctl(eventfd)");
    }
    m_events.resize(k_max_events);
  }

  backend_kind kind() const noexcept override { return backend_kind::epoll; }
  // Workers send and park their receives themselves, so nothing they do waits for this thread
  // while it defers (reactor.hpp).
  bool harvests_on_idle() const noexcept override { return true; }
  // epoll_wait may be called by any thread, one at a time.
  bool drivable_from_any_thread() const noexcept override { return true; }

  bool try_complete_inline(io_operation& op) noexcept override {
    int r;
    if (op.kind == op_kind::recv || op.kind == op_kind::recv_provided) {
      if (on_io_thread()) return false;
      r = try_receive(op);
      if (r == -EAGAIN) return false;  // try_park() parks it, or it is submitted
    } else if (op.kind == op_kind::send) {
      r = attempt_send(op.socket->fd, op);
    } else if (op.kind == op_kind::sendv) {
      r = attempt_sendv(op.socket->fd, op);
    } else if (op.kind == op_kind::send_file) {
      r = attempt_send_file(op.socket->fd, op);
    } else {
      return false;
    }
    if (r == -EAGAIN) return false;  // progress is kept in op; the I/O thread goes on
    op.result = r;
    return true;
  }

  bool try_park(io_operation& op) noexcept override {
    if (op.kind != op_kind::recv && op.kind != op_kind::recv_provided) return false;
    if (on_io_thread()) return false;
    return op.socket->recv_slot.try_park(op);
  }

 protected:
  bool take_parked(io_operation* op) noexcept override {
    if (op->socket == nullptr) return false;
    return op->socket->recv_slot.take(op);
  }

  void register_socket(socket_state* s) override {
    // Nothing is known readable yet, and nothing needs to be: the registration reports what
    // is there already (epoll_ctl ADD queues an edge for a socket readable now), so the first
    // receive parks for it instead of trying. On loopback the request has not arrived when its
    // connection is accepted, and that first recv(2) was an EAGAIN for nearly every connection
    // (1.97 receives a Connection: close request, against nginx's 1.00: nginx, too, waits for
    // the event before its first read).
    s->maybe_readable = false;
    s->recv_slot.note_drained();
    ::epoll_event ev{};
    ev.events = s->is_listener ? (EPOLLIN | EPOLLET) : (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    ev.data.ptr = s;
    if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
      throw std::system_error(errno, std::system_category(), "epoll_ctl(ADD)");
    }
  }

  void start_op(io_operation* op) noexcept override {
    socket_state* s = op->socket;
    if (op->kind == op_kind::connect) {
      int r = ::connect(s->fd, op->connect.address, op->connect.length) == 0 ? 0 : -errno;
      if (r == -EINPROGRESS) {
        s->send_waiters.push_back(op);
      } else {
        complete(op, r);
      }
      return;
    }
    if (op->kind == op_kind::accept && !s->pending.empty()) {
      op->transferred = static_cast<std::size_t>(s->family);
      complete(op, s->pending.pop().result);
      return;
    }
    op_list& list = is_recv_side(op->kind) ? s->recv_waiters : s->send_waiters;
    if (list.empty() || op->no_wait) {
      // (try_accept, no_wait, asks the kernel: at shutdown it takes what the backlog holds,
      // edges not yet harvested included.)
      const bool skip = (op->kind == op_kind::recv || op->kind == op_kind::recv_provided ||
                         (op->kind == op_kind::accept && !op->no_wait)) &&
                        !s->maybe_readable && !s->read_side_final;
      int r = skip ? -EAGAIN : attempt(s, *op);
      if (r != -EAGAIN || op->no_wait) {
        complete(op, r);
        return;
      }
    }
    list.push_back(op);
  }

  void cancel_op(io_operation* op) noexcept override {
    socket_state* s = op->socket;
    const bool was_parked = is_recv_side(op->kind) && s->recv_slot.take(op);
    if (!was_parked) {
      (is_recv_side(op->kind) ? s->recv_waiters : s->send_waiters).remove(op);
    }
    complete_cancelled(op);
  }

  // What the socket holds is there for a recv(2) to take, whatever maybe_readable says: the
  // edge that would have set it may not be harvested yet.
  bool deliver_received(io_operation* op) noexcept override {
    const int r = attempt(op->socket, *op);
    if (r == -EAGAIN) return false;
    complete(op, r);
    return true;
  }

  void abort_socket(socket_state* s) noexcept override {
    if (io_operation* op = s->recv_slot.close()) {
      adopt_parked(op);
      complete(op, -ECANCELED);
    }
    while (io_operation* op = s->recv_waiters.pop_front())
      complete(op, -ECANCELED);
    while (io_operation* op = s->send_waiters.pop_front())
      complete(op, -ECANCELED);
  }

  void discard_pending(socket_state* s) noexcept {
    while (!s->pending.empty()) {
      int fd = s->pending.pop().result;
      if (fd >= 0) ::close(fd);
    }
  }

  void close_socket(socket_state* s) noexcept override {
    s->closing = true;
    abort_socket(s);
    discard_pending(s);
    // epoll registers the file, not the descriptor: close() alone removes the registration only
    // when it drops the file's last reference. Another one (a child between fork and exec, a
    // dup) would keep it, and its next event would carry a pointer to the freed state. Go,
    // libuv and mio delete explicitly too.
    ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, s->fd, nullptr);
    finalize(s);
  }

  void poll(std::int64_t timeout_ns) noexcept override {
    int timeout_ms = -1;
    if (timeout_ns >= 0) timeout_ms = static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    count_wait();
    // Not glibc's epoll_wait, a cancellation point (see raw_recv in socket_io.hpp).
    const int n = raw_epoll_wait(m_epoll, m_events.data(), k_max_events, timeout_ms);
    for (int i = 0; i < n; ++i) {
      const ::epoll_event& ev = m_events[static_cast<std::size_t>(i)];
      auto* s = static_cast<socket_state*>(ev.data.ptr);
      if (s == nullptr) {
        std::uint64_t value;
        while (::read(m_wake_fd, &value, sizeof(value)) > 0) {
        }
        continue;
      }
      if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        s->maybe_readable = true;
        // A hang-up is final for reading when it comes with the peer's FIN (RDHUP), an error,
        // or input. A socket registered before its connect() reports OUT|HUP alone (it is not
        // connected yet): taken as final, every later receive on that connection would try a
        // recv() first and never park.
        const bool final_read = (ev.events & (EPOLLRDHUP | EPOLLERR)) != 0 ||
                                (ev.events & (EPOLLHUP | EPOLLIN)) == (EPOLLHUP | EPOLLIN);
        if (final_read) {
          s->read_side_final = true;
          // ordering: release, before the edge below publishes readiness to receivers.
          s->recv_slot.read_final.store(true, std::memory_order_release);
        }
        if (io_operation* op = s->recv_slot.take_on_edge()) serve_parked(s, op);
        retry(s, s->recv_waiters);
        if (s->is_listener && s->recv_waiters.empty()) accept_ahead(s);
      }
      if (ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) retry(s, s->send_waiters);
    }
  }

  void interrupt_wait() noexcept override {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(m_wake_fd, &one, sizeof(one));
  }

 private:
  // A receive from a thread other than the I/O thread (see receive_slot.hpp): tries the call
  // while the socket may be readable. -EAGAIN: the socket is drained; park or submit.
  int try_receive(io_operation& op) noexcept {
    receive_slot& slot = op.socket->recv_slot;
    for (int tries = 0;; ++tries) {
      const std::uintptr_t w = slot.word.load(std::memory_order_acquire);
      if (w == receive_slot::k_ready) {
        if (!slot.consume_ready()) continue;
      } else if (w == receive_slot::k_idle) {
        if (tries > 0 || !slot.read_final.load(std::memory_order_acquire)) return -EAGAIN;
      } else {
        return -EAGAIN;  // closed (submit: refused there) or a receive parked already
      }
      const int r = attempt_receive_here(op);
      if (r == -EAGAIN) continue;
      if (r > 0 && static_cast<std::size_t>(r) == op.buffer.length) slot.note_not_drained();
      return r;
    }
  }

  // recv or recv_provided on the calling thread; recv_provided keeps a spare block per thread.
  static int attempt_receive_here(io_operation& op) noexcept {
    if (op.kind == op_kind::recv) return attempt_recv(op.socket->fd, op);
    thread_local harrier::block t_spare;
    if (!t_spare) t_spare = harrier::block_pool::shared().acquire();
    op.buffer = {t_spare.data(), t_spare.size()};
    const int r = attempt_recv(op.socket->fd, op);
    if (r > 0) static_cast<recv_provided_op&>(op).provided_block = std::move(t_spare);
    return r;
  }

  // A read edge found a receive parked by another thread: serve it as a parked one.
  void serve_parked(socket_state* s, io_operation* op) noexcept {
    adopt_parked(op);
    const int r = attempt(s, *op);
    if (r == -EAGAIN) {
      if (!s->recv_slot.repark(op)) s->recv_waiters.push_back(op);
      return;
    }
    if (r > 0 && static_cast<std::size_t>(r) < op->buffer.length) s->recv_slot.note_drained();
    complete(op, r);
  }

  int attempt(socket_state* s, io_operation& op) noexcept {
    switch (op.kind) {
      case op_kind::recv: {
        int r = attempt_recv(s->fd, op);
        note_drained(s, r, op.buffer.length);
        return r;
      }
      case op_kind::recv_provided: {
        if (!m_spare) m_spare = harrier::block_pool::shared().acquire();
        op.buffer = {m_spare.data(), m_spare.size()};
        int r = attempt_recv(s->fd, op);
        note_drained(s, r, op.buffer.length);
        if (r > 0) static_cast<recv_provided_op&>(op).provided_block = std::move(m_spare);
        return r;
      }
      case op_kind::accept: {
        op.transferred = static_cast<std::size_t>(s->family);
        const int r = attempt_accept(s->fd);
        if (r == -EAGAIN) s->maybe_readable = false;
        return r;
      }
      case op_kind::send:
        return attempt_send(s->fd, op);
      case op_kind::sendv:
        return attempt_sendv(s->fd, op);
      case op_kind::send_file:
        return attempt_send_file(s->fd, op);
      case op_kind::connect:
        return connect_status(s->fd);
      case op_kind::timer:
        break;
    }
    return -EINVAL;
  }

  // A recv that got EAGAIN or fewer bytes than asked drained the socket (for a stream socket):
  // the next recv can wait for the next edge instead of trying.
  static void note_drained(socket_state* s, int r, std::size_t asked) noexcept {
    if (r == -EAGAIN || (r > 0 && static_cast<std::size_t>(r) < asked)) s->maybe_readable = false;
  }

  // Takes connections off the backlog before anyone asks, as io_uring's multishot accept does.
  // An error stops it and is not queued: nobody waits now (accept_ahead runs only then), and the
  // next accept, finding nothing queued, calls accept4 itself and sees the error if it lasts.
  // Queued, each error cost the accept loop a back-off of up to 1 s when it reached it: out of
  // descriptors (EMFILE), every edge of a flood queued one, and once descriptors were free
  // again the loop took one connection a second from behind a hundred stale errors (audit 3).
  void accept_ahead(socket_state* s) noexcept {
    while (s->pending.size() < completion_queue::k_accept_ahead) {
      const int fd = attempt_accept(s->fd);
      if (fd < 0) {
        if (fd == -EAGAIN) s->maybe_readable = false;
        break;
      }
      s->pending.push({fd, 0, false});
    }
  }

  void retry(socket_state* s, op_list& list) noexcept {
    while (io_operation* op = list.front()) {
      int r = attempt(s, *op);
      if (r == -EAGAIN) break;
      list.remove(op);
      complete(op, r);
    }
  }

  int m_epoll = -1;
  int m_wake_fd = -1;
  std::vector<::epoll_event> m_events;
  harrier::block m_spare;  // the next recv_provided's block, kept across EAGAINs
};

}  // namespace

std::unique_ptr<reactor> make_epoll_reactor(io_context_impl& context, const io_options& options) {
  return std::make_unique<epoll_reactor>(context, options);
}

}  // namespace harrier::net::detail
