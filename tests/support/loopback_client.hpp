#pragma once
// Plain-socket clients for tests that talk to a real server on loopback. Every read gives up
// after 10 s (SO_RCVTIMEO), so a server that never answers or never closes fails the test
// instead of hanging it.

#include <harrier/net/endpoint.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace harrier::test {

// A socket connected to `to`, whose reads time out after 10 s.
inline int connect_with_timeout(const net::endpoint& to) {
  const int fd = ::socket(to.family(), SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, to.data(), to.size()) == 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

inline void send_all(int fd, std::string_view bytes) {
  REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
}

// Reads until the server closes: the bytes, or "<timeout>" when 10 s passed without a close.
inline std::string read_until_closed(int fd) {
  std::string data;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) return data;
    if (n < 0) return "<timeout>";
    data.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace harrier::test
