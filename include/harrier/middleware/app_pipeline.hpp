#pragma once
// app_pipeline: routing, middleware and endpoints composed into the one request handler that an
// application hands its HTTP server.
//
// Per request: the route is matched first (so every middleware sees the matched template), then
// the middleware runs in registration order, then the matched endpoint, or a 404 problem, or a
// 405 problem with Allow. Endpoints registered in a group run through the group's middleware too.
// Registration happens before the first request; after build() the structure is immutable and
// handle() may run on any number of threads at once.

#include <harrier/core/task.hpp>
#include <harrier/http/handler.hpp>
#include <harrier/middleware/context.hpp>
#include <harrier/middleware/endpoint.hpp>
#include <harrier/middleware/pipeline.hpp>
#include <harrier/middleware/route_table.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace harrier {

// Hooks around every request at the hosting level, outside the middleware chain (ASP.NET Core
// records its request metrics the same way, in HostingApplicationDiagnostics): the pipeline calls
// them from its own frame, where a middleware costs a coroutine frame and a call through the chain
// per request (~250 instructions of the ~610 request metrics cost as middleware, callgrind).
// begin() runs after routing (the route template is known), before the middleware; end() once
// the request is done, with the time since begin and the status the client gets: the response's,
// or for an exception that escaped, what the HTTP layer answers (status_after_exception).
class request_observer {
 public:
  virtual ~request_observer() = default;
  virtual void begin(context& ctx) = 0;
  virtual void end(context& ctx, std::chrono::steady_clock::duration elapsed, int status) = 0;
};

// Inside a catch block: the status the HTTP layer answers the escaping exception with (a
// bad_request's own; 499 for a request the client closed: a body cut short, or a handler that
// stopped on the token of a client that left; otherwise 500, or the status already sent if the
// response started). For request logs and metrics.
inline constexpr int k_client_closed_request = 499;
int status_after_exception(context& ctx) noexcept;

class app_pipeline {
 public:
  explicit app_pipeline(bool development = false) : m_development(development) {}

  void use(middleware_fn middleware);
  void add_endpoint(std::vector<std::string> methods, std::string_view pattern,
                    endpoint_fn endpoint, std::vector<middleware_fn> group_middleware = {});
  // At most one, before build(); it sees every request, matched or not.
  void set_request_observer(std::shared_ptr<request_observer> observer);
  // Freezes the middleware list; later use()/add_endpoint() throw std::logic_error.
  void build();
  bool is_built() const noexcept { return m_main != nullptr; }

  task<void> handle(http::request& req, http::response& res) const;
  // A request_handler that calls handle(); this object must outlive it.
  http::request_handler handler() const;

 private:
  task<void> dispatch(context& ctx) const;
  task<void> dispatch_unmatched(context& ctx) const;

  bool m_development;
  std::vector<middleware_fn> m_middleware;
  route_table m_routes;
  std::vector<std::unique_ptr<pipeline>> m_endpoints;  // index = endpoint id
  std::unique_ptr<pipeline> m_main;
  std::shared_ptr<request_observer> m_observer;
  bool m_handles_exceptions = false;  // exception_handler() was the first middleware (build())
};

}  // namespace harrier
