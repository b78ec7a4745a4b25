#include <harrier/core/task.hpp>

namespace harrier::detail {

void throw_empty_task() {
  throw std::logic_error(
      "harrier::task: awaited an empty task (default-constructed or moved-from); expected a task "
      "returned by a coroutine");
}

}  // namespace harrier::detail
