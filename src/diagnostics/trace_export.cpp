// trace_recorder's export: the Chrome trace event JSON format ("Trace Event Format", the JSON
// Object form) that chrome://tracing and Perfetto's UI open.
//
// Each ring is copied under its try-lock (oldest event first), so an export never stops the
// writers for longer than one copy; then the events of all threads are sorted by timestamp
// (stable, so a thread's B/E pairs with equal timestamps keep their order) and rendered with
// nlohmann::json outside every lock.

#include <harrier/diagnostics/trace_recorder.hpp>

#include "diagnostics/trace_state.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>

namespace harrier::diagnostics {

namespace {

struct lane {
  std::uint32_t tid;
  std::string name;
};

struct copied_event {
  std::uint32_t tid;
  stored_trace_event event;
};

nlohmann::json args_of(const stored_trace_event& e) {
  nlohmann::json args = nlohmann::json::object();
  for (std::size_t i = 0; i < e.arg_count; ++i) {
    const stored_trace_arg& a = e.args[i];
    const char* key = a.key != nullptr ? a.key : "arg";
    switch (a.type) {
      case trace_arg::kind::integer:
        args[key] = a.integer;
        break;
      case trace_arg::kind::real:
        args[key] = a.real;
        break;
      case trace_arg::kind::text:
        args[key] = std::string(e.text, e.text_bytes);
        break;
      case trace_arg::kind::none:
        break;
    }
  }
  return args;
}

}  // namespace

std::string trace_recorder::to_chrome_trace_json() const {
  std::vector<lane> lanes;
  std::vector<copied_event> events;
  {
    std::lock_guard lock(m_state->mutex);
    for (const auto& ring : m_state->rings) {
      ring->lock();
      const std::size_t capacity = ring->slots.size();
      const std::uint64_t first = ring->written > capacity ? ring->written - capacity : 0;
      for (std::uint64_t i = first; i < ring->written; ++i)
        events.push_back(copied_event{ring->tid, ring->slots[i % capacity]});
      lanes.push_back(lane{ring->tid, ring->name});
      ring->unlock();
    }
  }
  std::stable_sort(events.begin(), events.end(), [](const copied_event& a, const copied_event& b) {
    return a.event.ts_us < b.event.ts_us;
  });

  const auto pid = static_cast<std::int64_t>(::getpid());
  nlohmann::json trace_events = nlohmann::json::array();
  trace_events.push_back({{"name", "process_name"},
                          {"ph", "M"},
                          {"pid", pid},
                          {"tid", 0},
                          {"args", {{"name", "harrier"}}}});
  for (const lane& l : lanes) {
    const std::string name = l.name.empty() ? "thread " + std::to_string(l.tid) : l.name;
    trace_events.push_back({{"name", "thread_name"},
                            {"ph", "M"},
                            {"pid", pid},
                            {"tid", l.tid},
                            {"args", {{"name", name}}}});
  }
  for (const copied_event& c : events) {
    const stored_trace_event& e = c.event;
    nlohmann::json j = {{"name", e.name != nullptr ? e.name : "?"},
                        {"cat", e.category != nullptr ? e.category : "harrier"},
                        {"ph", std::string(1, e.phase)},
                        {"ts", e.ts_us},
                        {"pid", pid},
                        {"tid", c.tid},
                        {"args", args_of(e)}};
    if (e.phase == 'X') j["dur"] = e.dur_us;
    if (e.phase == 'i') j["s"] = "t";
    trace_events.push_back(std::move(j));
  }
  const trace_stats s = stats();
  nlohmann::json doc = {{"traceEvents", std::move(trace_events)},
                        {"displayTimeUnit", "ms"},
                        {"otherData",
                         {{"producer", "harrier trace_recorder"},
                          {"events_recorded", s.recorded},
                          {"events_overwritten", s.overwritten},
                          {"events_dropped", s.dropped}}}};
  // Text arguments are cut at k_max_text_arg_bytes, possibly inside a UTF-8 sequence: replace.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void trace_recorder::write_chrome_trace(const std::string& path) const {
  const std::string json = to_chrome_trace_json();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(json.data(), static_cast<std::streamsize>(json.size()));
  out.close();
  if (!out) {
    throw std::system_error(errno != 0 ? errno : EIO, std::generic_category(),
                            "trace_recorder: cannot write the trace to '" + path + "'");
  }
}

}  // namespace harrier::diagnostics
