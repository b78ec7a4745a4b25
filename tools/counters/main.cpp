// harrier-counters: a live view of a harrier server's counters, like `dotnet-counters`.
//
// Each sample is one GET /counters (a JSON registry snapshot, schema in
// harrier/diagnostics/metric_exposition.hpp), read back with from_json_text(); figures.cpp turns
// two consecutive snapshots into the figures shown. Polls are scheduled on absolute times (start +
// k * interval) so that a slow answer does not make the samples drift. Ctrl-C (SIGINT) or SIGTERM
// ends monitor and collect cleanly: collect still writes the samples it has.
//
// Exit codes: 0 success, 1 the server could not be reached or did not answer a snapshot (or the
// output could not be written), 2 bad arguments (the usage is printed).

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <harrier/diagnostics/metric_exposition.hpp>

#include "figures.hpp"
#include "http_get.hpp"
#include "options.hpp"
#include "output.hpp"

namespace {

using namespace harrier::tools;
using harrier::diagnostics::registry_snapshot;
using steady = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;

void on_stop_signal(int) {
  g_stop = 1;
}

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

// Sleeps until `when`, waking early on a stop signal; returns false when stopped.
bool sleep_until(steady::time_point when) {
  constexpr auto k_step = std::chrono::milliseconds(20);  // bounds the reaction to Ctrl-C
  while (g_stop == 0) {
    const auto now = steady::now();
    if (now >= when) return true;
    std::this_thread::sleep_for(std::min<steady::duration>(when - now, k_step));
  }
  return false;
}

registry_snapshot fetch_snapshot(const base_url& url, std::chrono::milliseconds timeout) {
  const http_response response = http_get(url, "/counters", timeout);
  if (response.status != 200) {
    throw fetch_error(fmt::format(
        "GET {}/counters answered {} {}; expected 200 and a JSON snapshot (is this a harrier "
        "server with its diagnostics endpoints?)",
        url.text, response.status, response.reason));
  }
  try {
    return harrier::diagnostics::from_json_text(response.body);
  } catch (const std::invalid_argument& e) {
    throw fetch_error(fmt::format("GET {}/counters did not answer a harrier JSON snapshot: {}",
                                  url.text, e.what()));
  }
}

int run_monitor(const options& o, const base_url& url) {
  const bool redraw = !o.once && ::isatty(STDOUT_FILENO) == 1;
  registry_snapshot previous = fetch_snapshot(url, o.timeout);
  const auto start = steady::now();
  for (long k = 1; sleep_until(start + k * o.interval); ++k) {
    registry_snapshot current = fetch_snapshot(url, o.timeout);
    const std::string table = render_table(url.text, compute_figures(&previous, current));
    // Home the cursor and clear the screen, then draw: the table stays in place like top's.
    std::cout << (redraw ? "\x1b[H\x1b[2J" : "") << table << (redraw ? "" : "\n") << std::flush;
    if (o.once) return 0;
    previous = std::move(current);
  }
  return 0;
}

int run_collect(const options& o, const base_url& url) {
  std::ofstream file;
  if (o.output_path != "-") {
    file.open(o.output_path, std::ios::out | std::ios::trunc);
    if (!file) {
      std::cerr << fmt::format("harrier-counters: cannot write {}: {}\n", o.output_path,
                               std::strerror(errno));
      return 1;
    }
  }
  std::ostream& out = o.output_path == "-" ? std::cout : file;
  const bool csv = o.format == output_format::csv;
  if (csv) out << csv_header() << std::flush;

  std::vector<figures> samples;
  int code = 0;
  try {
    registry_snapshot previous = fetch_snapshot(url, o.timeout);
    const auto start = steady::now();
    const long count =
        std::max<long>(1, (o.duration.count() + o.interval.count() - 1) / o.interval.count());
    for (long k = 1; k <= count && sleep_until(start + k * o.interval); ++k) {
      registry_snapshot current = fetch_snapshot(url, o.timeout);
      samples.push_back(compute_figures(&previous, current));
      if (csv) out << csv_row(samples.back()) << std::flush;  // a crash keeps what was written
      previous = std::move(current);
    }
  } catch (const fetch_error& e) {
    std::cerr << "harrier-counters: " << e.what() << "\n";
    code = 1;
  }
  if (!csv && (code == 0 || !samples.empty()))
    out << json_document(url.text, std::chrono::duration<double>(o.interval).count(), samples);
  out.flush();
  if (!out) {
    std::cerr << fmt::format("harrier-counters: cannot write {}\n", o.output_path);
    return 1;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  std::optional<base_url> url;
  try {
    o = parse_options(std::vector<std::string>(argv + 1, argv + argc));
    if (o.cmd != command::help) url = parse_base_url(o.url);
  } catch (const std::invalid_argument& e) {
    std::cerr << "harrier-counters: " << e.what() << "\n\n" << k_usage;
    return 2;
  }
  if (o.cmd == command::help) {
    std::cout << k_usage;
    return 0;
  }
  install_stop_handlers();
  try {
    return o.cmd == command::monitor ? run_monitor(o, *url) : run_collect(o, *url);
  } catch (const std::exception& e) {  // fetch_error, and anything unforeseen: a message, not abort
    std::cerr << "harrier-counters: " << e.what() << "\n";
    return 1;
  }
}
