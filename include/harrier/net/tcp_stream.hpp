#pragma once
// tcp_stream: a connected stream socket (TCP over IPv4/IPv6, or a Unix domain socket).
//
// Contract:
// - Move-only; the destructor closes. Non-blocking and close-on-exec underneath.
// - At most one receive (recv or recv_provided) and one send (send or sendv) may be pending at a
//   time, from any threads; they may overlap each other. Pick one receive style per stream:
//   recv (your buffer) or recv_provided (a buffer the layer picks only when data arrives, so an
//   idle connection holds none; io_uring keeps a multishot receive armed once it is used).
// - send/sendv complete when every byte was handed to the kernel, or with an error.
// - recv completes with bytes == 0 and no error at EOF.
// - close() (noexcept) makes pending operations complete with operation_canceled; the descriptor
//   is released by the I/O thread as soon as the kernel has let go of it. Do not start new
//   operations concurrently with close().
// - Operations on a closed stream complete at once with bad_file_descriptor.

#include <harrier/core/cancellation.hpp>
#include <harrier/net/detail/operations.hpp>
#include <harrier/net/endpoint.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/net/io_result.hpp>
#include <harrier/net/recv_buffer.hpp>

#include <sys/uio.h>

#include <span>
#include <system_error>
#include <utility>

namespace harrier::net {

class tcp_stream {
 public:
  tcp_stream() noexcept = default;
  explicit tcp_stream(detail::socket_state* state) noexcept : m_state(state) {}
  tcp_stream(tcp_stream&& other) noexcept : m_state(std::exchange(other.m_state, nullptr)) {}
  tcp_stream& operator=(tcp_stream&& other) noexcept {
    if (this != &other) {
      close();
      m_state = std::exchange(other.m_state, nullptr);
    }
    return *this;
  }
  tcp_stream(const tcp_stream&) = delete;
  tcp_stream& operator=(const tcp_stream&) = delete;
  ~tcp_stream() { close(); }

  [[nodiscard]] detail::recv_op recv(std::span<std::byte> buffer,
                                     cancellation_token token = {}) noexcept {
    return detail::recv_op(m_state, buffer, std::move(token));
  }
  // on_cancel: see recv_cancel (recv_buffer.hpp).
  [[nodiscard]] detail::recv_provided_op recv_provided(
      cancellation_token token = {}, recv_cancel on_cancel = recv_cancel::immediate) noexcept {
    return detail::recv_provided_op(m_state, std::move(token), on_cancel);
  }
  [[nodiscard]] detail::send_op send(std::span<const std::byte> data,
                                     cancellation_token token = {}) noexcept {
    return detail::send_op(m_state, data, std::move(token));
  }
  // The iovec array must stay valid until the send completes (it is not copied).
  [[nodiscard]] detail::sendv_op sendv(std::span<const ::iovec> buffers,
                                       cancellation_token token = {}) noexcept {
    return detail::sendv_op(m_state, buffers, std::move(token));
  }
  // Sends `length` bytes of the file `file_fd` from `offset` without copying them through user
  // space (sendfile(2)); counts as the stream's one pending send. Completes when every byte was
  // handed to the kernel, or with an error: std::errc::io_error if the file ends before
  // offset + length (it was truncated meanwhile). The file's own offset is not used or moved.
  // The page-cache read happens on the thread that calls sendfile: a cold file on a slow disk
  // delays that thread (as nginx without aio threads).
  [[nodiscard]] detail::send_file_op send_file(int file_fd, std::uint64_t offset,
                                               std::size_t length,
                                               cancellation_token token = {}) noexcept {
    return detail::send_file_op(m_state, file_fd, offset, length, std::move(token));
  }
  // Half-close: the peer reads EOF after the bytes already sent. Completes at once.
  [[nodiscard]] detail::ready_io_result shutdown_send() noexcept;

  void close() noexcept;
  bool is_open() const noexcept { return m_state != nullptr; }
  int native_handle() const noexcept;
  endpoint local_endpoint() const;
  endpoint remote_endpoint() const;

 private:
  detail::socket_state* m_state = nullptr;
};

struct accept_result {
  tcp_stream stream;
  std::error_code error;
  explicit operator bool() const noexcept { return !error; }
};

struct connect_result {
  tcp_stream stream;
  std::error_code error;
  explicit operator bool() const noexcept { return !error; }
};

// Connects a new stream to `to` (TCP_NODELAY on TCP). Socket creation failures complete at once
// with their error.
[[nodiscard]] detail::connect_op connect(io_context& context, const endpoint& to,
                                         cancellation_token token = {});

}  // namespace harrier::net
