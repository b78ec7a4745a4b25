#include "middleware/application_options.hpp"

#include <harrier/net/endpoint.hpp>
#include <harrier/threadpool/thread_pool.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

#include "core/logger.hpp"

namespace harrier::detail {

std::vector<option_spec> builtin_options() {
  constexpr std::int64_t k_max_ms = 24LL * 3600 * 1000;
  return {
      {.key = "urls",
       .type = option_type::list,
       .default_value = "http://127.0.0.1:5000",
       .help = "where to listen, comma-separated: http://HOST:PORT (port 0: any free port), "
               "http://[::1]:PORT, http://localhost:PORT (127.0.0.1 and ::1), http://*:PORT "
               "(every IPv4 and IPv6 address), http://unix:/path"},
      {.key = "io",
       .type = option_type::choice,
       .default_value = "auto",
       .help = "I/O backend; auto is io_uring with a fallback to epoll",
       .choices = {"auto", "io_uring", "epoll"}},
      {.key = "io_threads",
       .type = option_type::integer,
       .default_value = "1",
       .help = "I/O threads, each with its own ring or epoll set",
       .min = 1,
       .max = 64},
      {.key = "dispatch",
       .type = option_type::choice,
       .default_value = "pool",
       .help = "where handlers run: pool (thread pool) or inline (on the I/O thread; a blocking "
               "handler then stalls every connection of that thread)",
       .choices = {"pool", "inline"}},
      {.key = "workers_drive_io",
       .type = option_type::boolean,
       .default_value = "true",
       .help = "with --dispatch pool and one I/O thread on epoll: idle pool workers harvest the "
               "I/O themselves and run what they harvest (no hop); false: the I/O thread "
               "harvests and hands each batch to the pool (io_uring always works that way)"},
      {.key = "io_batch_wait_us",
       .type = option_type::integer,
       .default_value = "25",
       .help = "io_uring under load: the longest, in microseconds, an I/O thread lets "
               "completions gather before it wakes, when they arrive densely enough to fill a "
               "batch (Linux 6.12+; 0: never)",
       .min = 0,
       .max = 10000},
      {.key = "min_threads",
       .type = option_type::integer,
       .default_value = "0",
       .help = "thread pool minimum (0: the processor count, at most --max-threads)",
       .min = 0,
       .max = 32767},
      {.key = "max_threads",
       .type = option_type::integer,
       .default_value = "512",
       .help = "thread pool maximum",
       .min = 1,
       .max = 32767},
      {.key = "hill_climbing",
       .type = option_type::boolean,
       .default_value = "true",
       .help = "let hill climbing move the thread count"},
      {.key = "log_level",
       .type = option_type::choice,
       .default_value = "info",
       .help = "log level",
       .choices = {"trace", "debug", "info", "warn", "error"}},
      {.key = "config", .type = option_type::string, .help = "a JSON file with these settings"},
      {.key = "environment",
       .type = option_type::choice,
       .default_value = "Production",
       .help = "Development shows exception details in problem responses",
       .choices = {"Development", "Production"}},
      {.key = "server_header",
       .type = option_type::boolean,
       .default_value = "true",
       .help = "send `Server: harrier`"},
      {.key = "shutdown_timeout_ms",
       .type = option_type::integer,
       .default_value = "30000",
       .help = "graceful shutdown: how long in-flight requests may take before they are aborted",
       .min = 0,
       .max = k_max_ms},
      {.key = "shutdown_delay_ms",
       .type = option_type::integer,
       .default_value = "0",
       .help = "on SIGTERM, keep serving this long with readiness unhealthy (for load balancers "
               "to notice) before the graceful shutdown starts",
       .min = 0,
       .max = k_max_ms},
      {.key = "limits:max_concurrent_connections",
       .type = option_type::integer,
       .default_value = "0",
       .help = "refuse connections (503) above this count; 0: unlimited",
       .min = 0},
      {.key = "limits:max_request_line_size",
       .type = option_type::integer,
       .default_value = "8192",
       .help = "request line limit in bytes (414 above)",
       .min = 64,
       .max = 1 << 24},
      {.key = "limits:max_request_headers_total_size",
       .type = option_type::integer,
       .default_value = "32768",
       .help = "request headers limit in bytes (431 above)",
       .min = 64,
       .max = 1 << 26},
      {.key = "limits:max_request_header_count",
       .type = option_type::integer,
       .default_value = "100",
       .help = "request header count limit (431 above)",
       .min = 1,
       .max = 100000},
      {.key = "limits:max_chunk_extension_size",
       .type = option_type::integer,
       .default_value = "16384",
       .help = "chunk extension bytes a request may send beyond 16 + 2x each chunk's data (400 "
               "above)",
       .min = 0,
       .max = 1 << 26},
      {.key = "limits:max_request_body_size",
       .type = option_type::integer,
       .default_value = "30000000",
       .help = "request body limit in bytes (413 above); 0: unlimited",
       .min = 0},
      {.key = "limits:keep_alive_timeout_ms",
       .type = option_type::integer,
       .default_value = "120000",
       .help = "a connection with no request under way (idle between requests, or new and "
               "silent) closes after this, without a response (checked once a second)",
       .min = 1,
       .max = k_max_ms},
      {.key = "limits:request_headers_timeout_ms",
       .type = option_type::integer,
       .default_value = "30000",
       .help = "time to receive a request's headers, from its first byte (408 after; checked "
               "once a second)",
       .min = 1,
       .max = k_max_ms},
      {.key = "limits:min_request_body_data_rate",
       .type = option_type::integer,
       .default_value = "240",
       .help = "minimum body bytes/s after the grace period (408 below); 0: off",
       .min = 0},
      {.key = "limits:min_request_body_data_rate_grace_ms",
       .type = option_type::integer,
       .default_value = "5000",
       .help = "grace period of the minimum body data rate",
       .min = 0,
       .max = k_max_ms},
      {.key = "limits:min_response_data_rate",
       .type = option_type::integer,
       .default_value = "240",
       .help = "minimum bytes/s at which a client must read a response: a send still pending "
               "after the grace period or its size at this rate, whichever is longer, aborts the "
               "connection; 0: off",
       .min = 0},
      {.key = "limits:min_response_data_rate_grace_ms",
       .type = option_type::integer,
       .default_value = "5000",
       .help = "grace period of the minimum response data rate",
       .min = 0,
       .max = k_max_ms},
      {.key = "request_timeout_ms",
       .type = option_type::integer,
       .default_value = "0",
       .help = "cancel a handler's token after this long; 503 if it then gives up before "
               "responding; 0: off",
       .min = 0,
       .max = k_max_ms},
      {.key = "request_metrics",
       .type = option_type::boolean,
       .default_value = "true",
       .help = "record per-request metrics (duration histogram, active requests)"},
      {.key = "blocking_warning_ms",
       .type = option_type::integer,
       .default_value = "1000",
       .help = "warn (with the thread's stack) when one work item holds a pool thread (an I/O "
               "thread with --dispatch inline) this long; at most one such warning per 10 s, "
               "the others counted in one line; 0: off",
       .min = 0,
       .max = k_max_ms},
      {.key = "forwarded_headers",
       .type = option_type::boolean,
       .default_value = "false",
       .help = "take the client's address and scheme from X-Forwarded-For/-Proto when the peer "
               "is a known proxy; off: a client could spoof them"},
      {.key = "forwarded_rfc7239",
       .type = option_type::boolean,
       .default_value = "false",
       .help = "with --forwarded-headers: read RFC 7239 Forwarded (for=, proto=) instead of "
               "X-Forwarded-* when a request has it; only if your proxy sets or removes it (a "
               "client's own Forwarded header would be believed otherwise)"},
      {.key = "known_proxies",
       .type = option_type::string,
       .default_value = "::1",
       .help = "proxies trusted by --forwarded-headers, comma-separated IP addresses"},
      {.key = "known_networks",
       .type = option_type::string,
       .default_value = "127.0.0.0/8",
       .help = "networks trusted by --forwarded-headers, comma-separated CIDR blocks"},
      {.key = "forward_limit",
       .type = option_type::integer,
       .default_value = "1",
       .help = "how many proxies (X-Forwarded-For entries from the right) to process; 0: no limit",
       .min = 0,
       .max = 64},
      {.key = "compression",
       .type = option_type::boolean,
       .default_value = "false",
       .help = "compress responses (br, gzip) by Accept-Encoding: compressible types from 1 KiB"},
      {.key = "trace",
       .type = option_type::string,
       .help = "record a trace (thread-pool events, requests) from start to shutdown into this "
               "file, in the Chrome trace format (Perfetto, chrome://tracing)"},
      {.key = "help",
       .type = option_type::boolean,
       .help = "print this help and exit",
       .flag = true},
  };
}

namespace {
// "a, b,,c " -> {"a", "b", "c"}: items trimmed of spaces, empty ones dropped.
std::vector<std::string> comma_list(std::string_view text) {
  std::vector<std::string> items;
  std::size_t from = 0;
  while (from <= text.size()) {
    const std::size_t comma = text.find(',', from);
    std::string_view one = text.substr(from, comma - from);
    while (!one.empty() && one.front() == ' ')
      one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ')
      one.remove_suffix(1);
    if (!one.empty()) items.emplace_back(one);
    if (comma == std::string_view::npos) break;
    from = comma + 1;
  }
  return items;
}

// Whether `text` starts with `prefix`, which is lower case, in any case.
bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return a == static_cast<char>(std::tolower(static_cast<unsigned char>(b)));
         });
}

}  // namespace

http::listen_address parse_url(std::string_view url) {
  constexpr std::string_view k_http = "http://";
  // The scheme is case-insensitive (RFC 3986 section 3.1): HTTP:// is http://.
  if (starts_with_nocase(url, "https://")) {
    throw configuration_error(fmt::format(
        "URL \"{}\": https is not supported; expected http://HOST:PORT or http://unix:/path", url));
  }
  if (!starts_with_nocase(url, k_http)) {
    throw configuration_error(
        fmt::format("URL \"{}\": expected http://HOST:PORT or http://unix:/path", url));
  }
  std::string_view rest = url.substr(k_http.size());
  while (!rest.empty() && rest.back() == '/')
    rest.remove_suffix(1);
  std::string text(rest);
  // Host names are case-insensitive (RFC 3986 section 3.2.2).
  constexpr std::string_view k_localhost = "localhost:";
  const bool localhost = starts_with_nocase(text, k_localhost);
  if (localhost) text = "127.0.0.1" + text.substr(k_localhost.size() - 1);
  const bool any = text.rfind("*:", 0) == 0 || text.rfind("+:", 0) == 0;
  if (any) text = "0.0.0.0" + text.substr(1);  // parsed for the port
  try {
    const net::endpoint at = net::endpoint::parse(text);  // "unix:/path" too
    if (localhost) return http::listen_address::localhost(at.port());
    if (any) return http::listen_address::any(at.port());
    return http::listen_address(at);
  } catch (const std::exception& e) {
    throw configuration_error(fmt::format("URL \"{}\": {}", url, e.what()));
  }
}

application_settings read_settings(const configuration& config,
                                   const std::vector<option_spec>& schema) {
  application_settings s;
  auto integer = [&](std::string_view key) { return config.get_integer(key, schema); };
  auto ms = [&](std::string_view key) { return std::chrono::milliseconds(integer(key)); };

  const std::string io = config.get_string("io", schema);
  s.backend = io == "io_uring" ? net::backend_kind::io_uring
              : io == "epoll"  ? net::backend_kind::epoll
                               : net::backend_kind::automatic;
  s.inline_dispatch = config.get_string("dispatch", schema) == "inline";
  s.io_threads = static_cast<unsigned>(integer("io_threads"));
  s.workers_drive_io = config.get_boolean("workers_drive_io", schema);
  s.io_batch_wait = std::chrono::microseconds(integer("io_batch_wait_us"));
  s.pool.min_threads = static_cast<std::uint32_t>(integer("min_threads"));
  s.pool.max_threads = static_cast<std::uint32_t>(integer("max_threads"));
  s.pool.hill_climbing = config.get_boolean("hill_climbing", schema);
  if (s.pool.min_threads != 0 && s.pool.min_threads > s.pool.max_threads) {
    throw configuration_error(fmt::format("min_threads ({}) is above max_threads ({})",
                                          s.pool.min_threads, s.pool.max_threads));
  }
  // min_threads 0 means the processor count, but never above an explicit max_threads
  // (--max-threads 1 on a 2-core machine would otherwise refuse to start).
  if (s.pool.min_threads == 0 && processor_count() > s.pool.max_threads) {
    s.pool.min_threads = s.pool.max_threads;
  }
  s.log_level = config.get_string("log_level", schema);
  s.trace_file = config.get_string("trace", schema);
  if (!s.trace_file.empty()) {
    // Written at shutdown: a path that cannot be written is said now, not after the whole run.
    const std::filesystem::path parent = std::filesystem::path(s.trace_file).parent_path();
    const std::string dir = parent.empty() ? std::string(".") : parent.string();
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec) || ::access(dir.c_str(), W_OK) != 0) {
      throw configuration_error(fmt::format(
          "trace: cannot write \"{}\": \"{}\" is not a writable directory", s.trace_file, dir));
    }
  }
  s.request_metrics = config.get_boolean("request_metrics", schema);
  s.request_timeout = ms("request_timeout_ms");
  s.blocking_warning = ms("blocking_warning_ms");
  s.development = config.get_string("environment", schema) == "Development";
  s.compression = config.get_boolean("compression", schema);
  s.forwarded_headers = config.get_boolean("forwarded_headers", schema);
  s.forwarded.forwarded = config.get_boolean("forwarded_rfc7239", schema);
  s.forwarded.known_proxies = comma_list(config.get_string("known_proxies", schema));
  s.forwarded.known_networks = comma_list(config.get_string("known_networks", schema));
  const std::int64_t limit = integer("forward_limit");
  s.forwarded.forward_limit =
      limit == 0 ? std::nullopt : std::optional<std::size_t>(static_cast<std::size_t>(limit));
  if (s.forwarded_headers) {
    try {
      (void)forwarded_headers(s.forwarded);  // parses every proxy and network now
    } catch (const std::invalid_argument& e) {
      throw configuration_error(
          fmt::format("known_proxies / known_networks: {} (expected IP addresses and CIDR blocks "
                      "such as 10.0.0.0/8, comma-separated)",
                      e.what()));
    }
  }

  for (const std::string& url : comma_list(config.get_string("urls", schema)))
    s.server.endpoints.push_back(parse_url(url));
  if (s.server.endpoints.empty()) throw configuration_error("urls: expected at least one URL");

  http::server_limits& l = s.server.connection.limits;
  l.max_request_line_bytes = static_cast<std::size_t>(integer("limits:max_request_line_size"));
  l.max_request_headers_total_bytes =
      static_cast<std::size_t>(integer("limits:max_request_headers_total_size"));
  l.max_request_header_count = static_cast<std::size_t>(integer("limits:max_request_header_count"));
  l.max_chunk_extension_bytes =
      static_cast<std::size_t>(integer("limits:max_chunk_extension_size"));
  const std::int64_t body = integer("limits:max_request_body_size");
  l.max_request_body_bytes =
      body == 0 ? std::nullopt : std::optional<std::uint64_t>(static_cast<std::uint64_t>(body));
  l.keep_alive_timeout = ms("limits:keep_alive_timeout_ms");
  l.request_headers_timeout = ms("limits:request_headers_timeout_ms");
  l.min_request_body_bytes_per_second =
      static_cast<double>(integer("limits:min_request_body_data_rate"));
  l.min_request_body_rate_grace = ms("limits:min_request_body_data_rate_grace_ms");
  l.min_response_bytes_per_second = static_cast<double>(integer("limits:min_response_data_rate"));
  l.min_response_rate_grace = ms("limits:min_response_data_rate_grace_ms");
  s.server.connection.add_server_header = config.get_boolean("server_header", schema);
  s.server.max_concurrent_connections =
      static_cast<std::size_t>(integer("limits:max_concurrent_connections"));
  s.server.shutdown_timeout = ms("shutdown_timeout_ms");
  s.shutdown_delay = ms("shutdown_delay_ms");
  return s;
}

void apply_log_level(const std::string& level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  harrier_logger()->set_level(parsed);
}

}  // namespace harrier::detail
