#pragma once
// application::impl: the state behind an application (internal to src/middleware).
//
// application.cpp builds it (create, routes, diagnostics endpoints) and application_lifecycle.cpp
// runs it (start, stop, run). Everything here is owned by the one application; the fields shared
// between threads during a stop are atomics, the async_event, or under stopper_mutex.

#include <harrier/core/async_event.hpp>
#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/diagnostics/heartbeat.hpp>
#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/http/server.hpp>
#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/application.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "middleware/application_options.hpp"

namespace harrier {

struct application::impl {
  // Each application has its own metrics, so that several can live in one process and each
  // /metrics shows its own server and pool. First member: it outlives everything that reports
  // into it.
  std::unique_ptr<diagnostics::metric_registry> own_registry =
      std::make_unique<diagnostics::metric_registry>();
  diagnostics::metric_registry* registry = own_registry.get();

  configuration config;
  std::vector<option_spec> schema;
  detail::application_settings settings;

  std::unique_ptr<app_pipeline> requests;

  std::unique_ptr<thread_pool> pool;
  std::unique_ptr<net::io_context> io;
  std::unique_ptr<http::server> server;
  std::unique_ptr<diagnostics::heartbeat> heartbeat;
  std::unique_ptr<diagnostics::blocking_detector> detector;
  std::vector<diagnostics::callback_registration> metric_callbacks;
  std::vector<std::string> urls;
  bool started = false;  // written by start() only (set, or reset when it fails), before any stop()
  std::atomic<bool> stop_claimed{false};        // the first stop() to set it does the shutdown
  async_event stopped;                          // set when that shutdown is complete
  std::atomic<thread_pool*> own_pool{nullptr};  // identity only: is the caller one of ours?
  std::atomic<bool> stopping{false};            // readiness: set before the shutdown delay
  // The thread that shuts down for a stop() awaited on another pool's worker. Joined here, or
  // detached when the awaiter, resumed on it, destroys the application from it.
  std::mutex stopper_mutex;
  std::thread stopper;

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl() {
    std::thread last;
    {
      std::lock_guard lock(stopper_mutex);
      last = std::move(stopper);
    }
    if (!last.joinable()) return;
    if (last.get_id() == std::this_thread::get_id()) {
      last.detach();
    } else {
      last.join();  // it has posted its awaiter already: only its exit is left
    }
  }
};

// What every application runs before its own middleware (application.cpp).
void install_builtin_middleware(application::impl& s);

}  // namespace harrier
