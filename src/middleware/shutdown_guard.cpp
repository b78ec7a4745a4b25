// shutdown_guard: see shutdown_guard.hpp.

#include "middleware/shutdown_guard.hpp"

#include "core/logger.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace harrier::detail {

shutdown_guard::shutdown_guard(std::chrono::milliseconds limit)
    : m_thread([this, limit] { watch(limit); }) {}

shutdown_guard::~shutdown_guard() {
  {
    std::lock_guard lock(m_mutex);
    m_done = true;
  }
  m_cv.notify_one();
  m_thread.join();
}

void shutdown_guard::watch(std::chrono::milliseconds limit) noexcept {
  std::unique_lock lock(m_mutex);
  if (m_cv.wait_for(lock, limit, [this] { return m_done; })) return;
  auto logger = harrier_logger();
  logger->error(
      "shutdown: not finished {} ms after it began, past the shutdown timeout: a handler blocks "
      "its thread for good (sync over async on a pool at max_threads, or a blocking wait on "
      "inline dispatch); exiting without it",
      limit.count());
  logger->flush();
  std::_Exit(0);
}

}  // namespace harrier::detail
