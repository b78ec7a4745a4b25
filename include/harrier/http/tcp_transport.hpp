#pragma once
// tcp_transport: the net layer's tcp_stream and io_context timer, as an http::transport.
//
// The server wraps each accepted stream in one of these and runs an http1_connection on it. The
// stream and the io_context must outlive the connection's run(). The net layer allows the one
// pending receive, one pending send and timers that the connection uses at the same time.
//
// Receives use the stream's provided-buffer receive (recv_provided), not a receive into the
// connection's buffer: on io_uring that is one multishot receive armed for the connection's
// whole life, so a request costs no receive submission and no poll arming in the kernel, and
// bytes that arrive while a handler runs are already in user space when it finishes. recv()
// copies from the provided buffer into the caller's (a request head is a few hundred bytes); what
// does not fit stays here, in `m_leftover`, for the next recv(), and the provided buffer goes
// back to the ring as soon as it is drained.

#include <harrier/core/task.hpp>
#include <harrier/http/transport.hpp>
#include <harrier/net/tcp_stream.hpp>
#include <harrier/net/timer.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <coroutine>
#include <cstring>
#include <span>

namespace harrier::http {

class tcp_transport {
 public:
  tcp_transport(net::tcp_stream& stream, net::io_context& context) noexcept
      : m_stream(&stream), m_context(&context) {}

  // recv and wait_readable return the connection's own io_result, so that its transport adapter
  // hands their tasks on without a coroutine frame of its own.
  task<io_result> recv(std::span<std::byte> buffer, cancellation_token token) {
    if (m_leftover.empty()) {
      net::recv_buffer_result got = co_await m_stream->recv_provided(std::move(token));
      const io_result r = keep(std::move(got));
      if (r.error || r.bytes == 0) co_return r;
    }
    co_return io_result{{}, take(buffer)};
  }
  // The same wait and send kept in the awaiting coroutine's frame (transport.hpp): no frame
  // of their own. A wait with input already kept completes at once.
  bool start_wait_readable(transport_op& op, cancellation_token token, std::coroutine_handle<> h) {
    if (!m_leftover.empty()) {
      op.emplace<kept_input>(io_result{{}, m_leftover.size() - m_offset});
      return false;
    }
    auto& wait = op.emplace<wait_op>(*this, std::move(token));
    return !wait.operation.await_ready() && wait.operation.await_suspend(h);
  }
  bool start_sendv(transport_op& op, std::span<const ::iovec> buffers, cancellation_token token,
                   std::coroutine_handle<> h) {
    if (buffers.size() == 1) {  // send(2): the kernel's plainer path
      auto& send = op.emplace<send_one>(*m_stream, buffers[0], std::move(token));
      return !send.operation.await_ready() && send.operation.await_suspend(h);
    }
    auto& send = op.emplace<send_vector>(*m_stream, buffers, std::move(token));
    return !send.operation.await_ready() && send.operation.await_suspend(h);
  }
  // Waits for input and keeps it for recv(); bytes: how many are waiting (0: EOF). Cancelled,
  // it completes with input that had reached the socket by then (net::recv_cancel).
  task<io_result> wait_readable(cancellation_token token) {
    if (m_leftover.empty()) {
      net::recv_buffer_result got =
          co_await m_stream->recv_provided(std::move(token), net::recv_cancel::deliver_received);
      co_return keep(std::move(got));
    }
    co_return io_result{{}, m_leftover.size() - m_offset};
  }
  // What wait_readable kept, copied without waiting; 0 when nothing waits.
  std::size_t take_ready(std::span<std::byte> buffer) noexcept {
    return m_leftover.empty() ? 0 : take(buffer);
  }
  // Kept input, or a byte in the socket (peeked, without waiting).
  bool input_waiting() noexcept {
    if (!m_leftover.empty()) return true;
    std::byte byte{};
    return ::recv(m_stream->native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }
  auto send(std::span<const std::byte> data, cancellation_token token) {
    return m_stream->send(data, std::move(token));
  }
  auto sendv(std::span<const ::iovec> buffers, cancellation_token token) {
    return m_stream->sendv(buffers, std::move(token));
  }
  auto send_file(int fd, std::uint64_t offset, std::size_t length, cancellation_token token) {
    return m_stream->send_file(fd, offset, length, std::move(token));
  }
  auto shutdown_send() { return m_stream->shutdown_send(); }
  // Any thread: the peer sees the connection end now (transport_base::abort_io).
  void abort_io() noexcept { (void)::shutdown(m_stream->native_handle(), SHUT_RDWR); }
  void close() noexcept {
    m_leftover.release();
    m_stream->close();
  }
  auto sleep_for(std::chrono::nanoseconds delay, cancellation_token token) {
    return net::sleep_for(*m_context, delay, std::move(token));
  }
  transport_clock::time_point now() const { return transport_clock::now(); }

 private:
  struct kept_input {
    io_result result;
    io_result finish() noexcept { return result; }
  };
  struct wait_op {
    wait_op(tcp_transport& t, cancellation_token token) noexcept
        : transport(t),
          operation(
              t.m_stream->recv_provided(std::move(token), net::recv_cancel::deliver_received)) {}
    io_result finish() noexcept { return transport.keep(operation.await_resume()); }
    tcp_transport& transport;
    net::detail::recv_provided_op operation;
  };
  struct send_one {
    send_one(net::tcp_stream& stream, const ::iovec& buffer, cancellation_token token) noexcept
        : operation(stream.send(std::span<const std::byte>(
                                    static_cast<const std::byte*>(buffer.iov_base), buffer.iov_len),
                                std::move(token))) {}
    io_result finish() noexcept {
      const net::io_result r = operation.await_resume();
      return {r.error, r.bytes};
    }
    net::detail::send_op operation;
  };
  struct send_vector {
    send_vector(net::tcp_stream& stream, std::span<const ::iovec> buffers,
                cancellation_token token) noexcept
        : operation(stream.sendv(buffers, std::move(token))) {}
    io_result finish() noexcept {
      const net::io_result r = operation.await_resume();
      return {r.error, r.bytes};
    }
    net::detail::sendv_op operation;
  };

  // Keeps a received buffer as the leftover; the result as recv reports it (bytes 0: EOF).
  io_result keep(net::recv_buffer_result r) noexcept {
    if (r.error) return {r.error, 0};
    m_leftover = std::move(r.buffer);
    m_offset = 0;
    return {{}, m_leftover.size()};
  }
  std::size_t take(std::span<std::byte> into) noexcept {
    const std::span<const std::byte> rest = m_leftover.bytes().subspan(m_offset);
    const std::size_t n = std::min(rest.size(), into.size());
    std::memcpy(into.data(), rest.data(), n);
    m_offset += n;
    if (m_offset == m_leftover.size()) m_leftover.release();
    return n;
  }

  net::tcp_stream* m_stream;
  net::io_context* m_context;
  net::recv_buffer m_leftover;  // received, not yet handed to the connection
  std::size_t m_offset = 0;     // bytes of m_leftover already handed out
};

}  // namespace harrier::http
