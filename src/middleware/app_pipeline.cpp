#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/results.hpp>

#include <stdexcept>

namespace harrier {

void app_pipeline::use(middleware_fn middleware) {
  if (is_built())
    throw std::logic_error("app_pipeline::use after build(): register middleware first");
  m_middleware.push_back(std::move(middleware));
}

void app_pipeline::add_endpoint(std::vector<std::string> methods, std::string_view pattern,
                                endpoint_fn endpoint, std::vector<middleware_fn> group_middleware) {
  if (is_built()) throw std::logic_error("app_pipeline::add_endpoint after build()");
  const std::size_t id = m_endpoints.size();
  m_routes.add(std::move(methods), pattern, id);
  m_endpoints.push_back(
      std::make_unique<pipeline>(std::move(group_middleware), std::move(endpoint)));
}

void app_pipeline::build() {
  if (is_built()) return;
  m_main = std::make_unique<pipeline>(m_middleware, [this](context& ctx) { return dispatch(ctx); });
}

task<void> app_pipeline::handle(http::request& req, http::response& res) const {
  context ctx(req, res, m_development);
  route_match match;
  m_routes.match(req.method(), req.path(), match);
  ctx.set_match(&match);
  co_await m_main->run(ctx);
}

http::request_handler app_pipeline::handler() const {
  return [this](http::request& req, http::response& res) { return handle(req, res); };
}

// Not a coroutine: a matched request goes straight on to its endpoint's chain (handle()'s frame
// keeps the context alive), a frame fewer per request.
task<void> app_pipeline::dispatch(context& ctx) const {
  const route_match* match = ctx.match();
  if (match->status == route_match_status::matched) return m_endpoints[match->endpoint]->run(ctx);
  return dispatch_unmatched(ctx);
}

task<void> app_pipeline::dispatch_unmatched(context& ctx) const {
  const route_match* match = ctx.match();
  switch (match->status) {
    case route_match_status::matched:
      break;  // dispatch() took it
    case route_match_status::method_not_allowed:
      if (ctx.request().method() == "OPTIONS") {
        // RFC 9110 section 9.3.7: OPTIONS on a resource with no OPTIONS endpoint of its own is
        // answered here, with the methods it allows (a CORS preflight is answered before us).
        co_await results::no_content()
            .with_header("Allow", match->allow + ", OPTIONS")
            .execute(ctx);
        co_return;
      }
      // OPTIONS is in Allow too: it is answered for this resource (above), and Allow lists what
      // the resource supports (RFC 9110 section 10.2.1).
      co_await results::problem(405).with_header("Allow", match->allow + ", OPTIONS").execute(ctx);
      co_return;
    case route_match_status::not_found:
      if (ctx.request().method() == "OPTIONS" && ctx.request().path() == "*") {
        // OPTIONS * asks about the server as a whole, in effect a ping (section 9.3.7).
        co_await results::no_content().execute(ctx);
        co_return;
      }
      co_await results::not_found().execute(ctx);
      co_return;
  }
}

}  // namespace harrier
