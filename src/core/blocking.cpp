#include <harrier/core/blocking.hpp>

namespace harrier {
namespace {
thread_local blocking_observer* t_observer = nullptr;
thread_local unsigned t_depth = 0;
}  // namespace

blocking_observer* set_thread_blocking_observer(blocking_observer* observer) noexcept {
  blocking_observer* previous = t_observer;
  t_observer = observer;
  return previous;
}

blocking_observer* thread_blocking_observer() noexcept {
  return t_observer;
}

blocking_region::blocking_region() noexcept : m_observer(nullptr) {
  // Only the outermost region notifies: nested blocking calls are still one blocked thread.
  if (t_depth++ == 0 && t_observer != nullptr) {
    m_observer = t_observer;
    m_observer->on_blocking_begin();
  }
}

blocking_region::~blocking_region() {
  --t_depth;
  if (m_observer != nullptr) m_observer->on_blocking_end();
}

}  // namespace harrier
