#pragma once
// Why a request was refused, with the status it gets, and a counter per reason.
//
// Every rejection ends the connection: the error response carries `Connection: close`, nothing
// after the offending byte is interpreted, and the reason is logged at debug level and counted in
// rejection_counters (which the diagnostics layer can expose). `bad_request` is the exception
// request-body reads throw when the body turns out malformed, too large or too slow; if the handler
// lets it escape before the response started, the client gets that status.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

namespace harrier::http {

enum class rejection_reason : unsigned char {
  request_line_too_long,                  // 414
  headers_too_large,                      // 431
  too_many_headers,                       // 431
  body_too_large,                         // 413
  missing_host,                           // 400
  duplicate_host,                         // 400
  invalid_host,                           // 400: not uri-host[:port] (or userinfo)
  content_length_with_transfer_encoding,  // 400
  duplicate_content_length,               // 400
  invalid_content_length,                 // 400
  invalid_transfer_encoding,              // 400: chunked not last, or applied twice
  unsupported_transfer_coding,            // 501: a coding other than chunked (gzip, chunked)
  invalid_chunk,                          // 400
  chunk_extensions_too_long,              // 400: over server_limits::max_chunk_extension_bytes
  obs_fold,                               // 400
  invalid_line_ending,                    // 400: bare CR, bare LF
  invalid_header,                         // 400: control characters, bad token, space before colon
  invalid_method,                         // 400: not a token
  unsupported_method,                     // 501: CONNECT (this origin server does not tunnel)
  invalid_target,                         // 400
  invalid_version,                        // 400
  unsupported_version,                    // 505
  malformed,                              // 400: anything else llhttp refuses
  headers_timeout,                        // 408
  body_rate_timeout,                      // 408
  incomplete_body,                        // no response: the client closed inside the body
};
inline constexpr std::size_t k_rejection_reason_count =
    static_cast<std::size_t>(rejection_reason::incomplete_body) + 1;

// The HTTP status a rejection gets (0 for incomplete_body: nobody is left to answer).
int rejection_status(rejection_reason reason) noexcept;
// A short snake_case name, for logs and metric labels.
std::string_view rejection_name(rejection_reason reason) noexcept;

class rejection_counters {
 public:
  void add(rejection_reason reason) noexcept {
    // ordering: relaxed; a statistic, read without synchronising with anything.
    m_counts[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t get(rejection_reason reason) const noexcept {
    return m_counts[static_cast<std::size_t>(reason)].load(std::memory_order_relaxed);
  }
  std::uint64_t total() const noexcept;

  // The process-wide counters connections report into by default.
  static rejection_counters& shared() noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, k_rejection_reason_count> m_counts{};
};

class bad_request : public std::runtime_error {
 public:
  explicit bad_request(rejection_reason reason);
  rejection_reason reason() const noexcept { return m_reason; }
  int status() const noexcept { return rejection_status(m_reason); }

 private:
  rejection_reason m_reason;
};

}  // namespace harrier::http
