// response: the handler-facing methods. Serialisation and sending live in response_writer.cpp.

#include <harrier/http/response.hpp>

#include "http/connection_core.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace harrier::http {

namespace {
bool is_line_break_or_nul(char c) noexcept {
  return c == '\r' || c == '\n' || c == '\0';
}

// Whether any byte of the word is below 0x0E (CR, LF and NUL are): the classic "has less than"
// test, exact for bytes below 0x80, and bytes from 0x80 on never report.
bool has_byte_below_0e(std::uint64_t word) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  return ((word - ones * 0x0E) & ~word & highs) != 0;
}

void check_header_value(std::string_view name, std::string_view value) {
  // Eight bytes at a time; a word with a low byte (HTAB is one, and allowed) is looked at
  // byte by byte. callgrind: 167 -> 106 instructions for a 25-byte Content-Type.
  const char* p = value.data();
  const char* const end = p + value.size();
  bool bad = false;
  for (; end - p >= 8 && !bad; p += 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    if (has_byte_below_0e(word)) bad = std::any_of(p, p + 8, is_line_break_or_nul);
  }
  if (!bad) bad = std::any_of(p, end, is_line_break_or_nul);
  if (bad) [[unlikely]] {
    throw std::invalid_argument("http::response: value of header '" + std::string(name) +
                                "' contains CR, LF or NUL");
  }
}

void append_header_line(std::string& out, std::string_view name, std::string_view value) {
  const std::size_t at = out.size();
  out.resize(at + name.size() + value.size() + 4);
  char* p = out.data() + at;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  std::memcpy(p, value.data(), value.size());
  p += value.size();
  *p++ = '\r';
  *p = '\n';
}
}  // namespace

void response::check_not_started() const {
  if (m_started) {
    throw std::logic_error(
        "http::response: status and headers cannot change after the response "
        "started (the head has been sent)");
  }
}

std::chrono::system_clock::time_point response::date() const noexcept {
  return m_core->dates().time();
}

void response::set_status(int status) {
  check_not_started();
  if (status < 100 || status > 999) {
    throw std::invalid_argument("http::response: status must be a 3-digit code, got " +
                                std::to_string(status));
  }
  if (status < 200) [[unlikely]] {
    // A 1xx is interim (RFC 9110 section 15.2): sent as the final status it left the client
    // waiting for one. The connection sends 100 Continue itself; there is no protocol upgrade.
    throw std::invalid_argument("http::response: " + std::to_string(status) +
                                " is an interim (1xx) status, not a final one");
  }
  m_status = status;
}

void response::add_header(std::string_view name, std::string_view value) {
  check_not_started();
  if (name.empty()) throw std::invalid_argument("http::response: empty header name");
  for (char c : name) {
    if (!is_token_char(c)) {
      throw std::invalid_argument("http::response: header name '" + std::string(name) +
                                  "' is not an HTTP token");
    }
  }
  check_header_value(name, value);
  // Only five names are special; their lengths (17, 14, 10, 6, 4) rule the rest out cheaply.
  const std::size_t n = name.size();
  if (n != 17 && n != 14 && n != 10 && n != 6 && n != 4) {
    append_header_line(m_headers, name, value);
    return;
  }
  if (n == 4 || n == 6) {
    // A Date or Server of the handler's own replaces the server's (one of each: RFC 9110
    // section 5.3, a singleton field appears once).
    if (iequals(name, "date")) m_own_date = true;
    if (iequals(name, "server")) m_own_server = true;
    append_header_line(m_headers, name, value);
    return;
  }
  if (iequals(name, "transfer-encoding")) {
    throw std::invalid_argument(
        "http::response: Transfer-Encoding is chosen by the connection; use set_content_length() "
        "or leave the length unknown for chunked framing");
  }
  if (iequals(name, "content-length")) {
    std::uint64_t length = 0;
    const auto r = std::from_chars(value.data(), value.data() + value.size(), length);
    if (r.ec != std::errc() || r.ptr != value.data() + value.size()) {
      throw std::invalid_argument("http::response: Content-Length '" + std::string(value) +
                                  "' is not a decimal number");
    }
    set_content_length(length);
    return;
  }
  if (iequals(name, "connection")) {
    // The connection writes its own Connection header; the handler can only ask to close (the
    // option is a token of a list, in any case: RFC 9110 section 7.6.1).
    if (detail::connection_core::lists_close(value)) m_close_requested = true;
    return;
  }
  append_header_line(m_headers, name, value);
}

void response::set_content_type(std::string_view value) {
  // add_header without its checks of the name, which is known, and its special names.
  check_not_started();
  check_header_value("Content-Type", value);
  if (!m_headers.empty()) remove_header("Content-Type");  // a response has one
  append_header_line(m_headers, "Content-Type", value);
}

void response::set_content_type(header_literal value) {
  check_not_started();
  if (!m_headers.empty()) remove_header("Content-Type");
  append_header_line(m_headers, "Content-Type", value.value());
}

void response::set_content_length(std::uint64_t length) {
  check_not_started();
  if (m_body_bytes > length) {
    throw std::logic_error("http::response: Content-Length smaller than the bytes already written");
  }
  m_content_length = length;
}

std::optional<std::string_view> response::header(std::string_view name) const noexcept {
  std::string_view rest = m_headers;
  while (!rest.empty()) {
    const std::size_t end = rest.find("\r\n");
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 2);
    // add_header wrote "Name: value" with a token name, so the first ':' ends the name.
    const std::size_t colon = line.find(':');
    if (colon == name.size() && iequals(line.substr(0, colon), name)) {
      return line.substr(std::min(colon + 2, line.size()));
    }
  }
  return std::nullopt;
}

std::size_t response::remove_header(std::string_view name) {
  check_not_started();
  std::size_t removed = 0;
  std::size_t at = 0;
  while (at < m_headers.size()) {
    std::size_t end = m_headers.find("\r\n", at);
    end = end == std::string::npos ? m_headers.size() : end + 2;
    const std::string_view line(m_headers.data() + at, end - at);
    if (line.find(':') == name.size() && iequals(line.substr(0, name.size()), name)) {
      m_headers.erase(at, end - at);
      ++removed;
      if (iequals(name, "date")) m_own_date = false;
      if (iequals(name, "server")) m_own_server = false;
    } else {
      at = end;
    }
  }
  return removed;
}

void response::discard_content() {
  check_not_started();
  // Before the start nothing has reached the connection or a body filter (whose start() runs
  // with the head): the body written so far is all in m_pending_body.
  m_status = 200;
  m_content_length.reset();
  m_body_bytes = 0;
  m_pending_body.clear();
  for (std::string_view name :
       {"Content-Type", "Content-Encoding", "Content-Language", "Content-Location", "Content-Range",
        "Content-Disposition", "ETag", "Last-Modified", "Cache-Control", "Expires"}) {
    if (m_headers.empty()) break;
    remove_header(name);
  }
}

void response::set_body_filter(body_filter* filter) {
  if (filter != nullptr) check_not_started();
  m_filter = filter;
}

task<void> response::write(std::span<const std::byte> bytes) {
  return m_core->write_body(*this, bytes);
}
bool response::try_write(std::span<const std::byte> bytes) {
  return m_core->take_body_now(*this, bytes);
}
task<void> response::write_file(int fd, std::uint64_t offset, std::uint64_t length) {
  return m_core->write_file(*this, fd, offset, length);
}

task<void> response::flush() {
  return m_core->flush_response(*this);
}
task<void> response::end() {
  return m_core->end_response(*this);
}

namespace {
task<void> write_and_end(response& res, std::string_view body) {
  co_await res.write(body);
  co_await res.end();
}
}  // namespace

// Not a coroutine: a small body is buffered here, and end() is the only frame.
task<void> response::send(int status, std::string_view content_type, std::string_view body) {
  set_status(status);
  if (!content_type.empty()) set_content_type(content_type);
  return send_body(body);
}

task<void> response::send(int status, header_literal content_type, std::string_view body) {
  set_status(status);
  if (!content_type.value().empty()) set_content_type(content_type);
  return send_body(body);
}

task<void> response::send_body(std::string_view body) {
  if (try_write(body)) return end();
  // Its whole length is known: framed by Content-Length rather than chunked.
  if (!m_content_length) set_content_length(m_body_bytes + body.size());
  return write_and_end(*this, body);
}

void response::reset() noexcept {
  m_status = 200;
  m_content_length.reset();
  m_body_bytes = 0;
  m_headers.clear();
  m_pending_body.clear();
  m_filter = nullptr;
  m_filter_out.clear();
  m_started = false;
  m_ended = false;
  m_chunked = false;
  m_discard_body = false;
  m_close_requested = false;
  m_own_date = false;
  m_own_server = false;
}

std::string_view reason_phrase(int status) noexcept {
  // IANA's HTTP status code registry (RFC 9110 and the RFCs it lists), and nginx's 499.
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 207:
      return "Multi-Status";
    case 208:
      return "Already Reported";
    case 226:
      return "IM Used";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 305:
      return "Use Proxy";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 423:
      return "Locked";
    case 424:
      return "Failed Dependency";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 499:
      return "Client Closed Request";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 506:
      return "Variant Also Negotiates";
    case 507:
      return "Insufficient Storage";
    case 508:
      return "Loop Detected";
    case 511:
      return "Network Authentication Required";
    default:
      return "";
  }
}

}  // namespace harrier::http
