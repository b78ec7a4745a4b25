// harrier_bench_net: the platform layer's figures, io_uring and epoll side by side in one run.
//
//   echo_ratio_uring_vs_epoll        ping-pong throughput (64 connections, 64-byte requests, one
//                                    in flight per connection), io_uring over epoll, inline
//                                    dispatch. Target >= 1.1. The same with a 2-thread pool is
//                                    echo_ratio_uring_vs_epoll_pool_dispatch, and with the load
//                                    from harrier's io_uring client (a cheaper load generator)
//                                    echo_ratio_uring_vs_epoll_uring_client.
//   echo_server_cpu_us_per_request_{uring,epoll}  CPU time (user + system, all threads, via
//                                    getrusage) of the server process per ping-pong request, and
//                                    their ratio echo_cpu_efficiency_ratio_uring_vs_epoll: steadier
//                                    than throughput on a machine shared with other jobs.
//   idle_connection_bytes_{uring,epoll}  RSS growth per idle connection (10,000 connections, each
//                                    with a recv_provided pending). Target <= 1024 on io_uring.
//   syscalls_per_request_pipelined   system calls made by the server process per request, with 64
//                                    connections each pipelining 16 requests; counted by
//                                    `perf stat -e raw_syscalls:sys_enter -p PID` (all threads)
//                                    when perf works, else by the I/O threads' own counters of
//                                    their wait calls and wake-ups (named in "syscall_method").
//                                    syscalls_per_request_pingpong_uring: the same without
//                                    pipelining (one request in flight per connection).
//
// Method: every measurement runs in a fresh forked process (so heaps and RSS do not carry over),
// which forks its own load generator (bench_client.cpp, a plain epoll loop, identical for both
// backends). The headline figures use inline dispatch (dispatch = nullptr): they compare the
// backends, not a thread pool; bench_pool.hpp stands in for the pool where one is measured. Each
// figure is the median of several runs, the backends alternating.
// --quick: one run each, shorter windows, 2,000 idle connections (a smoke run under 15 s).

#include <harrier/core/spawn.hpp>
#include <harrier/core/task.hpp>
#include <harrier/net/net.hpp>

#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "bench_client.hpp"
#include "bench_pool.hpp"

using namespace std::chrono_literals;
using harrier::task;
using harrier::net::backend_kind;

namespace {

struct server_counters {
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<int> serving{0};
};

task<void> serve(harrier::net::tcp_stream s, server_counters& counters) {
  counters.serving.fetch_add(1, std::memory_order_relaxed);
  while (true) {
    auto r = co_await s.recv_provided();
    if (r.error || r.buffer.empty()) break;
    auto w = co_await s.send(r.buffer.bytes());
    if (w.error) break;
    counters.bytes.fetch_add(r.buffer.size(), std::memory_order_relaxed);
  }
}

task<void> accept_loop(harrier::net::listener& l, int n, server_counters& counters) {
  for (int i = 0; i < n; ++i) {
    auto a = co_await l.accept();
    if (a.error) co_return;
    harrier::spawn(serve(std::move(a.stream), counters));
  }
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs f in a forked process and returns what it reports (NaN figures if it failed). The result
// must be trivially copyable: it crosses a pipe.
template <typename T>
T failed() {
  if constexpr (std::is_same_v<T, double>) {
    return NAN;
  } else {
    return T{};
  }
}

template <typename F>
auto in_child(F f) -> decltype(f()) {
  using result = decltype(f());
  int fds[2];
  if (::pipe(fds) != 0) return failed<result>();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    result v = failed<result>();
    try {
      v = f();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench: %s\n", e.what());
    }
    [[maybe_unused]] ssize_t n = ::write(fds[1], &v, sizeof(v));
    std::fflush(nullptr);
    ::_exit(0);
  }
  ::close(fds[1]);
  result v = failed<result>();
  if (::read(fds[0], &v, sizeof(v)) != sizeof(v)) v = failed<result>();
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  return v;
}

// CPU time (user + system, all threads) this process has used, in microseconds.
double cpu_us() {
  ::rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Throughput, and the server process's CPU time per request (less sensitive to other jobs on a
// shared machine than throughput is).
struct echo_figures {
  double requests_per_second = NAN;
  double cpu_us_per_request = NAN;
};

struct load {
  pid_t pid;
  int ready_fd;
};

// Forks the load generator against `l`, waits until its connections are up and accepted.
load start_load(const harrier::net::endpoint& at, int connections, int pipeline, bool idle,
                server_counters& counters, bool uring_client = false) {
  int ready[2];
  if (::pipe(ready) != 0) throw std::runtime_error("pipe");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    const bench::client_plan plan{at.data(), at.size(), connections, pipeline, 64, idle, ready[1]};
    if (uring_client) bench::run_client_uring(plan);
    bench::run_client(plan);
  }
  ::close(ready[1]);
  char byte;
  if (::read(ready[0], &byte, 1) != 1) throw std::runtime_error("load generator failed");
  const double limit = now_s() + 30;
  while (counters.serving.load() < connections && now_s() < limit) {
    std::this_thread::sleep_for(1ms);
  }
  if (counters.serving.load() < connections) throw std::runtime_error("connections not served");
  return {pid, ready[0]};
}

void stop_load(load l) {
  ::kill(l.pid, SIGKILL);
  ::waitpid(l.pid, nullptr, 0);
  ::close(l.ready_fd);
}

harrier::net::io_options server_options(backend_kind b) {
  harrier::net::io_options o;
  o.backend = b;
  o.dispatch = nullptr;
  return o;
}

// How completions reach coroutines: inline on the I/O thread(s), or a pool of worker threads.
struct topology {
  unsigned io_threads = 1;
  unsigned pool_threads = 0;  // 0: inline dispatch
  bool uring_client = false;  // load from bench::run_client_uring instead of the epoll client
};

// Requests per second served with `pipeline` requests in flight per connection.
echo_figures throughput(backend_kind b, int connections, int pipeline, double seconds,
                        topology shape = {}) {
  return in_child([=] {
    std::unique_ptr<bench::simple_pool> pool;
    if (shape.pool_threads > 0) pool = std::make_unique<bench::simple_pool>(shape.pool_threads);
    harrier::net::io_options options = server_options(b);
    options.dispatch = pool.get();
    options.io_threads = shape.io_threads;
    harrier::net::io_context ctx(options);
    auto l = harrier::net::listener::bind(ctx, harrier::net::endpoint::parse("127.0.0.1:0"),
                                          {.backlog = 4096});
    server_counters counters;
    harrier::spawn(accept_loop(l, connections, counters));
    load g =
        start_load(l.local_endpoint(), connections, pipeline, false, counters, shape.uring_client);
    std::this_thread::sleep_for(200ms);  // warm-up
    const auto b0 = counters.bytes.load();
    const double t0 = now_s();
    const double c0 = cpu_us();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    const auto b1 = counters.bytes.load();
    const double t1 = now_s();
    const double c1 = cpu_us();
    stop_load(g);
    const double requests = static_cast<double>(b1 - b0) / 64.0;
    return echo_figures{requests / (t1 - t0), (c1 - c0) / requests};
  });
}

// Parses `perf stat` output: the raw_syscalls:sys_enter count and the elapsed seconds.
bool parse_perf(const std::string& path, double& syscalls, double& elapsed) {
  std::ifstream in(path);
  std::string line;
  syscalls = -1;
  elapsed = -1;
  while (std::getline(in, line)) {
    if (line.find("raw_syscalls:sys_enter") != std::string::npos) {
      std::string digits;
      for (char ch : line.substr(0, line.find("raw_syscalls"))) {
        if (ch >= '0' && ch <= '9') digits += ch;
      }
      if (!digits.empty()) syscalls = std::stod(digits);
    } else if (line.find("seconds time elapsed") != std::string::npos) {
      elapsed = std::stod(line);
    }
  }
  return syscalls >= 0 && elapsed > 0;
}

bool g_perf_works = true;

// System calls of the whole server process per request (perf), or of its I/O threads' waits and
// wake-ups per request (fallback) when perf is unavailable; the caller learns which from
// g_perf_works.
double syscalls_per_request(backend_kind b, int connections, int pipeline, double seconds) {
  const bool use_perf = g_perf_works;
  return in_child([=] {
    harrier::net::io_context ctx(server_options(b));
    auto l = harrier::net::listener::bind(ctx, harrier::net::endpoint::parse("127.0.0.1:0"),
                                          {.backlog = 4096});
    server_counters counters;
    harrier::spawn(accept_loop(l, connections, counters));
    load g = start_load(l.local_endpoint(), connections, pipeline, false, counters);
    std::this_thread::sleep_for(200ms);
    const auto b0 = counters.bytes.load();
    const auto s0 = ctx.stats();
    const double t0 = now_s();
    double calls = -1;
    double window = seconds;
    if (use_perf) {
      const std::string out = "/tmp/harrier-bench-net-perf-" + std::to_string(::getpid());
      const std::string cmd = "perf stat -e raw_syscalls:sys_enter -p " +
                              std::to_string(::getpid()) + " -o " + out + " -- sleep " +
                              std::to_string(seconds) + " >/dev/null 2>&1";
      if (std::system(cmd.c_str()) != 0 || !parse_perf(out, calls, window)) calls = -1;
      ::unlink(out.c_str());
    } else {
      std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    }
    const auto b1 = counters.bytes.load();
    const auto s1 = ctx.stats();
    const double t1 = now_s();
    stop_load(g);
    const double rate = static_cast<double>(b1 - b0) / 64.0 / (t1 - t0);
    if (calls < 0) {
      if (use_perf) return -1.0;  // tells the parent that perf failed
      calls = static_cast<double>((s1.wait_calls - s0.wait_calls) + (s1.wakeups - s0.wakeups));
      window = t1 - t0;
    }
    return calls / (rate * window);
  });
}

long rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0;
  long resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// RSS growth per idle connection, each with a recv_provided pending on the server.
double idle_bytes(backend_kind b, int connections) {
  return in_child([=] {
    harrier::net::io_context ctx(server_options(b));
    auto l = harrier::net::listener::bind(ctx, harrier::net::endpoint::parse("127.0.0.1:0"),
                                          {.backlog = 4096});
    server_counters counters;
    // Warm up the allocators with a few connections first, so that the baseline includes them.
    harrier::spawn(accept_loop(l, connections, counters));
    std::this_thread::sleep_for(50ms);
    const long before = rss_bytes();
    load g = start_load(l.local_endpoint(), connections, 1, true, counters);
    std::this_thread::sleep_for(200ms);  // every server coroutine is parked in its recv
    const long after = rss_bytes();
    stop_load(g);
    return static_cast<double>(after - before) / connections;
  });
}

double median(std::vector<double> v) {
  std::erase_if(v, [](double x) { return std::isnan(x); });
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  bool quick = false;
  std::string only;  // --only echo|syscalls|idle: run one group (for investigating)
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
  }
  auto wanted = [&](const char* group) { return only.empty() || only == group; };
  ::rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &r);
  ::signal(SIGPIPE, SIG_IGN);

  const int runs = quick ? 1 : 5;
  const double window = quick ? 0.6 : 2.0;
  const int idle_connections = quick ? 2000 : 10000;
  constexpr int k_connections = 64;
  constexpr int k_pipeline = 16;

  std::vector<double> uring_rps, epoll_rps, uring_sys, epoll_sys, uring_idle, epoll_idle;
  std::vector<double> uring_pool_rps, epoll_pool_rps, uring_uc_rps, epoll_uc_rps;
  std::vector<double> uring_cpu, epoll_cpu, uring_sys_pp;
  nlohmann::json out;
  for (int i = 0; i < runs && wanted("echo"); ++i) {
    const echo_figures u = throughput(backend_kind::io_uring, k_connections, 1, window);
    const echo_figures e = throughput(backend_kind::epoll, k_connections, 1, window);
    uring_rps.push_back(u.requests_per_second);
    epoll_rps.push_back(e.requests_per_second);
    uring_cpu.push_back(u.cpu_us_per_request);
    epoll_cpu.push_back(e.cpu_us_per_request);
    // The same with completions posted to a 2-thread pool (harrier-server's default topology).
    uring_pool_rps.push_back(
        throughput(backend_kind::io_uring, k_connections, 1, window, topology{1, 2})
            .requests_per_second);
    epoll_pool_rps.push_back(
        throughput(backend_kind::epoll, k_connections, 1, window, topology{1, 2})
            .requests_per_second);
    // Inline again, with the cheaper io_uring load generator.
    uring_uc_rps.push_back(
        throughput(backend_kind::io_uring, k_connections, 1, window, topology{1, 0, true})
            .requests_per_second);
    epoll_uc_rps.push_back(
        throughput(backend_kind::epoll, k_connections, 1, window, topology{1, 0, true})
            .requests_per_second);
  }
  const int sys_runs = quick ? 1 : 3;
  for (int i = 0; i < sys_runs && wanted("syscalls"); ++i) {
    double u = syscalls_per_request(backend_kind::io_uring, k_connections, k_pipeline, window);
    if (u < 0) {
      g_perf_works = false;
      u = syscalls_per_request(backend_kind::io_uring, k_connections, k_pipeline, window);
    }
    uring_sys.push_back(u);
    uring_sys_pp.push_back(syscalls_per_request(backend_kind::io_uring, k_connections, 1, window));
    epoll_sys.push_back(
        syscalls_per_request(backend_kind::epoll, k_connections, k_pipeline, window));
  }
  const int idle_runs = quick ? 1 : 3;
  for (int i = 0; i < idle_runs && wanted("idle"); ++i) {
    uring_idle.push_back(idle_bytes(backend_kind::io_uring, idle_connections));
    epoll_idle.push_back(idle_bytes(backend_kind::epoll, idle_connections));
  }

  // Topology: requests/s of the 64-connection ping-pong (pipeline 1) and of the pipelined load,
  // for inline dispatch, a 2-thread pool, and 2 I/O threads. Not part of --quick.
  if (!quick && (only == "topology")) {
    const topology shapes[] = {{1, 0}, {1, 2}, {2, 0}};
    const char* names[] = {"inline", "pool2", "io_threads2"};
    for (backend_kind b : {backend_kind::io_uring, backend_kind::epoll}) {
      for (int s = 0; s < 3; ++s) {
        for (int pipeline : {1, k_pipeline}) {
          std::vector<double> v;
          for (int i = 0; i < 3; ++i) {
            v.push_back(
                throughput(b, k_connections, pipeline, window, shapes[s]).requests_per_second);
          }
          out["topology"][std::string(harrier::net::to_string(b)) + "/" + names[s] + "/pipeline" +
                          std::to_string(pipeline)] = median(v);
        }
      }
    }
  }

  const double ur = median(uring_rps);
  const double er = median(epoll_rps);
  out["echo_ratio_uring_vs_epoll"] = ur / er;
  out["echo_requests_per_second_uring"] = ur;
  out["echo_requests_per_second_epoll"] = er;
  out["echo_ratio_uring_vs_epoll_pool_dispatch"] = median(uring_pool_rps) / median(epoll_pool_rps);
  out["echo_requests_per_second_uring_pool_dispatch"] = median(uring_pool_rps);
  out["echo_requests_per_second_epoll_pool_dispatch"] = median(epoll_pool_rps);
  out["echo_server_cpu_us_per_request_uring"] = median(uring_cpu);
  out["echo_server_cpu_us_per_request_epoll"] = median(epoll_cpu);
  out["echo_cpu_efficiency_ratio_uring_vs_epoll"] = median(epoll_cpu) / median(uring_cpu);
  out["echo_ratio_uring_vs_epoll_uring_client"] = median(uring_uc_rps) / median(epoll_uc_rps);
  out["echo_requests_per_second_uring_uring_client"] = median(uring_uc_rps);
  out["echo_requests_per_second_epoll_uring_client"] = median(epoll_uc_rps);
  out["idle_connection_bytes_uring"] = median(uring_idle);
  out["idle_connection_bytes_epoll"] = median(epoll_idle);
  out["idle_connections"] = idle_connections;
  out["syscalls_per_request_pipelined"] = median(uring_sys);
  out["syscalls_per_request_pipelined_epoll"] = median(epoll_sys);
  out["syscalls_per_request_pingpong_uring"] = median(uring_sys_pp);
  out["syscall_method"] = g_perf_works ? "perf stat -e raw_syscalls:sys_enter -p (whole process)"
                                       : "I/O thread wait calls + eventfd wake-ups (approximation)";
  out["runs"] = runs;
  out["window_seconds"] = window;
  out["dispatch"] = "inline";
  if (json) {
    std::cout << out.dump() << std::endl;
  } else {
    std::cout << out.dump(2) << std::endl;
  }
  return 0;
}
