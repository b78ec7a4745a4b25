#include <harrier/net/timer.hpp>

#include "net/io_context_impl.hpp"
#include "net/reactor.hpp"

namespace harrier::net {

detail::timer_op sleep_until(io_context& context, std::chrono::steady_clock::time_point deadline,
                             cancellation_token token) {
  const std::int64_t deadline_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  return detail::timer_op(&context.impl().local_reactor(), deadline_ns, std::move(token));
}

detail::timer_op sleep_for(io_context& context, std::chrono::nanoseconds duration,
                           cancellation_token token) {
  return detail::timer_op(&context.impl().local_reactor(), detail::now_ns() + duration.count(),
                          std::move(token));
}

}  // namespace harrier::net
