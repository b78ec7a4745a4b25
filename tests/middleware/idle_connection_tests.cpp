// Idle keep-alive connections give their receive buffer back (through a real server on
// loopback, because only the TCP transport can wait for input without a buffer).

#include <harrier/core/block_pool.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/middleware/application.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

// Connects, sends one HTTP/1.1 request and reads its whole response; the connection stays open.
// Returns -1 (and fails the caller's check) on any error; every read has a 10 s timeout.
int request_and_keep(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  const std::string request = "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n";
  if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return -1;
  }
  std::string response;
  char buffer[4096];
  while (response.find("\r\n\r\nhello") == std::string::npos) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    response.append(buffer, static_cast<std::size_t>(n));
  }
  return fd;
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
  const int port = std::stoi(url.substr(url.rfind(':') + 1));

  auto& pool = harrier::block_pool::shared();
  const std::size_t before = pool.stats().blocks_in_use();
  constexpr int k_connections = 64;
  std::vector<int> open;
  for (int i = 0; i < k_connections; ++i)
    open.push_back(request_and_keep(port));
  for (int fd : open)
    REQUIRE(fd >= 0);
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
    const std::string request = "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n";
    REQUIRE(::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
    std::string response;
    char buffer[4096];
    while (response.find("\r\n\r\nhello") == std::string::npos) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      REQUIRE(n > 0);
      response.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
  }
  harrier::sync_wait(app.stop());
}
