// endpoint: parsing and formatting of the three address forms.

#include <harrier/net/endpoint.hpp>

#include <catch2/catch.hpp>

using harrier::net::endpoint;

TEST_CASE("IPv4 endpoints parse and print back", "[net][endpoint]") {
  auto e = endpoint::parse("127.0.0.1:5000");
  CHECK(e.family() == AF_INET);
  CHECK(e.port() == 5000);
  CHECK(e.to_string() == "127.0.0.1:5000");
  CHECK(endpoint::parse("localhost:80").to_string() == "127.0.0.1:80");
}

TEST_CASE("IPv6 endpoints parse and print back in brackets", "[net][endpoint]") {
  auto e = endpoint::parse("[::1]:0");
  CHECK(e.family() == AF_INET6);
  CHECK(e.port() == 0);
  CHECK(e.to_string() == "[::1]:0");
}

TEST_CASE("Unix socket endpoints parse and print back", "[net][endpoint]") {
  auto e = endpoint::parse("unix:/tmp/x.sock");
  CHECK(e.is_unix());
  CHECK(e.to_string() == "unix:/tmp/x.sock");
}

TEST_CASE("malformed endpoints throw invalid_argument naming the text", "[net][endpoint]") {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:99999", "300.1.1.1:80", "[::1:80", "[::1]80",
                          "unix:", "host:port"}) {
    INFO(bad);
    try {
      endpoint::parse(bad);
      FAIL("no exception");
    } catch (const std::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Contains(bad));
    }
  }
}
