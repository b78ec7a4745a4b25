#pragma once
// Timers: co_await sleep_for(ctx, 10ms) completes with no error once the duration has passed
// (never early, measured on steady_clock from the call), or with operation_canceled when the
// token is cancelled or the io_context stops. Each I/O thread keeps its timers in one heap and
// sleeps in its wait call until the earliest deadline, so a timer costs no system call.
//
// Deadlines on other operations: with_timeout (timeout.hpp) runs an operation beside a timer that
// cancels it.

#include <harrier/core/cancellation.hpp>
#include <harrier/net/detail/operations.hpp>
#include <harrier/net/io_context.hpp>

#include <chrono>

namespace harrier::net {

[[nodiscard]] detail::timer_op sleep_until(io_context& context,
                                           std::chrono::steady_clock::time_point deadline,
                                           cancellation_token token = {});
[[nodiscard]] detail::timer_op sleep_for(io_context& context, std::chrono::nanoseconds duration,
                                         cancellation_token token = {});

}  // namespace harrier::net
