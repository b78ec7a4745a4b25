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
//   server aborts the connection. A handler that then stops with operation_cancelled (say, from
//   a timer on that token) is not an error: the client gets 499 if it still reads (it only
//   half-closed), and the connection closes.
// - A request object is reused for every request of its connection; the handler must not keep it.
// - connection() describes the connection the request came on (addresses and ports as the server
//   saw them at accept). It is filled once per connection: reading it costs nothing per request.

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

enum class address_family : std::uint8_t { unknown, ipv4, ipv6, unix_socket };

// Who connected, and where to. The http layer's own description (it does not expose net types):
// - ipv4 / ipv6: the addresses as numeric text without brackets ("127.0.0.1", "::1",
//   "::ffff:10.0.0.1" for an IPv4 client on a dual-stack socket) and the ports.
// - unix_socket: local_address is the socket's path; remote_address is usually empty (clients
//   rarely bind their end) and the ports are 0.
// - unknown: the transport did not say (in-memory test transports), or the peer was already gone
//   when the server asked.
struct connection_info {
  address_family family = address_family::unknown;
  std::string remote_address;
  std::uint16_t remote_port = 0;
  std::string local_address;
  std::uint16_t local_port = 0;
};

// Describes a connection when a request first asks (request::connection()), instead of when it
// is accepted: the server's asks the socket (getpeername(2) and address formatting, ~1 us a
// connection here), which most applications never need. Must outlive the connection.
class connection_describer {
 public:
  // Who connected and where to; an empty connection_info when that cannot be known any more (the
  // peer already gone). Called at most once per connection, on the thread that first asks.
  virtual connection_info describe() const = 0;

 protected:
  ~connection_describer() = default;
};

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
  // The target before '?', and after it (empty when absent). Neither is decoded. The path has
  // no "." or ".." segments (RFC 3986 section 5.2.4: "/a/./b/../c" is "/a/c", ".." stops at the
  // root); for an absolute-form target it is the target's path ("/" when it has none).
  std::string_view path() const noexcept { return m_path; }
  std::string_view query() const noexcept { return m_query; }
  // 1.0 or 1.1; a later HTTP/1 minor is reported (and served) as 1.1 (RFC 9112 section 2.3).
  int version_major() const noexcept { return m_version_major; }
  int version_minor() const noexcept { return m_version_minor; }
  // The header fields as received, except Host for an absolute-form target: the target's
  // authority replaces it (RFC 9112 section 3.2.2). Host, when present, is a valid
  // uri-host[:port] (HTTP/1.0 may omit it).
  const header_list& headers() const noexcept { return m_headers; }
  std::optional<std::string_view> header(std::string_view name) const noexcept {
    return m_headers.find(name);
  }
  // Whether the connection stays open after this request, as the client asked.
  bool keep_alive() const noexcept { return m_keep_alive; }
  bool is_head() const noexcept { return m_is_head; }
  request_body& body() noexcept { return m_body; }
  const cancellation_token& aborted() const noexcept { return m_aborted; }
  // The connection this request came on (the immediate peer: a proxy, if there is one; see the
  // forwarded_headers middleware for the client behind it).
  const connection_info& connection() const noexcept {
    if (m_describer != nullptr) [[unlikely]]
      describe_connection();
    return m_connection;
  }

 private:
  friend class detail::connection_core;
  explicit request(detail::connection_core& core) noexcept : m_body(core) {}
  void describe_connection() const noexcept;

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
  // Set once for the connection: when it is made, or by m_describer when first asked.
  mutable connection_info m_connection;
  mutable const connection_describer* m_describer = nullptr;
};

// Percent-decodes `text` into `out` (appending). '+' becomes a space when plus_as_space (query
// strings). Returns false, leaving `out` partly written, on a malformed escape.
bool percent_decode(std::string_view text, std::string& out, bool plus_as_space = false);
// The same, keeping a malformed escape ('%' without two hex digits after it) as it is, as
// ASP.NET Core's query and route values do: "%zz" stays "%zz", so a value the handler parses
// fails there (a 400) rather than reading as absent.
std::string percent_decode_lenient(std::string_view text, bool plus_as_space = false);
// The raw (undecoded) value of the first `name=value` pair of a query string; "" for a bare name.
std::optional<std::string_view> find_query_parameter(std::string_view query,
                                                     std::string_view name) noexcept;

}  // namespace harrier::http
