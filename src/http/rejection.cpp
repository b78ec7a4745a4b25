// Rejection reasons: statuses, names, counters.

#include <harrier/http/rejection.hpp>

#include <string>

namespace harrier::http {

int rejection_status(rejection_reason reason) noexcept {
  switch (reason) {
    case rejection_reason::request_line_too_long:
      return 414;
    case rejection_reason::headers_too_large:
    case rejection_reason::too_many_headers:
      return 431;
    case rejection_reason::body_too_large:
      return 413;
    case rejection_reason::unsupported_version:
      return 505;
    case rejection_reason::unsupported_transfer_coding:
    case rejection_reason::unsupported_method:
      return 501;
    case rejection_reason::headers_timeout:
    case rejection_reason::body_rate_timeout:
      return 408;
    case rejection_reason::incomplete_body:
      return 0;
    default:
      return 400;
  }
}

std::string_view rejection_name(rejection_reason reason) noexcept {
  switch (reason) {
    case rejection_reason::request_line_too_long:
      return "request_line_too_long";
    case rejection_reason::headers_too_large:
      return "headers_too_large";
    case rejection_reason::too_many_headers:
      return "too_many_headers";
    case rejection_reason::body_too_large:
      return "body_too_large";
    case rejection_reason::missing_host:
      return "missing_host";
    case rejection_reason::duplicate_host:
      return "duplicate_host";
    case rejection_reason::invalid_host:
      return "invalid_host";
    case rejection_reason::content_length_with_transfer_encoding:
      return "content_length_with_transfer_encoding";
    case rejection_reason::duplicate_content_length:
      return "duplicate_content_length";
    case rejection_reason::invalid_content_length:
      return "invalid_content_length";
    case rejection_reason::invalid_transfer_encoding:
      return "invalid_transfer_encoding";
    case rejection_reason::unsupported_transfer_coding:
      return "unsupported_transfer_coding";
    case rejection_reason::invalid_chunk:
      return "invalid_chunk";
    case rejection_reason::chunk_extensions_too_long:
      return "chunk_extensions_too_long";
    case rejection_reason::obs_fold:
      return "obs_fold";
    case rejection_reason::invalid_line_ending:
      return "invalid_line_ending";
    case rejection_reason::invalid_header:
      return "invalid_header";
    case rejection_reason::invalid_method:
      return "invalid_method";
    case rejection_reason::unsupported_method:
      return "unsupported_method";
    case rejection_reason::invalid_target:
      return "invalid_target";
    case rejection_reason::invalid_version:
      return "invalid_version";
    case rejection_reason::unsupported_version:
      return "unsupported_version";
    case rejection_reason::malformed:
      return "malformed";
    case rejection_reason::headers_timeout:
      return "headers_timeout";
    case rejection_reason::body_rate_timeout:
      return "body_rate_timeout";
    case rejection_reason::incomplete_body:
      return "incomplete_body";
  }
  return "unknown";
}

std::uint64_t rejection_counters::total() const noexcept {
  std::uint64_t sum = 0;
  for (const auto& c : m_counts)
    sum += c.load(std::memory_order_relaxed);
  return sum;
}

rejection_counters& rejection_counters::shared() noexcept {
  static rejection_counters counters;
  return counters;
}

bad_request::bad_request(rejection_reason reason)
    : std::runtime_error("http: bad request: " + std::string(rejection_name(reason))),
      m_reason(reason) {}

}  // namespace harrier::http
