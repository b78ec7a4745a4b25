#include "core/logger.hpp"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace harrier::detail {

std::shared_ptr<spdlog::logger> harrier_logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("harrier")) return existing;
    auto created = spdlog::stderr_color_mt("harrier");
    created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%t] %v");
    return created;
  }();
  return logger;
}

}  // namespace harrier::detail
