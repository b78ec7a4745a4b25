#pragma once
// Built-in middleware. Each returns a middleware_fn for application::use().

#include <harrier/middleware/compression.hpp>
#include <harrier/middleware/forwarded_headers.hpp>
#include <harrier/middleware/pipeline.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace harrier {

namespace net {
class io_context;
}

// Turns an exception escaping the rest of the pipeline into a 500 RFC 9457 problem document with
// the request's trace id, logged once (error level) with the method, path and route. In
// development the problem carries the exception's message; in production it does not. An
// http_error becomes its own status. A std::system_error saying the process ran out of a
// resource (EMFILE, ENFILE, ENOMEM, ENOBUFS) is an overload, not a fault: 503, logged as a
// warning at most once a second. http::bad_request (a malformed, oversized or too slow body)
// passes through to the HTTP layer, which answers with its status and closes the connection, and
// so does operation_cancelled when the request's token was cancelled (the canceller answers). If
// the response had started, the exception is rethrown and the HTTP layer aborts the connection.
middleware_fn exception_handler();

// One log line per request through the "harrier" logger at info level: client address (after
// forwarded_headers, the client behind the proxy; "-" when unknown), method, path, route, status,
// duration and body bytes. Off unless installed.
middleware_fn request_logging();

struct static_file_options {
  std::filesystem::path root;        // the content root (must exist)
  std::string request_prefix = "/";  // URL prefix under which files are served
  std::vector<std::string> default_files = {"index.html"};
};

// Serves GET and HEAD for files under the content root (Content-Type by extension, ETag,
// Last-Modified, If-None-Match / If-Modified-Since → 304, Range → 206 / 416). Another method on an
// existing file, when no endpoint matches the request either, gets 405 with `Allow: GET, HEAD,
// OPTIONS` (OPTIONS itself: 204 with that Allow). Anything else it does not serve (other
// prefixes, missing files, traversal attempts, requests an endpoint matches) goes on to the rest
// of the pipeline, which usually answers 404. Throws std::invalid_argument if the root is missing.
middleware_fn static_files(static_file_options options);

struct cors_options {
  std::vector<std::string> allowed_origins;  // exact origins, or {"*"}
  std::vector<std::string> allowed_methods = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};
  std::vector<std::string> allowed_headers = {"Content-Type", "Authorization"};
  std::vector<std::string> exposed_headers;
  bool allow_credentials = false;  // not allowed together with "*"
  std::chrono::seconds max_age{600};
};

// CORS (the Fetch standard): answers preflight OPTIONS requests with 204 and the Access-Control-
// headers, and adds Access-Control-Allow-Origin (and Vary: Origin) to actual requests from an
// allowed origin. Requests from other origins pass through without CORS headers.
middleware_fn cors(cors_options options);

// Request timeouts (ASP.NET Core's RequestTimeouts): after `timeout`, the token handlers see
// (context::aborted(), a cancellation_token parameter) is cancelled. Cancellation is cooperative:
// the handler stops when it looks at the token or awaits an operation given it. If the response
// has not started when the handler returns or throws after the timeout, the client gets 503 with
// a problem document. The client going away cancels the same token. `io` provides the timer.
middleware_fn request_timeouts(std::chrono::milliseconds timeout, net::io_context& io);
// The same, for when the io_context does not exist yet while the pipeline is being built.
middleware_fn request_timeouts(std::chrono::milliseconds timeout,
                               std::function<net::io_context&()> io);

}  // namespace harrier
