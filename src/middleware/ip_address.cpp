// ip_address and ip_network: the address matching behind forwarded_headers' known proxies and
// networks. Parsing goes through inet_pton, so only the forms the C library accepts are
// addresses: no zone ids ("fe80::1%eth0"), no brackets, no leading zeros in IPv4 octets.

#include <harrier/middleware/forwarded_headers.hpp>

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace harrier {

std::optional<ip_address> ip_address::parse(std::string_view text) noexcept {
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buffer)) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  ip_address a;
  if (text.find(':') == std::string_view::npos) {
    if (::inet_pton(AF_INET, buffer, a.m_bytes.data()) != 1) return std::nullopt;
    a.m_v4 = true;
  } else if (::inet_pton(AF_INET6, buffer, a.m_bytes.data()) != 1) {
    return std::nullopt;
  }
  return a;
}

bool ip_address::is_v4_mapped() const noexcept {
  if (m_v4) return false;
  for (std::size_t i = 0; i < 10; ++i) {
    if (m_bytes[i] != 0) return false;
  }
  return m_bytes[10] == 0xff && m_bytes[11] == 0xff;
}

ip_address ip_address::unmapped() const noexcept {
  if (!is_v4_mapped()) return *this;
  ip_address v4;
  v4.m_v4 = true;
  std::memcpy(v4.m_bytes.data(), m_bytes.data() + 12, 4);
  return v4;
}

std::string ip_address::to_string() const {
  if (m_v4) {
    // By hand: glibc's inet_ntop formats IPv4 through sprintf, several times slower.
    char buffer[16];
    char* out = buffer;
    for (std::size_t i = 0; i < 4; ++i) {
      if (i > 0) *out++ = '.';
      out = std::to_chars(out, buffer + sizeof(buffer), m_bytes[i]).ptr;
    }
    return std::string(buffer, out);
  }
  char buffer[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET6, m_bytes.data(), buffer, sizeof(buffer));
  return buffer;
}

ip_network ip_network::parse(std::string_view cidr) {
  const auto fail = [cidr] {
    return std::invalid_argument("ip_network: \"" + std::string(cidr) +
                                 "\" is not a network; expected an address and a prefix length, "
                                 "as \"10.0.0.0/8\" or \"fd00::/8\"");
  };
  const std::size_t slash = cidr.find('/');
  auto prefix = ip_address::parse(cidr.substr(0, slash));
  if (!prefix) throw fail();
  ip_network n;
  n.m_prefix = *prefix;
  const unsigned max_length = prefix->is_v4() ? 32 : 128;
  n.m_prefix_length = max_length;
  if (slash != std::string_view::npos) {
    const std::string_view digits = cidr.substr(slash + 1);
    unsigned length = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        length > max_length) {
      throw fail();
    }
    n.m_prefix_length = length;
  }
  return n;
}

bool ip_network::contains(const ip_address& address) const noexcept {
  if (address.is_v4() != m_prefix.is_v4()) return false;
  const auto& a = address.bytes();
  const auto& p = m_prefix.bytes();
  const unsigned whole = m_prefix_length / 8;
  for (unsigned i = 0; i < whole; ++i) {
    if (a[i] != p[i]) return false;
  }
  const unsigned rest = m_prefix_length % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (p[whole] & mask);
}

}  // namespace harrier
