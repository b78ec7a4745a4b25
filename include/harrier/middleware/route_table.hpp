#pragma once
// route_table: the compiled structure that maps (method, path) to an endpoint.
//
// Routes are added with their templates (see route_pattern.hpp) and stored in a trie of path
// segments, so a lookup walks the request path once and its cost does not grow with the number
// of routes: literal children are found by hash, and only parameter children are tried in turn.
//
// Precedence, independent of registration order, at every segment:
//   literal  >  parameter with constraints  >  parameter without  >  catch-all.
// The walk backtracks: if the literal branch cannot complete the path, the parameter branches are
// tried. Among candidates that match the path, the first in precedence order that accepts the
// method wins. HEAD is served by a GET endpoint when no HEAD endpoint exists.
// When the path matches but no endpoint accepts the method: method_not_allowed, with the Allow
// value (sorted, comma-separated). When nothing matches the path: not_found.
//
// Matching is on the raw path as the request carries it (percent-encoded); route values are views
// into that path, valid while it is. A trailing '/' is ignored ("/users/" matches "/users").
//
// Thread-safety: add() during start-up; match() concurrently from any number of threads afterwards.

#include <harrier/middleware/route_pattern.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace harrier {

// Values captured by a match, in template order. Inline storage for the common case.
class route_values {
 public:
  static constexpr std::size_t k_inline_capacity = 6;

  void add(std::string_view name, std::string_view value) {
    if (m_size < k_inline_capacity) {
      m_inline[m_size] = {name, value};
    } else {
      m_overflow.emplace_back(name, value);
    }
    ++m_size;
  }
  // The raw value of parameter `name`, or an empty view when the route has no such value.
  std::string_view get(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < m_size; ++i) {
      const auto& entry = at(i);
      if (entry.first == name) return entry.second;
    }
    return {};
  }
  bool contains(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < m_size; ++i) {
      if (at(i).first == name) return true;
    }
    return false;
  }
  std::size_t size() const noexcept { return m_size; }
  const std::pair<std::string_view, std::string_view>& at(std::size_t i) const noexcept {
    return i < k_inline_capacity ? m_inline[i] : m_overflow[i - k_inline_capacity];
  }
  void clear() noexcept {
    m_size = 0;
    m_overflow.clear();
  }

 private:
  std::array<std::pair<std::string_view, std::string_view>, k_inline_capacity> m_inline{};
  std::vector<std::pair<std::string_view, std::string_view>> m_overflow;
  std::size_t m_size = 0;
};

enum class route_match_status { matched, not_found, method_not_allowed };

struct route_match {
  route_match_status status = route_match_status::not_found;
  std::size_t endpoint = 0;                     // the id given to add(), when matched
  const std::string* route_template = nullptr;  // the matched template text, when matched
  route_values values;
  std::string allow;  // for method_not_allowed: "GET, HEAD, POST"
  // When not matched: whether the table recognizes() the method (if not, the answer is 501
  // rather than 404 or 405).
  bool method_recognized = true;
};

class route_table {
 public:
  route_table();
  ~route_table();
  route_table(route_table&&) noexcept;
  route_table& operator=(route_table&&) noexcept;

  // Adds a route. `methods` empty means any method. Throws route_pattern_error for a malformed
  // template, and std::invalid_argument when an equivalent route (same segments, same method)
  // exists already.
  void add(std::vector<std::string> methods, std::string_view pattern, std::size_t endpoint);

  route_match match(std::string_view method, std::string_view path) const;
  // Same, reusing `out` (its storage is kept across calls).
  void match(std::string_view method, std::string_view path, route_match& out) const;

  std::size_t size() const noexcept { return m_route_count; }

  // Whether the server knows `method` (case-sensitive): one of HTTP's standard methods, one a
  // route names, or any method when a route takes any. A request with a method it does not know
  // gets 501 rather than 405 (RFC 9110 section 9.1; 405 means the target does not support a
  // method the server knows, section 15.5.6).
  bool recognizes(std::string_view method) const noexcept;

 private:
  struct node;
  struct matcher;
  std::unique_ptr<node> m_root;
  std::size_t m_route_count = 0;
  std::vector<std::string> m_methods;  // every method a route names ("": any method)
};

}  // namespace harrier
