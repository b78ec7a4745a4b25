#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/diagnostics/metric_registry.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "support/captured_log.hpp"

using namespace harrier::diagnostics;
using namespace std::chrono_literals;
using clock_type = blocking_detector::clock;

using harrier::test::captured_log;

namespace {

// A registered worker thread that runs the commands it is given, one at a time.
class test_worker {
 public:
  explicit test_worker(blocking_detector& detector,
                       watched_thread_role role = watched_thread_role::pool_worker)
      : m_thread([this, &detector, role] {
          detector.register_current_thread("test-worker-1", role);
          std::unique_lock lock(m_mutex);
          for (;;) {
            m_cv.wait(lock, [this] { return m_command || m_quit; });
            if (m_quit) break;
            auto command = std::exchange(m_command, nullptr);
            lock.unlock();
            command();
            lock.lock();
            m_done = true;
            m_cv.notify_all();
          }
          detector.unregister_current_thread();
        }) {}
  ~test_worker() {
    {
      std::lock_guard lock(m_mutex);
      m_quit = true;
    }
    m_cv.notify_all();
    m_thread.join();
  }
  // Runs command on the worker and waits (bounded) until it returned.
  void run(std::function<void()> command) {
    std::unique_lock lock(m_mutex);
    m_done = false;
    m_command = std::move(command);
    m_cv.notify_all();
    REQUIRE(m_cv.wait_for(lock, 5s, [this] { return m_done; }));
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::function<void()> m_command;
  bool m_done = false;
  bool m_quit = false;
  std::thread m_thread;
};

}  // namespace

TEST_CASE("an item that holds its worker past the threshold is reported once, with its stack",
          "[blocking_detector]") {
  captured_log log;
  metric_registry registry;
  blocking_detector detector(blocking_detector_options{1000ms, true}, &registry);
  test_worker worker(detector);
  worker.run([] {
    blocking_detector::item_begin();
    blocking_detector::describe_current_item("GET /sync/sleep?ms=3000");
  });  // the item stays "running" on the worker, which now waits in a condition variable

  const clock_type::time_point t0{};
  CHECK(detector.scan(t0) == 0);           // first seen
  CHECK(detector.scan(t0 + 500ms) == 0);   // under the threshold
  CHECK(detector.scan(t0 + 1500ms) == 1);  // reported
  CHECK(detector.scan(t0 + 3000ms) == 0);  // once per item
  CHECK(detector.reports() == 1);
  CHECK(registry.make_counter({"harrier_thread_pool_long_items_total", ""}).value() == 1);
  const std::string text = log.text();
  INFO(text);
  CHECK(text.find("warning Work item on thread test-worker-1 has been running for at least 1500 "
                  "ms (GET /sync/sleep?ms=3000): a blocked worker starves the thread pool.") !=
        std::string::npos);
  CHECK(text.find("Its stack:\n  #0 ") != std::string::npos);

  // The next item is a new item: reported again when it, too, runs long.
  worker.run([] {
    blocking_detector::item_end();
    blocking_detector::item_begin();
  });
  CHECK(detector.scan(t0 + 4000ms) == 0);
  CHECK(detector.scan(t0 + 5000ms) == 1);
  worker.run([] { blocking_detector::item_end(); });
}

TEST_CASE("reports within the log interval are counted, then summarised in one line",
          "[blocking_detector]") {
  // 50 clients on /sync/sleep logged 251 warnings with stacks in 6 s (audit 5): after one full
  // warning, the rest of the interval is one line.
  captured_log log;
  metric_registry registry;
  blocking_detector detector(blocking_detector_options{1000ms, false, 10s}, &registry);
  test_worker worker(detector);
  const clock_type::time_point t0{};
  const char* const items[] = {"GET /a", "GET /b", "GET /c"};
  for (int i = 0; i < 3; ++i) {
    worker.run([&] {
      if (i > 0) blocking_detector::item_end();
      blocking_detector::item_begin();
      blocking_detector::describe_current_item(items[i]);
    });
    const auto start = t0 + i * 2000ms;
    CHECK(detector.scan(start) == 0);                               // first seen
    CHECK(detector.scan(start + (i == 1 ? 1700ms : 1500ms)) == 1);  // reported: /b the longest
  }
  CHECK(detector.reports() == 3);
  CHECK(registry.make_counter({"harrier_thread_pool_long_items_total", ""}).value() == 3);
  std::string text = log.text();
  INFO(text);
  CHECK(log.lines() == 1);  // only the first, so far
  CHECK(text.find("Work item on thread test-worker-1 has been running for at least 1500 ms "
                  "(GET /a)") != std::string::npos);

  CHECK(detector.scan(t0 + 11000ms) == 0);  // still inside the interval: nothing more
  CHECK(detector.scan(t0 + 11500ms) == 0);  // the interval is over: the summary
  text = log.text();
  CHECK(log.lines() == 2);
  CHECK(text.find("warning 2 more work items ran past the 1000 ms threshold in the last 10000 ms "
                  "(the longest seen at 1700 ms: GET /b); one warning with a stack is logged per "
                  "10000 ms") != std::string::npos);
  CHECK(detector.scan(t0 + 30000ms) == 0);  // nothing new: no line
  CHECK(log.lines() == 2);

  // A new long item after the interval is logged in full again.
  worker.run([] {
    blocking_detector::item_end();
    blocking_detector::item_begin();
  });
  CHECK(detector.scan(t0 + 31000ms) == 0);
  CHECK(detector.scan(t0 + 32500ms) == 1);
  text = log.text();
  CHECK(log.lines() == 3);
  CHECK(text.rfind("Work item on thread test-worker-1 has been running for at least 1500 ms") >
        text.find("2 more work items"));
  worker.run([] { blocking_detector::item_end(); });
}

TEST_CASE("short items and idle workers are never reported", "[blocking_detector]") {
  captured_log log;
  blocking_detector detector(blocking_detector_options{1000ms, false});
  test_worker worker(detector);
  const clock_type::time_point t0{};
  for (int i = 0; i < 5; ++i) {
    worker.run([] {
      blocking_detector::item_begin();
      blocking_detector::item_end();
    });
    CHECK(detector.scan(t0 + i * 2s) == 0);
  }
  worker.run([] { blocking_detector::item_begin(); });
  CHECK(detector.scan(t0 + 20s) == 0);
  worker.run([] {
    blocking_detector::item_end();
    blocking_detector::item_begin();  // a different item by the next scan
  });
  CHECK(detector.scan(t0 + 22s) == 0);
  worker.run([] { blocking_detector::item_end(); });
  CHECK(detector.scan(t0 + 30s) == 0);
  CHECK(log.text().empty());
}

TEST_CASE("the hot calls are no-ops on an unregistered thread", "[blocking_detector]") {
  blocking_detector::item_begin();
  blocking_detector::describe_current_item("not a worker");
  blocking_detector::item_end();
  blocking_detector detector;
  CHECK(detector.scan(clock_type::now()) == 0);
}

TEST_CASE("the scan period is a tenth of the threshold, between 10 and 100 ms",
          "[blocking_detector]") {
  CHECK(blocking_detector(blocking_detector_options{300ms, false}).scan_period() == 30ms);
  CHECK(blocking_detector(blocking_detector_options{50ms, false}).scan_period() == 10ms);
  CHECK(blocking_detector(blocking_detector_options{5000ms, false}).scan_period() == 100ms);
  CHECK(blocking_detector(blocking_detector_options{300ms, false}).threshold() == 300ms);
}

TEST_CASE("an I/O thread's long item is reported as stalling its connections",
          "[blocking_detector]") {
  captured_log log;
  blocking_detector detector(blocking_detector_options{300ms, false});
  test_worker worker(detector, watched_thread_role::io_thread);
  CHECK_FALSE(detector.any_item_running());
  worker.run([] {
    blocking_detector::item_begin();
    blocking_detector::describe_current_item("GET /sync/sleep?ms=1000");
  });
  CHECK(detector.any_item_running());
  const clock_type::time_point t0{};
  CHECK(detector.scan(t0) == 0);
  CHECK(detector.scan(t0 + 400ms) == 1);
  const std::string text = log.text();
  INFO(text);
  CHECK(text.find("warning Work item on I/O thread test-worker-1 has been running for at least "
                  "400 ms (GET /sync/sleep?ms=1000): a blocked I/O thread stalls every "
                  "connection it serves (inline dispatch).") != std::string::npos);
  worker.run([] { blocking_detector::item_end(); });
  CHECK_FALSE(detector.any_item_running());
}
