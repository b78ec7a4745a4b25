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

TEST_CASE(
    "a quiet pool whose detector watches a busy I/O thread wakes once per scan period, scans, "
    "and samples nothing",
    "[threadpool][blocking_detector]") {
  // Inline dispatch: handlers run on the I/O thread, the pool has nothing to do, and the monitor
  // ticks only for rule 6. It used to tick every monitor_interval (10 ms) then, each tick taking a
  // hill-climbing sample of the idle pool (a /proc/stat read): 0.7 % of a CPU under load.
  using clock = std::chrono::steady_clock;
  harrier::test::captured_log log;
  {  // the pool and the detector go before the log
    // 1 s: a scan period of 100 ms.
    harrier::diagnostics::blocking_detector detector(
        harrier::diagnostics::blocking_detector_options{.threshold = 1000ms,
                                                        .capture_stacks = false});
    harrier::thread_pool_options options;
    options.min_threads = 1;
    options.max_threads = 2;
    options.detector = &detector;          // hill climbing on, as by default
    harrier::test::event_recorder events;  // before the pool: its workers emit until it goes
    harrier::thread_pool pool(options);
    events.attach(pool);

    harrier::test::flag began;
    harrier::test::flag release;
    std::thread io_thread([&] {
      detector.register_current_thread("io-test",
                                       harrier::diagnostics::watched_thread_role::io_thread);
      harrier::diagnostics::blocking_detector::item_begin();
      began.set();
      (void)release.wait_for(5s);
      harrier::diagnostics::blocking_detector::item_end();
      detector.unregister_current_thread();
    });
    REQUIRE(began.wait_for(5s));
    const auto start = clock::now();
    std::this_thread::sleep_for(300ms);  // past the quiet ticks that come first
    const auto window_start = clock::now();
    const std::uint64_t ticks_before = pool.stats().monitor_ticks;
    std::this_thread::sleep_for(600ms);
    const std::uint64_t ticks = pool.stats().monitor_ticks - ticks_before;
    const auto window_end = clock::now();

    // The item is reported from the pool's monitor: at 1 s, plus up to two scan periods.
    while (detector.reports() == 0 && clock::now() - start < 5s)
      std::this_thread::sleep_for(5ms);
    const auto reported = clock::now() - start;
    release.set();
    io_thread.join();

    CHECK(ticks <= 15);  // ~6 at one tick per 100 ms; 60 at the working pace
    CHECK(detector.reports() == 1);
    CHECK(reported < 1800ms);  // due by 1.2 s; slack for a loaded machine
    std::size_t samples = 0;
    for (const harrier::thread_pool_event& e : events.events()) {
      if (e.kind == harrier::thread_pool_event_kind::sample && e.time >= window_start &&
          e.time <= window_end) {
        ++samples;
      }
    }
    CHECK(samples == 0);
  }
  CHECK(log.text().find("Work item on I/O thread io-test has been running") != std::string::npos);
}
