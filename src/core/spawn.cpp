#include <harrier/core/spawn.hpp>

#include <spdlog/spdlog.h>

#include "core/logger.hpp"

namespace harrier::detail {

void report_escaped_exception(std::exception_ptr error, std::string_view what) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    harrier_logger()->error("unhandled exception escaped {}: {}", what, e.what());
  } catch (...) {
    harrier_logger()->error("unhandled exception escaped {}: (not derived from std::exception)",
                            what);
  }
}

}  // namespace harrier::detail
