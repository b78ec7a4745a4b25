#include <harrier/core/async_event.hpp>
#include <harrier/core/cancellation.hpp>
#include <harrier/core/spawn.hpp>
#include <harrier/http/rejection.hpp>
#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/builtin.hpp>
#include <harrier/middleware/context.hpp>
#include <harrier/middleware/results.hpp>
#include <harrier/net/timer.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "core/logger.hpp"
#include "middleware/exception_handling.hpp"
#include "middleware/file_resolver.hpp"
#include "middleware/file_sender.hpp"

namespace harrier {

namespace detail {
namespace {

// A system error saying the process ran out of a resource (descriptors, memory, socket buffers)
// is a temporary overload of the server, not a fault of the handler: 503, as the accept loop
// treats EMFILE. Logged at most once a second, with a count of the others: a client pipelining
// 2,000 requests for a static file while the descriptors were used up wrote 2,000 error lines
// in 3 s (audit 8).
bool is_resource_shortage(const std::system_error& e) noexcept {
  const std::error_condition c = e.code().default_error_condition();
  return c == std::errc::too_many_files_open || c == std::errc::too_many_files_open_in_system ||
         c == std::errc::not_enough_memory || c == std::errc::no_buffer_space;
}

void log_resource_shortage(context& ctx, const std::system_error& e) {
  constexpr auto k_log_every = std::chrono::seconds(1);
  static std::mutex mutex;
  static std::chrono::steady_clock::time_point logged_at;
  static std::uint64_t unlogged = 0;
  const auto now = std::chrono::steady_clock::now();
  std::uint64_t others = 0;
  {
    std::lock_guard lock(mutex);
    if (logged_at != std::chrono::steady_clock::time_point{} && now - logged_at < k_log_every) {
      ++unlogged;
      return;
    }
    logged_at = now;
    others = std::exchange(unlogged, 0);
  }
  harrier_logger()->warn(
      "out of a resource for {} {} (route {}, trace {}): {}; answered 503{}",
      ctx.request().method(), ctx.request().path(),
      ctx.route_template().empty() ? "none" : ctx.route_template(), ctx.trace_id(), e.what(),
      others == 0 ? std::string() : fmt::format(" ({} more since the last report)", others));
}

std::optional<result> unhandled(context& ctx, const std::exception& e) {
  harrier_logger()->error("unhandled exception for {} {} (route {}, trace {}): {}",
                          ctx.request().method(), ctx.request().path(),
                          ctx.route_template().empty() ? "none" : ctx.route_template(),
                          ctx.trace_id(), e.what());
  return results::problem(500, {}, ctx.is_development() ? e.what() : std::string());
}

}  // namespace

std::optional<result> problem_for_exception(context& ctx) {
  try {
    throw;
  } catch (const http_error& e) {
    if (ctx.response().has_started()) return std::nullopt;
    return e.to_result();
  } catch (const http::bad_request&) {
    return std::nullopt;  // a malformed, oversized or too slow body: the HTTP layer answers
  } catch (const operation_cancelled&) {
    // The request was cancelled (client gone, request timeout): not an error of the handler.
    // Whoever cancelled it answers (request_timeouts) or nobody is left to answer.
    if (ctx.aborted().is_cancellation_requested()) return std::nullopt;
    if (ctx.response().has_started()) return std::nullopt;
    return results::problem(500);
  } catch (const std::system_error& e) {
    if (ctx.response().has_started()) return std::nullopt;
    if (!is_resource_shortage(e)) return unhandled(ctx, e);
    log_resource_shortage(ctx, e);
    return results::problem(503, {}, ctx.is_development() ? e.what() : std::string());
  } catch (const std::exception& e) {
    if (ctx.response().has_started()) return std::nullopt;
    return unhandled(ctx, e);
  } catch (...) {
    return std::nullopt;
  }
}

task<void> exception_handler_stage::operator()(context& ctx, next_handler next) const {
  std::optional<result> problem;  // co_await may not appear inside a catch block
  try {
    co_await next(ctx);
  } catch (...) {
    problem = problem_for_exception(ctx);
    if (!problem) throw;
  }
  if (problem) {
    ctx.response().discard_content();  // not started: problem_for_exception checked
    co_await problem->execute(ctx);
  }
}

}  // namespace detail

middleware_fn exception_handler() {
  return detail::exception_handler_stage{};
}

middleware_fn request_logging() {
  return [](context& ctx, next_handler next) -> task<void> {
    const auto start = std::chrono::steady_clock::now();
    auto log = [&](int status) {
      const auto elapsed =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
      const std::string_view client = ctx.remote_address();
      detail::harrier_logger()->info(
          "{} {} {} → {} ({}) {:.3f} ms {} bytes", client.empty() ? "-" : client,
          ctx.request().method(), ctx.request().target(), status,
          ctx.route_template().empty() ? "no route" : ctx.route_template(), elapsed.count(),
          ctx.response().body_bytes());
    };
    try {
      co_await next(ctx);
    } catch (...) {
      log(status_after_exception(ctx));
      throw;
    }
    log(ctx.response().status());
  };
}

namespace {

// A request under the static files' prefix: a file, a 405 for another method on one, or on to
// the next stage (no such file). root and prefix live in the pipeline's stage, which outlives
// every request.
task<void> static_file_or_next(context& ctx, next_handler next, const std::filesystem::path& root,
                               std::string_view prefix, const std::string& route) {
  const std::string_view method = ctx.request().method();
  const std::optional<detail::resolved_file> file =
      detail::resolve_static_file(root, ctx.request().path().substr(prefix.size() - 1));
  if (file) ctx.set_route_template(&route);  // the metrics' route label: not empty, not the path
  if (file && (method == "GET" || method == "HEAD")) {
    co_await detail::send_file(ctx, *file, {});
    co_return;
  }
  const route_match* match = ctx.match();
  const bool recognized = match == nullptr || match->method_recognized;
  if (file && recognized && (match == nullptr || match->status == route_match_status::not_found)) {
    // Another method on a file, and no endpoint for it either: the resource exists, so not
    // 404 but 405 with the methods it has (RFC 9110 section 15.5.6; nginx answers the same),
    // and OPTIONS gets them with 204, as routed resources do. A method the server does not
    // know at all goes on, to the 501 of an unmatched request.
    constexpr const char* k_allow = "GET, HEAD, OPTIONS";
    if (method == "OPTIONS") {
      co_await results::no_content().with_header("Allow", k_allow).execute(ctx);
    } else {
      co_await results::problem(405).with_header("Allow", k_allow).execute(ctx);
    }
    co_return;
  }
  co_await next(ctx);
}

}  // namespace

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
  // Not a coroutine: a request outside the prefix (most of them) goes on to the next stage's task
  // directly, without a frame of this stage (callgrind, /plaintext: ~150 instructions less).
  // next(ctx) copies what it needs from `next` into the next stage's frame before returning.
  // Heap-held: the metrics key on the template's address, which must not move with the stage.
  auto route = std::make_shared<const std::string>(prefix + "{**path}");
  return [root, prefix, route](context& ctx, next_handler next) -> task<void> {
    if (!ctx.request().path().starts_with(prefix)) return next(ctx);
    return static_file_or_next(ctx, next, root, prefix, *route);
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

namespace {

// A function, not a capturing lambda: a lambda coroutine's captures would die with the closure
// before the timer fires. Everything referenced lives in the middleware's frame, which waits
// for `done` before it goes.
task<void> request_timer(net::io_context& io, std::chrono::milliseconds timeout,
                         cancellation_token stop, cancellation_source& source, bool& timed_out,
                         async_event& done) {
  const std::error_code ec = co_await net::sleep_for(io, timeout, std::move(stop));
  if (!ec) {
    timed_out = true;
    source.request_cancellation();
  }
  done.set();
}

}  // namespace

middleware_fn request_timeouts(std::chrono::milliseconds timeout, net::io_context& io) {
  return request_timeouts(timeout, [&io]() -> net::io_context& { return io; });
}

middleware_fn request_timeouts(std::chrono::milliseconds timeout,
                               std::function<net::io_context&()> get_io) {
  return [timeout, get_io = std::move(get_io)](context& ctx, next_handler next) -> task<void> {
    net::io_context& io = get_io();
    cancellation_source source;
    // The client going away cancels our token too.
    cancellation_registration link(ctx.request().aborted(),
                                   [&source]() noexcept { source.request_cancellation(); });
    cancellation_source timer_stop;
    async_event timer_done;
    bool timed_out = false;
    spawn(request_timer(io, timeout, timer_stop.token(), source, timed_out, timer_done));
    const cancellation_token previous = ctx.exchange_aborted(source.token());
    std::exception_ptr error;
    try {
      co_await next(ctx);
    } catch (...) {
      error = std::current_exception();
    }
    ctx.exchange_aborted(previous);
    timer_stop.request_cancellation();
    co_await timer_done.wait();  // the timer coroutine refers to this frame
    if (timed_out && !ctx.response().has_started()) {
      ctx.response().discard_content();  // whatever the handler had set up for its answer
      co_await results::problem(503, "Service Unavailable",
                                fmt::format("the request timed out after {} ms", timeout.count()))
          .execute(ctx);
      co_return;
    }
    if (error) std::rethrow_exception(error);
  };
}

}  // namespace harrier
