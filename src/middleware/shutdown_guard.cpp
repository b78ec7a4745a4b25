// shutdown_guard: see shutdown_guard.hpp.

#include "middleware/shutdown_guard.hpp"

#include "core/logger.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>

namespace harrier::detail {

namespace {
// How often the guard looks at m_done between signals.
constexpr std::chrono::milliseconds k_poll{100};
}  // namespace

shutdown_guard::shutdown_guard(std::chrono::milliseconds limit, const sigset_t& signals)
    : m_thread([this, limit, signals] { watch(limit, signals); }) {}

shutdown_guard::~shutdown_guard() {
  // ordering: release/acquire pairs with watch()'s load; nothing else is shared.
  m_done.store(true, std::memory_order_release);
  m_thread.join();
}

void shutdown_guard::watch(std::chrono::milliseconds limit, sigset_t signals) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!m_done.load(std::memory_order_acquire)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      auto logger = harrier_logger();
      logger->error(
          "shutdown: not finished {} ms after it began, past the shutdown timeout: a handler "
          "blocks its thread for good (sync over async on a pool at max_threads, or a blocking "
          "wait on inline dispatch); exiting without it",
          limit.count());
      logger->flush();
      std::_Exit(0);
    }
    const timespec wait{0, static_cast<long>(std::chrono::nanoseconds(k_poll).count())};
    siginfo_t info{};
    const int received = ::sigtimedwait(&signals, &info, &wait);
    if (received > 0) {
      auto logger = harrier_logger();
      logger->warn("received {} again during the shutdown: exiting now",
                   received == SIGINT ? "SIGINT" : "SIGTERM");
      logger->flush();
      std::_Exit(1);
    }
  }
}

}  // namespace harrier::detail
