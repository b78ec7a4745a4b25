#pragma once
// Results of network operations. I/O failures never throw on the hot path: they travel as
// std::error_code. A cancelled operation (cancellation token, close() of its socket, or the
// io_context stopping) completes with std::errc::operation_canceled, exactly once.

#include <cstddef>
#include <system_error>

namespace harrier::net {

struct io_result {
  std::error_code error;
  // recv: bytes == 0 && !error means the peer closed its sending side (EOF).
  std::size_t bytes = 0;
  explicit operator bool() const noexcept { return !error; }
};

// The error every cancelled operation completes with.
inline std::error_code operation_canceled_error() noexcept {
  return std::make_error_code(std::errc::operation_canceled);
}

}  // namespace harrier::net
