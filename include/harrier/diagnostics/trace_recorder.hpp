#pragma once
// trace_recorder: a flight recorder of trace events, exported in the Chrome trace event format
// (JSON that Perfetto and chrome://tracing open), as dotnet-trace records EventSource events.
//
// Contract:
// - Off by default. While off, every record call costs one relaxed atomic load and a branch
//   (enabled()); guard calls with `if (rec.enabled())` to also skip building the arguments.
// - While on, each thread writes into its own bounded ring (events_per_thread slots; the oldest
//   events are overwritten, as a flight recorder keeps the latest). A thread's first event of a
//   recording allocates its ring once; later events allocate nothing and take no lock. A writer
//   never waits: if an exporter is copying that thread's ring at that instant, the event is
//   dropped and counted (stats().dropped).
// - name, category and argument keys must be string literals (or otherwise outlive the export):
//   only the pointers are stored. One text argument per event is copied (up to
//   k_max_text_arg_bytes, truncated beyond), for values such as a route.
// - Timestamps are steady-clock microseconds (now_us()), so events of all threads line up.
// - Thread lanes are named from pthread_getname_np at a thread's first event, or by
//   set_thread_name().
// - Thread-safe: record from any thread; start/stop/export from any thread.

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

namespace harrier::diagnostics {

inline constexpr std::size_t k_max_trace_args = 3;
inline constexpr std::size_t k_max_text_arg_bytes = 47;

// One event argument: an integer, a real or a (copied, truncated) text. key: a string literal.
struct trace_arg {
  enum class kind : unsigned char { none, integer, real, text };

  constexpr trace_arg() noexcept = default;
  template <std::integral T>
  constexpr trace_arg(const char* k, T v) noexcept
      : key(k), type(kind::integer), integer(static_cast<std::int64_t>(v)) {}
  template <std::floating_point T>
  constexpr trace_arg(const char* k, T v) noexcept
      : key(k), type(kind::real), real(static_cast<double>(v)) {}
  constexpr trace_arg(const char* k, std::string_view v) noexcept
      : key(k), type(kind::text), text(v) {}
  constexpr trace_arg(const char* k, const char* v) noexcept : key(k), type(kind::text), text(v) {}

  const char* key = nullptr;
  kind type = kind::none;
  std::int64_t integer = 0;
  double real = 0;
  std::string_view text;
};

struct trace_stats {
  std::uint64_t recorded = 0;     // events written into rings since start()
  std::uint64_t overwritten = 0;  // of those, lost to the ring bound
  std::uint64_t dropped = 0;      // not written: the ring was being exported at that instant
  std::size_t threads = 0;        // rings (threads that recorded)
};

class trace_recorder {
 public:
  // 4096 events of 184 bytes: 0.75 MiB per recording thread, a few seconds of a busy worker.
  static constexpr std::size_t k_default_events_per_thread = 4096;

  explicit trace_recorder(std::size_t events_per_thread = k_default_events_per_thread);
  ~trace_recorder();
  trace_recorder(const trace_recorder&) = delete;
  trace_recorder& operator=(const trace_recorder&) = delete;

  // start() discards the previous recording's events and begins a new one; stop() ends it (the
  // events stay for export). Events being written concurrently with stop() may still land.
  void start();
  void stop() noexcept;
  bool enabled() const noexcept {
    // ordering: relaxed; a writer that sees a stale value records one event more or less, which
    // the contract allows; the ring itself is protected by its own flag (trace_recorder.cpp).
    return m_enabled.load(std::memory_order_relaxed);
  }

  // Phases of the Chrome format: B/E (begin/end on this thread), X (complete: start and
  // duration), i (instant, thread scope), C (counter: args are the series values).
  void begin(const char* name, const char* category, std::initializer_list<trace_arg> args = {}) {
    if (enabled()) [[unlikely]]
      record('B', name, category, now_us(), 0, args);
  }
  void end(const char* name, const char* category, std::initializer_list<trace_arg> args = {}) {
    if (enabled()) [[unlikely]]
      record('E', name, category, now_us(), 0, args);
  }
  void complete(const char* name, const char* category, std::uint64_t start_us,
                std::uint64_t duration_us, std::initializer_list<trace_arg> args = {}) {
    if (enabled()) [[unlikely]]
      record('X', name, category, start_us, duration_us, args);
  }
  void instant(const char* name, const char* category, std::initializer_list<trace_arg> args = {}) {
    if (enabled()) [[unlikely]]
      record('i', name, category, now_us(), 0, args);
  }
  void counter(const char* name, const char* category, std::initializer_list<trace_arg> args) {
    if (enabled()) [[unlikely]]
      record('C', name, category, now_us(), 0, args);
  }

  // Names the calling thread's lane (e.g. "harrier-worker-3"); takes effect for export.
  void set_thread_name(std::string_view name);

  // {"traceEvents":[...], "displayTimeUnit":"ms", "otherData":{...}}, events sorted by time,
  // with process_name and thread_name metadata events. Safe while recording.
  std::string to_chrome_trace_json() const;
  // Writes to_chrome_trace_json() to a file; throws std::system_error when it cannot.
  void write_chrome_trace(const std::string& path) const;

  trace_stats stats() const;

  static std::uint64_t now_us() noexcept;

 private:
  struct state;
  struct thread_ring;

  void record(char phase, const char* name, const char* category, std::uint64_t ts_us,
              std::uint64_t dur_us, std::initializer_list<trace_arg> args) noexcept;
  thread_ring* this_thread_ring();

  std::atomic<bool> m_enabled{false};
  std::unique_ptr<state> m_state;
};

// RAII span: records one complete ('X') event from construction to destruction, if the recorder
// was on at construction.
class trace_span {
 public:
  trace_span(trace_recorder& recorder, const char* name, const char* category) noexcept
      : m_recorder(recorder.enabled() ? &recorder : nullptr),
        m_name(name),
        m_category(category),
        m_start_us(m_recorder ? trace_recorder::now_us() : 0) {}
  ~trace_span() {
    if (m_recorder)
      m_recorder->complete(m_name, m_category, m_start_us, trace_recorder::now_us() - m_start_us);
  }
  trace_span(const trace_span&) = delete;
  trace_span& operator=(const trace_span&) = delete;

 private:
  trace_recorder* m_recorder;
  const char* m_name;
  const char* m_category;
  std::uint64_t m_start_us;
};

// The process-wide recorder that harrier-server's --trace and GET /trace drive, and that the
// layers record into.
trace_recorder& default_trace_recorder();

}  // namespace harrier::diagnostics
