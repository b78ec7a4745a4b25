// forwarded_headers: the walk described in forwarded_headers.hpp.
//
// The work is synchronous and done before the rest of the pipeline is called, so the middleware
// is a plain function returning next(ctx): no coroutine frame of its own. Every value it applies
// has been parsed and validated first; the context receives canonical address text (inet_ntop)
// and a lowercase scheme, never the header bytes as sent.

#include <harrier/http/headers.hpp>
#include <harrier/http/request.hpp>
#include <harrier/middleware/context.hpp>
#include <harrier/middleware/forwarded_headers.hpp>

#include <algorithm>
#include <charconv>
#include <memory>
#include <stdexcept>
#include <utility>

namespace harrier {
namespace {

constexpr std::string_view k_x_forwarded_for = "X-Forwarded-For";
constexpr std::string_view k_x_forwarded_proto = "X-Forwarded-Proto";
constexpr std::string_view k_x_forwarded_host = "X-Forwarded-Host";
constexpr std::string_view k_forwarded = "Forwarded";
// Longest scheme accepted (it is copied to a stack buffer to be lowercased); real ones are short.
constexpr std::size_t k_max_scheme_bytes = 32;

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t';
}
bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

bool parse_port(std::string_view digits, std::uint16_t& port) noexcept {
  if (digits.empty() || digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), is_digit))
    return false;
  unsigned value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

struct node {
  ip_address address;
  std::uint16_t port = 0;
};

// A for= / X-Forwarded-For entry: "1.2.3.4", "1.2.3.4:80", "::1", "[::1]", "[::1]:80".
std::optional<node> parse_node(std::string_view text) noexcept {
  text = http::trim_ows(text);
  node n;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto address = ip_address::parse(text.substr(1, close - 1));
    if (!address || address->is_v4()) return std::nullopt;
    n.address = *address;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !parse_port(rest.substr(1), n.port)))
      return std::nullopt;
    return n;
  }
  const std::size_t colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    // One colon: IPv4 with a port (an IPv6 address has at least two).
    auto address = ip_address::parse(text.substr(0, colon));
    if (!address || !address->is_v4() || !parse_port(text.substr(colon + 1), n.port))
      return std::nullopt;
    n.address = *address;
    return n;
  }
  auto address = ip_address::parse(text);
  if (!address) return std::nullopt;
  n.address = *address;
  return n;
}

// RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool valid_scheme(std::string_view s) noexcept {
  if (s.empty() || s.size() > k_max_scheme_bytes || !is_alpha(s.front())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
  });
}

// host [":" port], host a bracketed IPv6 address or a reg-name (unreserved characters and
// percent escapes; stricter than RFC 3986's sub-delims, which no real host needs).
bool valid_host(std::string_view s) noexcept {
  std::uint16_t port = 0;
  if (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    auto address = ip_address::parse(s.substr(1, close - 1));
    if (!address || address->is_v4()) return false;
    const std::string_view rest = s.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && parse_port(rest.substr(1), port));
  }
  const std::size_t colon = s.find(':');
  const std::string_view name = s.substr(0, colon);
  if (name.empty()) return false;
  const bool name_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '%';
  });
  return name_ok && (colon == std::string_view::npos || parse_port(s.substr(colon + 1), port));
}

// One hop of the chain: what one proxy said about the client it talked to.
struct hop {
  std::string_view for_node;
  std::string_view proto;
  std::string_view host;
};

// The comma-separated entries of every field named `name`, right to left, empty entries skipped.
class entries_from_right {
 public:
  entries_from_right(const http::header_list& headers, std::string_view name) noexcept
      : m_headers(headers), m_name(name), m_field(headers.end()) {}

  std::optional<std::string_view> next() noexcept {
    for (;;) {
      while (m_rest.empty()) {
        if (m_field == m_headers.begin()) return std::nullopt;
        --m_field;
        if (http::iequals(m_field->name, m_name)) m_rest = m_field->value;
      }
      const std::size_t comma = m_rest.rfind(',');
      const std::string_view entry =
          http::trim_ows(comma == std::string_view::npos ? m_rest : m_rest.substr(comma + 1));
      m_rest = comma == std::string_view::npos ? std::string_view{} : m_rest.substr(0, comma);
      if (!entry.empty()) return entry;
    }
  }

  static std::size_t count(const http::header_list& headers, std::string_view name) noexcept {
    std::size_t n = 0;
    entries_from_right entries(headers, name);
    while (entries.next())
      ++n;
    return n;
  }

 private:
  const http::header_list& m_headers;
  std::string_view m_name;
  decltype(std::declval<const http::header_list&>().end()) m_field;
  std::string_view m_rest;
};

// RFC 7239: Forwarded = 1#forwarded-element; forwarded-element = [pair] *(";" [pair]);
// pair = token "=" value; value = token / quoted-string. Appends the elements of `value` to `out`
// left to right. Returns false for anything malformed (then nothing of the header is believed).
// A quoted value is taken between its quotes as is; one with a backslash escape keeps the
// backslash and so fails the validation of whatever it was meant to be.
bool parse_forwarded(std::string_view value, std::vector<hop>& out) {
  std::size_t i = 0;
  const auto skip_space = [&] {
    while (i < value.size() && is_space(value[i]))
      ++i;
  };
  hop current;
  bool seen_for = false, seen_proto = false, seen_host = false, element_has_pairs = false;
  const auto end_element = [&] {
    if (element_has_pairs) out.push_back(current);
    current = hop{};
    seen_for = seen_proto = seen_host = element_has_pairs = false;
  };
  for (;;) {
    skip_space();
    if (i == value.size()) break;
    if (value[i] == ',') {
      end_element();
      ++i;
      continue;
    }
    if (value[i] == ';') {
      ++i;
      continue;
    }
    const std::size_t name_start = i;
    while (i < value.size() && value[i] != '=' && value[i] != ';' && value[i] != ',' &&
           value[i] != '"' && !is_space(value[i]))
      ++i;
    const std::string_view name = value.substr(name_start, i - name_start);
    if (name.empty() || i == value.size() || value[i] != '=') return false;
    ++i;
    std::string_view v;
    if (i < value.size() && value[i] == '"') {
      const std::size_t start = ++i;
      while (i < value.size() && value[i] != '"') {
        if (value[i] == '\\') ++i;  // quoted-pair: skip the escaped character
        ++i;
      }
      if (i >= value.size()) return false;  // unterminated quote
      v = value.substr(start, i - start);
      ++i;
    } else {
      const std::size_t start = i;
      while (i < value.size() && value[i] != ';' && value[i] != ',' && !is_space(value[i]) &&
             value[i] != '"')
        ++i;
      v = value.substr(start, i - start);
      if (v.empty()) return false;
    }
    // A parameter named twice in one element makes the element invalid (RFC 7239, 4).
    const auto take = [&](bool& seen, std::string_view& into) {
      if (seen) return false;
      seen = true;
      into = v;
      return true;
    };
    if (http::iequals(name, "for")) {
      if (!take(seen_for, current.for_node)) return false;
    } else if (http::iequals(name, "proto")) {
      if (!take(seen_proto, current.proto)) return false;
    } else if (http::iequals(name, "host")) {
      if (!take(seen_host, current.host)) return false;
    }  // by= and extensions: not used
    element_has_pairs = true;
    skip_space();
    if (i < value.size() && value[i] != ';' && value[i] != ',') return false;
  }
  end_element();
  return true;
}

class forwarder {
 public:
  explicit forwarder(forwarded_headers_options options) : m_options(std::move(options)) {
    for (const std::string& text : m_options.known_proxies) {
      auto address = ip_address::parse(text);
      if (!address) {
        throw std::invalid_argument("forwarded_headers: known proxy \"" + text +
                                    "\" is not an IP address; expected e.g. \"10.0.0.1\" or "
                                    "\"::1\" (networks go in known_networks)");
      }
      m_proxies.push_back(*address);
    }
    for (const std::string& text : m_options.known_networks)
      m_networks.push_back(ip_network::parse(text));
    m_check_known = !m_proxies.empty() || !m_networks.empty();
  }

  void apply(context& ctx) const {
    const http::header_list& headers = ctx.request().headers();
    const forwarded_headers_options& o = m_options;
    if (o.forwarded && headers.count(k_forwarded) > 0) {
      thread_local std::vector<hop> hops;  // scratch, used synchronously only
      hops.clear();
      for (const http::header_field& f : headers) {
        if (http::iequals(f.name, k_forwarded) && !parse_forwarded(f.value, hops)) return;
      }
      std::size_t i = hops.size();
      walk(ctx, [&]() -> std::optional<hop> {
        if (i == 0) return std::nullopt;
        return hops[--i];
      });
      return;
    }
    if (!o.x_forwarded_for && !o.x_forwarded_proto && !o.x_forwarded_host) return;
    const std::size_t fors =
        o.x_forwarded_for ? entries_from_right::count(headers, k_x_forwarded_for) : 0;
    const std::size_t protos =
        o.x_forwarded_proto ? entries_from_right::count(headers, k_x_forwarded_proto) : 0;
    const std::size_t hosts =
        o.x_forwarded_host ? entries_from_right::count(headers, k_x_forwarded_host) : 0;
    const std::size_t entries = std::max({fors, protos, hosts});
    if (entries == 0) return;
    if (o.require_header_symmetry &&
        ((o.x_forwarded_for && fors != entries) || (o.x_forwarded_proto && protos != entries) ||
         (o.x_forwarded_host && hosts != entries))) {
      return;
    }
    entries_from_right for_list(headers, k_x_forwarded_for);
    entries_from_right proto_list(headers, k_x_forwarded_proto);
    entries_from_right host_list(headers, k_x_forwarded_host);
    std::size_t produced = 0;
    walk(ctx, [&]() -> std::optional<hop> {
      if (produced++ == entries) return std::nullopt;
      hop h;
      if (o.x_forwarded_for) h.for_node = for_list.next().value_or(std::string_view{});
      if (o.x_forwarded_proto) h.proto = proto_list.next().value_or(std::string_view{});
      if (o.x_forwarded_host) h.host = host_list.next().value_or(std::string_view{});
      return h;
    });
  }

 private:
  bool is_known(const ip_address& address) const noexcept {
    if (address.is_v4_mapped() && is_known(address.unmapped())) return true;
    if (std::find(m_proxies.begin(), m_proxies.end(), address) != m_proxies.end()) return true;
    return std::any_of(m_networks.begin(), m_networks.end(),
                       [&](const ip_network& n) { return n.contains(address); });
  }

  // The walk of forwarded_headers.hpp, steps 1 to 4, over hops given right to left by `next_hop`.
  template <typename NextHop>
  void walk(context& ctx, NextHop next_hop) const {
    const forwarded_headers_options& o = m_options;
    const http::connection_info& connection = ctx.request().connection();
    // The address the next hop came from; nullopt for a Unix socket peer (trusted: local).
    std::optional<ip_address> from;
    if (connection.family == http::address_family::ipv4 ||
        connection.family == http::address_family::ipv6) {
      from = ip_address::parse(connection.remote_address);
      if (!from) return;
    } else if (connection.family != http::address_family::unix_socket) {
      return;  // nobody knows who sent this: believe none of it
    }
    std::optional<node> client;
    std::string_view scheme;
    std::string_view host;
    const std::size_t limit = o.forward_limit.value_or(static_cast<std::size_t>(-1));
    for (std::size_t consumed = 0; consumed < limit; ++consumed) {
      const std::optional<hop> h = next_hop();
      if (!h) break;
      if (from && m_check_known && !is_known(*from)) break;  // an unknown proxy: stop here
      if (o.x_forwarded_for) {
        if (auto parsed = parse_node(h->for_node)) {
          client = parsed;
          from = parsed->address;
        } else if (!h->for_node.empty()) {
          break;  // "unknown", "_hidden", garbage: nothing further left can be verified
        } else if (o.require_header_symmetry) {
          return;
        }
      }
      if (o.x_forwarded_proto) {
        if (valid_scheme(h->proto)) {
          scheme = h->proto;
        } else if (o.require_header_symmetry) {
          return;
        }
      }
      if (o.x_forwarded_host) {
        if (valid_host(h->host)) {
          host = h->host;
        } else if (o.require_header_symmetry) {
          return;
        }
      }
    }
    if (client) ctx.set_remote(client->address.to_string(), client->port);
    if (!scheme.empty()) {
      char lower[k_max_scheme_bytes];
      std::transform(scheme.begin(), scheme.end(), lower, [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      });
      ctx.set_scheme(std::string_view(lower, scheme.size()));
    }
    if (!host.empty()) ctx.set_host(host);
  }

  forwarded_headers_options m_options;
  std::vector<ip_address> m_proxies;
  std::vector<ip_network> m_networks;
  bool m_check_known = true;
};

}  // namespace

middleware_fn forwarded_headers(forwarded_headers_options options) {
  auto state = std::make_shared<const forwarder>(std::move(options));
  return [state](context& ctx, next_handler next) -> task<void> {
    state->apply(ctx);
    return next(ctx);
  };
}

}  // namespace harrier
