// endpoint parsing and formatting: "127.0.0.1:5000", "[::1]:0", "unix:/tmp/x.sock".

#include <harrier/net/endpoint.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string>

namespace harrier::net {
namespace {

[[noreturn]] void bad(std::string_view text, const char* why) {
  throw std::invalid_argument("harrier: bad endpoint \"" + std::string(text) + "\" (" + why +
                              "); expected HOST:PORT with an IPv4 address, [IPv6]:PORT, or "
                              "unix:/path");
}

std::uint16_t parse_port(std::string_view text, std::string_view port) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || port.empty() || value > 65535) {
    bad(text, "the port must be a number from 0 to 65535");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

endpoint::endpoint() noexcept : m_storage{} {
  m_storage.ss_family = AF_UNSPEC;
}

endpoint endpoint::parse(std::string_view text) {
  endpoint e;
  if (text.starts_with("unix:")) {
    std::string_view path = text.substr(5);
    auto* un = reinterpret_cast<::sockaddr_un*>(&e.m_storage);
    if (path.empty()) bad(text, "empty socket path");
    if (path.size() >= sizeof(un->sun_path)) bad(text, "socket path too long");
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    un->sun_path[path.size()] = '\0';
    e.m_length = static_cast<::socklen_t>(offsetof(::sockaddr_un, sun_path) + path.size() + 1);
    return e;
  }
  if (text.starts_with("[")) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      bad(text, "an IPv6 address needs [ADDRESS]:PORT");
    }
    const std::string host(text.substr(1, close - 1));
    auto* in6 = reinterpret_cast<::sockaddr_in6*>(&e.m_storage);
    in6->sin6_family = AF_INET6;
    if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) bad(text, "bad IPv6 address");
    in6->sin6_port = htons(parse_port(text, text.substr(close + 2)));
    e.m_length = sizeof(::sockaddr_in6);
    return e;
  }
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) bad(text, "missing :PORT");
  std::string host(text.substr(0, colon));
  if (host == "localhost") host = "127.0.0.1";
  auto* in = reinterpret_cast<::sockaddr_in*>(&e.m_storage);
  in->sin_family = AF_INET;
  if (::inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) bad(text, "bad IPv4 address");
  in->sin_port = htons(parse_port(text, text.substr(colon + 1)));
  e.m_length = sizeof(::sockaddr_in);
  return e;
}

endpoint endpoint::from_sockaddr(const ::sockaddr* address, ::socklen_t length) {
  endpoint e;
  if (length > sizeof(e.m_storage)) length = sizeof(e.m_storage);
  std::memcpy(&e.m_storage, address, length);
  e.m_length = length;
  return e;
}

std::uint16_t endpoint::port() const noexcept {
  if (family() == AF_INET)
    return ntohs(reinterpret_cast<const ::sockaddr_in*>(&m_storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const ::sockaddr_in6*>(&m_storage)->sin6_port);
  }
  return 0;
}

std::string endpoint::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET:
      ::inet_ntop(AF_INET, &reinterpret_cast<const ::sockaddr_in*>(&m_storage)->sin_addr, buffer,
                  sizeof(buffer));
      return std::string(buffer) + ":" + std::to_string(port());
    case AF_INET6:
      ::inet_ntop(AF_INET6, &reinterpret_cast<const ::sockaddr_in6*>(&m_storage)->sin6_addr, buffer,
                  sizeof(buffer));
      return "[" + std::string(buffer) + "]:" + std::to_string(port());
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const ::sockaddr_un*>(&m_storage);
      if (m_length <= offsetof(::sockaddr_un, sun_path)) return "unix:";
      return "unix:" +
             std::string(un->sun_path,
                         ::strnlen(un->sun_path, m_length - offsetof(::sockaddr_un, sun_path)));
    }
    default:
      return "(unspecified)";
  }
}

}  // namespace harrier::net
