#pragma once
// request: one parsed HTTP/1.1 request, as the handler sees it.
//
// Contract:
// - Every string_view (method, target, path, query, headers) points into the connection's receive
//   buffer and stays valid until the handler returns; copy what must outlive it.
// - The body is read through body(): `co_await req.body().read()` yields the next chunk of body
//   bytes, empty at the end. A chunk is valid until the next read. Bytes are pulled from the socket
//   only when asked (back-pressure); `Expect: 100-continue` is answered on the first read.
//   Malformed, oversized or too slow bodies make read() throw http::bad_request.
// - aborted() is cancelled when the client goes away (EOF or an error on the socket, seen by the
//   receive the connection keeps pending while the handler runs, or a failed send) or when the
//   server aborts the connection.
// - A request object is reused for every request of its connection; the handler must not keep it.

#include <harrier/core/cancellation.hpp>
#include <harrier/core/task.hpp>
#include <harrier/http/headers.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace harrier::http {

namespace detail {
class connection_core;
}

class request_body {
 public:
  // The next chunk of the body; empty once the body is complete.
  task<std::span<const std::byte>> read();
  // The whole (remaining) body; throws bad_request (413) if it is longer than `limit` bytes.
  task<std::string> read_all(std::size_t limit);
  // Content-Length when the request declared one.
  std::optional<std::uint64_t> declared_length() const noexcept;
  // True once every body byte has been read (always true for requests without a body).
  bool is_complete() const noexcept;

 private:
  friend class detail::connection_core;
  friend class request;
  explicit request_body(detail::connection_core& core) noexcept : m_core(&core) {}
  detail::connection_core* m_core;
};

class request {
 public:
  std::string_view method() const noexcept { return m_method; }
  // The request-target as sent ("/a/b?x=1"), not decoded.
  std::string_view target() const noexcept { return m_target; }
  // The target before '?', and after it (empty when absent). Neither is decoded.
  std::string_view path() const noexcept { return m_path; }
  std::string_view query() const noexcept { return m_query; }
  int version_major() const noexcept { return m_version_major; }
  int version_minor() const noexcept { return m_version_minor; }
  const header_list& headers() const noexcept { return m_headers; }
  std::optional<std::string_view> header(std::string_view name) const noexcept {
    return m_headers.find(name);
  }
  // Whether the connection stays open after this request, as the client asked.
  bool keep_alive() const noexcept { return m_keep_alive; }
  bool is_head() const noexcept { return m_is_head; }
  request_body& body() noexcept { return m_body; }
  const cancellation_token& aborted() const noexcept { return m_aborted; }

 private:
  friend class detail::connection_core;
  explicit request(detail::connection_core& core) noexcept : m_body(core) {}

  std::string_view m_method;
  std::string_view m_target;
  std::string_view m_path;
  std::string_view m_query;
  int m_version_major = 1;
  int m_version_minor = 1;
  header_list m_headers;
  bool m_keep_alive = true;
  bool m_is_head = false;
  request_body m_body;
  cancellation_token m_aborted;
};

// Percent-decodes `text` into `out` (appending). '+' becomes a space when plus_as_space (query
// strings). Returns false, leaving `out` partly written, on a malformed escape.
bool percent_decode(std::string_view text, std::string& out, bool plus_as_space = false);
// The raw (undecoded) value of the first `name=value` pair of a query string; "" for a bare name.
std::optional<std::string_view> find_query_parameter(std::string_view query,
                                                     std::string_view name) noexcept;

}  // namespace harrier::http
