#pragma once
// captured_log: what the "harrier" logger writes while it lives (lines as "level message"),
// for tests that assert on log output. Removes its sink when destroyed, also when a REQUIRE
// throws, so no later test writes into a dead stream.

#include "core/logger.hpp"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <sstream>
#include <string>

namespace harrier::test {

class captured_log {
 public:
  captured_log() : m_sink(std::make_shared<spdlog::sinks::ostream_sink_mt>(m_stream)) {
    m_sink->set_pattern("%l %v");
    harrier::detail::harrier_logger()->sinks().push_back(m_sink);
  }
  ~captured_log() { std::erase(harrier::detail::harrier_logger()->sinks(), m_sink); }
  captured_log(const captured_log&) = delete;
  captured_log& operator=(const captured_log&) = delete;

  std::string text() {
    m_sink->flush();
    return m_stream.str();
  }
  std::size_t lines() {
    const std::string t = text();
    return static_cast<std::size_t>(std::count(t.begin(), t.end(), '\n'));
  }

 private:
  std::ostringstream m_stream;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> m_sink;
};

}  // namespace harrier::test
