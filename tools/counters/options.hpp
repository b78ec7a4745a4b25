#pragma once
// harrier-counters' command line: `monitor` and `collect`, their options, and the usage text.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace harrier::tools {

enum class command { monitor, collect, help };
enum class output_format { csv, json };

struct options {
  command cmd = command::help;
  std::string url = "http://127.0.0.1:5000";
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds duration{30'000};  // collect
  std::chrono::milliseconds timeout{5000};     // per request
  output_format format = output_format::csv;   // collect
  std::string output_path = "-";               // collect; "-" is standard output
  bool once = false;                           // monitor
};

extern const char* const k_usage;

// Throws std::invalid_argument with a message naming the bad argument and what was expected.
options parse_options(const std::vector<std::string>& args);

}  // namespace harrier::tools
