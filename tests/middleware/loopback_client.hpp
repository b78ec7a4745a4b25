#pragma once
// A blocking HTTP client over IPv4 loopback, for the tests that run a real application.
// Every read times out after 10 s, so a broken server fails the test instead of hanging it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace harrier::testing {

// The port of a "http://127.0.0.1:PORT" URL.
inline int port_of(const std::string& url) {
  return std::stoi(url.substr(url.rfind(':') + 1));
}

// A connected socket with a 10 s receive timeout, or -1.
inline int connect_loopback(int port) {
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
  return fd;
}

inline bool send_all(int fd, std::string_view bytes) {
  return ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
}

// Reads into `response` until it contains `marker` (true), or EOF, an error or the timeout.
inline bool read_until(int fd, std::string& response, std::string_view marker) {
  char buffer[4096];
  while (response.find(marker) == std::string::npos) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return false;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

// Sends `request` on a new connection and returns everything read until the server closes
// ("" if the connection failed). For HTTP/1.0 requests, which the server answers and closes.
inline std::string exchange(int port, std::string_view request) {
  std::string response;
  const int fd = connect_loopback(port);
  if (fd < 0) return response;
  if (send_all(fd, request)) {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
      response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return response;
}

}  // namespace harrier::testing
