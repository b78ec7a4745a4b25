// io_options::detector: under inline dispatch each I/O thread ("harrier-io-N") registers with the
// blocking detector and marks every coroutine it resumes as an item, so that a handler blocking
// the thread is named; with a dispatch executor the I/O threads run no handlers and stay out.

#include <harrier/core/spawn.hpp>
#include <harrier/core/task.hpp>
#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/net/timer.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <string>

#include <pthread.h>

using namespace std::chrono_literals;
using harrier::task;

namespace {

struct blocked_item {
  std::promise<std::string> started;  // the thread's name
  std::promise<void> release;
  std::promise<void> finished;
};

// After a timer (so that it resumes where completions resume), holds that thread until released.
task<void> block_after_a_timer(harrier::net::io_context& ctx, blocked_item& item) {
  (void)co_await harrier::net::sleep_for(ctx, 1ms);
  char name[16] = {};
  ::pthread_getname_np(::pthread_self(), name, sizeof name);
  item.started.set_value(name);
  (void)item.release.get_future().wait_for(5s);
  item.finished.set_value();
}

}  // namespace

TEST_CASE("under inline dispatch a handler blocking an I/O thread is an item the detector sees",
          "[net][context]") {
  harrier::diagnostics::blocking_detector detector(
      harrier::diagnostics::blocking_detector_options{.threshold = 300ms, .capture_stacks = false});
  harrier::net::io_options options;
  options.detector = &detector;  // dispatch: nullptr, inline
  harrier::net::io_context ctx(options);
  CHECK_FALSE(detector.any_item_running());

  blocked_item item;
  auto started = item.started.get_future();
  auto finished = item.finished.get_future();
  harrier::spawn(block_after_a_timer(ctx, item), "blocking item");
  REQUIRE(started.wait_for(5s) == std::future_status::ready);
  CHECK(started.get() == "harrier-io-0");
  CHECK(detector.any_item_running());
  const auto t0 = harrier::diagnostics::blocking_detector::clock::now();
  CHECK(detector.scan(t0) == 0);
  CHECK(detector.scan(t0 + 400ms) == 1);
  item.release.set_value();
  REQUIRE(finished.wait_for(5s) == std::future_status::ready);
  ctx.stop();
}

TEST_CASE("with a dispatch executor the I/O threads stay out of the detector", "[net][context]") {
  harrier::diagnostics::blocking_detector detector(
      harrier::diagnostics::blocking_detector_options{.threshold = 300ms, .capture_stacks = false});
  harrier::thread_pool_options pool_options;
  pool_options.min_threads = 1;
  pool_options.max_threads = 2;
  harrier::thread_pool pool(pool_options);  // not given the detector either
  harrier::net::io_options options;
  options.dispatch = &pool;
  options.detector = &detector;
  {
    harrier::net::io_context ctx(options);
    blocked_item item;
    auto started = item.started.get_future();
    auto finished = item.finished.get_future();
    harrier::spawn(block_after_a_timer(ctx, item), "blocking item");
    REQUIRE(started.wait_for(5s) == std::future_status::ready);
    CHECK(started.get() != "harrier-io-0");  // a pool worker runs it
    CHECK_FALSE(detector.any_item_running());
    item.release.set_value();
    REQUIRE(finished.wait_for(5s) == std::future_status::ready);
    ctx.stop();
  }
  pool.stop();
}
