#include <harrier/core/cancellation.hpp>
#include <harrier/http/rejection.hpp>
#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/results.hpp>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "middleware/exception_handling.hpp"

namespace harrier {

namespace {
// The Allow value for a resource: its methods and OPTIONS, which is answered for any resource
// (once: an endpoint may map OPTIONS itself). `allow` is "A, B, C".
std::string with_options(const std::string& allow) {
  std::string_view rest = allow;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(", ");
    if (rest.substr(0, comma) == "OPTIONS") return allow;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
  }
  return allow.empty() ? std::string("OPTIONS") : allow + ", OPTIONS";
}
}  // namespace

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

void app_pipeline::set_request_observer(std::shared_ptr<request_observer> observer) {
  if (is_built()) throw std::logic_error("app_pipeline::set_request_observer after build()");
  if (m_observer != nullptr && observer != nullptr) {
    throw std::logic_error("app_pipeline::set_request_observer: there is one already");
  }
  m_observer = std::move(observer);
}

int status_after_exception(context& ctx) noexcept {
  try {
    throw;
  } catch (const http::bad_request& e) {
    // The client closed inside the body (status 0: nothing is answered): nginx's 499, "client
    // closed request", for the log and the metrics rather than a status nobody sent.
    return e.status() != 0 ? e.status() : k_client_closed_request;
  } catch (const operation_cancelled&) {
    // A handler that stopped on the token of a client that left: the HTTP layer answers 499 (a
    // client that only half-closed still reads it), not 500.
    if (ctx.response().has_started()) return ctx.response().status();
    return ctx.request().aborted().is_cancellation_requested() ? k_client_closed_request : 500;
  } catch (...) {
    return ctx.response().has_started() ? ctx.response().status() : 500;
  }
}

void app_pipeline::build() {
  if (is_built()) return;
  if (!m_middleware.empty() &&
      m_middleware.front().target<detail::exception_handler_stage>() != nullptr) {
    // The outermost stage catches what escapes everything else: handle() does that itself.
    m_handles_exceptions = true;
    m_middleware.erase(m_middleware.begin());
  }
  m_main = std::make_unique<pipeline>(m_middleware, [this](context& ctx) { return dispatch(ctx); });
}

task<void> app_pipeline::handle(http::request& req, http::response& res) const {
  context ctx(req, res, m_development);
  route_match match;
  m_routes.match(req.method(), req.path(), match);
  ctx.set_match(&match);
  request_observer* const observer = m_observer.get();
  if (observer == nullptr && !m_handles_exceptions) {
    co_await m_main->run(ctx);
    co_return;
  }
  std::chrono::steady_clock::time_point start;
  if (observer != nullptr) {
    start = std::chrono::steady_clock::now();
    observer->begin(ctx);
  }
  // The observer sees the request around the exception handler, as it would as the first
  // middleware: the problem's status, or the exception that got past it.
  std::exception_ptr failure;
  int failure_status = 500;
  std::optional<result> problem;  // co_await may not appear inside a catch block
  try {
    co_await m_main->run(ctx);
  } catch (...) {
    if (m_handles_exceptions) problem = detail::problem_for_exception(ctx);
    if (!problem) {
      failure = std::current_exception();
      failure_status = status_after_exception(ctx);
    }
  }
  if (problem) {
    try {
      ctx.response().discard_content();  // not started: problem_for_exception checked
      co_await problem->execute(ctx);
    } catch (...) {
      failure = std::current_exception();
      failure_status = status_after_exception(ctx);
    }
  }
  if (observer != nullptr) {
    observer->end(ctx, std::chrono::steady_clock::now() - start,
                  failure ? failure_status : ctx.response().status());
  }
  if (failure) std::rethrow_exception(failure);
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
  if (!match->method_recognized) {
    // A method nothing here implements (the HTTP layer passes any token through): 501, and the
    // connection stays usable (RFC 9110 section 9.1).
    co_await results::problem(501).execute(ctx);
    co_return;
  }
  switch (match->status) {
    case route_match_status::matched:
      break;  // dispatch() took it
    case route_match_status::method_not_allowed:
      if (ctx.request().method() == "OPTIONS") {
        // RFC 9110 section 9.3.7: OPTIONS on a resource with no OPTIONS endpoint of its own is
        // answered here, with the methods it allows (a CORS preflight is answered before us).
        co_await results::no_content()
            .with_header("Allow", with_options(match->allow))
            .execute(ctx);
        co_return;
      }
      // OPTIONS is in Allow too: it is answered for this resource (above), and Allow lists what
      // the resource supports (RFC 9110 section 10.2.1).
      co_await results::problem(405).with_header("Allow", with_options(match->allow)).execute(ctx);
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
