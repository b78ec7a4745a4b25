#include <harrier/diagnostics/trace_recorder.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace harrier::diagnostics;
using nlohmann::json;

namespace {

std::vector<json> events_named(const json& doc, const std::string& name) {
  std::vector<json> out;
  for (const json& e : doc.at("traceEvents")) {
    if (e.at("name") == name) out.push_back(e);
  }
  return out;
}

}  // namespace

TEST_CASE("a recorder that was never started records nothing", "[trace]") {
  trace_recorder recorder;
  CHECK_FALSE(recorder.enabled());
  recorder.instant("ignored", "test");
  recorder.begin("ignored", "test");
  recorder.end("ignored", "test");
  { trace_span span(recorder, "ignored", "test"); }
  CHECK(recorder.stats().recorded == 0);
  CHECK(recorder.stats().threads == 0);  // not even a ring was allocated
  const json doc = json::parse(recorder.to_chrome_trace_json());
  CHECK(events_named(doc, "ignored").empty());
}

TEST_CASE("the Chrome trace JSON parses and holds each event with its phase and args", "[trace]") {
  trace_recorder recorder;
  recorder.start();
  recorder.set_thread_name("test-main");
  recorder.begin("request", "http", {{"route", "/plaintext"}});
  recorder.instant("adjustment", "threadpool",
                   {{"reason", "Starvation"}, {"threads", 5}, {"throughput", 12.5}});
  recorder.counter("queue", "threadpool", {{"length", 42}});
  recorder.complete("io_batch", "net", trace_recorder::now_us(), 17, {{"completions", 8}});
  recorder.end("request", "http");
  { trace_span span(recorder, "handler", "http"); }
  recorder.stop();
  recorder.instant("after_stop", "test");

  const json doc = json::parse(recorder.to_chrome_trace_json());
  REQUIRE(doc.at("traceEvents").is_array());
  CHECK(doc.at("displayTimeUnit") == "ms");

  const std::vector<json> adjustment = events_named(doc, "adjustment");
  REQUIRE(adjustment.size() == 1);
  CHECK(adjustment[0].at("ph") == "i");
  CHECK(adjustment[0].at("s") == "t");
  CHECK(adjustment[0].at("cat") == "threadpool");
  CHECK(adjustment[0].at("args") ==
        json{{"reason", "Starvation"}, {"threads", 5}, {"throughput", 12.5}});
  CHECK(adjustment[0].at("pid").is_number_integer());
  CHECK(adjustment[0].at("tid").is_number_integer());
  CHECK(adjustment[0].at("ts").is_number());

  const std::vector<json> request = events_named(doc, "request");
  REQUIRE(request.size() == 2);
  CHECK(request[0].at("ph") == "B");
  CHECK(request[0].at("args").at("route") == "/plaintext");
  CHECK(request[1].at("ph") == "E");
  CHECK(request[0].at("ts") <= request[1].at("ts"));

  const std::vector<json> batch = events_named(doc, "io_batch");
  REQUIRE(batch.size() == 1);
  CHECK(batch[0].at("ph") == "X");
  CHECK(batch[0].at("dur") == 17);
  CHECK(events_named(doc, "queue").at(0).at("ph") == "C");
  CHECK(events_named(doc, "handler").at(0).at("ph") == "X");
  CHECK(events_named(doc, "after_stop").empty());

  bool named_lane = false;
  for (const json& m : events_named(doc, "thread_name")) {
    CHECK(m.at("ph") == "M");
    if (m.at("args").at("name") == "test-main") named_lane = m.at("tid") == adjustment[0].at("tid");
  }
  CHECK(named_lane);
}

TEST_CASE("events of several threads land on their own lanes, named from the thread", "[trace]") {
  trace_recorder recorder;
  recorder.start();
  constexpr int k_threads = 4;
  constexpr int k_events = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&recorder, t] {
      const std::string name = "tworker-" + std::to_string(t);
      ::pthread_setname_np(::pthread_self(), name.c_str());
      for (int i = 0; i < k_events; ++i)
        recorder.instant("work", "test", {{"i", i}});
    });
  }
  for (std::thread& t : threads)
    t.join();
  const json doc = json::parse(recorder.to_chrome_trace_json());
  std::set<std::int64_t> tids;
  for (const json& e : events_named(doc, "work"))
    tids.insert(e.at("tid").get<std::int64_t>());
  CHECK(events_named(doc, "work").size() == k_threads * k_events);
  CHECK(tids.size() == k_threads);
  std::set<std::string> lane_names;
  for (const json& m : events_named(doc, "thread_name"))
    lane_names.insert(m.at("args").at("name").get<std::string>());
  CHECK(lane_names.count("tworker-0") == 1);
  CHECK(lane_names.count("tworker-3") == 1);
  // Events are sorted by time.
  double last_ts = 0;
  for (const json& e : doc.at("traceEvents")) {
    if (e.at("ph") == "M") continue;
    CHECK(e.at("ts").get<double>() >= last_ts);
    last_ts = e.at("ts").get<double>();
  }
}

TEST_CASE("a thread's ring keeps only the latest events up to its bound", "[trace]") {
  trace_recorder recorder(8);
  recorder.start();
  for (int i = 0; i < 20; ++i)
    recorder.instant("tick", "test", {{"i", i}});
  const trace_stats stats = recorder.stats();
  CHECK(stats.recorded == 20);
  CHECK(stats.overwritten == 12);
  const json doc = json::parse(recorder.to_chrome_trace_json());
  const std::vector<json> ticks = events_named(doc, "tick");
  REQUIRE(ticks.size() == 8);
  CHECK(ticks.front().at("args").at("i") == 12);
  CHECK(ticks.back().at("args").at("i") == 19);
}

TEST_CASE("start discards the previous recording", "[trace]") {
  trace_recorder recorder;
  recorder.start();
  recorder.instant("old", "test");
  recorder.stop();
  recorder.start();
  recorder.instant("new", "test");
  const json doc = json::parse(recorder.to_chrome_trace_json());
  CHECK(events_named(doc, "old").empty());
  CHECK(events_named(doc, "new").size() == 1);
}

TEST_CASE("long text arguments are truncated, not overflowed", "[trace]") {
  trace_recorder recorder;
  recorder.start();
  const std::string long_route(200, 'r');
  recorder.instant("request", "http", {{"route", long_route}, {"other", "second text dropped"}});
  const json doc = json::parse(recorder.to_chrome_trace_json());
  const json args = events_named(doc, "request").at(0).at("args");
  CHECK(args.at("route").get<std::string>() == std::string(k_max_text_arg_bytes, 'r'));
  CHECK_FALSE(args.contains("other"));
}

TEST_CASE("exporting while threads record is safe and loses nothing it reports", "[trace]") {
  trace_recorder recorder(1024);
  recorder.start();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 20'000; ++i)
      recorder.instant("busy", "test", {{"i", i}});
    done = true;
  });
  int exports = 0;
  while (!done || exports < 2) {
    const json doc = json::parse(recorder.to_chrome_trace_json());
    CHECK(doc.at("traceEvents").size() >= 1);
    if (++exports > 10'000) break;  // bounded even if the writer were stuck
  }
  writer.join();
  const trace_stats stats = recorder.stats();
  CHECK(stats.recorded + stats.dropped == 20'000);
}

TEST_CASE("the trace is written to a file", "[trace]") {
  trace_recorder recorder;
  recorder.start();
  recorder.instant("saved", "test");
  const std::string path = "/tmp/harrier-trace-test-" + std::to_string(::getpid()) + ".json";
  recorder.write_chrome_trace(path);
  std::ifstream in(path);
  const json doc = json::parse(in);
  CHECK(events_named(doc, "saved").size() == 1);
  std::remove(path.c_str());
  CHECK_THROWS_AS(recorder.write_chrome_trace("/nonexistent-dir/trace.json"), std::system_error);
}

TEST_CASE("a text argument cut inside a UTF-8 sequence still exports as valid JSON", "[trace]") {
  trace_recorder recorder;
  recorder.start();
  const std::string route = std::string(k_max_text_arg_bytes - 1, 'a') + "\xc3\xa9";  // "...é"
  recorder.instant("request", "http", {{"route", route}});
  const json doc = json::parse(recorder.to_chrome_trace_json());
  const std::string exported =
      events_named(doc, "request").at(0).at("args").at("route").get<std::string>();
  CHECK(exported.starts_with(std::string(k_max_text_arg_bytes - 1, 'a')));
}
