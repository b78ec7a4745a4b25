// forwarded_headers: which proxies are believed, how far, and what garbage does (nothing).
#include <harrier/core/sync_wait.hpp>
#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/application.hpp>
#include <harrier/middleware/context.hpp>
#include <harrier/middleware/forwarded_headers.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "app_harness.hpp"
#include "loopback_client.hpp"

using harrier::app_pipeline;
using harrier::forwarded_headers_options;
using harrier::ip_address;
using harrier::ip_network;
using harrier::make_endpoint;
namespace http = harrier::http;

namespace {

http::connection_info peer(std::string address, std::uint16_t port = 1234) {
  http::connection_info info;
  info.family = address.find(':') == std::string::npos ? http::address_family::ipv4
                                                       : http::address_family::ipv6;
  info.remote_address = std::move(address);
  info.remote_port = port;
  info.local_address = "127.0.0.1";
  info.local_port = 80;
  return info;
}

// "remote port scheme host", then " | original remote port scheme host" when anything was
// replaced.
std::string describe(harrier::context& ctx) {
  std::string out = std::string(ctx.remote_address()) + " " + std::to_string(ctx.remote_port()) +
                    " " + std::string(ctx.scheme()) + " " + std::string(ctx.host());
  if (const auto o = ctx.forwarded_original()) {
    out += " | " + std::string(o->remote_address) + " " + std::to_string(o->remote_port) + " " +
           std::string(o->scheme) + " " + std::string(o->host);
  }
  return out;
}

// One request with `headers` (full lines, "\r\n"-terminated) from `from`, through the middleware
// configured by `options`; returns what the endpoint saw.
std::string seen(const forwarded_headers_options& options, const http::connection_info& from,
                 std::string_view headers) {
  app_pipeline app;
  app.use(harrier::forwarded_headers(options));
  app.add_endpoint({"GET"}, "/",
                   make_endpoint([](harrier::context& ctx) { return describe(ctx); }));
  app.build();
  http::testing::connection_harness h(app.handler());
  http::http1_options connection_options;
  connection_options.rejections = &h.rejections;
  h.connection.emplace(h.transport, connection_options, app.handler(), from);
  h.start();
  h.feed(harrier::testing::request("GET", "/", headers));
  h.feed_eof();
  auto responses = http::testing::parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  REQUIRE(responses[0].status == 200);
  return responses[0].body;
}

std::string seen(const http::connection_info& from, std::string_view headers) {
  return seen(forwarded_headers_options{}, from, headers);
}

forwarded_headers_options private_networks(std::optional<std::size_t> limit) {
  forwarded_headers_options o;
  o.known_proxies = {};
  o.known_networks = {"127.0.0.0/8", "10.0.0.0/8"};
  o.forward_limit = limit;
  return o;
}

}  // namespace

TEST_CASE("without forwarding headers the context shows the peer, http and the Host header",
          "[forwarded]") {
  CHECK(seen(peer("10.0.0.5"), "") == "10.0.0.5 1234 http test");
  CHECK(seen(peer("127.0.0.1"), "") == "127.0.0.1 1234 http test");
}

TEST_CASE("a loopback proxy's X-Forwarded-For and -Proto apply, and the originals are kept",
          "[forwarded]") {
  CHECK(seen(peer("127.0.0.1"), "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: HTTPS\r\n") ==
        "203.0.113.9 0 https test | 127.0.0.1 1234 http test");
}

TEST_CASE("forwarding headers from a peer that is not a known proxy are ignored", "[forwarded]") {
  const std::string headers = "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n";
  CHECK(seen(peer("10.0.0.5"), headers) == "10.0.0.5 1234 http test");
  CHECK(seen(peer("203.0.113.1"), headers) == "203.0.113.1 1234 http test");
  // Proto alone is not believed from an unknown peer either.
  forwarded_headers_options proto_only;
  proto_only.x_forwarded_for = false;
  CHECK(seen(proto_only, peer("10.0.0.5"), headers) == "10.0.0.5 1234 http test");
  CHECK(seen(proto_only, peer("127.0.0.1"), headers) ==
        "127.0.0.1 1234 https test | 127.0.0.1 1234 http test");
}

TEST_CASE("IPv6 loopback and IPv4-mapped loopback are trusted by default", "[forwarded]") {
  const std::string headers = "X-Forwarded-For: 203.0.113.9\r\n";
  CHECK_THAT(seen(peer("::1"), headers), Catch::StartsWith("203.0.113.9 0 http"));
  CHECK_THAT(seen(peer("::ffff:127.0.0.1"), headers), Catch::StartsWith("203.0.113.9 0 http"));
  CHECK_THAT(seen(peer("::2"), headers), Catch::StartsWith("::2 1234 http"));
  CHECK_THAT(seen(peer("::ffff:10.0.0.1"), headers), Catch::StartsWith("::ffff:10.0.0.1 1234"));
}

TEST_CASE("known networks match by CIDR prefix, IPv4 and IPv6", "[forwarded]") {
  forwarded_headers_options o;
  o.known_proxies = {};
  o.known_networks = {"10.0.0.0/8", "192.168.0.0/23", "fd00::/8", "2001:db8:1::/48"};
  const std::string headers = "X-Forwarded-For: 203.0.113.9\r\n";
  const auto trusted = [&](const char* address) {
    return seen(o, peer(address), headers).rfind("203.0.113.9 ", 0) == 0;
  };
  CHECK(trusted("10.1.2.3"));
  CHECK(trusted("10.255.255.255"));
  CHECK_FALSE(trusted("11.0.0.1"));
  CHECK(trusted("192.168.1.200"));  // a prefix that is not a whole number of bytes
  CHECK_FALSE(trusted("192.168.2.1"));
  CHECK(trusted("fd12:3456::1"));
  CHECK_FALSE(trusted("fe80::1"));
  CHECK(trusted("2001:db8:1:ffff::1"));
  CHECK_FALSE(trusted("2001:db8:2::1"));
  CHECK(trusted("::ffff:10.9.9.9"));  // an IPv4 client on a dual-stack socket
  CHECK_FALSE(trusted("127.0.0.1"));  // the defaults were replaced
}

TEST_CASE("known proxies match exact addresses only", "[forwarded]") {
  forwarded_headers_options o;
  o.known_proxies = {"192.0.2.10", "2001:db8::10"};
  o.known_networks = {};
  const std::string headers = "X-Forwarded-For: 203.0.113.9\r\n";
  CHECK_THAT(seen(o, peer("192.0.2.10"), headers), Catch::StartsWith("203.0.113.9 "));
  CHECK_THAT(seen(o, peer("192.0.2.11"), headers), Catch::StartsWith("192.0.2.11 "));
  CHECK_THAT(seen(o, peer("2001:db8::10"), headers), Catch::StartsWith("203.0.113.9 "));
  CHECK_THAT(seen(o, peer("::ffff:192.0.2.10"), headers), Catch::StartsWith("203.0.113.9 "));
}

TEST_CASE("with no known proxies or networks at all every peer is trusted, as ASP.NET does",
          "[forwarded]") {
  forwarded_headers_options o;
  o.known_proxies = {};
  o.known_networks = {};
  CHECK_THAT(seen(o, peer("198.51.100.1"), "X-Forwarded-For: 203.0.113.9\r\n"),
             Catch::StartsWith("203.0.113.9 "));
}

TEST_CASE("X-Forwarded-For is walked right to left up to the forward limit", "[forwarded]") {
  const std::string headers = "X-Forwarded-For: 1.1.1.1, 10.0.0.2, 10.0.0.3\r\n";
  CHECK_THAT(seen(private_networks(1), peer("127.0.0.1"), headers), Catch::StartsWith("10.0.0.3 "));
  CHECK_THAT(seen(private_networks(2), peer("127.0.0.1"), headers), Catch::StartsWith("10.0.0.2 "));
  CHECK_THAT(seen(private_networks(3), peer("127.0.0.1"), headers), Catch::StartsWith("1.1.1.1 "));
  CHECK_THAT(seen(private_networks(std::nullopt), peer("127.0.0.1"), headers),
             Catch::StartsWith("1.1.1.1 "));
  CHECK_THAT(seen(private_networks(0), peer("127.0.0.1"), headers),
             Catch::StartsWith("127.0.0.1 "));
}

TEST_CASE("the walk stops after the first address that is not a known proxy", "[forwarded]") {
  // 10.0.0.3 (trusted) says it talked to 2.2.2.2, which is not a proxy of ours: 2.2.2.2 is the
  // client, whatever it claims about 1.1.1.1.
  CHECK_THAT(seen(private_networks(5), peer("127.0.0.1"),
                  "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 10.0.0.3\r\n"),
             Catch::StartsWith("2.2.2.2 "));
}

TEST_CASE("several X-Forwarded-For lines form one list", "[forwarded]") {
  CHECK_THAT(seen(private_networks(2), peer("127.0.0.1"),
                  "X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 10.0.0.3\r\n"),
             Catch::StartsWith("1.1.1.1 "));
}

TEST_CASE("For, Proto and Host apply together", "[forwarded]") {
  forwarded_headers_options o;
  o.x_forwarded_host = true;
  CHECK(seen(o, peer("127.0.0.1"),
             "X-Forwarded-For: 203.0.113.9:5555\r\nX-Forwarded-Proto: https\r\n"
             "X-Forwarded-Host: example.com:8443\r\n") ==
        "203.0.113.9 5555 https example.com:8443 | 127.0.0.1 1234 http test");
  CHECK_THAT(seen(o, peer("127.0.0.1"), "X-Forwarded-Host: [2001:db8::1]:8443\r\n"),
             Catch::StartsWith("127.0.0.1 1234 http [2001:db8::1]:8443"));
  // Host is off by default: a proxy must be allowed to choose it.
  CHECK(seen(peer("127.0.0.1"), "X-Forwarded-Host: evil.example\r\n") ==
        "127.0.0.1 1234 http test");
}

TEST_CASE("forwarded addresses may carry ports, IPv6 in brackets", "[forwarded]") {
  CHECK_THAT(seen(peer("127.0.0.1"), "X-Forwarded-For: [2001:db8::1]:80\r\n"),
             Catch::StartsWith("2001:db8::1 80 "));
  CHECK_THAT(seen(peer("127.0.0.1"), "X-Forwarded-For: [2001:db8::1]\r\n"),
             Catch::StartsWith("2001:db8::1 0 "));
  CHECK_THAT(seen(peer("127.0.0.1"), "X-Forwarded-For: 2001:DB8::0:1\r\n"),
             Catch::StartsWith("2001:db8::1 0 "));  // canonical text, not as sent
  CHECK_THAT(seen(peer("127.0.0.1"), "X-Forwarded-For: ::ffff:203.0.113.9\r\n"),
             Catch::StartsWith("::ffff:203.0.113.9 0 "));
}

TEST_CASE("For and Proto lists of different lengths align from the right", "[forwarded]") {
  const std::string headers = "X-Forwarded-For: 1.1.1.1, 10.0.0.3\r\nX-Forwarded-Proto: https\r\n";
  // ASP.NET's default: the proto belongs to the rightmost hop; the second hop has none.
  CHECK_THAT(seen(private_networks(2), peer("127.0.0.1"), headers),
             Catch::StartsWith("1.1.1.1 0 https "));
  auto strict = private_networks(2);
  strict.require_header_symmetry = true;
  CHECK(seen(strict, peer("127.0.0.1"), headers) == "127.0.0.1 1234 http test");
}

TEST_CASE("malformed X-Forwarded-For entries are never believed", "[forwarded]") {
  for (const char* bad :
       {"garbage",      "unknown",         "_hidden",       "1.2.3",
        "1.2.3.4.5",    "256.1.1.1",       "01.2.3.4",      "1.2.3.4:99999",
        "1.2.3.4:",     "1.2.3.4:8x",      "1.2.3.4:80:90", "[::1",
        "::1]:80",      "[1.2.3.4]:80",    "[::1]80",       "[::1]:",
        "fe80::1%eth0", "\"1.2.3.4\"",     ":::",           "[]",
        "[]:80",        "1.2.3.4 5.6.7.8", "\xff\xfe",      "1.2.3.4;for=5.6.7.8"}) {
    INFO(bad);
    CHECK(seen(peer("127.0.0.1"), std::string("X-Forwarded-For: ") + bad + "\r\n") ==
          "127.0.0.1 1234 http test");
  }
  // An empty list, and commas only.
  CHECK(seen(peer("127.0.0.1"), "X-Forwarded-For: ,, ,\r\n") == "127.0.0.1 1234 http test");
}

TEST_CASE("the walk keeps what it applied before an unparsable entry", "[forwarded]") {
  CHECK_THAT(seen(private_networks(3), peer("127.0.0.1"),
                  "X-Forwarded-For: 1.1.1.1, unknown, 10.0.0.3\r\n"),
             Catch::StartsWith("10.0.0.3 "));
}

TEST_CASE("malformed schemes and hosts are skipped", "[forwarded]") {
  forwarded_headers_options o;
  o.x_forwarded_host = true;
  for (const char* bad : {"ht tp", "1https", "https://", "-", "http/1.1",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    INFO(bad);
    CHECK(seen(o, peer("127.0.0.1"), std::string("X-Forwarded-Proto: ") + bad + "\r\n") ==
          "127.0.0.1 1234 http test");
  }
  for (const char* bad : {"exa mple.com", "a/b", "[::1", "[1.2.3.4]", "host:port",
                          "host:", "user@host", ":80", "[::1]x"}) {
    INFO(bad);
    CHECK(seen(o, peer("127.0.0.1"), std::string("X-Forwarded-Host: ") + bad + "\r\n") ==
          "127.0.0.1 1234 http test");
  }
}

TEST_CASE("RFC 7239 Forwarded gives for, proto and host", "[forwarded]") {
  forwarded_headers_options o;
  o.forwarded = true;
  o.x_forwarded_host = true;
  CHECK(seen(o, peer("127.0.0.1"),
             "Forwarded: for=192.0.2.60;proto=https;by=203.0.113.43;host=example.com\r\n") ==
        "192.0.2.60 0 https example.com | 127.0.0.1 1234 http test");
  CHECK_THAT(seen(o, peer("127.0.0.1"), "Forwarded: For=\"[2001:db8:cafe::17]:4711\"\r\n"),
             Catch::StartsWith("2001:db8:cafe::17 4711 http "));
  CHECK_THAT(seen(o, peer("127.0.0.1"), "Forwarded: for=\"192.0.2.43:47011\" ; proto=http\r\n"),
             Catch::StartsWith("192.0.2.43 47011 http "));
  // Elements right to left, limit 1: the nearest proxy's element.
  CHECK_THAT(seen(o, peer("127.0.0.1"), "Forwarded: for=192.0.2.43, for=198.51.100.17\r\n"),
             Catch::StartsWith("198.51.100.17 "));
  CHECK_THAT(
      seen(o, peer("127.0.0.1"), "Forwarded: for=192.0.2.43\r\nForwarded: for=198.51.100.17\r\n"),
      Catch::StartsWith("198.51.100.17 "));
  // Preferred to X-Forwarded-For when both are there.
  CHECK_THAT(
      seen(o, peer("127.0.0.1"), "X-Forwarded-For: 203.0.113.9\r\nForwarded: for=192.0.2.60\r\n"),
      Catch::StartsWith("192.0.2.60 "));
  // Not read unless enabled.
  CHECK(seen(peer("127.0.0.1"), "Forwarded: for=192.0.2.60\r\n") == "127.0.0.1 1234 http test");
  // From an unknown peer, nothing.
  CHECK(seen(o, peer("10.0.0.5"), "Forwarded: for=192.0.2.60;proto=https\r\n") ==
        "10.0.0.5 1234 http test");
}

TEST_CASE("malformed or obfuscated Forwarded values are never believed", "[forwarded]") {
  forwarded_headers_options o;
  o.forwarded = true;
  for (const char* bad :
       {"for=unknown", "for=_hidden", "for=\"_hidden\"", "for=\"192.0.2.43:_port\"",
        "for=\"unterminated", "for", "for=", "=1.2.3.4", "for=1.2.3.4;for=5.6.7.8",
        "for=\"\\\"1.2.3.4\\\"\"", "for=\"1.2.3.4\"x", "for=1.2.3.4 junk", "for=1.2.3.4\"",
        "for=[::1", "for=\"[::1]:80\";proto=ht tp", "for=\"\""}) {
    INFO(bad);
    const std::string result =
        seen(o, peer("127.0.0.1"), std::string("Forwarded: ") + bad + "\r\n");
    CHECK_THAT(result, Catch::StartsWith("127.0.0.1 1234 http test"));
  }
  // An unknown hop stops the walk; what came before it stays.
  auto deep = private_networks(3);
  deep.forwarded = true;
  CHECK_THAT(seen(deep, peer("127.0.0.1"), "Forwarded: for=1.1.1.1, for=unknown, for=10.0.0.3\r\n"),
             Catch::StartsWith("10.0.0.3 "));
}

TEST_CASE("a Unix socket peer is trusted, a peer of unknown family is not", "[forwarded]") {
  http::connection_info local;
  local.family = http::address_family::unix_socket;
  local.local_address = "/run/app.sock";
  CHECK_THAT(seen(local, "X-Forwarded-For: 203.0.113.9\r\n"), Catch::StartsWith("203.0.113.9 "));
  CHECK(seen(http::connection_info{}, "X-Forwarded-For: 203.0.113.9\r\n") == " 0 http test");
}

TEST_CASE("bad known proxies and networks are configuration errors", "[forwarded]") {
  for (const char* bad : {"10.0.0.0/8", "localhost", "", "1.2.3.256"}) {
    INFO(bad);
    forwarded_headers_options o;
    o.known_proxies = {bad};
    CHECK_THROWS_AS(harrier::forwarded_headers(o), std::invalid_argument);
  }
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "nonsense/8", "/8",
                          "10.0.0.0/-1", "10.0.0.0/8/8"}) {
    INFO(bad);
    forwarded_headers_options o;
    o.known_networks = {bad};
    CHECK_THROWS_AS(harrier::forwarded_headers(o), std::invalid_argument);
  }
}

TEST_CASE("ip_network contains exactly its prefix", "[forwarded]") {
  const auto ip = [](const char* text) { return *ip_address::parse(text); };
  CHECK(ip_network::parse("0.0.0.0/0").contains(ip("255.1.2.3")));
  CHECK_FALSE(ip_network::parse("0.0.0.0/0").contains(ip("::1")));  // families never mix
  CHECK(ip_network::parse("::/0").contains(ip("::ffff:1.2.3.4")));
  CHECK(ip_network::parse("10.0.0.1").contains(ip("10.0.0.1")));  // a bare address is a /32
  CHECK_FALSE(ip_network::parse("10.0.0.1").contains(ip("10.0.0.2")));
  CHECK(ip_network::parse("172.16.0.0/12").contains(ip("172.31.255.255")));
  CHECK_FALSE(ip_network::parse("172.16.0.0/12").contains(ip("172.32.0.0")));
  CHECK(ip_network::parse("2001:db8::/127").contains(ip("2001:db8::1")));
  CHECK_FALSE(ip_network::parse("2001:db8::/127").contains(ip("2001:db8::2")));
  CHECK(ip("::ffff:127.0.0.1").is_v4_mapped());
  CHECK(ip("::ffff:127.0.0.1").unmapped() == ip("127.0.0.1"));
  CHECK_FALSE(ip_address::parse("127.1"));
}

namespace {

// One HTTP/1.0 GET /who with extra header lines over IPv4 loopback: the response body.
std::string get_over_loopback(const std::string& url, const std::string& headers) {
  using namespace harrier::testing;
  const std::string response =
      exchange(port_of(url), "GET /who HTTP/1.0\r\nHost: svc\r\n" + headers + "\r\n");
  const std::size_t end_of_head = response.find("\r\n\r\n");
  return end_of_head == std::string::npos ? response : response.substr(end_of_head + 4);
}

}  // namespace

TEST_CASE("through a real server, a loopback proxy's headers name the client", "[forwarded]") {
  harrier::configuration config;
  config.set("urls", "http://127.0.0.1:0");
  config.set("min_threads", "1");
  config.set("io", "epoll");  // as application_tests: the subject here is not the backend
  auto app = harrier::application::create(std::move(config));
  app.use(harrier::forwarded_headers());
  app.map_get("/who", [](harrier::context& ctx) { return describe(ctx); });
  harrier::sync_wait(app.start());
  const std::string url = app.urls().front();
  const std::string direct = get_over_loopback(url, "");
  CHECK_THAT(direct, Catch::StartsWith("127.0.0.1 "));
  CHECK_THAT(direct, Catch::EndsWith(" http svc"));
  CHECK_THAT(get_over_loopback(url, "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n"),
             Catch::StartsWith("203.0.113.9 0 https svc | 127.0.0.1 "));
  harrier::sync_wait(app.stop());
}
