// request, request_body, header_list and the target helpers.

#include <harrier/http/headers.hpp>
#include <harrier/http/request.hpp>

#include "http/connection_core.hpp"

#include <utility>

namespace harrier::http {

namespace {
constexpr char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void request::describe_connection() const noexcept {
  const connection_describer* describer = std::exchange(m_describer, nullptr);
  try {
    m_connection = describer->describe();
  } catch (...) {  // out of memory for two short strings: unknown, as for a peer gone
    m_connection = connection_info{};
  }
}

std::optional<std::string_view> header_list::find(std::string_view name) const noexcept {
  for (const header_field& f : m_fields) {
    if (iequals(f.name, name)) return f.value;
  }
  return std::nullopt;
}

std::optional<std::string_view> header_list::find_list(std::string_view name,
                                                       std::string& storage) const {
  std::optional<std::string_view> first;
  for (const header_field& f : m_fields) {
    if (!iequals(f.name, name)) continue;
    if (!first) {
      first = f.value;
      continue;
    }
    if (storage.empty()) storage.assign(*first);
    storage += ", ";
    storage += f.value;
  }
  if (!storage.empty()) return std::string_view(storage);
  return first;
}

std::size_t header_list::count(std::string_view name) const noexcept {
  std::size_t n = 0;
  for (const header_field& f : m_fields)
    n += iequals(f.name, name) ? 1 : 0;
  return n;
}

task<std::span<const std::byte>> request_body::read() {
  return m_core->read_body();
}
task<std::string> request_body::read_all(std::size_t limit) {
  return m_core->read_all(limit);
}
std::optional<std::uint64_t> request_body::declared_length() const noexcept {
  return m_core->declared_length();
}
bool request_body::is_complete() const noexcept {
  return m_core->body_complete();
}

namespace {

bool decode(std::string_view text, std::string& out, bool plus_as_space, bool keep_malformed) {
  out.reserve(out.size() + text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        if (!keep_malformed) return false;
        out.push_back('%');
        continue;
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

}  // namespace

bool percent_decode(std::string_view text, std::string& out, bool plus_as_space) {
  return decode(text, out, plus_as_space, false);
}

std::string percent_decode_lenient(std::string_view text, bool plus_as_space) {
  std::string out;
  decode(text, out, plus_as_space, true);
  return out;
}

std::optional<std::string_view> find_query_parameter(std::string_view query,
                                                     std::string_view name) noexcept {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace harrier::http
