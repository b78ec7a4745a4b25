#pragma once
// exception_handler()'s decision, shared with app_pipeline: when the exception handler is the
// outermost middleware, the pipeline applies it from its own frame rather than running it as a
// stage (a coroutine frame and a call through the chain per request, ~170 instructions).

#include <harrier/core/task.hpp>
#include <harrier/middleware/pipeline.hpp>
#include <harrier/middleware/results.hpp>

#include <optional>

namespace harrier::detail {

// Inside a catch block: the problem to answer the exception being handled with, or nullopt when
// it is to go on to the HTTP layer (see exception_handler() in builtin.hpp).
std::optional<result> problem_for_exception(context& ctx);

// What exception_handler() returns, a named type so that app_pipeline::build() can recognise it.
struct exception_handler_stage {
  task<void> operator()(context& ctx, next_handler next) const;
};

}  // namespace harrier::detail
