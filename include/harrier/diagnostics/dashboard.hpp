#pragma once
// The live dashboard page for GET /dashboard (issue 7).
//
// One self-contained HTML page: Chart.js (Debian's libjs-chart.js), the page's script and style
// are inlined at build time (cmake/harrierDashboard.cmake), so serving it needs no CDN and the
// page makes no request other than polling GET /counters (relative to its own URL: serve both
// from the same directory) every 500 ms. It charts thread count and goal, queue length,
// requests/s, p50/p99 latency, active connections and requests, and CPU, and marks each rise of
// harrier_thread_pool_adjustments_total{reason} between two polls on the thread-count chart with
// its reason. It also mirrors its state into the DOM (data-* attributes of #harrier-state) so that
// a headless browser's --dump-dom can check it.

#include <string_view>

namespace harrier::diagnostics {

inline constexpr std::string_view k_dashboard_content_type = "text/html; charset=utf-8";

// The whole page. The view stays valid until the program exits; thread-safe.
std::string_view dashboard_html();

}  // namespace harrier::diagnostics
