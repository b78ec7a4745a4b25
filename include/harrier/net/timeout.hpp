#pragma once
// with_timeout: a deadline for one operation.
//
//   auto r = co_await with_timeout(ctx, 30s, [&](harrier::cancellation_token t) {
//     return stream.recv(buffer, std::move(t));
//   });
//   // On timeout: r.error == operation_canceled_error().
//
// Contract:
// - `make(token)` builds the operation (any awaitable of this layer) with the token it must
//   observe; it is called once, at once, and the operation starts. A timer on the io_context runs
//   beside it. If the timer fires first the token is cancelled, so the operation completes with
//   operation_canceled; if the operation finishes first the timer is cancelled.
// - Structured: with_timeout completes only once both the operation and the timer have, so
//   nothing outlives it. `make` and whatever it refers to must live until then.
// - Cost: two coroutine frames (frame allocator) and two cancellation states (one allocation
//   each); no system call, since timers live in the I/O thread's heap.

#include <harrier/core/cancellation.hpp>
#include <harrier/core/task.hpp>
#include <harrier/core/when_all.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/net/timer.hpp>

#include <chrono>
#include <tuple>
#include <type_traits>
#include <utility>

namespace harrier::net {
namespace detail {

inline task<void> fire_after(io_context& context, std::chrono::nanoseconds timeout,
                             cancellation_token stop, cancellation_source target) {
  std::error_code stopped = co_await sleep_for(context, timeout, std::move(stop));
  if (!stopped) target.request_cancellation();
}

template <typename MakeOp>
using timed_result_t = std::remove_cvref_t<
    decltype(std::declval<MakeOp&>()(std::declval<cancellation_token>()).await_resume())>;

template <typename MakeOp>
task<timed_result_t<MakeOp>> await_then_stop(MakeOp make, cancellation_token token,
                                             cancellation_source stop) {
  struct stop_on_exit {
    cancellation_source& source;
    ~stop_on_exit() { source.request_cancellation(); }
  } guard{stop};
  co_return co_await make(std::move(token));
}

}  // namespace detail

template <typename MakeOp>
task<detail::timed_result_t<MakeOp>> with_timeout(io_context& context,
                                                  std::chrono::nanoseconds timeout, MakeOp make) {
  cancellation_source expire;
  cancellation_source stop_timer;
  auto results =
      co_await when_all(detail::await_then_stop(std::move(make), expire.token(), stop_timer),
                        detail::fire_after(context, timeout, stop_timer.token(), expire));
  co_return std::move(std::get<0>(results));
}

}  // namespace harrier::net
