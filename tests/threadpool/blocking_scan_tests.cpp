// The pool scans its blocking detector from the monitor (monitor.cpp, rule 6): an item that holds
// its worker past the threshold is named within two scan periods of it, and short items never.

#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "event_recorder.hpp"
#include "support/captured_log.hpp"

using namespace std::chrono_literals;

TEST_CASE("the monitor reports an item held past the detector's threshold soon after it",
          "[threadpool][blocking_detector]") {
  using clock = std::chrono::steady_clock;
  harrier::diagnostics::blocking_detector detector(
      harrier::diagnostics::blocking_detector_options{.threshold = 300ms, .capture_stacks = false});
  harrier::thread_pool_options options;
  options.min_threads = 1;
  options.max_threads = 2;
  options.hill_climbing = false;
  options.detector = &detector;
  harrier::thread_pool pool(options);

  // Short items: under the threshold, never reported.
  for (int i = 0; i < 3; ++i) {
    harrier::test::flag done;
    pool.post([&] {
      std::this_thread::sleep_for(50ms);
      done.set();
    });
    REQUIRE(done.wait_for(5s));
  }
  CHECK(detector.reports() == 0);

  // A 1 s block, with a 300 ms threshold: the heartbeat's 1 s scan missed it.
  std::atomic<clock::rep> began{0};
  harrier::test::flag release;
  harrier::test::flag returned;
  pool.post([&] {
    began.store(clock::now().time_since_epoch().count());
    (void)release.wait_for(1s);
    returned.set();
  });
  const auto give_up = clock::now() + 5s;
  while (detector.reports() == 0 && clock::now() < give_up)
    std::this_thread::sleep_for(2ms);
  const auto reported = clock::now();
  release.set();
  REQUIRE(returned.wait_for(5s));
  REQUIRE(detector.reports() == 1);
  const auto after = reported - clock::time_point(clock::duration(began.load()));
  CHECK(after >= 300ms);  // never early
  // Expected by 360 ms (threshold + two 30 ms periods); the rest is slack for a loaded machine,
  // and still under the 1 s the item blocks.
  CHECK(after < 900ms);
}

TEST_CASE(
    "reports held back by the detector's log interval are logged once it is over, with "
    "the pool quiet",
    "[threadpool][blocking_detector]") {
  // The monitor scans only while something runs; reports waiting for their summary line keep it
  // scanning, so the line comes when the interval ends rather than at the next burst.
  using clock = std::chrono::steady_clock;
  harrier::test::captured_log log;
  {  // the pool and the detector go before the log
    harrier::diagnostics::blocking_detector detector(
        harrier::diagnostics::blocking_detector_options{
            .threshold = 100ms, .capture_stacks = false, .log_interval = 1500ms});
    harrier::thread_pool_options options;
    options.min_threads = 2;
    options.max_threads = 2;
    options.hill_climbing = false;
    options.detector = &detector;
    harrier::thread_pool pool(options);

    harrier::test::flag first_done;
    harrier::test::flag second_done;
    // 500 ms each: reported (100 ms) with room for a slow monitor; over long before the
    // interval (1.5 s after the first warning), so the summary comes while the pool is quiet.
    pool.post([&] {
      std::this_thread::sleep_for(500ms);
      first_done.set();
    });
    pool.post([&] {
      std::this_thread::sleep_for(500ms);
      second_done.set();
    });
    REQUIRE(first_done.wait_for(5s));
    REQUIRE(second_done.wait_for(5s));
    CHECK(detector.reports() == 2);
    // Nothing runs any more: the summary must still come, within the interval and some scans.
    const auto give_up = clock::now() + 5s;
    while (log.text().find("1 more work item ran past") == std::string::npos &&
           clock::now() < give_up)
      std::this_thread::sleep_for(5ms);
    const std::string text = log.text();
    INFO(text);
    CHECK(text.find("has been running for at least") != std::string::npos);
    CHECK(text.find("1 more work item ran past the 100 ms threshold") != std::string::npos);
  }
}
