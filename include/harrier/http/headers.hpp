#pragma once
// Request headers: views into the connection's receive buffer.
//
// A header is two string_views into the bytes the parser saw; nothing is copied and nothing is
// allocated per header (the connection reuses one vector for every request). The views are valid
// until the handler returns. Lookup is case-insensitive (ASCII), linear: requests carry few
// headers, and a scan of a contiguous array beats hashing them.

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace harrier::http {

// ASCII case-insensitive equality, as HTTP field names compare.
bool iequals(std::string_view a, std::string_view b) noexcept;

// Without the optional whitespace (SP, HTAB) around it, as field values and list elements are
// read (RFC 9110 §5.6.3).
inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

namespace detail {
// One byte per character: is it a tchar. A load instead of a chain of compares, since every
// field name of every request and response is checked with it.
inline constexpr std::array<bool, 256> k_token_chars = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c)
    table[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) {
    table[static_cast<std::size_t>(c)] = true;
    table[static_cast<std::size_t>(c - 'a' + 'A')] = true;
  }
  for (const char c : std::string_view("!#$%&'*+-.^_`|~"))
    table[static_cast<unsigned char>(c)] = true;
  return table;
}();
}  // namespace detail

// tchar (RFC 9110 §5.6.2): what field names, methods and other tokens are made of.
inline bool is_token_char(char c) noexcept {
  return detail::k_token_chars[static_cast<unsigned char>(c)];
}

struct header_field {
  std::string_view name;
  std::string_view value;  // without leading or trailing whitespace
};

class header_list {
 public:
  header_list() noexcept = default;
  explicit header_list(std::span<const header_field> fields) noexcept : m_fields(fields) {}

  // The first header named `name`, if any.
  std::optional<std::string_view> find(std::string_view name) const noexcept;
  // A list-based field (Accept-Encoding, If-None-Match, ...): its value, or when it came on
  // several lines all of them joined with ", " in `storage` (RFC 9110 5.3), which must be empty.
  std::optional<std::string_view> find_list(std::string_view name, std::string& storage) const;
  std::size_t count(std::string_view name) const noexcept;
  std::size_t size() const noexcept { return m_fields.size(); }
  auto begin() const noexcept { return m_fields.begin(); }
  auto end() const noexcept { return m_fields.end(); }

 private:
  std::span<const header_field> m_fields;
};

}  // namespace harrier::http
