#pragma once
// forwarded_headers: the client behind a reverse proxy (ASP.NET Core's ForwardedHeadersMiddleware).
//
// A proxy in front of the server connects on the client's behalf, so the connection's peer is the
// proxy. Proxies say who the client was in headers: X-Forwarded-For (client, proxy1, proxy2...),
// X-Forwarded-Proto (the scheme the client used), X-Forwarded-Host (the Host it asked for), or the
// standard form of all three, RFC 7239's `Forwarded: for=...;proto=...;host=...`. Anyone can send
// these headers, so they are believed only as far as the chain of proxies is trusted:
//
//   1. The list entries are walked right to left (the rightmost was added by the proxy nearest to
//      us), at most forward_limit of them (default 1: one proxy).
//   2. Before each entry, the address it came from (first the connection's peer, then the
//      address the previous entry named) must be a known proxy or inside a known network; the
//      walk stops at the first one that is not. Loopback (127.0.0.0/8, ::1) is known by default;
//      an IPv4-mapped IPv6 address (::ffff:127.0.0.1) matches as its IPv4 form.
//   3. An entry's for= must parse as an IP address (optionally with a port: "1.2.3.4:80",
//      "[::1]:80"); the walk stops at the first one that does not ("unknown", RFC 7239's
//      obfuscated "_hidden", garbage). Proto must be a valid scheme and host a valid host; an
//      invalid one is skipped. What was applied before a stop stays applied, as ASP.NET does.
//   4. The results replace context::remote_address()/remote_port(), scheme() and host(); the
//      values before are kept as context::forwarded_original().
// Differences from ASP.NET Core, each on the side of caution: a connection with no IP peer
// (address_family::unknown) is not trusted, while a Unix socket peer (a local process) is; and a
// malformed Forwarded header (unbalanced quotes, a pair without '=') is ignored as a whole.
// With both known lists empty every peer is trusted, as ASP.NET does (for hosts whose proxy
// address is not known in advance); say so explicitly, never by accident.
//
// Cost: a request that carries none of the enabled headers pays one scan of its header list. The
// walk itself allocates nothing for X-Forwarded-*; a Forwarded header is parsed into a per-thread
// scratch list (no allocation once warm).

#include <harrier/middleware/pipeline.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace harrier {

// An IPv4 or IPv6 address, parsed from text (inet_pton: no zones, no brackets).
class ip_address {
 public:
  static std::optional<ip_address> parse(std::string_view text) noexcept;
  bool is_v4() const noexcept { return m_v4; }
  // ::ffff:a.b.c.d
  bool is_v4_mapped() const noexcept;
  // a.b.c.d for ::ffff:a.b.c.d; itself otherwise.
  ip_address unmapped() const noexcept;
  // The canonical text (inet_ntop): "127.0.0.1", "::1".
  std::string to_string() const;
  const std::array<std::uint8_t, 16>& bytes() const noexcept { return m_bytes; }
  friend bool operator==(const ip_address&, const ip_address&) noexcept = default;

 private:
  std::array<std::uint8_t, 16> m_bytes{};  // IPv4 in the first 4 bytes
  bool m_v4 = false;
};

// A CIDR network: "10.0.0.0/8", "fd00::/8". A bare address is a /32 (or /128).
class ip_network {
 public:
  // Throws std::invalid_argument naming the text and the expected form.
  static ip_network parse(std::string_view cidr);
  // Same family and the first prefix_length bits equal.
  bool contains(const ip_address& address) const noexcept;

 private:
  ip_address m_prefix;
  unsigned m_prefix_length = 0;
};

struct forwarded_headers_options {
  // Which headers to process. ASP.NET's default is none, which makes an installed middleware do
  // nothing; For and Proto are what proxies commonly send. Host is off because trusting it lets a
  // proxy choose the host used in generated links: enable it when the proxy is yours.
  bool x_forwarded_for = true;
  bool x_forwarded_proto = true;
  bool x_forwarded_host = false;
  // RFC 7239 `Forwarded`. When enabled and present it is used instead of the X-Forwarded-* headers;
  // the three switches above then select its for=, proto= and host= parameters.
  bool forwarded = false;
  // Exact proxy addresses, and networks in CIDR form. Parsed when the middleware is made
  // (std::invalid_argument for a bad one). The defaults are ASP.NET's: loopback.
  std::vector<std::string> known_proxies = {"::1"};
  std::vector<std::string> known_networks = {"127.0.0.0/8"};
  // How many entries (proxies) to process from the right; nullopt: no limit.
  std::optional<std::size_t> forward_limit = 1;
  // Apply nothing unless every processed header has the same number of entries (ASP.NET's
  // RequireHeaderSymmetry). Off by default, as ASP.NET.
  bool require_header_symmetry = false;
};

// The middleware. Install it first (before anything that reads the client's address or scheme).
middleware_fn forwarded_headers(forwarded_headers_options options = {});

}  // namespace harrier
