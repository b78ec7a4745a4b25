#include <harrier/middleware/route_table.hpp>

#include <harrier/http/request.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <unordered_map>

#include "middleware/standard_methods.hpp"

namespace harrier {
namespace {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

struct endpoint_entry {
  std::string method;  // empty: any method
  std::size_t endpoint = 0;
  std::shared_ptr<const std::string> route_template;
  std::vector<std::string> param_names;  // one per captured value, in path order
};

// Parameters with the same constraints share a trie node whatever their names; names live in the
// endpoint entries. The signature is the constraint list as written.
std::string signature_of(const route_segment& segment) {
  std::string signature;
  for (const route_constraint& c : segment.constraints) {
    signature += ':';
    signature += c.text();
  }
  return signature;
}

constexpr std::size_t k_max_captures = 32;

}  // namespace

struct route_table::node {
  struct param_child {
    std::string signature;
    route_segment segment;
    std::unique_ptr<node> child;
  };
  struct catch_all_entry {
    std::string signature;
    route_segment segment;
    std::vector<endpoint_entry> endpoints;
  };

  std::unordered_map<std::string, std::unique_ptr<node>, string_hash, std::equal_to<>> literals;
  // The same literals while there are few of them (the common case): comparing lengths, then a
  // few bytes, is cheaper than hashing the segment. callgrind, /plaintext among the example
  // server's routes: lookup_literal 305 -> 156 instructions.
  static constexpr std::size_t k_scanned_literals = 16;
  std::vector<std::pair<std::string_view, node*>> scanned;  // views of the map's keys

  const node* find_literal(std::string_view segment) const {
    if (literals.size() <= k_scanned_literals) {
      for (const auto& [text, child] : scanned) {
        if (text.size() == segment.size() && text == segment) return child;
      }
      return nullptr;
    }
    auto it = literals.find(segment);
    return it == literals.end() ? nullptr : it->second.get();
  }
  // Root only: every route made of literal segments alone, by its whole path (segments joined
  // by '/', without the outer slashes), to its last node. Such a route is the first candidate
  // the depth-first search tries for that path, so a hit whose node takes the method is the
  // search's answer without the walk. An open-addressed table with FNV-1a, which also checks
  // the bytes on the way (callgrind, /plaintext among the example server's routes: match 460
  // -> 290 instructions; with std::unordered_map, 470).
  std::vector<std::pair<std::string, const node*>> literal_paths;
  std::vector<std::uint32_t> literal_slots;  // 1 + index into literal_paths; 0: empty

  static std::size_t slot_hash(std::uint64_t h) noexcept {
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
  static constexpr std::uint64_t k_fnv_offset = 14695981039346656037ULL;
  static constexpr std::uint64_t k_fnv_prime = 1099511628211ULL;

  const node* probe_literal_path(std::string_view path, std::uint64_t h) const noexcept {
    const std::size_t mask = literal_slots.size() - 1;
    for (std::size_t i = slot_hash(h) & mask;; i = (i + 1) & mask) {
      const std::uint32_t slot = literal_slots[i];
      if (slot == 0) return nullptr;
      const auto& [text, target] = literal_paths[slot - 1];
      if (text == path) return target;
    }
  }
  const node* find_literal_path(std::string_view path) const noexcept {
    if (literal_slots.empty()) return nullptr;
    std::uint64_t h = k_fnv_offset;
    for (const char c : path) {
      // Upper case and percent-encoding take the search's way (literals match the decoded,
      // lower-cased segment).
      if ((c >= 'A' && c <= 'Z') || c == '%') return nullptr;
      h = (h ^ static_cast<unsigned char>(c)) * k_fnv_prime;
    }
    return probe_literal_path(path, h);
  }
  void add_literal_path(std::string path, const node* target) {
    auto hash = [](std::string_view text) {
      std::uint64_t h = k_fnv_offset;
      for (const char c : text)
        h = (h ^ static_cast<unsigned char>(c)) * k_fnv_prime;
      return h;
    };
    if (!literal_slots.empty() && probe_literal_path(path, hash(path)) != nullptr) return;
    literal_paths.emplace_back(std::move(path), target);
    std::size_t size = 8;
    while (size < 2 * literal_paths.size())
      size *= 2;
    literal_slots.assign(size, 0);
    for (std::size_t k = 0; k < literal_paths.size(); ++k) {
      for (std::size_t i = slot_hash(hash(literal_paths[k].first)) & (size - 1);;
           i = (i + 1) & (size - 1)) {
        if (literal_slots[i] == 0) {
          literal_slots[i] = static_cast<std::uint32_t>(k + 1);
          break;
        }
      }
    }
  }
  std::vector<param_child> params;          // constrained before unconstrained
  std::vector<catch_all_entry> catch_alls;  // constrained before unconstrained
  std::vector<endpoint_entry> endpoints;
};

namespace {

// Inserts keeping constrained entries before unconstrained ones, each group in insertion order.
template <typename Vector, typename Entry>
typename Vector::value_type& insert_by_precedence(Vector& v, Entry entry) {
  const bool constrained = !entry.segment.constraints.empty();
  auto position = v.end();
  if (constrained) {
    position = std::find_if(v.begin(), v.end(),
                            [](const auto& e) { return e.segment.constraints.empty(); });
  }
  return *v.insert(position, std::move(entry));
}

void add_entry(std::vector<endpoint_entry>& entries, endpoint_entry entry) {
  for (const endpoint_entry& existing : entries) {
    if (existing.method == entry.method) {
      throw std::invalid_argument(fmt::format(
          "route \"{}\" ({}) duplicates route \"{}\": both match the same paths for that method",
          *entry.route_template, entry.method.empty() ? "any method" : entry.method,
          *existing.route_template));
    }
  }
  entries.push_back(std::move(entry));
}

struct match_context {
  std::string_view method;
  route_match* out;
  std::array<std::string_view, k_max_captures> captures{};
  std::size_t capture_count = 0;
  std::vector<std::string_view> allowed;  // methods seen on path-matching candidates
};

const endpoint_entry* pick(const std::vector<endpoint_entry>& entries, std::string_view method) {
  const endpoint_entry* any = nullptr;
  const endpoint_entry* get = nullptr;
  for (const endpoint_entry& e : entries) {
    if (e.method == method) return &e;
    if (e.method.empty()) any = &e;
    if (e.method == "GET") get = &e;
  }
  if (any != nullptr) return any;
  if (method == "HEAD") return get;
  return nullptr;
}

void take(const endpoint_entry& chosen, route_match& out) noexcept {
  out.status = route_match_status::matched;
  out.endpoint = chosen.endpoint;
  out.route_template = chosen.route_template.get();
  out.values.clear();
}

bool accept(const std::vector<endpoint_entry>& entries, match_context& ctx) {
  if (entries.empty()) return false;
  const endpoint_entry* chosen = pick(entries, ctx.method);
  if (chosen == nullptr) {
    for (const endpoint_entry& e : entries)
      ctx.allowed.push_back(e.method);
    return false;
  }
  route_match& out = *ctx.out;
  take(*chosen, out);
  for (std::size_t i = 0; i < ctx.capture_count && i < chosen->param_names.size(); ++i) {
    out.values.add(chosen->param_names[i], ctx.captures[i]);
  }
  return true;
}

bool is_lower(std::string_view s) noexcept {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

}  // namespace

// Depth-first in precedence order; returns true once an endpoint accepted the method.
struct route_table::matcher {
  match_context& ctx;
  bool operator()(const node& n, std::string_view rest) {
    if (rest.empty()) {
      if (accept(n.endpoints, ctx)) return true;
      for (const auto& c : n.catch_alls) {
        if (!c.segment.matches_constraints({})) continue;
        if (with_capture({}, [&] { return accept(c.endpoints, ctx); })) return true;
      }
      return false;
    }
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const std::string_view next =
        slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    // A path such as "/a/" was trimmed; "/a//b" leaves an empty segment that nothing matches
    // except a catch-all.
    if (!segment.empty()) {
      auto literal = lookup_literal(n, segment);
      if (literal != nullptr && (*this)(*literal, next)) return true;
      for (const auto& p : n.params) {
        if (!p.segment.matches_constraints(segment)) continue;
        if (with_capture(segment, [&] { return (*this)(*p.child, next); })) return true;
      }
    }
    for (const auto& c : n.catch_alls) {
      if (!c.segment.matches_constraints(rest)) continue;
      if (with_capture(rest, [&] { return accept(c.endpoints, ctx); })) return true;
    }
    return false;
  }

  template <typename F>
  bool with_capture(std::string_view value, F&& body) {
    ctx.captures[ctx.capture_count++] = value;
    const bool found = body();
    if (!found) --ctx.capture_count;
    return found;
  }

  static const node* lookup_literal(const node& n, std::string_view segment) {
    if (n.literals.empty()) return nullptr;
    const bool encoded = segment.find('%') != std::string_view::npos;
    if (!encoded && is_lower(segment)) return n.find_literal(segment);
    // Literals match the decoded segment, as ASP.NET Core routes on the decoded path:
    // /plain%74ext is /plaintext. An encoded '/' stays inside its segment, so it never matches.
    std::string lowered;
    if (!encoded || !http::percent_decode(segment, lowered)) lowered.assign(segment);
    for (char& c : lowered)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return n.find_literal(lowered);
  }
};

route_table::route_table() : m_root(std::make_unique<node>()) {}
route_table::~route_table() = default;
route_table::route_table(route_table&&) noexcept = default;
route_table& route_table::operator=(route_table&&) noexcept = default;

void route_table::add(std::vector<std::string> methods, std::string_view pattern_text,
                      std::size_t endpoint) {
  const route_pattern pattern(pattern_text);
  auto text = std::make_shared<const std::string>(pattern.text());
  if (methods.empty()) methods.emplace_back();
  for (std::string& m : methods) {
    for (char& c : m)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }

  const auto& segments = pattern.segments();
  std::size_t params = 0;
  for (const route_segment& s : segments)
    params += s.type != route_segment::kind::literal;
  if (params > k_max_captures) {
    throw route_pattern_error(fmt::format("route template \"{}\" has {} parameters; at most {}",
                                          pattern.text(), params, k_max_captures));
  }

  // An optional last parameter adds the route twice: with and without that segment.
  const bool optional_tail = !segments.empty() && segments.back().optional;
  for (int variant = 0; variant < (optional_tail ? 2 : 1); ++variant) {
    const std::size_t count = segments.size() - (variant == 1 ? 1 : 0);
    node* current = m_root.get();
    std::vector<std::string> names;
    std::vector<endpoint_entry>* target = nullptr;
    for (std::size_t i = 0; i < count; ++i) {
      const route_segment& s = segments[i];
      if (s.type == route_segment::kind::literal) {
        auto [it, inserted] = current->literals.try_emplace(s.text);
        if (inserted) {
          it->second = std::make_unique<node>();
          current->scanned.emplace_back(it->first, it->second.get());  // keys never move
        }
        current = it->second.get();
      } else if (s.type == route_segment::kind::parameter) {
        names.push_back(s.text);
        const std::string signature = signature_of(s);
        auto it = std::find_if(current->params.begin(), current->params.end(),
                               [&](const auto& p) { return p.signature == signature; });
        if (it == current->params.end()) {
          current = insert_by_precedence(current->params,
                                         node::param_child{signature, s, std::make_unique<node>()})
                        .child.get();
        } else {
          current = it->child.get();
        }
      } else {  // catch-all: always last
        names.push_back(s.text);
        const std::string signature = signature_of(s);
        auto it = std::find_if(current->catch_alls.begin(), current->catch_alls.end(),
                               [&](const auto& p) { return p.signature == signature; });
        target = it == current->catch_alls.end()
                     ? &insert_by_precedence(current->catch_alls,
                                             node::catch_all_entry{signature, s, {}})
                            .endpoints
                     : &it->endpoints;
      }
    }
    if (target == nullptr) {
      target = &current->endpoints;
      if (names.empty()) {
        std::string path;
        for (std::size_t i = 0; i < count; ++i) {
          if (i != 0) path += '/';
          path += segments[i].text;
        }
        m_root->add_literal_path(std::move(path), current);
      }
    }
    for (const std::string& m : methods)
      add_entry(*target, endpoint_entry{m, endpoint, text, names});
  }
  for (const std::string& m : methods) {
    if (std::find(m_methods.begin(), m_methods.end(), m) == m_methods.end()) {
      m_methods.push_back(m);
    }
  }
  ++m_route_count;
}

bool route_table::recognizes(std::string_view method) const noexcept {
  // A standard method is known even where no route takes it: a 405 there.
  if (detail::standard_method_index(method) < detail::k_standard_methods.size()) return true;
  for (const std::string& m : m_methods) {
    if (m.empty() || m == method) return true;  // empty: a route that takes any method
  }
  return false;
}

route_match route_table::match(std::string_view method, std::string_view path) const {
  route_match out;
  match(method, path, out);
  return out;
}

void route_table::match(std::string_view method, std::string_view path, route_match& out) const {
  out.status = route_match_status::not_found;
  out.route_template = nullptr;
  out.values.clear();
  out.allow.clear();
  out.method_recognized = true;

  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);

  if (const node* n = m_root->find_literal_path(path)) {
    if (const endpoint_entry* chosen = pick(n->endpoints, method)) {
      take(*chosen, out);
      return;
    }
  }

  match_context ctx;
  ctx.method = method;
  ctx.out = &out;
  if (matcher{ctx}(*m_root, path)) return;
  out.method_recognized = recognizes(method);
  if (ctx.allowed.empty()) return;

  // The path matched, the method did not: 405 with every method those candidates accept.
  out.status = route_match_status::method_not_allowed;
  std::vector<std::string_view> allowed = ctx.allowed;
  if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) allowed.push_back("HEAD");
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  for (std::string_view m : allowed) {
    if (!out.allow.empty()) out.allow += ", ";
    out.allow += m;
  }
}

}  // namespace harrier
