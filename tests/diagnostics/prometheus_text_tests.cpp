#include <harrier/diagnostics/metric_exposition.hpp>
#include <harrier/diagnostics/metric_names.hpp>
#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/diagnostics/process_metrics.hpp>

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using namespace harrier::diagnostics;
namespace m = harrier::diagnostics::metrics;

namespace {

constexpr const char* k_promtool = "/usr/bin/promtool";

struct command_result {
  int exit_code = -1;
  std::string output;
};

// Runs `promtool check metrics` on text through a temporary file; stdout and stderr together.
command_result promtool_check(const std::string& text) {
  char path[] = "/tmp/harrier-metrics-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
  const std::string command = std::string(k_promtool) + " check metrics < " + path + " 2>&1";
  command_result result;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 512> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr)
    result.output += buffer.data();
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  ::unlink(path);
  return result;
}

// A registry holding every standard metric, with awkward label values.
void fill_standard_metrics(metric_registry& registry) {
  const histogram_vec duration = registry.make_histogram_vec(
      m::k_http_server_request_duration_seconds, {"method", "route", "status"},
      m::http_duration_buckets_seconds());
  duration.with({"GET", "/plaintext", "200"}).observe(0.0004);
  duration.with({"GET", "/plaintext", "200"}).observe(0.03);
  duration.with({"POST", "/echo \"quoted\" \\ back\nslash", "400"}).observe(12.0);
  duration.with({"G\xffT", "/caf\xc3\xa9", "404"}).observe(0.2);  // not UTF-8, then UTF-8
  registry.make_up_down_counter(m::k_http_server_active_requests).add(3);
  registry.make_up_down_counter(m::k_harrier_active_connections).add(2);
  registry.make_counter(m::k_harrier_connections_total).add(10);
  registry.add_gauge_callback(m::k_harrier_thread_pool_threads, [] { return 4.0; }).detach();
  registry.add_gauge_callback(m::k_harrier_thread_pool_thread_goal, [] { return 5.0; }).detach();
  registry.add_gauge_callback(m::k_harrier_thread_pool_queue_length, [] { return 0.0; }).detach();
  registry.make_counter(m::k_harrier_thread_pool_completed_items_total).add(1000);
  const counter_vec adjustments =
      registry.make_counter_vec(m::k_harrier_thread_pool_adjustments_total, {"reason"});
  adjustments.with({"Warmup"}).inc();
  adjustments.with({"Starvation"}).add(2);
  registry.make_up_down_counter(m::k_harrier_thread_pool_blocked_threads);
  registry.make_counter(m::k_harrier_io_completions_total).add(12345);
  registry.make_up_down_counter(m::k_harrier_io_pending_operations).add(7);
  registry.make_gauge_vec(m::k_harrier_io_backend_info, {"backend"}).with({"io_uring"}).set(1);
  registry.make_gauge(m::k_harrier_heartbeat_lag_seconds).set(0.0012);
  register_process_metrics(registry);
}

}  // namespace

TEST_CASE("the text format has HELP, TYPE and one sample line per counter series", "[prometheus]") {
  metric_registry registry;
  registry.make_counter_vec({"test_requests_total", "Requests\nserved, with a \\."}, {"code"})
      .with({"200"})
      .add(3);
  const std::string text = to_prometheus_text(registry.collect());
  CHECK(text ==
        "# HELP test_requests_total Requests\\nserved, with a \\\\.\n"
        "# TYPE test_requests_total counter\n"
        "test_requests_total{code=\"200\"} 3\n");
}

TEST_CASE("label values escape backslash, double quote and newline", "[prometheus]") {
  CHECK(escape_label_value("plain /path") == "plain /path");
  CHECK(escape_label_value("a\\b") == "a\\\\b");
  CHECK(escape_label_value("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(escape_label_value("two\nlines") == "two\\nlines");
  CHECK(escape_help("keeps \"quotes\"\n") == "keeps \"quotes\"\\n");
  CHECK(escape_label_value("caf\xc3\xa9 \xe2\x82\xac") ==
        "caf\xc3\xa9 \xe2\x82\xac");                        // UTF-8 kept
  CHECK(escape_label_value("G\xffT") == "G\xef\xbf\xbdT");  // bad byte -> U+FFFD
  CHECK(escape_label_value("\xc3") == "\xef\xbf\xbd");      // truncated sequence
  CHECK(escape_label_value("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
}

TEST_CASE("histograms expose cumulative buckets up to +Inf, then _sum and _count", "[prometheus]") {
  metric_registry registry;
  const histogram_handle h = registry.make_histogram({"test_wait_seconds", "Wait."}, {0.5, 1});
  h.observe(0.25);
  h.observe(0.75);
  h.observe(3);
  const std::string text = to_prometheus_text(registry.collect());
  CHECK(text ==
        "# HELP test_wait_seconds Wait.\n"
        "# TYPE test_wait_seconds histogram\n"
        "test_wait_seconds_bucket{le=\"0.5\"} 1\n"
        "test_wait_seconds_bucket{le=\"1\"} 2\n"
        "test_wait_seconds_bucket{le=\"+Inf\"} 3\n"
        "test_wait_seconds_sum 4\n"
        "test_wait_seconds_count 3\n");
}

TEST_CASE("promtool accepts the exposition of every standard metric", "[prometheus][promtool]") {
  if (::access(k_promtool, X_OK) != 0) {
    WARN("SKIPPED: " << k_promtool
                     << " is absent (Debian package 'prometheus'); the exposition "
                        "was not validated by promtool");
    return;
  }
  metric_registry registry;
  fill_standard_metrics(registry);
  const std::string text = to_prometheus_text(registry.collect());
  INFO(text);
  const command_result result = promtool_check(text);
  INFO("promtool said: " << result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.empty());
  for (std::string_view name :
       {"http_server_request_duration_seconds_bucket", "http_server_active_requests",
        "harrier_active_connections", "harrier_connections_total", "harrier_thread_pool_threads",
        "harrier_thread_pool_queue_length", "harrier_thread_pool_completed_items_total",
        "harrier_thread_pool_adjustments_total{reason=\"Starvation\"} 2",
        "harrier_thread_pool_blocked_threads", "harrier_io_completions_total",
        "harrier_heartbeat_lag_seconds", "process_cpu_seconds_total",
        "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"}) {
    CHECK(text.find(name) != std::string::npos);
  }
}

TEST_CASE("promtool rejects a malformed exposition, so the check above means something",
          "[prometheus][promtool]") {
  if (::access(k_promtool, X_OK) != 0) {
    WARN("SKIPPED: " << k_promtool << " is absent (Debian package 'prometheus')");
    return;
  }
  const command_result result =
      promtool_check("# TYPE broken counter\nbroken{label=\"unterminated} 1\n");
  CHECK(result.exit_code != 0);
}
