// The out-of-line halves of the awaitables: results that build objects (streams, buffers).

#include <harrier/net/detail/operations.hpp>
#include <harrier/net/tcp_stream.hpp>

#include "net/io_context_impl.hpp"
#include "net/reactor.hpp"
#include "net/socket_io.hpp"

#include <unistd.h>

#include <cerrno>
#include <new>

namespace harrier::net::detail {

std::error_code to_error(int negative_errno) noexcept {
  if (negative_errno == -ECANCELED) return operation_canceled_error();
  return {-negative_errno, std::system_category()};
}

recv_buffer_result recv_provided_op::await_resume() noexcept {
  if (result < 0) return {to_error(result), {}};
  if (result == 0) return {};  // EOF
  const auto size = static_cast<std::size_t>(result);
  if (provided_ring != nullptr) {
    return {{}, recv_buffer::from_ring(provided_ring, provided_id, size)};
  }
  return {{}, recv_buffer::from_block(std::move(provided_block), size)};
}

accept_result accept_op::await_resume() noexcept {
  if (result < 0) return {tcp_stream{}, to_error(result)};
  const int fd = result;
  const int family = static_cast<int>(transferred);
  try {
    reactor& target = owner->context().next_reactor();
    // TCP_NODELAY is inherited from the listener on Linux; set it anyway only when it is not.
    return {tcp_stream{target.adopt(fd, family, false)}, {}};
  } catch (const std::system_error& e) {
    ::close(fd);
    return {tcp_stream{}, e.code()};
  } catch (const std::bad_alloc&) {
    ::close(fd);
    return {tcp_stream{}, std::make_error_code(std::errc::not_enough_memory)};
  }
}

connect_op::connect_op(reactor* r, const endpoint& to, cancellation_token t) noexcept
    : io_operation(op_kind::connect, r, nullptr, std::move(t)), m_to(to) {
  connect = {m_to.data(), m_to.size()};
  const int fd = make_socket(to.family());
  if (fd < 0) {
    result = fd;
    return;
  }
  set_no_delay(fd, to.family());
  try {
    socket = r->adopt(fd, to.family(), false);
  } catch (const std::system_error& e) {
    ::close(fd);
    result = -e.code().value();
  } catch (const std::bad_alloc&) {
    ::close(fd);
    result = -ENOMEM;
  }
}

connect_op::~connect_op() {
  if (socket != nullptr) socket->owner->request_close(socket);
}

connect_result connect_op::await_resume() noexcept {
  if (result < 0) return {tcp_stream{}, to_error(result)};
  return {tcp_stream{std::exchange(socket, nullptr)}, {}};
}

}  // namespace harrier::net::detail

namespace harrier::net {

detail::connect_op connect(io_context& context, const endpoint& to, cancellation_token token) {
  return detail::connect_op(&context.impl().next_reactor(), to, std::move(token));
}

}  // namespace harrier::net
