#pragma once
// shutdown_guard: bounds a graceful shutdown that cannot end by itself (application::run()).
//
// The drain is bounded: after shutdown_timeout the server aborts what is left (pending I/O
// cancelled, request tokens cancelled). But a handler that blocks its thread for good never
// returns, and nothing can end it from outside: sync over async on a pool at max_threads (the
// blocked workers are the only ones that could run the continuation they wait for), or any
// blocking wait on inline dispatch for work only the I/O thread could do. stop() then waits
// forever, and so did the process: SIGTERM could not end it.
//
// While it lives, the guard's thread waits for `limit` to pass: it then logs an error naming the
// cause and ends the process with exit code 0, as .NET's host lets the process exit after its
// shutdown timeout whatever its threads still do. Destroying the guard (the shutdown finished)
// stops its thread. The exit is std::_Exit after flushing the log: destructors and atexit
// handlers would wait for, or free memory of, the very threads that are stuck.
// A second SIGTERM does not cut the drain short: supervisors and test harnesses send one to ask
// for a stop and another to make sure, and expect the graceful exit either way.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace harrier::detail {

class shutdown_guard {
 public:
  explicit shutdown_guard(std::chrono::milliseconds limit);
  ~shutdown_guard();
  shutdown_guard(const shutdown_guard&) = delete;
  shutdown_guard& operator=(const shutdown_guard&) = delete;

 private:
  void watch(std::chrono::milliseconds limit) noexcept;

  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_done = false;  // guarded by m_mutex
  std::thread m_thread;
};

}  // namespace harrier::detail
