#pragma once
// The transport an HTTP/1.1 connection runs on, and its type-erased form.
//
// The protocol layer does not know sockets. A connection runs on anything that satisfies
// `http::transport`: the net layer's tcp_stream wrapped with its io_context's timer (the server
// does that), or the in-memory transport of tests/http. Operations follow the net contract
// (/tmp/net_contract.md): awaitables whose result has `.error` (std::error_code) and `.bytes`;
// recv of 0 bytes without error is EOF; a cancelled operation completes once with
// std::errc::operation_canceled. `sleep_for` completes with an empty error_code when the time has
// passed, operation_canceled when cancelled. `now()` is the clock the timeouts use (read by the
// watchdog only, never per request).
//
// Concurrency the connection needs from a transport: one recv pending while a send runs (the
// read-ahead that notices disconnects), and a sleep_for pending on another coroutine (the timeout
// watchdog) alongside both; close() completes whatever is pending. Completions may resume the
// coroutines on any thread; the connection never runs two operations of the same kind at once.
//
// A transport may also offer `send_file(fd, offset, length, token)` (zero-copy file sending);
// when it does not, the connection reads the file and writes the bytes as any body. And it may
// offer `wait_readable(token)`: wait for input without a buffer, keeping what arrives for the next
// recv (result bytes: how much is there, 0 at EOF); cancelled, it completes with the input that
// had arrived by then, if any, rather than the cancellation (a request sent as the keep-alive
// timeout fired is then answered). An idle keep-alive connection then gives its
// receive buffer back while it waits. With wait_readable it may offer `take_ready(buffer)`
// (noexcept, synchronous): copy what wait_readable kept into the buffer and return how many
// bytes, 0 when nothing waits; the connection then takes the bytes without a recv (and its
// coroutine frames) after every wait. And `input_waiting()` (noexcept, synchronous): whether
// input waits to be received, without taking it; the connection asks when an idle wait was
// cancelled by a timeout or shutdown, so that a request already sent is answered, not dropped.
//
// Inside, the connection talks to a `transport_base` (virtual calls, one coroutine frame per I/O
// operation from the recycling frame allocator): the protocol code then lives in .cpp files, once,
// instead of in a template per transport. The cost is small against a system call.
//
// The two operations of every request, the wait for the next one and the response's send, skip
// that frame: a transport may offer `start_wait_readable(op, token, h)` and
// `start_sendv(op, buffers, token, h)`, which construct the operation in `op` (a transport_op,
// kept in the awaiting coroutine's frame), start it, and return true when `h` is to be resumed
// once it completes, false when it completed at once; `op.finish()` then gives the result.
// Without them, the task forms run underneath (a frame, as before).

#include <harrier/core/cancellation.hpp>
#include <harrier/core/task.hpp>

#include <sys/uio.h>

#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

namespace harrier::http {

struct io_result {
  std::error_code error;
  std::size_t bytes = 0;
  explicit operator bool() const noexcept { return !error; }
};

using transport_clock = std::chrono::steady_clock;

template <typename T>
concept transport = requires(T& t, std::span<std::byte> in, std::span<const std::byte> out,
                             std::span<const ::iovec> vec, cancellation_token token,
                             std::chrono::nanoseconds delay) {
  t.recv(in, token);
  t.send(out, token);
  t.sendv(vec, token);
  t.shutdown_send();
  { t.close() }
  noexcept;
  t.sleep_for(delay, token);
  { t.now() } -> std::convertible_to<transport_clock::time_point>;
};

// Room for one operation of a transport's, in the awaiting coroutine's frame: a transport's
// start_* constructs its awaitable here (in place: the net layer's awaitables are immovable) with
// emplace<Op>(args...), where Op has `io_result finish()`, which finish() calls. The operation
// is destroyed by finish(), or with this object if it never finishes.
class transport_op {
 public:
  static constexpr std::size_t k_space = 256;

  transport_op() noexcept = default;
  transport_op(const transport_op&) = delete;
  transport_op& operator=(const transport_op&) = delete;
  ~transport_op() { destroy(); }

  template <typename Op, typename... Args>
  Op& emplace(Args&&... args) {
    static_assert(sizeof(Op) <= k_space, "transport_op: the operation does not fit");
    static_assert(alignof(Op) <= alignof(std::max_align_t));
    destroy();
    Op* op = nullptr;
    if constexpr (std::is_constructible_v<Op, Args&&...>) {
      op = ::new (static_cast<void*>(m_space)) Op(std::forward<Args>(args)...);
    } else {  // an aggregate: clang 14 has no parenthesised aggregate initialisation (P0960)
      op = ::new (static_cast<void*>(m_space)) Op{std::forward<Args>(args)...};
    }
    m_finish = [](std::byte* p) { return std::launder(reinterpret_cast<Op*>(p))->finish(); };
    m_destroy = [](std::byte* p) noexcept { std::launder(reinterpret_cast<Op*>(p))->~Op(); };
    return *op;
  }

  // The operation's result; destroys it.
  io_result finish() {
    struct destroy_after {
      transport_op& self;
      ~destroy_after() { self.destroy(); }
    } guard{*this};
    return m_finish(m_space);
  }

 private:
  void destroy() noexcept {
    if (m_destroy != nullptr) std::exchange(m_destroy, nullptr)(m_space);
  }

  alignas(std::max_align_t) std::byte m_space[k_space];
  io_result (*m_finish)(std::byte*) = nullptr;
  void (*m_destroy)(std::byte*) noexcept = nullptr;
};

// The erased interface the connection uses. Implemented by transport_adapter<T>.
class transport_base {
 public:
  // `co_await wait_readable_op(token)` is `co_await wait_readable(token)`, and
  // `co_await sendv_op(buffers, token)` is `co_await sendv(buffers, token)`, without a coroutine
  // frame of their own when the transport offers start_wait_readable / start_sendv (above).
  class [[nodiscard]] wait_readable_awaiter {
   public:
    wait_readable_awaiter(transport_base& t, cancellation_token token) noexcept
        : m_transport(t), m_token(std::move(token)) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      return m_transport.start_wait_readable(m_op, std::move(m_token), h);
    }
    io_result await_resume() { return m_op.finish(); }

   private:
    transport_base& m_transport;
    cancellation_token m_token;
    transport_op m_op;
  };
  class [[nodiscard]] sendv_awaiter {
   public:
    sendv_awaiter(transport_base& t, std::span<const ::iovec> buffers,
                  cancellation_token token) noexcept
        : m_transport(t), m_buffers(buffers), m_token(std::move(token)) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      return m_transport.start_sendv(m_op, m_buffers, std::move(m_token), h);
    }
    io_result await_resume() { return m_op.finish(); }

   private:
    transport_base& m_transport;
    std::span<const ::iovec> m_buffers;
    cancellation_token m_token;
    transport_op m_op;
  };
  wait_readable_awaiter wait_readable_op(cancellation_token token) noexcept {
    return {*this, std::move(token)};
  }
  sendv_awaiter sendv_op(std::span<const ::iovec> buffers, cancellation_token token) noexcept {
    return {*this, buffers, std::move(token)};
  }

  // What the awaiters call: true when `h` will be resumed once the operation completes, false
  // when it completed at once. By default, the task forms below, kept in `op`.
  virtual bool start_wait_readable(transport_op& op, cancellation_token token,
                                   std::coroutine_handle<> h) {
    return start_task(op, wait_readable(std::move(token)), h);
  }
  virtual bool start_sendv(transport_op& op, std::span<const ::iovec> buffers,
                           cancellation_token token, std::coroutine_handle<> h) {
    return start_task(op, sendv(buffers, std::move(token)), h);
  }

  virtual ~transport_base() = default;
  virtual task<io_result> recv(std::span<std::byte> buffer, cancellation_token token) = 0;
  // Whether wait_readable() is supported (else it fails with operation_not_supported).
  virtual bool can_wait_readable() const noexcept = 0;
  virtual task<io_result> wait_readable(cancellation_token token) = 0;
  // Copies bytes that wait_readable kept, without waiting; 0 when none (or not supported: then
  // recv() takes them).
  virtual std::size_t take_ready(std::span<std::byte> buffer) noexcept = 0;
  // Whether input waits to be received, found without receiving or waiting: after an idle
  // wait was cancelled, a request may have come unseen. false when the transport cannot tell.
  virtual bool input_waiting() noexcept = 0;
  // Sends every byte of every buffer, or fails.
  virtual task<io_result> sendv(std::span<const ::iovec> buffers, cancellation_token token) = 0;
  // Whether send_file() is supported (else it fails with operation_not_supported).
  virtual bool can_send_file() const noexcept = 0;
  // Sends `length` bytes of the file `fd` from `offset`, or fails (std::errc::io_error when the
  // file ends early; then `bytes` says how many went out).
  virtual task<io_result> send_file(int fd, std::uint64_t offset, std::size_t length,
                                    cancellation_token token) = 0;
  virtual task<void> shutdown_send() = 0;
  virtual void close() noexcept = 0;
  // From any thread, while the connection may be using the transport: ends the connection for
  // the peer now (a socket is shut down both ways, not closed: the owner closes it when it is
  // done). For an abort whose handler cannot be interrupted (it blocks its thread). A transport
  // without abort_io() does nothing here.
  virtual void abort_io() noexcept = 0;
  virtual task<std::error_code> sleep_for(std::chrono::nanoseconds delay,
                                          cancellation_token token) = 0;
  virtual transport_clock::time_point now() = 0;

 private:
  struct task_op {
    task<io_result> operation;
    io_result finish() {
      auto awaiter = operation.operator co_await();
      return awaiter.await_resume();
    }
  };
  static bool start_task(transport_op& op, task<io_result> operation, std::coroutine_handle<> h) {
    auto awaiter = op.emplace<task_op>(std::move(operation)).operation.operator co_await();
    // Nothing of `op` is touched once the task may have resumed `h`.
    return !awaiter.await_ready() && awaiter.await_suspend(h);
  }
};

template <transport T>
class transport_adapter final : public transport_base {
 public:
  explicit transport_adapter(T& inner) noexcept : m_inner(inner) {}

  void abort_io() noexcept override {
    if constexpr (requires(T & t) { t.abort_io(); }) m_inner.abort_io();
  }

  // A transport whose recv/wait_readable already return task<io_result> gets its task handed
  // on as it is; others are converted in a coroutine of the adapter's (one more frame).
  task<io_result> recv(std::span<std::byte> buffer, cancellation_token token) override {
    if constexpr (std::is_same_v<decltype(m_inner.recv(buffer, token)), task<io_result>>) {
      return m_inner.recv(buffer, std::move(token));
    } else {
      return convert_recv(buffer, std::move(token));
    }
  }
  bool can_wait_readable() const noexcept override {
    return requires(T & t, cancellation_token c) {
      t.wait_readable(c);
    };
  }
  task<io_result> wait_readable(cancellation_token token) override {
    if constexpr (requires { m_inner.wait_readable(token); }) {
      if constexpr (std::is_same_v<decltype(m_inner.wait_readable(token)), task<io_result>>) {
        return m_inner.wait_readable(std::move(token));
      } else {
        return convert_wait_readable(std::move(token));
      }
    } else {
      return not_supported();
    }
  }
  std::size_t take_ready(std::span<std::byte> buffer) noexcept override {
    if constexpr (requires { m_inner.take_ready(buffer); }) {
      return m_inner.take_ready(buffer);
    } else {
      return 0;
    }
  }
  bool input_waiting() noexcept override {
    if constexpr (requires { m_inner.input_waiting(); }) {
      return m_inner.input_waiting();
    } else {
      return false;
    }
  }
  task<io_result> sendv(std::span<const ::iovec> buffers, cancellation_token token) override {
    if (buffers.size() == 1) {
      auto r = co_await m_inner.send(
          std::span<const std::byte>(static_cast<const std::byte*>(buffers[0].iov_base),
                                     buffers[0].iov_len),
          std::move(token));
      co_return io_result{r.error, r.bytes};
    }
    auto r = co_await m_inner.sendv(buffers, std::move(token));
    co_return io_result{r.error, r.bytes};
  }
  bool start_wait_readable(transport_op& op, cancellation_token token,
                           std::coroutine_handle<> h) override {
    if constexpr (requires { m_inner.start_wait_readable(op, std::move(token), h); }) {
      return m_inner.start_wait_readable(op, std::move(token), h);
    } else {
      return transport_base::start_wait_readable(op, std::move(token), h);
    }
  }
  bool start_sendv(transport_op& op, std::span<const ::iovec> buffers, cancellation_token token,
                   std::coroutine_handle<> h) override {
    if constexpr (requires { m_inner.start_sendv(op, buffers, std::move(token), h); }) {
      return m_inner.start_sendv(op, buffers, std::move(token), h);
    } else {
      return transport_base::start_sendv(op, buffers, std::move(token), h);
    }
  }
  bool can_send_file() const noexcept override {
    return requires(T & t, int fd, std::uint64_t offset, std::size_t length, cancellation_token c) {
      t.send_file(fd, offset, length, c);
    };
  }
  task<io_result> send_file(int fd, std::uint64_t offset, std::size_t length,
                            cancellation_token token) override {
    if constexpr (requires { m_inner.send_file(fd, offset, length, token); }) {
      auto r = co_await m_inner.send_file(fd, offset, length, std::move(token));
      co_return io_result{r.error, r.bytes};
    } else {
      co_return io_result{std::make_error_code(std::errc::operation_not_supported), 0};
    }
  }
  task<void> shutdown_send() override { (void)co_await m_inner.shutdown_send(); }
  void close() noexcept override { m_inner.close(); }
  task<std::error_code> sleep_for(std::chrono::nanoseconds delay,
                                  cancellation_token token) override {
    co_return std::error_code(co_await m_inner.sleep_for(delay, std::move(token)));
  }
  transport_clock::time_point now() override { return m_inner.now(); }

 private:
  task<io_result> convert_recv(std::span<std::byte> buffer, cancellation_token token) {
    auto r = co_await m_inner.recv(buffer, std::move(token));
    co_return io_result{r.error, r.bytes};
  }
  task<io_result> convert_wait_readable(cancellation_token token) {
    auto r = co_await m_inner.wait_readable(std::move(token));
    co_return io_result{r.error, r.bytes};
  }
  static task<io_result> not_supported() {
    co_return io_result{std::make_error_code(std::errc::operation_not_supported), 0};
  }

  T& m_inner;
};

}  // namespace harrier::http
