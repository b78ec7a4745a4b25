// Idle keep-alive connections give their receive buffer back (through a real server on
// loopback, because only the TCP transport can wait for input without a buffer).

#include <harrier/core/block_pool.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/middleware/application.hpp>

#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "loopback_client.hpp"

namespace {

constexpr std::string_view k_request = "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n";

// Sends one request on `fd` and reads its whole response; the connection stays open.
bool request_and_keep(int fd) {
  std::string response;
  return fd >= 0 && harrier::testing::send_all(fd, k_request) &&
         harrier::testing::read_until(fd, response, "\r\n\r\nhello");
}

}  // namespace

TEST_CASE("idle keep-alive connections hold no receive buffer", "[application][idle]") {
  harrier::configuration config;
  config.set("urls", "http://127.0.0.1:0");
  config.set("min_threads", "1");
  auto app = harrier::application::create(std::move(config));
  app.map_get("/hello", [] { return std::string("hello"); });
  harrier::sync_wait(app.start());
  const std::string url = app.urls().front();
  const int port = harrier::testing::port_of(url);

  auto& pool = harrier::block_pool::shared();
  const std::size_t before = pool.stats().blocks_in_use();
  constexpr int k_connections = 64;
  std::vector<int> open;
  for (int i = 0; i < k_connections; ++i) {
    open.push_back(harrier::testing::connect_loopback(port));
    REQUIRE(request_and_keep(open.back()));
  }
  // Every connection has answered and waits for its next request. The last buffers come back as
  // each connection loops to its wait; give that a bounded moment.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::size_t in_use = pool.stats().blocks_in_use();
  while (in_use > before + 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    in_use = pool.stats().blocks_in_use();
  }
  // Before idle connections gave their block back, this was `before + 64`. The slack of 2 is for
  // the epoll backend's one spare receive block per I/O thread.
  CHECK(in_use <= before + 2);

  // And they still work: a second request on each is answered.
  for (int fd : open) {
    REQUIRE(request_and_keep(fd));
    ::close(fd);
  }
  harrier::sync_wait(app.stop());
}
