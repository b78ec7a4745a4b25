#pragma once
// heartbeat: a 1 s tick on its own thread that drives periodic housekeeping (the HTTP Date cache,
// timeouts) and watches for starvation, as Kestrel's heartbeat does.
//
// Every tick:
// 1. measures its own lateness (now - when the tick was due): a late heartbeat thread means the
//    machine is saturated or a callback was slow;
// 2. if a dispatch probe is set, posts a tiny work item to the thread pool and measures how long
//    it waits for a worker (or, if the previous probe still has not run, how long it has been
//    waiting): this is what actually sees thread-pool starvation, since the heartbeat's own thread
//    is not a pool thread (an embedder with inline dispatch sends it to an I/O thread instead,
//    and says so in probe_runner and starved);
// 3. publishes lag = max(1, 2) as harrier_heartbeat_lag_seconds;
// 4. runs the registered callbacks, in registration order, on the heartbeat thread;
// 5. when lag > lag_warning_threshold, records a "heartbeat_late" instant in the default trace
//    recorder (when it is on) and logs through the "harrier" logger, at most once per
//    warning_min_interval (later ones are counted and the count is reported with the next one):
//      Heartbeat took longer than expected (1234 ms late); this may be thread-pool starvation
//      (queue length 57, threads 4)
//    with the figures from the pool-load probe, when one is set.
//
// Why 500 ms: half the interval. Kestrel warns when a heartbeat runs past its 1 s interval; a
// probe that waited half a second for a worker is already a latency no HTTP client should see,
// and warning at 500 ms tells the operator before the 1 s mark. Configurable.
//
// Threads: start() launches the thread; stop() (and the destructor) wakes and joins it promptly.
// tick() may instead be called by hand (tests, or an embedder with its own timer), never
// concurrently with itself nor with a started heartbeat. Callbacks and probes must not call
// add_callback/remove_callback (they run under the callbacks' mutex). A callback or dispatcher
// that throws is logged and skipped for that tick; the heartbeat keeps going.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace harrier::diagnostics {

class metric_registry;

struct heartbeat_options {
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds lag_warning_threshold{500};
  std::chrono::milliseconds warning_min_interval{10'000};
  // Who runs the dispatch probe, in the warning's words: "... ms waiting for <probe_runner>);
  // this may be <starved> starvation". Under inline dispatch the probe runs on an I/O thread.
  std::string probe_runner = "a thread-pool thread";
  std::string starved = "thread-pool";
};

// What the pool says about itself when the heartbeat warns.
struct pool_load {
  std::size_t queue_length = 0;
  std::size_t threads = 0;
};

class heartbeat {
 public:
  using clock = std::chrono::steady_clock;
  using tick_callback = std::function<void(std::chrono::system_clock::time_point now)>;
  // Runs `item` on a thread-pool worker (e.g. [&pool](auto item) { pool.post(std::move(item)); }).
  using dispatcher = std::function<void(std::function<void()> item)>;

  // With a registry, the heartbeat registers and updates harrier_heartbeat_lag_seconds in it.
  explicit heartbeat(heartbeat_options options = {}, metric_registry* registry = nullptr);
  ~heartbeat();
  heartbeat(const heartbeat&) = delete;
  heartbeat& operator=(const heartbeat&) = delete;

  // Returns an id for remove_callback. Once remove_callback returns, the callback is not running.
  std::uint64_t add_callback(tick_callback callback);
  void remove_callback(std::uint64_t id);

  void set_pool_load_probe(std::function<pool_load()> probe);
  void set_dispatcher(dispatcher post);

  void start();
  void stop() noexcept;

  // One tick that was due at `scheduled` and runs at `now` (see the class comment).
  void tick(clock::time_point scheduled, clock::time_point now);

  double last_lag_seconds() const noexcept;
  std::uint64_t ticks() const noexcept;
  std::uint64_t warnings_logged() const noexcept;
  // Late ticks not logged because of the rate limit, since the last logged warning.
  std::uint64_t warnings_suppressed() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> m_state;
};

}  // namespace harrier::diagnostics
