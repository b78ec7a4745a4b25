// Connections over max_concurrent_connections: a 503, then a lingering close for a bounded
// number of them at once. Real sockets on loopback; every wait is bounded.

#include <harrier/http/response.hpp>
#include <harrier/http/server.hpp>
#include <harrier/net/io_context.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/bounded_stop.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

using namespace harrier::http;
using namespace std::chrono_literals;

namespace {

harrier::task<void> hello(request&, response& res) {
  co_await res.send(200, "text/plain", "hello");
}

int connect_to(const harrier::net::endpoint& to) {
  const int fd = ::socket(to.family(), SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, to.data(), to.size()) == 0);
  return fd;
}

}  // namespace

TEST_CASE("refused connections beyond 256 lingering at once are closed right after the 503",
          "[http][server]") {
  harrier::net::io_context io;
  server_options o;
  o.endpoints.push_back(harrier::net::endpoint::parse("127.0.0.1:0"));
  o.max_concurrent_connections = 1;
  server srv(io, o, hello);
  srv.start();
  const harrier::net::endpoint at = srv.local_endpoints().front();
  const int held = connect_to(at);  // the one the limit allows
  // 300 clients over the limit that send nothing and never close: a lingering close would keep
  // each open for its second.
  std::vector<pollfd> refused;
  for (int i = 0; i < 300; ++i)
    refused.push_back(pollfd{connect_to(at), POLLIN, 0});
  // Each gets its 503 and the end of the stream at once (lingering or not, the server's sending
  // side is shut). Which server sockets are still open shows when each client sends a byte: a
  // closed one answers with a reset, a lingering one reads and drops it.
  std::vector<std::string> received(refused.size());
  std::size_t ended = 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::vector<bool> done(refused.size(), false);
  while (ended < refused.size() && std::chrono::steady_clock::now() < deadline) {
    for (pollfd& p : refused)
      p.revents = 0;
    if (::poll(refused.data(), refused.size(), 20) <= 0) continue;
    for (std::size_t i = 0; i < refused.size(); ++i) {
      if (done[i] || (refused[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      char buffer[256];
      const ssize_t n = ::recv(refused[i].fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n > 0) received[i].append(buffer, static_cast<std::size_t>(n));
      if (n == 0) {
        done[i] = true;
        refused[i].events = 0;
        ++ended;
      }
    }
  }
  REQUIRE(ended == refused.size());
  for (std::size_t i = 0; i < refused.size(); ++i) {
    INFO("client " << i);
    CHECK(received[i].rfind("HTTP/1.1 503 ", 0) == 0);
  }
  for (const pollfd& p : refused)
    CHECK(::send(p.fd, "x", 1, MSG_NOSIGNAL) == 1);
  // Well inside the lingering second: the resets of the closed ones are back.
  // Reading SO_ERROR clears it: each socket's reset is noted once.
  std::vector<bool> was_reset(refused.size(), false);
  std::size_t reset = 0;
  for (int round = 0; round < 50 && reset < 44; ++round) {
    ::poll(nullptr, 0, 10);
    for (std::size_t i = 0; i < refused.size(); ++i) {
      if (was_reset[i]) continue;
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(refused[i].fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error == ECONNRESET || error == EPIPE) {  // EPIPE: reset while half-closed
        was_reset[i] = true;
        ++reset;
      }
    }
  }
  // 256 linger, the other 44 were closed at once (without the bound, none would be).
  CHECK(reset >= 40);
  CHECK(reset <= 60);
  for (pollfd& p : refused)
    ::close(p.fd);
  ::close(held);
  harrier::test::stop_bounded(srv, io);
  io.stop();
}
