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

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace harrier {

class app_pipeline {
 public:
  explicit app_pipeline(bool development = false) : m_development(development) {}

  void use(middleware_fn middleware);
  void add_endpoint(std::vector<std::string> methods, std::string_view pattern,
                    endpoint_fn endpoint, std::vector<middleware_fn> group_middleware = {});
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
};

}  // namespace harrier
