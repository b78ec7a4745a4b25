#pragma once
// tcp_transport: the net layer's tcp_stream and io_context timer, as an http::transport.
//
// The server wraps each accepted stream in one of these and runs an http1_connection on it. The
// stream and the io_context must outlive the connection's run(). The net layer allows the one
// pending receive, one pending send and timers that the connection uses at the same time.

#include <harrier/http/transport.hpp>
#include <harrier/net/tcp_stream.hpp>
#include <harrier/net/timer.hpp>

namespace harrier::http {

class tcp_transport {
 public:
  tcp_transport(net::tcp_stream& stream, net::io_context& context) noexcept
      : m_stream(&stream), m_context(&context) {}

  auto recv(std::span<std::byte> buffer, cancellation_token token) {
    return m_stream->recv(buffer, std::move(token));
  }
  auto send(std::span<const std::byte> data, cancellation_token token) {
    return m_stream->send(data, std::move(token));
  }
  auto sendv(std::span<const ::iovec> buffers, cancellation_token token) {
    return m_stream->sendv(buffers, std::move(token));
  }
  auto shutdown_send() { return m_stream->shutdown_send(); }
  void close() noexcept { m_stream->close(); }
  auto sleep_for(std::chrono::nanoseconds delay, cancellation_token token) {
    return net::sleep_for(*m_context, delay, std::move(token));
  }
  transport_clock::time_point now() const { return transport_clock::now(); }

 private:
  net::tcp_stream* m_stream;
  net::io_context* m_context;
};

}  // namespace harrier::http
