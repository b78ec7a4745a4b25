// parse_options: a strict parser; an unknown option or a bad value is an error, never ignored.

#include "options.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace harrier::tools {

const char* const k_usage =
    "Usage:\n"
    "  harrier-counters monitor [--url URL] [--interval SECONDS] [--once] [--timeout SECONDS]\n"
    "  harrier-counters collect [--url URL] [--format csv|json] [--duration SECONDS]\n"
    "                           [--interval SECONDS] [-o FILE] [--timeout SECONDS]\n"
    "\n"
    "Polls GET URL/counters of a harrier server (default URL http://127.0.0.1:5000; also\n"
    "http://unix:/path/to.sock) and shows thread-pool, request, connection, latency, CPU and\n"
    "heartbeat figures. Rates and percentiles cover the last interval (default 1 s).\n"
    "\n"
    "  monitor   redraws a live table until Ctrl-C; --once samples one interval, prints one\n"
    "            table and exits\n"
    "  collect   writes one sample per interval for --duration seconds (default 30) as CSV or\n"
    "            JSON to FILE (default: standard output)\n";

namespace {

std::chrono::milliseconds parse_seconds(const std::string& option, const std::string& text,
                                        double min_seconds) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) ||
      value < min_seconds || value > 86'400) {
    throw std::invalid_argument(
        fmt::format("{} expects a number of seconds between {} and 86400, got '{}'", option,
                    min_seconds, text));
  }
  return std::chrono::milliseconds(static_cast<long long>(std::llround(value * 1000)));
}

}  // namespace

options parse_options(const std::vector<std::string>& args) {
  options o;
  if (args.empty()) throw std::invalid_argument("missing command (monitor or collect)");
  if (args[0] == "monitor") {
    o.cmd = command::monitor;
  } else if (args[0] == "collect") {
    o.cmd = command::collect;
  } else if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    o.cmd = command::help;
    return o;
  } else {
    throw std::invalid_argument(
        fmt::format("unknown command '{}' (expected monitor or collect)", args[0]));
  }
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> inline_value;
    if (const std::size_t eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) throw std::invalid_argument(fmt::format("{} needs a value", name));
      return args[++i];
    };
    const bool collect = o.cmd == command::collect;
    if (name == "-h" || name == "--help") {
      o.cmd = command::help;
      return o;
    } else if (name == "--url") {
      o.url = value();
    } else if (name == "--interval") {
      o.interval = parse_seconds(name, value(), 0.05);
    } else if (name == "--timeout") {
      o.timeout = parse_seconds(name, value(), 0.05);
    } else if (name == "--once" && !collect && !inline_value) {
      o.once = true;
    } else if (name == "--duration" && collect) {
      o.duration = parse_seconds(name, value(), 0.05);
    } else if (name == "--format" && collect) {
      const std::string f = value();
      if (f == "csv") {
        o.format = output_format::csv;
      } else if (f == "json") {
        o.format = output_format::json;
      } else {
        throw std::invalid_argument(fmt::format("--format expects csv or json, got '{}'", f));
      }
    } else if ((name == "-o" || name == "--output") && collect) {
      o.output_path = value();
    } else {
      throw std::invalid_argument(fmt::format("unknown option '{}' for {}", args[i], args[0]));
    }
  }
  return o;
}

}  // namespace harrier::tools
