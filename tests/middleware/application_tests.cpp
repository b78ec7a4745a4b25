// The application builder end to end: real pool, real I/O threads, real sockets on loopback.
#include <harrier/core/sync_wait.hpp>
#include <harrier/middleware/application.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "loopback_client.hpp"

namespace {

// One HTTP/1.0 GET over loopback: the whole response, "" if the connection failed.
std::string get(const std::string& url, const char* path) {
  using namespace harrier::testing;
  return exchange(port_of(url), std::string("GET ") + path + " HTTP/1.0\r\n\r\n");
}

harrier::application make_app(const char* answer) {
  harrier::configuration config;
  config.set("urls", "http://127.0.0.1:0");
  config.set("min_threads", "1");
  auto app = harrier::application::create(std::move(config));
  app.map_get("/who", [answer] { return std::string(answer); });
  app.map_diagnostics();
  return app;
}

}  // namespace

TEST_CASE("two applications run side by side in one process, each with its own metrics",
          "[application]") {
  auto first = make_app("first");
  auto second = make_app("second");
  harrier::sync_wait(first.start());
  harrier::sync_wait(second.start());
  CHECK_THAT(get(first.urls().front(), "/who"), Catch::EndsWith("first"));
  CHECK_THAT(get(second.urls().front(), "/who"), Catch::EndsWith("second"));
  CHECK_THAT(get(second.urls().front(), "/who"), Catch::EndsWith("second"));
  // Each /metrics counts its own requests only: 1 on the first, 2 on the second.
  const std::string first_metrics = get(first.urls().front(), "/metrics");
  const std::string second_metrics = get(second.urls().front(), "/metrics");
  CHECK_THAT(first_metrics, Catch::Contains("http_server_request_duration_seconds_count{method="
                                            "\"GET\",route=\"/who\",status=\"200\"} 1"));
  CHECK_THAT(second_metrics, Catch::Contains("http_server_request_duration_seconds_count{method="
                                             "\"GET\",route=\"/who\",status=\"200\"} 2"));
  harrier::sync_wait(second.stop());
  harrier::sync_wait(first.stop());
}

TEST_CASE("request durations land in the series of each request's own route, in any order",
          "[application]") {
  // One worker serves every request, so its per-thread series cache sees the routes alternate.
  harrier::configuration config;
  config.set("urls", "http://127.0.0.1:0");
  config.set("min_threads", "1");
  config.set("max_threads", "1");
  auto app = harrier::application::create(std::move(config));
  app.map_get("/a", [] { return std::string("a"); });
  app.map_get("/b", [] { return std::string("b"); });
  app.map_diagnostics();
  harrier::sync_wait(app.start());
  const std::string url = app.urls().front();
  for (const char* path : {"/a", "/b", "/b", "/a", "/a", "/b", "/a"})
    CHECK_THAT(get(url, path), Catch::EndsWith(path + 1));
  const std::string metrics = get(url, "/metrics");
  CHECK_THAT(metrics, Catch::Contains("http_server_request_duration_seconds_count{method="
                                      "\"GET\",route=\"/a\",status=\"200\"} 4"));
  CHECK_THAT(metrics, Catch::Contains("http_server_request_duration_seconds_count{method="
                                      "\"GET\",route=\"/b\",status=\"200\"} 3"));
  harrier::sync_wait(app.stop());
}

// co_await app.start() / app.stop(): embedding applications in a larger program.

namespace {

harrier::application make_app_with(const char* answer, const char* urls, const char* dispatch,
                                   const char* max_threads) {
  harrier::configuration config;
  config.set("urls", urls);
  config.set("min_threads", "1");
  config.set("max_threads", max_threads);
  config.set("dispatch", dispatch);
  auto app = harrier::application::create(std::move(config));
  app.map_get("/who", [answer] { return std::string(answer); });
  return app;
}

harrier::task<void> start_query_stop(harrier::application& first, harrier::application& second,
                                     std::string& answers) {
  co_await first.start();
  co_await second.start();
  answers = get(first.urls().front(), "/who") + "|" + get(second.urls().front(), "/who");
  co_await second.stop();
  co_await first.stop();
}

harrier::task<void> stop_on(harrier::thread_pool& pool, harrier::application& app,
                            harrier::thread_pool*& resumed_on) {
  co_await pool.schedule();
  co_await app.stop();
  resumed_on = harrier::thread_pool::current();
}

}  // namespace

TEST_CASE("two applications start and stop by co_await from one coroutine", "[application]") {
  auto first = make_app_with("first", "http://127.0.0.1:0", "pool", "4");
  auto second = make_app_with("second", "http://127.0.0.1:0", "pool", "4");
  std::string answers;
  harrier::sync_wait(start_query_stop(first, second, answers));
  CHECK_THAT(answers, Catch::Contains("first|") && Catch::EndsWith("second"));
  CHECK(first.is_stopping());
  CHECK(second.is_stopping());
}

TEST_CASE("stop awaited on another application's pool does not block it and resumes there",
          "[application]") {
  // The host's pool has one thread: had stop() blocked it for the drain, nothing could run the
  // awaiter's continuation, which is posted back to that pool.
  auto host = make_app_with("host", "http://127.0.0.1:0", "pool", "1");
  auto guest = make_app_with("guest", "http://127.0.0.1:0", "pool", "4");
  harrier::sync_wait(host.start());
  harrier::sync_wait(guest.start());
  CHECK_THAT(get(guest.urls().front(), "/who"), Catch::EndsWith("guest"));
  harrier::thread_pool* resumed_on = nullptr;
  harrier::sync_wait(stop_on(host.pool(), guest, resumed_on));
  CHECK(resumed_on == &host.pool());
  CHECK(guest.is_stopping());
  CHECK_THAT(get(host.urls().front(), "/who"), Catch::EndsWith("host"));  // the host still serves
  harrier::sync_wait(host.stop());
}

TEST_CASE("a start that cannot bind throws from co_await and the application stays stoppable",
          "[application]") {
  auto first = make_app_with("first", "http://127.0.0.1:0", "pool", "4");
  harrier::sync_wait(first.start());
  const std::string taken = first.urls().front();
  auto second = make_app_with("second", taken.c_str(), "pool", "4");
  CHECK_THROWS_AS(harrier::sync_wait(second.start()), std::system_error);
  CHECK_FALSE(second.is_stopping());
  harrier::sync_wait(second.stop());  // nothing to stop: completes at once
  CHECK_THAT(get(taken, "/who"), Catch::EndsWith("first"));
  harrier::sync_wait(first.stop());
}

TEST_CASE("stop is idempotent, and concurrent stops all complete", "[application]") {
  auto app = make_app_with("app", "http://127.0.0.1:0", "pool", "4");
  harrier::sync_wait(app.start());
  std::atomic<int> completed{0};
  std::thread a([&] {
    harrier::sync_wait(app.stop());
    ++completed;
  });
  std::thread b([&] {
    harrier::sync_wait(app.stop());
    ++completed;
  });
  a.join();
  b.join();
  CHECK(completed.load() == 2);
  harrier::sync_wait(app.stop());  // after the end: at once
  CHECK(app.is_stopping());
}

TEST_CASE("stop awaited from the application's own handler throws instead of deadlocking",
          "[application]") {
  for (const char* dispatch : {"pool", "inline"}) {
    INFO(dispatch);
    auto app = make_app_with("app", "http://127.0.0.1:0", dispatch, "4");
    app.map_get("/stop-self", [&app]() -> harrier::task<std::string> {
      try {
        co_await app.stop();
        co_return "stopped";
      } catch (const std::logic_error&) {
        co_return "refused";
      }
    });
    harrier::sync_wait(app.start());
    CHECK_THAT(get(app.urls().front(), "/stop-self"), Catch::EndsWith("refused"));
    CHECK_FALSE(app.is_stopping());
    CHECK_THAT(get(app.urls().front(), "/who"), Catch::EndsWith("app"));
    harrier::sync_wait(app.stop());
  }
}
