#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/diagnostics/process_metrics.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

using namespace harrier::diagnostics;

TEST_CASE("process figures are sane: RSS, fds and threads above zero, start in the past",
          "[process]") {
  const process_stats s = read_process_stats();
  CHECK(s.resident_memory_bytes > 1024 * 1024);
  CHECK(s.open_fds >= 3);  // at least stdin, stdout, stderr under ctest
  CHECK(s.threads >= 1);
  CHECK(s.cpu_seconds >= 0);
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(s.start_time_unix_seconds > now - 24 * 3600);
  CHECK(s.start_time_unix_seconds <= now + 1);
}

TEST_CASE("opening a descriptor shows up in the open fd count", "[process]") {
  const std::uint64_t before = read_process_stats().open_fds;
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  CHECK(read_process_stats().open_fds == before + 1);
  ::close(fd);
}

TEST_CASE("CPU seconds grow when the process burns CPU", "[process]") {
  const double before = read_process_stats().cpu_seconds;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(60);
  volatile unsigned sink = 0;
  while (std::chrono::steady_clock::now() < until)
    sink = sink + 1;
  CHECK(read_process_stats().cpu_seconds > before);
}

TEST_CASE("register_process_metrics exposes the five process metrics at scrape time", "[process]") {
  metric_registry registry;
  register_process_metrics(registry);
  const registry_snapshot snapshot = registry.collect();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_open_fds", "process_threads", "process_start_time_seconds"}) {
    INFO(name);
    const family_snapshot* f = snapshot.find(name);
    REQUIRE(f != nullptr);
    REQUIRE(f->series.size() == 1);
    CHECK(f->series[0].value >= 0);
  }
  CHECK(snapshot.find("process_resident_memory_bytes")->series[0].value > 0);
  CHECK(snapshot.find("process_open_fds")->series[0].value > 0);
  CHECK(snapshot.find("process_cpu_seconds_total")->type == metric_type::counter);
  CHECK_THROWS_AS(register_process_metrics(registry), std::invalid_argument);
}
