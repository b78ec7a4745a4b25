// The Date header cache: IMF-fixdate format and refresh.

#include <harrier/http/date_cache.hpp>

#include <catch2/catch.hpp>

#include <thread>

using namespace harrier::http;

namespace {
std::chrono::system_clock::time_point at(std::int64_t unix_seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}
}  // namespace

TEST_CASE("dates are formatted as IMF-fixdate", "[http][date]") {
  char out[k_imf_fixdate_bytes];
  format_imf_fixdate(at(784111777), out);  // RFC 9110's example
  CHECK(std::string(out, sizeof(out)) == "Sun, 06 Nov 1994 08:49:37 GMT");
  format_imf_fixdate(at(0), out);
  CHECK(std::string(out, sizeof(out)) == "Thu, 01 Jan 1970 00:00:00 GMT");
  format_imf_fixdate(at(4102444799), out);
  CHECK(std::string(out, sizeof(out)) == "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST_CASE("the date cache serves the value of its last refresh", "[http][date]") {
  date_cache cache;
  CHECK(cache.current().size() == 29);
  cache.refresh(at(784111777));
  CHECK(cache.current() == "Sun, 06 Nov 1994 08:49:37 GMT");
  cache.refresh(at(784111778));
  CHECK(cache.current() == "Sun, 06 Nov 1994 08:49:38 GMT");
  // time() is that value as a time, in whole seconds (what Last-Modified is clamped to).
  cache.refresh(at(784111779) + std::chrono::milliseconds(900));
  CHECK(cache.time() == at(784111779));
  CHECK(cache.current() == "Sun, 06 Nov 1994 08:49:39 GMT");
}

TEST_CASE("readers never see a torn date while the cache refreshes", "[http][date]") {
  date_cache cache;
  cache.refresh(at(0));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::int64_t s = 0; s < 20000; ++s)
      cache.refresh(at(s % 2 == 0 ? 0 : 4102444799));
    stop = true;
  });
  int reads = 0;
  bool all_valid = true;
  while (!stop.load() || reads < 1000) {
    const std::string value = cache.current();
    all_valid = all_valid && (value == "Thu, 01 Jan 1970 00:00:00 GMT" ||
                              value == "Thu, 31 Dec 2099 23:59:59 GMT");
    ++reads;
  }
  writer.join();
  CHECK(all_valid);
}

TEST_CASE("two refreshing threads (two servers' heartbeats) never leave a torn date",
          "[http][date]") {
  // Several applications in one process each have a heartbeat refreshing the shared cache.
  date_cache cache;
  cache.refresh(at(0));
  std::atomic<int> writers_done{0};
  auto writer = [&](std::int64_t seconds) {
    for (int i = 0; i < 20000; ++i)
      cache.refresh(at(seconds));
    writers_done.fetch_add(1);
  };
  std::thread first(writer, 0);
  std::thread second(writer, 4102444799);
  int reads = 0;
  bool all_valid = true;
  while (writers_done.load() < 2 || reads < 1000) {
    const std::string value = cache.current();
    all_valid = all_valid && (value == "Thu, 01 Jan 1970 00:00:00 GMT" ||
                              value == "Thu, 31 Dec 2099 23:59:59 GMT");
    ++reads;
  }
  first.join();
  second.join();
  CHECK(all_valid);
}
