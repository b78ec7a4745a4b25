#include <harrier/diagnostics/heartbeat.hpp>
#include <harrier/diagnostics/metric_registry.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/captured_log.hpp"

using namespace harrier::diagnostics;
using namespace std::chrono_literals;
using clock_type = heartbeat::clock;

using harrier::test::captured_log;

namespace {}  // namespace

TEST_CASE("a late tick logs a starvation warning with the pool's figures", "[heartbeat]") {
  captured_log log;
  metric_registry registry;
  heartbeat hb(heartbeat_options{1s, 500ms, 10s}, &registry);
  hb.set_pool_load_probe([] { return pool_load{57, 4}; });
  const clock_type::time_point t0{};

  hb.tick(t0, t0 + 100ms);  // 100 ms late: under the threshold
  CHECK(hb.last_lag_seconds() == Approx(0.1));
  CHECK(log.lines() == 0);

  hb.tick(t0 + 1s, t0 + 2200ms);  // 1200 ms late
  CHECK(hb.last_lag_seconds() == Approx(1.2));
  CHECK(hb.warnings_logged() == 1);
  const std::string text = log.text();
  CHECK(text.find("warning Heartbeat took longer than expected (1200 ms late); this may be "
                  "thread-pool starvation (queue length 57, threads 4)") != std::string::npos);
  const registry_snapshot snapshot = registry.collect();
  const family_snapshot* lag = snapshot.find("harrier_heartbeat_lag_seconds");
  REQUIRE(lag != nullptr);
  CHECK(lag->series.at(0).value == Approx(1.2));
}

TEST_CASE("starvation warnings are rate-limited and count what they suppressed", "[heartbeat]") {
  captured_log log;
  heartbeat hb(heartbeat_options{1s, 500ms, 10s});
  const clock_type::time_point t0{};
  hb.tick(t0, t0 + 2s);
  hb.tick(t0 + 3s, t0 + 5s);  // 3 s after the first warning: suppressed
  hb.tick(t0 + 6s, t0 + 8s);  // suppressed
  CHECK(hb.warnings_logged() == 1);
  CHECK(hb.warnings_suppressed() == 2);
  CHECK(log.lines() == 1);
  hb.tick(t0 + 11s, t0 + 13s);  // 11 s after the first warning: logged again
  CHECK(hb.warnings_logged() == 2);
  CHECK(log.lines() == 2);
  CHECK(log.text().find("[2 similar warning(s) suppressed]") != std::string::npos);
}

TEST_CASE("a pool probe that waits for a worker is the heartbeat's lag", "[heartbeat]") {
  captured_log log;
  heartbeat hb(heartbeat_options{1s, 500ms, 10s});
  std::vector<std::function<void()>> queued;  // a pool with no free worker
  hb.set_dispatcher([&](std::function<void()> item) { queued.push_back(std::move(item)); });
  const clock_type::time_point t0{};

  hb.tick(t0, t0);  // posts the first probe
  REQUIRE(queued.size() == 1);
  CHECK(hb.warnings_logged() == 0);

  hb.tick(t0 + 1s, t0 + 1s);  // on time, but the probe has waited 1 s
  CHECK(queued.size() == 1);  // no second probe while the first is pending
  CHECK(hb.last_lag_seconds() == Approx(1.0));
  CHECK(log.text().find("(1000 ms waiting for a thread-pool thread)") != std::string::npos);

  queued.front()();  // a worker finally runs it
  hb.tick(t0 + 2s, t0 + 2s);
  CHECK(queued.size() == 2);           // the next probe was posted
  CHECK(hb.last_lag_seconds() < 0.5);  // the probe's real wait (this test ran it at once)
}

TEST_CASE("a probe run elsewhere than the pool is named so, and no pool figures are made up",
          "[heartbeat]") {
  captured_log log;
  heartbeat_options options{1s, 500ms, 10s};
  options.probe_runner = "an I/O thread";  // inline dispatch: handlers run on the I/O threads
  options.starved = "I/O thread";
  heartbeat hb(options);
  std::vector<std::function<void()>> queued;  // an I/O thread stuck in a handler
  hb.set_dispatcher([&](std::function<void()> item) { queued.push_back(std::move(item)); });
  const clock_type::time_point t0{};
  hb.tick(t0, t0);
  hb.tick(t0 + 1s, t0 + 1s);
  CHECK(hb.warnings_logged() == 1);
  const std::string text = log.text();
  INFO(text);
  CHECK(text.find("warning Heartbeat took longer than expected (1000 ms waiting for an I/O "
                  "thread); this may be I/O thread starvation\n") != std::string::npos);
}

TEST_CASE("the heartbeat thread ticks every interval and runs the callbacks", "[heartbeat]") {
  heartbeat hb(heartbeat_options{5ms, 10s, 10s});
  std::mutex mutex;
  std::condition_variable cv;
  int calls = 0;
  const std::uint64_t id = hb.add_callback([&](std::chrono::system_clock::time_point now) {
    CHECK(now.time_since_epoch().count() > 0);
    std::lock_guard lock(mutex);
    ++calls;
    cv.notify_all();
  });
  hb.start();
  {
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, 5s, [&] { return calls >= 3; }));
  }
  hb.remove_callback(id);
  int calls_after_remove = 0;
  {
    std::lock_guard lock(mutex);
    calls_after_remove = calls;
  }
  const std::uint64_t ticks_then = hb.ticks();
  // Wait (bounded) for two more ticks, then check the removed callback did not run in them.
  const auto deadline = clock_type::now() + 5s;
  while (hb.ticks() < ticks_then + 2 && clock_type::now() < deadline)
    std::this_thread::sleep_for(1ms);
  hb.stop();
  CHECK(hb.ticks() >= ticks_then + 2);
  std::lock_guard lock(mutex);
  CHECK(calls == calls_after_remove);
}

TEST_CASE("stopping a heartbeat with a long interval returns promptly", "[heartbeat]") {
  heartbeat hb(heartbeat_options{1h, 500ms, 10s});
  hb.start();
  const auto before = clock_type::now();
  hb.stop();
  CHECK(clock_type::now() - before < 2s);
  CHECK(hb.ticks() == 0);
}

TEST_CASE("a throwing callback or a refusing pool does not stop the heartbeat", "[heartbeat]") {
  captured_log log;
  heartbeat hb(heartbeat_options{1s, 500ms, 10s});
  int later_calls = 0;
  hb.add_callback([](std::chrono::system_clock::time_point) { throw std::runtime_error("boom"); });
  hb.add_callback([&](std::chrono::system_clock::time_point) { ++later_calls; });
  hb.set_dispatcher([](std::function<void()>) { throw std::logic_error("pool stopped"); });
  const clock_type::time_point t0{};
  hb.tick(t0, t0);
  hb.tick(t0 + 1s, t0 + 1s);
  CHECK(later_calls == 2);
  CHECK(hb.ticks() == 2);
  CHECK(hb.warnings_logged() == 0);  // a refused probe is not counted as waiting
  CHECK(log.text().find("heartbeat callback 1 threw: boom") != std::string::npos);
}
