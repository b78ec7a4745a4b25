#include <harrier/http/rejection.hpp>
#include <harrier/middleware/builtin.hpp>
#include <harrier/middleware/context.hpp>
#include <harrier/middleware/results.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "core/logger.hpp"
#include "middleware/file_resolver.hpp"
#include "middleware/file_sender.hpp"

namespace harrier {

middleware_fn exception_handler() {
  return [](context& ctx, next_handler next) -> task<void> {
    std::optional<result> problem;  // co_await may not appear inside a catch block
    try {
      co_await next(ctx);
    } catch (const http_error& e) {
      if (ctx.response().has_started()) throw;
      problem = e.to_result();
    } catch (const http::bad_request&) {
      throw;  // a malformed, oversized or too slow body: the HTTP layer answers and closes
    } catch (const std::exception& e) {
      if (ctx.response().has_started()) throw;
      detail::harrier_logger()->error("unhandled exception for {} {} (route {}, trace {}): {}",
                                      ctx.request().method(), ctx.request().path(),
                                      ctx.route_template().empty() ? "none" : ctx.route_template(),
                                      ctx.trace_id(), e.what());
      problem = results::problem(500, {}, ctx.is_development() ? e.what() : std::string());
    }
    if (problem) co_await problem->execute(ctx);
  };
}

middleware_fn request_logging() {
  return [](context& ctx, next_handler next) -> task<void> {
    const auto start = std::chrono::steady_clock::now();
    auto log = [&](int status) {
      const auto elapsed =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
      detail::harrier_logger()->info(
          "{} {} → {} ({}) {:.3f} ms {} bytes", ctx.request().method(), ctx.request().target(),
          status, ctx.route_template().empty() ? "no route" : ctx.route_template(), elapsed.count(),
          ctx.response().body_bytes());
    };
    try {
      co_await next(ctx);
    } catch (...) {
      log(ctx.response().has_started() ? ctx.response().status() : 500);
      throw;
    }
    log(ctx.response().status());
  };
}

middleware_fn static_files(static_file_options options) {
  std::error_code ec;
  const std::filesystem::path root = std::filesystem::canonical(options.root, ec);
  if (ec || !std::filesystem::is_directory(root)) {
    throw std::invalid_argument(
        fmt::format("static_files: content root \"{}\" is not a directory ({})",
                    options.root.string(), ec ? ec.message() : "not a directory"));
  }
  std::string prefix = options.request_prefix;
  if (prefix.empty() || prefix.back() != '/') prefix += '/';
  return [root, prefix](context& ctx, next_handler next) -> task<void> {
    const std::string_view method = ctx.request().method();
    const std::string_view path = ctx.request().path();
    std::optional<detail::resolved_file> file;
    if ((method == "GET" || method == "HEAD") && path.substr(0, prefix.size()) == prefix) {
      file = detail::resolve_static_file(root, path.substr(prefix.size() - 1));
    }
    if (file) {
      co_await detail::send_file(ctx, *file, {});
    } else {
      co_await next(ctx);
    }
  };
}

middleware_fn cors(cors_options options) {
  const bool any_origin = std::find(options.allowed_origins.begin(), options.allowed_origins.end(),
                                    "*") != options.allowed_origins.end();
  if (any_origin && options.allow_credentials) {
    throw std::invalid_argument(
        "cors: allow_credentials cannot be combined with the \"*\" origin (the Fetch standard "
        "forbids it); list the origins instead");
  }
  auto join = [](const std::vector<std::string>& v) {
    return fmt::format("{}", fmt::join(v, ", "));
  };
  struct state {
    cors_options options;
    bool any_origin;
    std::string methods, headers, exposed, max_age;
  };
  auto s = std::make_shared<const state>(
      state{options, any_origin, join(options.allowed_methods), join(options.allowed_headers),
            join(options.exposed_headers), std::to_string(options.max_age.count())});
  return [s](context& ctx, next_handler next) -> task<void> {
    const auto origin = ctx.request().header("Origin");
    const bool allowed =
        origin && (s->any_origin ||
                   std::find(s->options.allowed_origins.begin(), s->options.allowed_origins.end(),
                             *origin) != s->options.allowed_origins.end());
    http::response& res = ctx.response();
    if (!allowed) {
      co_await next(ctx);
      co_return;
    }
    res.add_header("Access-Control-Allow-Origin", s->any_origin ? "*" : *origin);
    if (!s->any_origin) res.add_header("Vary", "Origin");
    if (s->options.allow_credentials) res.add_header("Access-Control-Allow-Credentials", "true");
    const bool preflight = ctx.request().method() == "OPTIONS" &&
                           ctx.request().header("Access-Control-Request-Method").has_value();
    if (preflight) {
      res.set_status(204);
      res.add_header("Access-Control-Allow-Methods", s->methods);
      res.add_header("Access-Control-Allow-Headers", s->headers);
      res.add_header("Access-Control-Max-Age", s->max_age);
      res.set_content_length(0);
      co_await res.end();
      co_return;
    }
    if (!s->exposed.empty()) res.add_header("Access-Control-Expose-Headers", s->exposed);
    co_await next(ctx);
  };
}

}  // namespace harrier
