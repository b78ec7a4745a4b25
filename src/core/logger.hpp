#pragma once
// The "harrier" spdlog logger every layer writes through (internal header).

#include <memory>

#include <spdlog/logger.h>

namespace harrier::detail {

// Returns the logger named "harrier", creating it (stderr, colour when a terminal) on first use.
// An application may register its own logger under that name before harrier's first log line.
std::shared_ptr<spdlog::logger> harrier_logger();

}  // namespace harrier::detail
