#pragma once
// The awaitables that tcp_stream, listener, connect and sleep_for return. Each derives from
// io_operation, so the whole operation state lives in the awaiting coroutine's frame. They are
// neither copyable nor movable: use them as `co_await stream.recv(...)`.

#include <harrier/core/block_pool.hpp>
#include <harrier/net/detail/io_operation.hpp>
#include <harrier/net/endpoint.hpp>
#include <harrier/net/io_result.hpp>
#include <harrier/net/recv_buffer.hpp>

#include <cerrno>
#include <coroutine>
#include <span>
#include <system_error>
#include <utility>

namespace harrier::net {
class tcp_stream;
struct accept_result;
struct connect_result;
}  // namespace harrier::net

namespace harrier::net::detail {

// -errno -> error_code; ECANCELED becomes exactly operation_canceled_error().
std::error_code to_error(int negative_errno) noexcept;

// The operations common to all socket awaitables: a closed stream (socket == nullptr) completes
// at once with bad_file_descriptor.
template <typename Derived>
class socket_awaitable : public io_operation {
 public:
  socket_awaitable(op_kind k, socket_state* s, cancellation_token&& t) noexcept
      : io_operation(k, nullptr, s, std::move(t)) {
    if (s == nullptr) result = -EBADF;
  }
  bool await_ready() const noexcept { return socket == nullptr; }
  bool await_suspend(std::coroutine_handle<> h) noexcept { return suspend_operation(*this, h); }
};

class recv_op : public socket_awaitable<recv_op> {
 public:
  recv_op(socket_state* s, std::span<std::byte> into, cancellation_token t) noexcept
      : socket_awaitable(op_kind::recv, s, std::move(t)) {
    buffer = {into.data(), into.size()};
  }
  io_result await_resume() noexcept {
    if (result < 0) return {to_error(result), 0};
    return {{}, static_cast<std::size_t>(result)};
  }
};

class recv_provided_op : public socket_awaitable<recv_provided_op> {
 public:
  recv_provided_op(socket_state* s, cancellation_token t, recv_cancel on_cancel) noexcept
      : socket_awaitable(op_kind::recv_provided, s, std::move(t)) {
    deliver_received = on_cancel == recv_cancel::deliver_received;
  }
  recv_buffer_result await_resume() noexcept;

  // The result, filled by the backend: a ring buffer (io_uring) or a pool block (epoll).
  buffer_ring* provided_ring = nullptr;
  std::uint16_t provided_id = 0;
  harrier::block provided_block;
};

class send_op : public socket_awaitable<send_op> {
 public:
  send_op(socket_state* s, std::span<const std::byte> data, cancellation_token t) noexcept
      : socket_awaitable(op_kind::send, s, std::move(t)) {
    buffer = {const_cast<std::byte*>(data.data()), data.size()};
  }
  io_result await_resume() noexcept {
    if (result < 0) return {to_error(result), transferred};
    return {{}, transferred};
  }
};

class sendv_op : public socket_awaitable<sendv_op> {
 public:
  sendv_op(socket_state* s, std::span<const ::iovec> buffers, cancellation_token t) noexcept
      : socket_awaitable(op_kind::sendv, s, std::move(t)) {
    vector = {buffers.data(), static_cast<std::uint32_t>(buffers.size()), 0, 0, &m_message};
  }
  io_result await_resume() noexcept {
    if (result < 0) return {to_error(result), transferred};
    return {{}, transferred};
  }

 private:
  ::msghdr m_message;
};

class send_file_op : public socket_awaitable<send_file_op> {
 public:
  send_file_op(socket_state* s, int file_fd, std::uint64_t offset, std::size_t length,
               cancellation_token t) noexcept
      : socket_awaitable(op_kind::send_file, s, std::move(t)) {
    file = {file_fd, offset, length};
  }
  io_result await_resume() noexcept {
    if (result < 0) return {to_error(result), transferred};
    return {{}, transferred};
  }
};

class accept_op : public socket_awaitable<accept_op> {
 public:
  accept_op(socket_state* s, cancellation_token t, bool wait = true) noexcept
      : socket_awaitable(op_kind::accept, s, std::move(t)) {
    no_wait = !wait;
  }
  accept_result await_resume() noexcept;
};

class connect_op : public io_operation {
 public:
  connect_op(reactor* r, const endpoint& to, cancellation_token t) noexcept;
  ~connect_op();  // closes the socket if the result was never taken
  bool await_ready() const noexcept { return socket == nullptr; }
  bool await_suspend(std::coroutine_handle<> h) noexcept { return suspend_operation(*this, h); }
  connect_result await_resume() noexcept;

 private:
  endpoint m_to;
};

class timer_op : public io_operation {
 public:
  timer_op(reactor* r, std::int64_t deadline_ns, cancellation_token t) noexcept
      : io_operation(op_kind::timer, r, nullptr, std::move(t)) {
    timer = {deadline_ns, 0, 0};
  }
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) noexcept { return suspend_operation(*this, h); }
  std::error_code await_resume() noexcept {
    return result < 0 ? to_error(result) : std::error_code{};
  }
};

// An awaitable whose result is known at once (shutdown_send).
struct ready_io_result {
  io_result value;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  io_result await_resume() const noexcept { return value; }
};

}  // namespace harrier::net::detail
