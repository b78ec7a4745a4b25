// Process figures from Linux: getrusage(RUSAGE_SELF) for CPU time, /proc/self/statm for the
// resident set, /proc/self/fd for descriptors, /proc/self/stat for threads and start time (with
// /proc/stat's btime). Each reader returns 0 when its source is unavailable rather than failing
// a scrape.

#include <harrier/diagnostics/metric_names.hpp>
#include <harrier/diagnostics/process_metrics.hpp>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace harrier::diagnostics {

namespace {

double cpu_seconds() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::uint64_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size_pages = 0;
  std::uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::uint64_t open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  const int own_fd = ::dirfd(dir);
  const std::string own = std::to_string(own_fd);
  std::uint64_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.' || own == entry->d_name) continue;
    ++count;
  }
  ::closedir(dir);
  return count;
}

// Fields of /proc/self/stat after the command name, which may itself hold spaces and ')'.
// Index 0 is field 3 (state) of proc(5).
std::vector<std::string> stat_fields_after_comm() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const std::size_t close = line.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 1));
  for (std::string f; rest >> f;)
    fields.push_back(f);
  return fields;
}

constexpr std::size_t k_num_threads_index = 20 - 3;  // proc(5) field 20
constexpr std::size_t k_starttime_index = 22 - 3;    // proc(5) field 22, clock ticks after boot

double boot_time_unix_seconds() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double btime = 0;
      in >> btime;
      return btime;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

double start_time_unix_seconds() {
  static const double value = [] {
    const std::vector<std::string> fields = stat_fields_after_comm();
    const double boot = boot_time_unix_seconds();
    if (fields.size() <= k_starttime_index || boot == 0) return 0.0;
    const double ticks = std::stod(fields[k_starttime_index]);
    return boot + ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }();
  return value;
}

std::uint64_t thread_count() {
  const std::vector<std::string> fields = stat_fields_after_comm();
  if (fields.size() <= k_num_threads_index) return 0;
  return std::stoull(fields[k_num_threads_index]);
}

}  // namespace

process_stats read_process_stats() {
  process_stats s;
  s.cpu_seconds = cpu_seconds();
  s.resident_memory_bytes = resident_memory_bytes();
  s.open_fds = open_fds();
  s.threads = thread_count();
  s.start_time_unix_seconds = start_time_unix_seconds();
  return s;
}

void register_process_metrics(metric_registry& registry) {
  registry.add_counter_callback(metrics::k_process_cpu_seconds_total, cpu_seconds).detach();
  registry
      .add_gauge_callback(metrics::k_process_resident_memory_bytes,
                          [] { return static_cast<double>(resident_memory_bytes()); })
      .detach();
  registry
      .add_gauge_callback(metrics::k_process_open_fds,
                          [] { return static_cast<double>(open_fds()); })
      .detach();
  registry
      .add_gauge_callback(metrics::k_process_threads,
                          [] { return static_cast<double>(thread_count()); })
      .detach();
  registry.add_gauge_callback(metrics::k_process_start_time_seconds, start_time_unix_seconds)
      .detach();
}

}  // namespace harrier::diagnostics
