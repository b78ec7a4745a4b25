#include "http/authority.hpp"

#include <array>
#include <cstddef>
#include <string_view>

namespace harrier::http::detail {
namespace {

bool is_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// unreserved / sub-delims (RFC 3986 section 2): what a reg-name holds besides '%' escapes. A
// table: every request's Host goes through here (a switch cost ~20 instructions a byte).
constexpr auto k_reg_name_chars = [] {
  std::array<bool, 256> table{};
  for (unsigned char c = '0'; c <= '9'; ++c)
    table[c] = true;
  for (unsigned char c = 'a'; c <= 'z'; ++c)
    table[c] = true;
  for (unsigned char c = 'A'; c <= 'Z'; ++c)
    table[c] = true;
  for (unsigned char c : std::string_view("-._~!$&'()*+,;="))
    table[c] = true;
  return table;
}();

bool is_reg_name_char(char c) noexcept {
  return k_reg_name_chars[static_cast<unsigned char>(c)];
}

// IPv6address (with an embedded IPv4 tail) or IPvFuture, between the brackets. The shape is
// checked loosely (characters, not the count of groups): what reaches routing is a string.
bool valid_ip_literal(std::string_view inside) noexcept {
  if (inside.empty()) return false;
  if (inside[0] == 'v' || inside[0] == 'V') {
    const std::size_t dot = inside.find('.');
    if (dot == std::string_view::npos || dot == 1 || dot + 1 == inside.size()) return false;
    for (std::size_t i = 1; i < dot; ++i)
      if (!is_hex(inside[i])) return false;
    for (std::size_t i = dot + 1; i < inside.size(); ++i)
      if (!is_reg_name_char(inside[i]) && inside[i] != ':') return false;
    return true;
  }
  for (char c : inside)
    if (!is_hex(c) && c != ':' && c != '.') return false;
  return inside.find(':') != std::string_view::npos;
}

}  // namespace

bool valid_authority(std::string_view value) noexcept {
  std::size_t i = 0;
  if (!value.empty() && value[0] == '[') {
    const std::size_t close = value.find(']');
    if (close == std::string_view::npos || !valid_ip_literal(value.substr(1, close - 1))) {
      return false;
    }
    i = close + 1;
  } else {
    while (i < value.size() && value[i] != ':') {
      if (value[i] == '%') {
        if (i + 2 >= value.size() || !is_hex(value[i + 1]) || !is_hex(value[i + 2])) return false;
        i += 3;
        continue;
      }
      if (!is_reg_name_char(value[i])) return false;
      ++i;
    }
    if (i == 0) return false;  // no host
  }
  if (i == value.size()) return true;
  if (value[i] != ':') return false;
  for (++i; i < value.size(); ++i)
    if (value[i] < '0' || value[i] > '9') return false;
  return true;
}

}  // namespace harrier::http::detail
