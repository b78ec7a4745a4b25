// The embedded dashboard page (cmake/harrierDashboard.cmake, dashboard.hpp): generated at build
// time from src/diagnostics/dashboard/ with Chart.js inlined.

#include <harrier/diagnostics/dashboard.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <string_view>
#include <thread>

using harrier::diagnostics::dashboard_html;

namespace {

std::size_t count(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

}  // namespace

TEST_CASE("the dashboard page is a complete HTML document", "[dashboard]") {
  const std::string_view page = dashboard_html();
  CHECK(page.starts_with("<!DOCTYPE html>"));
  CHECK(page.find("</html>") != std::string_view::npos);
  // The build replaced every marker with the inlined file.
  CHECK(page.find("<!-- harrier:") == std::string_view::npos);
  CHECK(count(page, "<style>") == 1);
}

TEST_CASE("the dashboard page inlines Chart.js and loads nothing else", "[dashboard]") {
  const std::string_view page = dashboard_html();
  CHECK(page.find("Chart.js v") != std::string_view::npos);
  CHECK(page.size() > 150'000);  // Chart.js alone is ~200 KB: it was embedded, not linked
  CHECK(page.find("<script src") == std::string_view::npos);
  CHECK(page.find("<link") == std::string_view::npos);
  CHECK(page.find("cdn.") == std::string_view::npos);
  // Chart.js, then the page's own script; each opened and closed once.
  CHECK(count(page, "<script>") == 2);
  CHECK(count(page, "</script>") == 2);
}

TEST_CASE("the dashboard page polls /counters every 500 ms", "[dashboard]") {
  const std::string_view page = dashboard_html();
  CHECK(page.find("const k_counters_url = '/counters';") != std::string_view::npos);
  CHECK(page.find("const k_poll_interval_ms = 500;") != std::string_view::npos);
  CHECK(page.find("fetch(k_counters_url") != std::string_view::npos);
}

TEST_CASE("the dashboard page charts the issue's figures and marks adjustments by reason",
          "[dashboard]") {
  const std::string_view page = dashboard_html();
  for (const char* id : {"chart-threads", "chart-queue", "chart-requests", "chart-latency",
                         "chart-connections", "chart-cpu", "harrier-state"}) {
    INFO(id);
    CHECK(page.find(std::string("id=\"") + id + "\"") != std::string_view::npos);
  }
  CHECK(page.find("harrier_thread_pool_adjustments_total") != std::string_view::npos);
  CHECK(page.find("http_server_request_duration_seconds") != std::string_view::npos);
  CHECK(page.find("process_cpu_seconds_total") != std::string_view::npos);
}

TEST_CASE("dashboard_html returns the same view on every call", "[dashboard]") {
  CHECK(dashboard_html().data() == dashboard_html().data());
  CHECK(harrier::diagnostics::k_dashboard_content_type == "text/html; charset=utf-8");
}

TEST_CASE("dashboard_html gives threads calling it at once the same page", "[dashboard]") {
  // The page is assembled on the first call; concurrent first calls must not race (run with TSan).
  std::array<const char*, 4> seen{};
  std::array<std::thread, 4> threads;
  for (std::size_t i = 0; i < threads.size(); ++i)
    threads[i] = std::thread([&seen, i] { seen[i] = dashboard_html().data(); });
  for (std::thread& t : threads)
    t.join();
  for (const char* p : seen)
    CHECK(p == dashboard_html().data());
}
