// io_uring_reactor: the completion backend (default on Linux >= 6.0).
//
// Topology, chosen by measurement: `harrier_bench_net --only topology`, 64 loopback connections,
// requests/s, median of 3 runs of 2 s, -O2, on 2 cores shared with other jobs (load ~9, so read
// the figures as +-20%):
//                              ping-pong (1 in flight)   pipelined (16 in flight)
//     io_uring, inline                 59.6k                    989k
//     io_uring, 2-thread pool          91.2k                   1505k
//     io_uring, 2 I/O threads         112.7k                    868k
//     epoll,    inline                 51.4k                    825k
//     epoll,    2-thread pool          50.2k                    978k
//     epoll,    2 I/O threads          92.8k                   1587k
// Later full runs (medians of 5; the epoll figures before and after epoll stopped trying a
// recv on a drained socket): ping-pong inline 115k vs 100k requests/s (1.15), then 111k vs 110k
// (1.01); server CPU 4.37 vs 4.39 us/request. The kernel's loopback TCP work dominates both
// (user space is under 3% of the profile), so io_uring's gain is only the system calls it
// removes: 0.11 per ping-pong request and 0.006 pipelined, against epoll's ~2 and 0.13.
// Chosen: Kestrel-like I/O threads, one per io_context by default, handing woken coroutines to
// the pool in batches. With a pool the I/O thread stays free to harvest while workers run
// handlers (faster here on io_uring, and a blocked handler cannot stall anyone's I/O); more I/O
// threads pay only with cores to spare, so that is a knob (io_threads), not the default. Inline
// dispatch stays available (dispatch = nullptr) for handlers that never block.
//
// Not worker-driven (reactor.hpp), unlike epoll: the kernel runs a request's completion work
// (task_work) in the thread that submitted it, and SINGLE_ISSUER | DEFER_TASKRUN forbid other
// submitters outright. Both ways to share a ring between the pool's workers were built and
// measured (wrk -c64 /plaintext; the ring driven under the pool's lock as epoll is):
// - COOP_TASKRUN | TASKRUN_FLAG: a submitter is not woken for its task_work, which waits until
//   it next enters the kernel. One pinned CPU: 5.7 us of CPU per request and p50 180 us, as
//   inline dispatch (I/O thread: 5.7-5.8 us, p50 340 us). Rejected: a worker that blocks in a
//   handler (sleep, sync-over-async) holds back the completions of every request it submitted,
//   and deadlocks when it waits for one of them.
// - no flags: the kernel interrupts the submitter (an IPI, or a wake-up from any sleep) for
//   each completion. Correct, but one pinned CPU 8.0-8.5 us per request; two CPUs 9.4-11.8 us
//   against 7.1-7.8 and -25 % requests/s.
// A ring per worker (thread per core) has the first one's problem: a blocked owner's sockets
// stop. So the ring keeps one submitter that never runs handlers, the I/O thread.
//
// Kestrel-like: one ring per I/O thread (io_options::io_threads, default 1), only ever touched by
// that thread, so the ring is set up with SINGLE_ISSUER | DEFER_TASKRUN. Operations started on
// other threads reach it through the reactor's queue and one eventfd write (only when the thread
// sleeps); the ring keeps a read armed on that eventfd. Two shortcuts skip the queue: a worker's
// receive parks in the socket when the armed multishot will deliver to it (receive_slot.hpp),
// and a worker's send goes out with send(2) while the thread sleeps (try_complete_inline).
// Operations started on the I/O thread (inline dispatch) go straight into the SQ. One
// io_uring_enter per loop turn submits every queued SQE and waits; completions are harvested in one
// pass over the CQ.
//
// Under load the thread lets completions gather before it wakes (the kernel's min_wait, Linux
// 6.12+), when arrivals are dense enough to fill a batch: batch_wait.hpp has the rule and the
// figures.
//
// Setup ladder (first that the kernel accepts): SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN, then
// COOP_TASKRUN|TASKRUN_FLAG, then no flags. The chosen flags are logged at debug level.
//
// Requests and their user_data (low 3 bits tag the kind; everything is 8-byte aligned):
//   tag_op         an io_operation (recv into the caller's buffer, send, sendmsg, connect)
//   tag_recv_multi a socket_state's multishot receive on the provided-buffer ring
//   tag_accept     a listener's multishot accept
//   tag_wake       the eventfd read
//   tag_ignore     cancel requests, whose own completions carry nothing we need
// socket_state::inflight counts the requests naming a socket; a closed socket is freed (and its
// descriptor closed) when it drops to zero, so no completion ever names freed memory.
//
// Multishot receive: armed by the first recv_provided and left armed. Completions that arrive
// while nobody waits queue on the socket (completion_queue); at k_pause_at queued we cancel the
// multishot so a peer cannot drain the buffer ring into a connection that does not read. ENOBUFS
// ends it too; the socket is then re-armed when buffers come back (`starved`).

#include <harrier/net/detail/operations.hpp>

#include "net/batch_wait.hpp"
#include "net/buffer_ring.hpp"
#include "net/io_context_impl.hpp"
#include "net/reactor.hpp"
#include "net/socket_io.hpp"

#include <liburing.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <system_error>
#include <vector>

#include "core/logger.hpp"

// Linux 6.12's uapi names, absent from liburing 2.3's copy of the header.
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif

namespace harrier::net::detail {
namespace {

// Whether the calling thread (the I/O thread, in open()) may run on more than one CPU. On one,
// the I/O thread and the workers take turns anyway: a batch wait gathers nothing that a worker
// would not have run meanwhile, and only delays (pinned, wrk -c64 /plaintext: p99 +4 %, CPU per
// request even, in two runs of 6 alternations).
bool several_cpus() noexcept {
  ::cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return true;
  return CPU_COUNT(&set) > 1;
}

enum tag : std::uint64_t {
  tag_op = 0,
  tag_recv_multi = 1,
  tag_accept = 2,
  tag_wake = 3,
  tag_ignore = 4,
};
constexpr std::uint64_t k_tag_mask = 7;

std::uint64_t encode(const void* p, tag t) noexcept {
  return reinterpret_cast<std::uint64_t>(p) | t;
}

struct setup_rung {
  unsigned flags;
  const char* name;
};
constexpr setup_rung k_ladder[] = {
    {IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
         IORING_SETUP_DEFER_TASKRUN,
     "SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN"},
    {IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
     "COOP_TASKRUN|TASKRUN_FLAG"},
    {0, "none"},
};

class io_uring_reactor final : public reactor {
 public:
  io_uring_reactor(io_context_impl& context, const io_options& options)
      : reactor(context, options.dispatch), m_options(options), m_batch_wait(0) {}

  ~io_uring_reactor() override {
    m_buffers.wait_for_returns();
    if (m_ring_open) {
      m_buffers.close(m_ring);
      ::io_uring_queue_exit(&m_ring);
    }
    if (m_wake_fd >= 0) ::close(m_wake_fd);
  }

  void open() override {
    m_wake_fd = ::eventfd(0, EFD_CLOEXEC);
    if (m_wake_fd < 0) throw std::system_error(errno, std::system_category(), "eventfd");
    int rc = -EINVAL;
    const char* chosen = nullptr;
    unsigned features = 0;
    for (const setup_rung& rung : k_ladder) {
      ::io_uring_params params{};
      params.flags = rung.flags | IORING_SETUP_CQSIZE;
      params.cq_entries = m_options.ring_entries * 4;
      rc = ::io_uring_queue_init_params(m_options.ring_entries, &m_ring, &params);
      if (rc == 0) {
        chosen = rung.name;
        features = params.features;
        m_setup_flags = rung.flags;
        break;
      }
      if (rc != -EINVAL) break;
    }
    if (rc < 0) throw std::system_error(-rc, std::system_category(), "io_uring_queue_init");
    m_ring_open = true;
    // Saves a file lookup per enter; optional.
    m_ring_registered = ::io_uring_register_ring_fd(&m_ring) == 1;
    const bool min_wait = (features & IORING_FEAT_MIN_TIMEOUT) != 0;
    const bool one_cpu = !several_cpus();
    if (min_wait && !one_cpu) {
      m_batch_wait = batch_wait(
          std::chrono::duration_cast<std::chrono::nanoseconds>(m_options.max_batch_wait).count());
    }
    m_buffers.open(m_ring, m_options.provided_buffers,
                   static_cast<std::size_t>(m_options.provided_buffer_bytes),
                   [this] { maybe_wake(); });
    harrier::detail::harrier_logger()->debug(
        "net: io_uring ring with {} entries, flags {}, batch wait {}", m_options.ring_entries,
        chosen,
        !min_wait                ? "unsupported (Linux < 6.12)"
        : one_cpu                ? "off (one CPU)"
        : m_batch_wait.enabled() ? "on"
                                 : "off");
    arm_wake();
  }

  backend_kind kind() const noexcept override { return backend_kind::io_uring; }
  // While every worker is busy, this thread waits for one to park instead of waking on every
  // arrival (reactor.hpp). Workers park their receives in the socket, so what they queue for
  // this thread meanwhile is only sends (submitted when a worker parks, as inline dispatch
  // submits them after its batch). Measured (one pinned CPU, wrk -c64, A/B interleaved):
  // pipelined 1.34-1.65 -> 1.18-1.24 us/request and 0.025-0.07 -> 0.005 context switches per
  // request; /plaintext unchanged within noise; one connection 32-35 -> 27 us/request
  // (receives no longer wake this thread).
  bool harvests_on_idle() const noexcept override { return true; }

  // A send from a pool worker while the I/O thread sleeps: handing it over would cost an eventfd
  // write, a wake-up and a context switch (on a busy or pinned CPU, two) before the ring even
  // sees it, so the worker tries the send(2) itself, as the epoll backend always does. What
  // does not fit the socket buffer continues on the ring from where it stopped (op.transferred,
  // or the sendv position). On the I/O thread, and while it is awake, the ring path is the
  // cheaper one: the SQE joins the next io_uring_enter with everything else (while the pool is
  // saturated, that is when a worker parks, as inline dispatch submits after its batch).
  // send_file has no ring operation (io_uring has no sendfile): it is always tried here first,
  // then waits for POLLOUT on the ring and continues on the I/O thread (start_op, on_op).
  bool try_complete_inline(io_operation& op) noexcept override {
    int r;
    if (op.kind == op_kind::send_file) {
      if (on_io_thread()) return false;
      r = attempt_send_file(op.socket->fd, op);
    } else if (op.kind != op_kind::send && op.kind != op_kind::sendv) {
      return false;
    } else if (on_io_thread() || !io_thread_sleeping()) {
      return false;
    } else {
      r = op.kind == op_kind::send ? attempt_send(op.socket->fd, op)
                                   : attempt_sendv(op.socket->fd, op);
    }
    if (r == -EAGAIN) return false;
    op.result = r;
    return true;
  }

  // A receive from a pool worker parks in the socket while its multishot is armed and nothing
  // is queued (receive_slot.hpp): the next completion goes to it with no hop to this thread
  // and no wake-up of it.
  bool try_park(io_operation& op) noexcept override {
    if (op.kind != op_kind::recv_provided || on_io_thread()) return false;
    return op.socket->recv_slot.try_park(op);
  }

 protected:
  bool take_parked(io_operation* op) noexcept override {
    return op->socket != nullptr && op->socket->recv_slot.take(op);
  }

  void start_op(io_operation* op) noexcept override {
    socket_state* s = op->socket;
    switch (op->kind) {
      case op_kind::recv: {
        ::io_uring_sqe* sqe = get_sqe();
        ::io_uring_prep_recv(sqe, s->fd, op->buffer.data, op->buffer.length, 0);
        ::io_uring_sqe_set_data64(sqe, encode(op, tag_op));
        ++s->inflight;
        break;
      }
      case op_kind::send:
      case op_kind::sendv:
        prep_send(op);
        ++s->inflight;
        break;
      case op_kind::send_file: {
        const int r = attempt_send_file(s->fd, *op);
        if (r != -EAGAIN) {
          complete(op, r);
          return;
        }
        arm_writable(op);
        ++s->inflight;
        break;
      }
      case op_kind::connect: {
        ::io_uring_sqe* sqe = get_sqe();
        ::io_uring_prep_connect(sqe, s->fd, op->connect.address, op->connect.length);
        ::io_uring_sqe_set_data64(sqe, encode(op, tag_op));
        ++s->inflight;
        break;
      }
      case op_kind::recv_provided:
      case op_kind::accept:
        if (!s->pending.empty()) {
          deliver(s, op, s->pending.pop());
          note_idle(s);
          return;
        }
        if (op->no_wait) {  // try_accept: the backlog, directly (beside the multishot accept)
          op->transferred = static_cast<std::size_t>(s->family);
          complete(op, attempt_accept(s->fd));
          return;
        }
        s->recv_waiters.push_back(op);
        if (!s->multishot_armed && !s->starved) arm_multishot(s);
        break;
      case op_kind::timer:
        break;
    }
  }

  void cancel_op(io_operation* op) noexcept override {
    if (op->kind == op_kind::recv_provided || op->kind == op_kind::accept) {
      socket_state* s = op->socket;
      s->recv_waiters.remove(op);
      complete_cancelled(op);
      note_idle(s);
      return;
    }
    ::io_uring_sqe* sqe = get_sqe();
    ::io_uring_prep_cancel64(sqe, encode(op, tag_op), 0);
    ::io_uring_sqe_set_data64(sqe, tag_ignore);
  }

  void abort_socket(socket_state* s) noexcept override {
    if (io_operation* op = s->recv_slot.close()) {
      adopt_parked(op);
      complete(op, -ECANCELED);
    }
    while (io_operation* op = s->recv_waiters.pop_front())
      complete(op, -ECANCELED);
    if (s->inflight == 1 && s->multishot_armed) {
      // Only the multishot receive (or accept), as when a connection closes after its response:
      // cancelled by its user data, a lookup in the kernel's hash of armed requests. Matching
      // by descriptor walks every bucket of it: io_poll_cancel and io_cancel_req_match were
      // ~0.6 us of a Connection: close request's 33 (perf, inline dispatch).
      ::io_uring_sqe* sqe = get_sqe();
      ::io_uring_prep_cancel64(sqe, encode(s, s->is_listener ? tag_accept : tag_recv_multi), 0);
      ::io_uring_sqe_set_data64(sqe, tag_ignore);
    } else if (s->inflight > 0) {
      ::io_uring_sqe* sqe = get_sqe();
      ::io_uring_prep_cancel_fd(sqe, s->fd, IORING_ASYNC_CANCEL_ALL);
      ::io_uring_sqe_set_data64(sqe, tag_ignore);
    }
  }

  // Bytes that reached the socket before now are in one of three places: queued on it
  // (harvested), in the CQ (not harvested yet), or still in the socket, its multishot's task work
  // deferred until this thread next enters the kernel (DEFER_TASKRUN). A MSG_PEEK sees only the
  // last, and only until that next enter, which on a pool can come before the cancelled
  // receive's owner looks. So run the task work now, harvest, and take the first queued.
  bool deliver_received(io_operation* op) noexcept override {
    socket_state* s = op->socket;
    if (s->pending.empty() && s->multishot_armed && !m_harvesting) {
      count_wait();
      ::io_uring_get_events(&m_ring);
      harvest();
    }
    if (s->pending.empty()) return false;
    deliver(s, op, s->pending.pop());
    note_idle(s);
    return true;
  }

  void close_socket(socket_state* s) noexcept override {
    s->closing = true;
    if (s->starved) {
      std::erase(m_starved, s);
      s->starved = false;
    }
    abort_socket(s);
    while (!s->pending.empty())
      discard(s, s->pending.pop());
    maybe_finalize(s);
  }

  void poll(std::int64_t timeout_ns) noexcept override {
    m_buffers.recycle();
    if (!m_starved.empty() && m_buffers.available() > 0) rearm_starved();
    if (timeout_ns == 0) {
      if (::io_uring_sq_ready(&m_ring) > 0 || (m_setup_flags & IORING_SETUP_DEFER_TASKRUN) ||
          ::io_uring_cq_has_overflow(&m_ring) ||
          (IO_URING_READ_ONCE(*m_ring.sq.kflags) & IORING_SQ_TASKRUN)) {
        count_wait();
        ::io_uring_submit_and_get_events(&m_ring);
      }
    } else if (::io_uring_cq_ready(&m_ring) == 0) {
      count_wait();
      ::io_uring_cqe* cqe = nullptr;
      const std::int64_t gather_ns = m_batch_wait.enabled() ? m_batch_wait.wait_ns() : 0;
      if (gather_ns > 0) {
        count_batched_wait();
        submit_and_gather(timeout_ns, gather_ns);
      } else if (timeout_ns < 0) {
        ::io_uring_submit_and_wait_timeout(&m_ring, &cqe, 1, nullptr, nullptr);
      } else {
        ::__kernel_timespec ts{};
        ts.tv_sec = timeout_ns / 1'000'000'000;
        ts.tv_nsec = timeout_ns % 1'000'000'000;
        ::io_uring_submit_and_wait_timeout(&m_ring, &cqe, 1, &ts, nullptr);
      }
    } else if (::io_uring_sq_ready(&m_ring) > 0) {
      count_wait();
      ::io_uring_submit(&m_ring);
    }
    harvest();
  }

  void interrupt_wait() noexcept override {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(m_wake_fd, &one, sizeof(one));
  }

 private:
  ::io_uring_sqe* get_sqe() noexcept {
    ::io_uring_sqe* sqe = ::io_uring_get_sqe(&m_ring);
    while (sqe == nullptr) {  // SQ full: submit what we have (rare: entries >> one turn's work)
      count_wait();
      ::io_uring_submit(&m_ring);
      sqe = ::io_uring_get_sqe(&m_ring);
    }
    return sqe;
  }

  void arm_wake() noexcept {
    ::io_uring_sqe* sqe = get_sqe();
    ::io_uring_prep_read(sqe, m_wake_fd, &m_wake_value, sizeof(m_wake_value), 0);
    ::io_uring_sqe_set_data64(sqe, tag_wake);
  }

  void arm_multishot(socket_state* s) noexcept {
    ::io_uring_sqe* sqe = get_sqe();
    if (s->is_listener) {
      ::io_uring_prep_multishot_accept(sqe, s->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      ::io_uring_sqe_set_data64(sqe, encode(s, tag_accept));
    } else {
      ::io_uring_prep_recv_multishot(sqe, s->fd, nullptr, 0, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = buffer_ring::k_group_id;
      ::io_uring_sqe_set_data64(sqe, encode(s, tag_recv_multi));
    }
    ++s->inflight;
    s->multishot_armed = true;
    s->multishot_paused = false;
  }

  // A single-shot POLLOUT for a send_file that found the socket full; on_op sends on.
  void arm_writable(io_operation* op) noexcept {
    ::io_uring_sqe* sqe = get_sqe();
    ::io_uring_prep_poll_add(sqe, op->socket->fd, POLLOUT);
    ::io_uring_sqe_set_data64(sqe, encode(op, tag_op));
  }

  void prep_send(io_operation* op) noexcept {
    ::io_uring_sqe* sqe = get_sqe();
    const int fd = op->socket->fd;
    if (op->kind == op_kind::send) {
      ::io_uring_prep_send(sqe, fd, op->buffer.data + op->transferred,
                           op->buffer.length - op->transferred, MSG_NOSIGNAL);
    } else {
      auto& v = op->vector;
      if (v.offset != 0) {  // finish the partly sent iovec alone, then go on with sendmsg
        ::io_uring_prep_send(sqe, fd, static_cast<char*>(v.iov[v.index].iov_base) + v.offset,
                             v.iov[v.index].iov_len - v.offset, MSG_NOSIGNAL);
      } else {
        *v.message = {};
        v.message->msg_iov = const_cast<::iovec*>(v.iov + v.index);
        v.message->msg_iovlen = std::min<std::size_t>(v.count - v.index, IOV_MAX);
        ::io_uring_prep_sendmsg(sqe, fd, v.message, MSG_NOSIGNAL);
      }
    }
    ::io_uring_sqe_set_data64(sqe, encode(op, tag_op));
  }

  // Submits what is queued and waits for completions like submit_and_wait_timeout, but lets them
  // gather for up to gather_ns (batch_wait.hpp). liburing 2.3 has no call that passes the
  // min_wait field (the old `pad` of io_uring_getevents_arg), so this publishes the SQ tail and
  // enters the kernel itself.
  void submit_and_gather(std::int64_t timeout_ns, std::int64_t gather_ns) noexcept {
    ::io_uring_sq& sq = m_ring.sq;
    if (sq.sqe_head != sq.sqe_tail) {
      sq.sqe_head = sq.sqe_tail;
      // ordering: release; the kernel reads the SQEs after the tail (as liburing publishes it).
      ::io_uring_smp_store_release(sq.ktail, sq.sqe_tail);
    }
    // A general timeout is always set: without one the kernel returns when the minimum expires
    // even with nothing to harvest, so an idle thread would spin at that period.
    constexpr std::int64_t k_idle_wait_ns = 1'000'000'000;
    if (timeout_ns < 0 || timeout_ns > k_idle_wait_ns) timeout_ns = k_idle_wait_ns;
    ::__kernel_timespec ts{};
    ts.tv_sec = timeout_ns / 1'000'000'000;
    ts.tv_nsec = timeout_ns % 1'000'000'000;
    ::io_uring_getevents_arg arg{};
    // min_wait_usec, in the field liburing 2.3 still calls pad.
    arg.pad = static_cast<std::uint32_t>(std::max<std::int64_t>(gather_ns / 1000, 1));
    arg.ts = reinterpret_cast<std::uint64_t>(&ts);
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    unsigned fd = static_cast<unsigned>(m_ring.ring_fd);
    if (m_ring_registered) {
      flags |= IORING_ENTER_REGISTERED_RING;
      fd = static_cast<unsigned>(m_ring.enter_ring_fd);
    }
    // Returns as soon as k_gather_count are there; errors (EINTR, ETIME) need nothing: the
    // caller harvests what there is either way.
    ::io_uring_enter2(fd, ::io_uring_sq_ready(&m_ring), k_gather_count, flags,
                      reinterpret_cast<::sigset_t*>(&arg), sizeof(arg));
  }

  void harvest() noexcept {
    if (m_batch_wait.enabled()) m_batch_wait.begin_harvest(now_ns());
    m_harvesting = true;  // nothing here cancels, but a nested harvest would see its CQEs twice
    unsigned head;
    unsigned count = 0;
    ::io_uring_cqe* cqe;
    io_uring_for_each_cqe(&m_ring, head, cqe) {
      ++count;
      const std::uint64_t data = cqe->user_data;
      void* p = reinterpret_cast<void*>(data & ~k_tag_mask);
      switch (static_cast<tag>(data & k_tag_mask)) {
        case tag_op:
          on_op(static_cast<io_operation*>(p), cqe->res);
          break;
        case tag_recv_multi:
        case tag_accept:
          on_multishot(static_cast<socket_state*>(p), cqe->res, cqe->flags);
          break;
        case tag_wake:
          arm_wake();
          break;
        case tag_ignore:
          break;
      }
    }
    ::io_uring_cq_advance(&m_ring, count);
    m_harvesting = false;
  }

  void on_op(io_operation* op, int res) noexcept {
    socket_state* s = op->socket;
    if (op->kind == op_kind::send_file && res >= 0) {  // writable (or hung up: the send says)
      res = (s->closing || stopping()) ? -ECANCELED : attempt_send_file(s->fd, *op);
      if (res == -EAGAIN) {
        arm_writable(op);  // the socket's inflight count is unchanged
        return;
      }
    }
    if ((op->kind == op_kind::send || op->kind == op_kind::sendv) && res >= 0) {
      bool done;
      if (op->kind == op_kind::send) {
        op->transferred += static_cast<std::size_t>(res);
        done = op->transferred >= op->buffer.length;
      } else {
        done = advance_sendv(*op, static_cast<std::size_t>(res));
      }
      if (!done) {
        if (res == 0) {
          res = -EPIPE;  // no progress at all: do not spin
        } else if (s->closing || stopping()) {
          res = -ECANCELED;
        } else {
          prep_send(op);  // the rest; the socket's inflight count is unchanged
          return;
        }
      } else {
        res = 0;
      }
    }
    --s->inflight;
    complete(op, res);
    maybe_finalize(s);
  }

  void on_multishot(socket_state* s, int res, unsigned flags) noexcept {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
      --s->inflight;
      s->multishot_armed = false;
      // Nothing will reach a parked receive now: it waits as a submitted one (re-armed below,
      // or when buffers come back).
      if (io_operation* op = s->recv_slot.take_on_edge()) {
        adopt_parked(op);
        s->recv_waiters.push_back(op);
      }
    }
    if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
      const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      m_buffers.note_consumed();
      if (m_batch_wait.enabled()) m_batch_wait.on_arrival(s->last_arrival_ns);
      offer(s, {res, id, true});
    } else if (res >= 0) {
      offer(s, {res, 0, false});  // an accepted descriptor, or EOF
    } else if (res == -ENOBUFS) {
      m_buffers.note_empty();
      if (!s->recv_waiters.empty() && !s->closing) {
        s->starved = true;
        m_starved.push_back(s);
        m_buffers.set_starving(true);
      }
    } else if (res != -ECANCELED) {
      offer(s, {res, 0, false});
    }
    const std::size_t pause_at =
        s->is_listener ? completion_queue::k_accept_ahead : completion_queue::k_pause_at;
    if (more && !s->multishot_paused && s->pending.size() >= pause_at) {
      s->multishot_paused = true;  // nobody reads: stop taking buffers for this socket
      ::io_uring_sqe* sqe = get_sqe();
      ::io_uring_prep_cancel64(sqe, encode(s, s->is_listener ? tag_accept : tag_recv_multi), 0);
      ::io_uring_sqe_set_data64(sqe, tag_ignore);
    }
    if (!s->multishot_armed && !s->starved && !s->closing && !stopping() &&
        !s->recv_waiters.empty()) {
      arm_multishot(s);
    }
    note_idle(s);
    maybe_finalize(s);
  }

  // A multishot completion: to the first waiter, or queued on the socket.
  void offer(socket_state* s, pending_completion c) noexcept {
    if (s->closing) {
      discard(s, c);
    } else if (io_operation* op = s->recv_waiters.pop_front()) {
      deliver(s, op, c);
    } else if (io_operation* parked = s->recv_slot.take_for_delivery()) {
      adopt_parked(parked);
      deliver(s, parked, c);
    } else if (s->is_listener && c.result < 0) {
      // An accept error with nobody waiting is not queued (as the epoll backend's accept_ahead):
      // the next accept re-arms the multishot accept and gets the error then if it lasts.
    } else {
      s->pending.push(c);
    }
  }

  // Lets the socket's next receive park (receive_slot.hpp) when a completion will reach it: the
  // multishot is armed and nothing is queued or waiting.
  static void note_idle(socket_state* s) noexcept {
    if (s->multishot_armed && !s->multishot_paused && !s->closing && !s->is_listener &&
        s->pending.empty() && s->recv_waiters.empty()) {
      s->recv_slot.note_drained();
    }
  }

  void deliver(socket_state* s, io_operation* op, pending_completion c) noexcept {
    if (c.has_buffer) {
      auto* p = static_cast<recv_provided_op*>(op);
      p->provided_ring = &m_buffers;
      p->provided_id = c.buffer_id;
    }
    if (op->kind == op_kind::accept) op->transferred = static_cast<std::size_t>(s->family);
    complete(op, c.result);
  }

  void discard(socket_state* s, pending_completion c) noexcept {
    if (c.has_buffer) {
      m_buffers.give_back(c.buffer_id);
    } else if (s->is_listener && c.result >= 0) {
      ::close(c.result);
    }
  }

  void rearm_starved() noexcept {
    std::vector<socket_state*> starved;
    starved.swap(m_starved);
    m_buffers.set_starving(false);
    for (socket_state* s : starved) {
      s->starved = false;
      if (!s->multishot_armed && !s->closing && !s->recv_waiters.empty()) arm_multishot(s);
    }
  }

  void maybe_finalize(socket_state* s) noexcept {
    if (s->closing && s->inflight == 0) finalize(s);
  }

  io_options m_options;
  ::io_uring m_ring{};
  bool m_ring_open = false;
  bool m_harvesting = false;
  bool m_ring_registered = false;
  unsigned m_setup_flags = 0;
  // A gathering wait returns early once this many completions are there.
  static constexpr unsigned k_gather_count = 32;
  batch_wait m_batch_wait;
  int m_wake_fd = -1;
  std::uint64_t m_wake_value = 0;
  buffer_ring m_buffers;
  std::vector<socket_state*> m_starved;
};

}  // namespace

std::unique_ptr<reactor> make_io_uring_reactor(io_context_impl& context,
                                               const io_options& options) {
  return std::make_unique<io_uring_reactor>(context, options);
}

}  // namespace harrier::net::detail
