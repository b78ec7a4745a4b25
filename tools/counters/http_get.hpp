#pragma once
// A small blocking HTTP/1.1 GET for harrier-counters: one request per connection, over TCP or a
// Unix socket, with one deadline for the whole exchange.
//
// Contract: http_get() connects, sends `GET <path> HTTP/1.1` with `Connection: close`, and reads
// the response whose body is framed by Content-Length, by chunked transfer coding, or by the close.
// Every failure (no such host, connection refused, timeout, a malformed response) throws
// fetch_error with a message an operator can act on: "cannot reach http://127.0.0.1:5000:
// connection refused". Only http:// is supported (no TLS: this is a loopback/LAN tool).

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

namespace harrier::tools {

// A parsed base URL: http://host[:port][/prefix] or http://unix:/path/to.sock (the form
// harrier-server's --urls takes). `text` keeps the original spelling for messages.
struct base_url {
  std::string text;
  std::string host;         // empty for a Unix socket; without brackets for IPv6
  std::string port = "80";  // service for getaddrinfo
  std::string unix_path;    // non-empty for a Unix socket
  std::string path_prefix;  // "" or "/something" (no trailing slash), prepended to request paths
};

// Throws std::invalid_argument naming what is wrong and what was expected.
base_url parse_base_url(std::string_view text);

struct http_response {
  int status = 0;
  std::string reason;
  std::string body;
};

class fetch_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// GETs url.path_prefix + path. Throws fetch_error (see above); a non-2xx status is returned, not
// thrown, so the caller can say what it expected.
http_response http_get(const base_url& url, std::string_view path,
                       std::chrono::milliseconds timeout);

}  // namespace harrier::tools
