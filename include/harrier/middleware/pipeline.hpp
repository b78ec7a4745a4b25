#pragma once
// The middleware pipeline: coroutines that wrap each other, in registration order.
//
//   app.use([](harrier::context& ctx, harrier::next_handler next) -> harrier::task<void> {
//     // before
//     co_await next(ctx);
//     // after (the response may have started already)
//   });
//
// A middleware may act before and after `co_await next(ctx)`, skip it (short-circuit), replace
// the response before it starts, and catch exceptions thrown below it. The pipeline is built once
// (build()); running a request allocates nothing for the chain itself: next_handler is two words,
// and each middleware's coroutine frame comes from the recycling frame allocator.

#include <harrier/core/task.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace harrier {

class context;
class pipeline;

// The rest of the pipeline after the current middleware. Copyable, cheap; valid while the
// pipeline lives (for the server's lifetime).
class next_handler {
 public:
  task<void> operator()(context& ctx) const;

 private:
  friend class pipeline;
  next_handler(const pipeline* owner, std::size_t index) noexcept
      : m_owner(owner), m_index(index) {}
  const pipeline* m_owner;
  std::size_t m_index;
};

using middleware_fn = std::function<task<void>(context&, next_handler)>;
using terminal_fn = std::function<task<void>(context&)>;

class pipeline {
 public:
  pipeline(std::vector<middleware_fn> stages, terminal_fn terminal)
      : m_stages(std::move(stages)), m_terminal(std::move(terminal)) {}

  // Runs the whole chain for one request.
  task<void> run(context& ctx) const { return next_handler(this, 0)(ctx); }
  std::size_t size() const noexcept { return m_stages.size(); }

 private:
  friend class next_handler;
  std::vector<middleware_fn> m_stages;
  terminal_fn m_terminal;
};

inline task<void> next_handler::operator()(context& ctx) const {
  if (m_index < m_owner->m_stages.size()) {
    return m_owner->m_stages[m_index](ctx, next_handler(m_owner, m_index + 1));
  }
  return m_owner->m_terminal(ctx);
}

}  // namespace harrier
