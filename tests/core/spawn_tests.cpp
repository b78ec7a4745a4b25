#include <harrier/core/executor.hpp>
#include <harrier/core/spawn.hpp>
#include <harrier/core/task.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include <coroutine>
#include <deque>
#include <sstream>
#include <stdexcept>

using harrier::task;

namespace {

task<void> set_flag(bool& flag) {
  flag = true;
  co_return;
}

task<void> throw_logic() {
  throw std::logic_error("escaped on purpose");
  co_return;
}

// An executor that queues and runs only when told: shows that spawn(ex, ...) does not run inline.
struct manual_executor final : harrier::executor {
  std::deque<std::coroutine_handle<>> queue;
  void post(std::coroutine_handle<> h) override { queue.push_back(h); }
  void run_all() {
    while (!queue.empty()) {
      auto h = queue.front();
      queue.pop_front();
      h.resume();
    }
  }
};

}  // namespace

TEST_CASE("spawn starts the task at once on the calling thread", "[spawn]") {
  bool ran = false;
  harrier::spawn(set_flag(ran));
  CHECK(ran);
}

TEST_CASE("spawn on an executor starts the task there, not inline", "[spawn]") {
  manual_executor ex;
  bool ran = false;
  harrier::spawn(ex, set_flag(ran));
  CHECK_FALSE(ran);
  ex.run_all();
  CHECK(ran);
}

TEST_CASE("an exception escaping a spawned task is logged, not fatal", "[spawn]") {
  // Make sure the logger exists, then capture what it writes.
  harrier::spawn(throw_logic(), "warm-up task");
  auto logger = spdlog::get("harrier");
  REQUIRE(logger);
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  logger->sinks().push_back(sink);

  harrier::spawn(throw_logic(), "the test's task");

  logger->sinks().pop_back();
  const std::string text = captured.str();
  CHECK_THAT(text, Catch::Contains("escaped on purpose"));
  CHECK_THAT(text, Catch::Contains("the test's task"));
}
