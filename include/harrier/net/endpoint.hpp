#pragma once
// endpoint: an address a socket binds or connects to. IPv4, IPv6 or a Unix domain socket path.
//
// Text forms: "127.0.0.1:5000", "[::1]:0", "unix:/tmp/x.sock". parse() throws
// std::invalid_argument naming the text and the expected forms; to_string() gives the same forms
// back. The sockaddr is stored inline (no allocation), so endpoints are cheap to copy.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace harrier::net {

class endpoint {
 public:
  endpoint() noexcept;
  static endpoint parse(std::string_view text);
  static endpoint from_sockaddr(const ::sockaddr* address, ::socklen_t length);

  // The address family: AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC for a default endpoint.
  int family() const noexcept { return m_storage.ss_family; }
  bool is_unix() const noexcept { return family() == AF_UNIX; }
  // The port for IP endpoints, 0 otherwise.
  std::uint16_t port() const noexcept;
  std::string to_string() const;

  const ::sockaddr* data() const noexcept {
    return reinterpret_cast<const ::sockaddr*>(&m_storage);
  }
  ::socklen_t size() const noexcept { return m_length; }

 private:
  ::sockaddr_storage m_storage;
  ::socklen_t m_length = 0;
};

}  // namespace harrier::net
