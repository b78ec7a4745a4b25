#pragma once
// context: one request as the application model sees it (ASP.NET Core's HttpContext).
//
// It wraps the HTTP layer's request and response and adds what routing and middleware produce:
// the matched route template and values, a trace id, per-request items, and the environment
// (development or not). A context lives for one request, on the connection's coroutine frame;
// middleware and handlers get it by reference and must not keep it past the request.
//
// The client as the application sees it (ASP.NET Core's Connection.RemoteIpAddress, Request.Scheme
// and Request.Host): remote_address(), remote_port(), scheme() and host() start as the connection's
// peer, "http" and the Host header, and cost nothing until a middleware (forwarded_headers)
// replaces them with what a trusted proxy said; the values it replaced stay readable as
// forwarded_original().

#include <harrier/core/cancellation.hpp>
#include <harrier/http/request.hpp>
#include <harrier/http/response.hpp>
#include <harrier/middleware/route_table.hpp>

#include <any>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace harrier {

class context {
 public:
  context(http::request& request, http::response& response, bool development = false) noexcept
      : m_request(request), m_response(response), m_development(development) {}
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  http::request& request() noexcept { return m_request; }
  http::response& response() noexcept { return m_response; }

  // Routing results: empty until the routing step matched an endpoint, or a middleware that
  // answered the request itself named what it served (set_route_template).
  std::string_view route_template() const noexcept {
    if (m_route_override != nullptr) return *m_route_override;
    return m_match != nullptr && m_match->route_template != nullptr
               ? std::string_view(*m_match->route_template)
               : std::string_view{};
  }
  // The raw (still percent-encoded) route values.
  const route_values& route_parameters() const noexcept {
    static const route_values k_none;
    return m_match != nullptr ? m_match->values : k_none;
  }
  // The routing result (matched, not_found, method_not_allowed), or nullptr before routing.
  const route_match* match() const noexcept { return m_match; }
  // The percent-decoded value of route parameter `name`, or nullopt when the route has none. A
  // malformed escape ("%zz") stays as it is (http::percent_decode_lenient), here and in query().
  std::optional<std::string> route_value(std::string_view name) const;
  // The percent-decoded value of query parameter `name` ('+' is a space), or nullopt.
  std::optional<std::string> query(std::string_view name) const;

  // Cancelled when the client goes away or the server aborts the request, and when a request
  // timeout (request_timeouts middleware) expires. Handlers get it as a cancellation_token.
  const cancellation_token& aborted() const noexcept {
    return m_aborted.can_be_cancelled() ? m_aborted : m_request.aborted();
  }
  // Replaces the token handlers see (a middleware that adds its own reasons to stop, linked to
  // the request's). Restore the previous one when the middleware's scope ends.
  cancellation_token exchange_aborted(cancellation_token token) noexcept {
    cancellation_token previous = m_aborted;
    m_aborted = std::move(token);
    return previous;
  }

  // A 32-hex-digit id for this request, made on first use (W3C trace-context sized).
  std::string_view trace_id();

  // Free-form per-request state shared by middleware (ASP.NET's HttpContext.Items).
  std::any& item(const std::string& key) { return m_items[key]; }
  const std::any* find_item(const std::string& key) const {
    auto it = m_items.find(key);
    return it == m_items.end() ? nullptr : &it->second;
  }

  bool is_development() const noexcept { return m_development; }

  // The client's address and port: the connection's peer unless a middleware replaced them.
  std::string_view remote_address() const noexcept {
    return m_forwarded ? std::string_view(m_forwarded->remote_address)
                       : std::string_view(m_request.connection().remote_address);
  }
  std::uint16_t remote_port() const noexcept {
    return m_forwarded ? m_forwarded->remote_port : m_request.connection().remote_port;
  }
  // "http" (the connection has no TLS) unless a middleware replaced it.
  std::string_view scheme() const noexcept {
    return m_forwarded ? std::string_view(m_forwarded->scheme) : std::string_view("http");
  }
  // The Host header ("" without one) unless a middleware replaced it.
  std::string_view host() const noexcept {
    return m_forwarded ? std::string_view(m_forwarded->host)
                       : m_request.header("Host").value_or(std::string_view{});
  }
  void set_remote(std::string_view address, std::uint16_t port);
  void set_scheme(std::string_view scheme);
  void set_host(std::string_view host);

  // The values before the first set_remote/set_scheme/set_host of this request (ASP.NET Core's
  // X-Original-For, X-Original-Proto, X-Original-Host), or nullopt if nothing was replaced. They
  // are always the connection's peer, "http" and the Host header: views, valid for the request.
  struct original_values {
    std::string_view remote_address;
    std::uint16_t remote_port = 0;
    std::string_view scheme;
    std::string_view host;
  };
  std::optional<original_values> forwarded_original() const noexcept;

  // Set by routing; `match` must outlive the request.
  void set_match(const route_match* match) noexcept { m_match = match; }
  // For a middleware that answers requests itself (static files: "/static/{**path}"): the
  // route label of its metrics and logs, a low-cardinality template, not the path. The string
  // must outlive the request, at a stable address (the metrics key on it).
  void set_route_template(const std::string* route_template) noexcept {
    m_route_override = route_template;
  }

 private:
  http::request& m_request;
  http::response& m_response;
  const route_match* m_match = nullptr;
  const std::string* m_route_override = nullptr;
  cancellation_token m_aborted;  // empty: the request's own
  std::string m_trace_id;
  std::map<std::string, std::any, std::less<>> m_items;
  bool m_development = false;

  // Engaged by the first replacement; a request without proxies never touches it.
  struct forwarded_values {
    std::string remote_address;
    std::uint16_t remote_port = 0;
    std::string scheme;
    std::string host;
  };
  forwarded_values& forwarded();
  std::optional<forwarded_values> m_forwarded;
};

}  // namespace harrier
