#pragma once
// instant_transport: an http::transport whose operations complete at once, for benchmarks of the
// protocol and application layers without system calls. recv hands out `batch` (the prepared
// requests) `batches_left` times, then EOF; sends only count bytes; the watchdog's sleep never
// completes by itself (cancellation resumes it inline).

#include <harrier/core/cancellation.hpp>
#include <harrier/http/transport.hpp>

#include <sys/uio.h>

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <system_error>

namespace harrier::bench {

struct instant_transport {
  std::string batch;  // what each recv returns
  std::size_t batches_left = 0;
  std::size_t bytes_sent = 0;
  std::size_t sends = 0;

  struct result_awaiter {
    http::io_result result;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    http::io_result await_resume() const noexcept { return result; }
  };
  result_awaiter recv(std::span<std::byte> buffer, cancellation_token = {}) {
    if (batches_left == 0) return {};  // EOF
    --batches_left;
    const std::size_t n = std::min(buffer.size(), batch.size());
    std::memcpy(buffer.data(), batch.data(), n);
    return {{{}, n}};
  }
  result_awaiter send(std::span<const std::byte> data, cancellation_token = {}) {
    ++sends;
    bytes_sent += data.size();
    return {{{}, data.size()}};
  }
  result_awaiter sendv(std::span<const ::iovec> buffers, cancellation_token = {}) {
    ++sends;
    std::size_t n = 0;
    for (const ::iovec& v : buffers)
      n += v.iov_len;
    bytes_sent += n;
    return {{{}, n}};
  }
  result_awaiter shutdown_send() { return {}; }
  void close() noexcept {}

  // The watchdog's sleep: never completes by itself; cancellation resumes it inline.
  struct sleep_awaiter {
    cancellation_token token;
    std::optional<cancellation_registration> registration;
    std::coroutine_handle<> handle;
    bool await_ready() const noexcept { return token.is_cancellation_requested(); }
    void await_suspend(std::coroutine_handle<> h) {
      handle = h;
      registration.emplace(token, [this]() noexcept { handle.resume(); });
    }
    std::error_code await_resume() { return std::make_error_code(std::errc::operation_canceled); }
  };
  sleep_awaiter sleep_for(std::chrono::nanoseconds, cancellation_token token = {}) {
    return sleep_awaiter{std::move(token), std::nullopt, {}};
  }
  http::transport_clock::time_point now() const { return http::transport_clock::now(); }
};

}  // namespace harrier::bench
