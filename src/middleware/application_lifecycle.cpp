// application::start(), stop() and run(): bringing an application's threads up and down.
//
// start() does its work on the awaiting thread (creating threads and binding sockets does not
// block for long) and resumes the awaiter there. stop() must drain the server (up to the shutdown
// timeout) and then join the pool, the I/O threads and the heartbeat, so where it runs matters:
//   - awaited on a plain thread (main, sync_wait): everything runs on that thread, which blocks,
//     as the old blocking stop() did; the awaiter resumes on it.
//   - awaited on a worker of another pool (another application): a thread of the stop's own
//     (impl::stopper) does the blocking part and posts the awaiter back to that pool, so no
//     worker of it blocks, and the awaiter never resumes on a thread being joined.
//   - awaited on one of this application's own threads: std::logic_error at once. The drain would
//     wait for the very request that awaits, and the pool would join the very thread; a pool
//     worker is recognised by thread_pool::current(), an I/O thread running handlers inline by a
//     thread_local mark the request handler leaves (with --dispatch inline only).
// The first stop() claims the shutdown (stop_claimed); later ones await `stopped`.

#include <harrier/core/spawn.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/diagnostics/blocking_detector.hpp>
#include <harrier/diagnostics/heartbeat.hpp>
#include <harrier/diagnostics/metric_names.hpp>
#include <harrier/diagnostics/metric_registry.hpp>
#include <harrier/diagnostics/process_metrics.hpp>
#include <harrier/diagnostics/trace_names.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>
#include <harrier/http/date_cache.hpp>
#include <harrier/http/rejection.hpp>
#include <harrier/http/server.hpp>
#include <harrier/middleware/application.hpp>
#include <harrier/net/endpoint.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/net/timer.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <spdlog/spdlog.h>

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "core/logger.hpp"
#include "middleware/application_state.hpp"
#include "middleware/shutdown_guard.hpp"

namespace harrier {

namespace {

// With --dispatch inline, handlers run on the I/O threads, which the thread pool cannot
// recognise: the request handler marks each thread it runs on with its application, so that
// stop() can refuse to be awaited from there (see stop()).
thread_local const application::impl* t_inline_handler_of = nullptr;

// Every connection holds a descriptor, and a shell's soft limit is often 1,024 while the hard one
// is far higher (1,048,576 under systemd): a load test with wrk -c2000 then met EMFILE, and the
// connections past ~1,000 waited in the backlog while accepting backed off. .NET's runtime and
// Go's raise the soft limit to the hard one at startup; so do we, once per process, and say so.
// Lowering it again (prlimit) still works: nothing raises it after this.
void raise_open_file_limit() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      detail::harrier_logger()->warn("could not raise the open-file limit from {} to {}: {}",
                                     before, limit.rlim_max, std::strerror(errno));
      return;
    }
    detail::harrier_logger()->info(
        "raised the open-file limit from {} to {} (each connection holds a descriptor)", before,
        limit.rlim_max);
  });
}

// Thread-pool decisions as trace events (only while a trace is being recorded).
void trace_pool_event(const thread_pool_event& e) {
  namespace names = diagnostics::trace_names;
  auto& rec = diagnostics::default_trace_recorder();
  if (!rec.enabled()) return;
  switch (e.kind) {
    case thread_pool_event_kind::adjustment:
      rec.instant(names::k_adjustment, names::k_category_threadpool,
                  {{"reason", to_string(e.reason)},
                   {"threads_from", e.old_goal},
                   {"threads_to", e.new_goal}});
      rec.counter(names::k_pool_counters, names::k_category_threadpool, {{"goal", e.new_goal}});
      break;
    case thread_pool_event_kind::worker_start:
      rec.instant(names::k_worker_start, names::k_category_threadpool, {{"worker", e.worker}});
      break;
    case thread_pool_event_kind::worker_stop:
      rec.instant(names::k_worker_stop, names::k_category_threadpool, {{"worker", e.worker}});
      break;
    case thread_pool_event_kind::worker_park:
      rec.begin(names::k_worker_park, names::k_category_threadpool);
      break;
    case thread_pool_event_kind::worker_unpark:
      rec.end(names::k_worker_park, names::k_category_threadpool);
      break;
    default:
      break;
  }
}

// Scrape-time callbacks for the pool, the server and the I/O layer: nothing on the hot path.
void register_runtime_metrics(application::impl& s) {
  namespace names = diagnostics::metrics;
  diagnostics::metric_registry& r = *s.registry;
  auto& regs = s.metric_callbacks;
  diagnostics::register_process_metrics(r);  // start() runs once per application

  thread_pool* pool = s.pool.get();
  auto pool_gauge = [&](diagnostics::metric_info info, auto read) {
    regs.push_back(r.add_gauge_callback(
        info, [pool, read] { return static_cast<double>(read(pool->stats())); }));
  };
  pool_gauge(names::k_harrier_thread_pool_threads,
             [](const thread_pool_stats& st) { return st.threads; });
  pool_gauge(names::k_harrier_thread_pool_thread_goal,
             [](const thread_pool_stats& st) { return st.goal; });
  pool_gauge(names::k_harrier_thread_pool_queue_length, [](const thread_pool_stats& st) {
    return st.global_queue_length + st.local_queue_length;
  });
  pool_gauge(names::k_harrier_thread_pool_blocked_threads,
             [](const thread_pool_stats& st) { return st.blocked_threads; });
  regs.push_back(r.add_counter_callback(names::k_harrier_thread_pool_completed_items_total, [pool] {
    return static_cast<double>(pool->stats().completed_items);
  }));
  for (std::size_t i = 0; i < k_adjustment_reason_count; ++i) {
    const auto reason = static_cast<adjustment_reason>(i);
    regs.push_back(r.add_counter_callback(
        names::k_harrier_thread_pool_adjustments_total,
        [pool, i] { return static_cast<double>(pool->stats().adjustments[i]); },
        {{std::string(names::k_label_reason), std::string(to_string(reason))}}));
  }

  http::server* server = s.server.get();
  regs.push_back(r.add_gauge_callback(names::k_harrier_active_connections, [server] {
    return static_cast<double>(server->stats().active_connections);
  }));
  regs.push_back(r.add_counter_callback(names::k_harrier_connections_total, [server] {
    return static_cast<double>(server->stats().connections_total);
  }));
  regs.push_back(r.add_counter_callback(names::k_harrier_connections_refused_total, [server] {
    return static_cast<double>(server->stats().connections_refused);
  }));
  regs.push_back(r.add_counter_callback(names::k_harrier_accept_failures_total, [server] {
    return static_cast<double>(server->stats().accept_failures);
  }));
  const http::rejection_counters* rejections = s.settings.server.connection.rejections != nullptr
                                                   ? s.settings.server.connection.rejections
                                                   : &http::rejection_counters::shared();
  for (std::size_t i = 0; i < http::k_rejection_reason_count; ++i) {
    const auto reason = static_cast<http::rejection_reason>(i);
    regs.push_back(r.add_counter_callback(
        names::k_harrier_http_rejected_requests_total,
        [rejections, reason] { return static_cast<double>(rejections->get(reason)); },
        {{std::string(names::k_label_reason), std::string(http::rejection_name(reason))}}));
  }
  net::io_context* io = s.io.get();
  regs.push_back(r.add_counter_callback(names::k_harrier_io_completions_total, [io] {
    return static_cast<double>(io->stats().completions);
  }));
  regs.push_back(r.add_counter_callback(names::k_harrier_io_batched_waits_total, [io] {
    return static_cast<double>(io->stats().batched_waits);
  }));
  regs.push_back(r.add_gauge_callback(names::k_harrier_io_pending_operations, [io] {
    return static_cast<double>(io->stats().pending_operations);
  }));
  regs.push_back(r.add_gauge_callback(
      names::k_harrier_io_backend_info, [] { return 1.0; },
      {{std::string(names::k_label_backend), std::string(net::to_string(io->backend()))}}));
}

// Memory back to the system once a burst of work is over. glibc keeps what large requests
// freed (an /echo upload is held whole): 50 clients' 5 MB uploads left the server at 262-278 MB
// for good, against 6 MB before them (audit 3). Checked each heartbeat: when the I/O threads
// completed few operations in the last second after many since the last trim, malloc_trim(0)
// hands the free pages back, once per burst (a few ms at most, on the heartbeat's thread).
struct idle_trim {
  static constexpr std::uint64_t k_quiet_completions = 50;  // an idle second: timers, a scrape
  static constexpr std::uint64_t k_busy_completions = 1000;
  std::uint64_t last = 0;
  std::uint64_t at_trim = 0;
  void tick(std::uint64_t completions) noexcept {
    const std::uint64_t recent = completions - last;
    last = completions;
    if (recent > k_quiet_completions || completions - at_trim < k_busy_completions) return;
    at_trim = completions;
#if defined(__GLIBC__)
    ::malloc_trim(0);
#endif
  }
};

// The heartbeat's probe under inline dispatch: runs `item` on an I/O thread, after the timer
// (due at once) completes there, behind whatever that thread is running.
task<void> probe_on_io_thread(net::io_context& io, std::function<void()> item) {
  (void)co_await net::sleep_for(io, std::chrono::nanoseconds(0));
  item();
}

// Starts the pool, the I/O threads, the heartbeat and the server, on the calling thread.
void start_runtime(application::impl& s) {
  detail::apply_log_level(s.settings.log_level);
  raise_open_file_limit();

  s.requests->build();
  thread_pool_options pool_options = s.settings.pool;
  if (s.settings.blocking_warning.count() > 0) {
    s.detector = std::make_unique<diagnostics::blocking_detector>(
        diagnostics::blocking_detector_options{.threshold = s.settings.blocking_warning},
        s.registry);
    pool_options.detector = s.detector.get();
  }
  s.pool = std::make_unique<thread_pool>(pool_options);
  s.own_pool.store(s.pool.get());
  s.pool->set_event_listener(trace_pool_event);
  if (!s.settings.trace_file.empty()) diagnostics::default_trace_recorder().start();
  net::io_options io_options;
  io_options.backend = s.settings.backend;
  io_options.dispatch = s.settings.inline_dispatch ? nullptr : s.pool.get();
  io_options.io_threads = s.settings.io_threads;
  io_options.workers_drive_io = s.settings.workers_drive_io;
  io_options.max_batch_wait = s.settings.io_batch_wait;
  io_options.detector = s.detector.get();  // watches the I/O threads under inline dispatch
  s.io = std::make_unique<net::io_context>(io_options);

  diagnostics::heartbeat_options heartbeat_options;
  if (s.settings.inline_dispatch) {
    heartbeat_options.probe_runner = "an I/O thread";
    heartbeat_options.starved = "I/O thread";
  }
  s.heartbeat = std::make_unique<diagnostics::heartbeat>(heartbeat_options, s.registry);
  s.heartbeat->add_callback(
      [](std::chrono::system_clock::time_point now) { http::date_cache::shared().refresh(now); });
  s.heartbeat->add_callback(
      [io = s.io.get(), trim = std::make_shared<idle_trim>()](
          std::chrono::system_clock::time_point) { trim->tick(io->stats().completions); });
  if (s.settings.inline_dispatch) {
    // Handlers run on the I/O threads: the probe waits for one of them (a timer completes on
    // it), so a handler that blocks one is seen. The pool's queue says nothing here.
    s.heartbeat->set_dispatcher([io = s.io.get()](std::function<void()> item) {
      spawn(probe_on_io_thread(*io, std::move(item)), "heartbeat probe");
    });
  } else {
    s.heartbeat->set_pool_load_probe([pool = s.pool.get()] {
      const thread_pool_stats stats = pool->stats();
      return diagnostics::pool_load{stats.global_queue_length + stats.local_queue_length,
                                    stats.threads};
    });
    s.heartbeat->set_dispatcher(
        [pool = s.pool.get()](std::function<void()> item) { pool->post(std::move(item)); });
  }
  s.heartbeat->start();

  http::request_handler handler = s.requests->handler();
  if (s.settings.inline_dispatch) {
    handler = [inner = std::move(handler), state = &s](http::request& req, http::response& res) {
      t_inline_handler_of = state;
      return inner(req, res);
    };
  }
  s.server = std::make_unique<http::server>(*s.io, s.settings.server, std::move(handler));
  s.server->start();
  register_runtime_metrics(s);
  auto logger = detail::harrier_logger();
  for (const std::string& name : s.config.ignored_environment_keys(s.schema)) {
    logger->warn("ignoring environment variable {}: it names no setting", name);
  }
  for (const net::endpoint& e : s.server->local_endpoints()) {
    const std::string url =
        e.is_unix() ? "http://unix:" + e.to_string().substr(5) : "http://" + e.to_string();
    s.urls.push_back(url);
    // The contract line that tests and tools wait for: printed even when the log level hides info.
    if (logger->should_log(spdlog::level::info)) {
      logger->info("listening on {} (io: {}, dispatch: {})", url, net::to_string(s.io->backend()),
                   s.settings.inline_dispatch ? "inline"
                   : s.io->workers_drive_io() ? "pool, workers drive I/O"
                                              : "pool");
    } else {
      std::fprintf(stderr, "listening on %s\n", url.c_str());
    }
  }
  logger->flush();
}

// Stops and releases the heartbeat, the I/O threads and the pool (whichever exist), joining their
// threads: never call it on one of them.
void release_runtime(application::impl& s) {
  s.metric_callbacks.clear();
  if (s.heartbeat) s.heartbeat->stop();
  if (s.io) s.io->stop();
  if (s.pool) {
    s.pool->stop();
    s.pool->set_event_listener(nullptr);
    s.own_pool.store(nullptr);
  }
  // The I/O threads consult the pool until they are joined (io_context.hpp): join them before
  // the pool goes. (The other order crashed one shutdown in a few hundred: the I/O thread asked
  // the freed pool whether it was saturated.)
  s.io.reset();
  s.pool.reset();  // its workers unregistered from the detector, which may go now
  s.detector.reset();
}

// The blocking part of stop(): drain the server, then stop every thread of the application.
void shut_down(application::impl& s) {
  s.stopping.store(true);
  auto logger = detail::harrier_logger();
  if (s.settings.shutdown_delay.count() > 0) {
    logger->info("shutdown requested: serving {} ms more with readiness unhealthy",
                 s.settings.shutdown_delay.count());
    std::this_thread::sleep_for(s.settings.shutdown_delay);
  }
  logger->info(
      "shutting down: draining connections (timeout {} ms)",
      std::chrono::duration_cast<std::chrono::milliseconds>(s.settings.server.shutdown_timeout)
          .count());
  sync_wait(s.server->stop());
  release_runtime(s);
  if (!s.settings.trace_file.empty()) {
    auto& recorder = diagnostics::default_trace_recorder();
    recorder.stop();
    try {
      recorder.write_chrome_trace(s.settings.trace_file);
      logger->info("trace written to {} ({} events)", s.settings.trace_file,
                   recorder.stats().recorded);
    } catch (const std::exception& e) {
      logger->error("cannot write the trace: {}", e.what());
    }
  }
  logger->info("stopped");
  logger->flush();
}

// Runs shut_down on a thread of its own and posts the awaiter back to `home` (the pool it was
// awaited from) afterwards, so that no worker of `home` blocks for the drain. The thread is
// stored in the impl before it may run (it first takes stopper_mutex, which await_suspend holds
// while storing it), so the destructor always finds it to join.
struct shut_down_on_own_thread {
  application::impl* state;
  thread_pool* home;
  std::exception_ptr error;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> awaiter) {
    std::lock_guard lock(state->stopper_mutex);
    try {
      state->stopper = std::thread([this, awaiter] {
        { std::lock_guard wait_until_stored(state->stopper_mutex); }
        run();
        try {
          home->post(awaiter);
        } catch (const std::logic_error&) {
          awaiter.resume();  // `home` was stopped meanwhile: continue here rather than never
        }
      });
    } catch (const std::system_error&) {
      run();  // no thread to be had: block this worker after all, rather than not stop
      return false;
    }
    return true;
  }
  void run() noexcept {
    try {
      shut_down(*state);
    } catch (...) {
      error = std::current_exception();
    }
  }
  void await_resume() const {
    if (error) std::rethrow_exception(error);
  }
};

task<void> start_application(application::impl* s) {
  if (s->started) throw std::logic_error("application::start called twice");
  s->started = true;
  try {
    start_runtime(*s);
  } catch (...) {
    // Leave nothing running: stop what did start, so the error is the only outcome.
    s->server.reset();
    release_runtime(*s);
    if (!s->settings.trace_file.empty()) diagnostics::default_trace_recorder().stop();
    s->started = false;
    throw;
  }
  co_return;
}

task<void> stop_application(application::impl* s) {
  thread_pool* const home = thread_pool::current();
  if ((home != nullptr && home == s->own_pool.load()) || t_inline_handler_of == s) {
    throw std::logic_error(
        "application::stop awaited on one of the application's own threads (a handler, a pool "
        "worker, an I/O thread): the shutdown would wait for that request and join that thread; "
        "stop the application from main, another thread or another application");
  }
  if (!s->started) co_return;
  if (s->stop_claimed.exchange(true)) {
    // Another caller is shutting down: complete when it has, back on our own pool if we had one.
    if (!s->stopped.is_set()) {
      co_await s->stopped.wait();
      if (home != nullptr && thread_pool::current() != home) co_await home->schedule();
    }
    co_return;
  }
  std::exception_ptr error;
  try {
    if (home == nullptr) {
      shut_down(*s);
    } else {
      co_await shut_down_on_own_thread{s, home, nullptr};
    }
  } catch (...) {
    error = std::current_exception();
  }
  s->stopped.set();
  if (error) std::rethrow_exception(error);
}

}  // namespace

// Both return a coroutine on the impl, not on `this`: the application object may move between
// the call and the co_await; its impl does not.
task<void> application::start() {
  return start_application(m_impl.get());
}

task<void> application::stop() {
  return stop_application(m_impl.get());
}

int application::run() {
  // Block the shutdown signals before any thread starts, so every thread inherits the mask and
  // only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &signals, &previous);
  try {
    sync_wait(start());
  } catch (const std::exception& e) {
    // A port in use, a path that cannot be bound: one clear line and a failing exit code, rather
    // than an exception escaping main() and abort().
    detail::harrier_logger()->critical("cannot start: {}", e.what());
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  detail::harrier_logger()->info("received {}", received == SIGINT ? "SIGINT" : "SIGTERM");
  {
    // See shutdown_guard.hpp: the delay, the drain's timeout, then 1 s for the aborted requests
    // (their I/O is cancelled and their sockets shut down at the timeout: one that is not done a
    // second later is stuck in its thread). It was 5 s; an operator who sets the orchestrator's
    // grace period to the shutdown timeout had the process killed first (audit 3).
    const auto& s = m_impl->settings;
    const auto limit =
        s.shutdown_delay +
        std::chrono::duration_cast<std::chrono::milliseconds>(s.server.shutdown_timeout) +
        std::chrono::seconds(1);
    detail::shutdown_guard guard(limit);
    sync_wait(stop());
  }
  return 0;
}

}  // namespace harrier
