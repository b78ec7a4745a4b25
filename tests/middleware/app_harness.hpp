#pragma once
// Runs an app_pipeline on the HTTP layer's in-memory connection (tests/http/memory_transport.hpp):
// one request in, the parsed response out, deterministically on the test's thread.

#include <harrier/middleware/app_pipeline.hpp>

#include "http/memory_transport.hpp"

#include <string>
#include <string_view>

namespace harrier::testing {

inline http::testing::parsed_response roundtrip(app_pipeline& app, std::string_view raw_request) {
  app.build();
  http::testing::connection_harness h(app.handler());
  h.start();
  h.feed(raw_request);
  h.feed_eof();
  auto responses = http::testing::parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  return responses.front();
}

inline std::string request(std::string_view method, std::string_view target,
                           std::string_view headers = "", std::string_view body = "") {
  std::string r = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n";
  r += headers;
  if (!body.empty() || method == "POST" || method == "PUT") {
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  r += "\r\n";
  r += body;
  return r;
}

}  // namespace harrier::testing
