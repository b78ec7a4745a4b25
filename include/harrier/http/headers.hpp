#pragma once
// Request headers: views into the connection's receive buffer.
//
// A header is two string_views into the bytes the parser saw; nothing is copied and nothing is
// allocated per header (the connection reuses one vector for every request). The views are valid
// until the handler returns. Lookup is case-insensitive (ASCII), linear: requests carry few
// headers, and a scan of a contiguous array beats hashing them.

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace harrier::http {

// ASCII case-insensitive equality, as HTTP field names compare.
bool iequals(std::string_view a, std::string_view b) noexcept;

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
  std::size_t count(std::string_view name) const noexcept;
  std::size_t size() const noexcept { return m_fields.size(); }
  auto begin() const noexcept { return m_fields.begin(); }
  auto end() const noexcept { return m_fields.end(); }

 private:
  std::span<const header_field> m_fields;
};

}  // namespace harrier::http
