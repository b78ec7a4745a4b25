#include "threadpool/machine_cpu.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

namespace harrier::detail {
namespace {

std::uint64_t next_number(std::string_view& line) {
  while (!line.empty() && line.front() == ' ')
    line.remove_prefix(1);
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), value);
  if (error != std::errc()) {
    line = {};
    return 0;
  }
  line.remove_prefix(static_cast<std::size_t>(end - line.data()));
  return value;
}

}  // namespace

machine_cpu_reader::machine_cpu_reader() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) {
        if (m_cpus.size() <= static_cast<std::size_t>(cpu)) m_cpus.resize(cpu + 1, false);
        m_cpus[static_cast<std::size_t>(cpu)] = true;
      }
    }
  }
}

bool machine_cpu_reader::sum_cpus(std::string_view stat, const std::vector<bool>& cpus,
                                  std::uint64_t& busy, std::uint64_t& total) {
  busy = 0;
  total = 0;
  bool found = false;
  while (!stat.empty()) {
    const std::size_t newline = stat.find('\n');
    std::string_view line = stat.substr(0, newline);
    stat = newline == std::string_view::npos ? std::string_view() : stat.substr(newline + 1);
    // "cpuN user nice system idle iowait irq softirq steal guest guest_nice"; "cpu " is the sum.
    if (line.size() < 4 || line.substr(0, 3) != "cpu" || line[3] == ' ') continue;
    line.remove_prefix(3);
    std::size_t cpu = 0;
    const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), cpu);
    if (error != std::errc() || cpu >= cpus.size() || !cpus[cpu]) continue;
    line.remove_prefix(static_cast<std::size_t>(end - line.data()));
    const std::uint64_t user = next_number(line);
    const std::uint64_t nice = next_number(line);
    const std::uint64_t system = next_number(line);
    const std::uint64_t idle = next_number(line);
    const std::uint64_t iowait = next_number(line);
    const std::uint64_t irq = next_number(line);
    const std::uint64_t softirq = next_number(line);
    const std::uint64_t steal = next_number(line);
    const std::uint64_t used = user + nice + system + irq + softirq + steal;
    busy += used;
    total += used + idle + iowait;
    found = true;
  }
  return found;
}

machine_cpu_reader::~machine_cpu_reader() {
  if (m_fd >= 0) ::close(m_fd);
}

double machine_cpu_reader::busy_since_last() {
  if (m_cpus.empty()) return -1;
  if (m_fd < 0) {
    m_fd = ::open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (m_fd < 0) return -1;
  }
  // The per-CPU lines come first: read until the line after them ("intr", whose interrupt
  // counts can run to tens of KiB on a big machine) has begun, or to the end.
  std::size_t length = 0;
  if (m_text.size() < 4096) m_text.resize(4096);
  for (;;) {
    if (length == m_text.size()) m_text.resize(m_text.size() * 2);
    const ssize_t n =
        ::pread(m_fd, m_text.data() + length, m_text.size() - length, static_cast<off_t>(length));
    if (n > 0) {
      length += static_cast<std::size_t>(n);
      if (std::string_view(m_text.data(), length).find("\nintr") != std::string_view::npos) break;
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      return -1;
    }
  }
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
  if (!sum_cpus(std::string_view(m_text.data(), length), m_cpus, busy, total)) return -1;
  double result = -1;
  if (m_have_previous && total > m_total && busy >= m_busy) {
    result = static_cast<double>(busy - m_busy) / static_cast<double>(total - m_total);
    if (result > 1) result = 1;
  }
  m_busy = busy;
  m_total = total;
  m_have_previous = true;
  return result;
}

}  // namespace harrier::detail
