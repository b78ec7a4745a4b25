#pragma once
// The built-in settings of every application and their translation into the runtime's option
// structs (internal).

#include <harrier/http/server.hpp>
#include <harrier/middleware/compression.hpp>
#include <harrier/middleware/configuration.hpp>
#include <harrier/middleware/forwarded_headers.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace harrier::detail {

struct application_settings {
  net::backend_kind backend = net::backend_kind::automatic;
  bool inline_dispatch = false;
  unsigned io_threads = 1;
  bool workers_drive_io = true;                 // net::io_options::workers_drive_io
  std::chrono::microseconds io_batch_wait{25};  // net::io_options::max_batch_wait
  thread_pool_options pool;
  http::server_options server;
  std::string log_level = "info";
  bool request_metrics = true;
  std::chrono::milliseconds request_timeout{
      0};  // 0: no request_timeouts middleware  // http_server_request_duration_seconds and active
           // requests
  std::string trace_file;                            // empty: no trace from the start
  std::chrono::milliseconds blocking_warning{1000};  // 0: no blocking detector
  std::chrono::milliseconds shutdown_delay{0};       // serve on, unready, before draining
  bool development = false;
  // Off unless configured: trusting proxies and compressing are deployment decisions.
  bool forwarded_headers = false;
  forwarded_headers_options forwarded;
  bool compression = false;
};

std::vector<option_spec> builtin_options();

// Reads validated configuration. Throws configuration_error for values that validate() cannot
// judge alone (a URL that does not parse, min above max).
application_settings read_settings(const configuration& config,
                                   const std::vector<option_spec>& schema);

// Parses one URL of --urls: http://HOST:PORT, http://[V6]:PORT, http://unix:/path; localhost is
// both loopbacks (http::listen_address::localhost), and * or + every address, IPv4 and IPv6
// (http::listen_address::any).
http::listen_address parse_url(std::string_view url);

void apply_log_level(const std::string& level);

}  // namespace harrier::detail
