#pragma once
// Minimal-API handlers: turning an ordinary function into an endpoint.
//
// A handler is any callable (function, lambda, coroutine returning task<R>). Its parameters are
// bound from the request by type:
//   context&, http::request&, http::response&   the request itself
//   cancellation_token                          cancelled when the client goes away
//   from_route<"id", int>                       a route value, converted (400 if it does not fit)
//   from_query<"page", std::optional<int>>      a query parameter; optional<T> may be absent
//   from_header<"X-Api-Key">                    a request header
//   from_body<T>                                the JSON body, parsed and converted to T
//                                               (415 wrong Content-Type, 400 malformed JSON with
//                                               where it failed, 413 over the body limit)
// Its return value becomes the response:
//   void → 200 empty; std::string / string_view / const char* → 200 text/plain;
//   nlohmann::json, or any T with to_json → 200 application/json; int → that status, empty;
//   result (results::...) → as built; task<R> → awaited, then as R.
// Binding failures are http_error exceptions that the endpoint answers with a problem document.

#include <harrier/core/cancellation.hpp>
#include <harrier/core/task.hpp>
#include <harrier/middleware/context.hpp>
#include <harrier/middleware/results.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace harrier {

// A string usable as a template argument: from_route<"id", int>.
template <std::size_t N>
struct fixed_string {
  char chars[N]{};
  constexpr fixed_string(const char (&text)[N]) {  // NOLINT: implicit on purpose
    for (std::size_t i = 0; i < N; ++i)
      chars[i] = text[i];
  }
  constexpr std::string_view view() const noexcept { return {chars, N - 1}; }
};

namespace detail {
template <typename T>
class bound_value {
 public:
  explicit bound_value(T value) : m_value(std::move(value)) {}
  const T& operator*() const noexcept { return m_value; }
  T& operator*() noexcept { return m_value; }
  const T* operator->() const noexcept { return &m_value; }
  const T& value() const noexcept { return m_value; }
  operator const T&() const noexcept { return m_value; }  // NOLINT: implicit on purpose

 private:
  T m_value;
};
}  // namespace detail

template <fixed_string Name, typename T = std::string>
struct from_route : detail::bound_value<T> {
  static constexpr std::string_view name = Name.view();
  using detail::bound_value<T>::bound_value;
};
template <fixed_string Name, typename T = std::string>
struct from_query : detail::bound_value<T> {
  static constexpr std::string_view name = Name.view();
  using detail::bound_value<T>::bound_value;
};
template <fixed_string Name, typename T = std::string>
struct from_header : detail::bound_value<T> {
  static constexpr std::string_view name = Name.view();
  using detail::bound_value<T>::bound_value;
};
template <typename T = nlohmann::json>
struct from_body : detail::bound_value<T> {
  using detail::bound_value<T>::bound_value;
};

using endpoint_fn = std::function<task<void>(context&)>;

namespace detail {

template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {
  using value_type = T;
};

template <typename T>
struct is_task : std::false_type {};
template <typename T>
struct is_task<task<T>> : std::true_type {
  using value_type = T;
};

template <typename T>
struct is_from_route : std::false_type {};
template <fixed_string N, typename T>
struct is_from_route<from_route<N, T>> : std::true_type {};
template <typename T>
struct is_from_query : std::false_type {};
template <fixed_string N, typename T>
struct is_from_query<from_query<N, T>> : std::true_type {};
template <typename T>
struct is_from_header : std::false_type {};
template <fixed_string N, typename T>
struct is_from_header<from_header<N, T>> : std::true_type {};
template <typename T>
struct is_from_body : std::false_type {};
template <typename T>
struct is_from_body<from_body<T>> : std::true_type {};

// Converts text to T; false if it does not fit.
template <typename T>
bool convert(std::string_view text, T& out) {
  if constexpr (std::is_same_v<T, std::string>) {
    out.assign(text);
    return true;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "True" || text == "1") return out = true, true;
    if (text == "false" || text == "False" || text == "0") return out = false, true;
    return false;
  } else if constexpr (std::is_arithmetic_v<T>) {
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
  } else {
    static_assert(sizeof(T) == 0,
                  "from_route/from_query/from_header support std::string, bool and arithmetic "
                  "types (and std::optional of them for queries and headers)");
  }
}

[[noreturn]] void throw_binding_error(std::string_view source, std::string_view name,
                                      std::string_view value, std::string_view expected);
[[noreturn]] void throw_missing(std::string_view source, std::string_view name);
std::string_view type_description(const std::type_info& type);
// Reads and parses the JSON body (Content-Type check, size limit, parse errors as http_error).
task<nlohmann::json> read_json_body(context& ctx);
[[noreturn]] void throw_json_shape_error(const std::exception& e, const std::type_info& target);

template <typename Wrapper>
Wrapper bind_text(std::optional<std::string> raw, std::string_view source) {
  using T = std::remove_cvref_t<decltype(*std::declval<Wrapper&>())>;
  if constexpr (is_optional<T>::value) {
    if (!raw) return Wrapper(T{});
    typename is_optional<T>::value_type value{};
    if (!convert(*raw, value)) {
      throw_binding_error(source, Wrapper::name, *raw,
                          type_description(typeid(typename is_optional<T>::value_type)));
    }
    return Wrapper(T{std::move(value)});
  } else {
    if (!raw) throw_missing(source, Wrapper::name);
    T value{};
    if (!convert(*raw, value))
      throw_binding_error(source, Wrapper::name, *raw, type_description(typeid(T)));
    return Wrapper(std::move(value));
  }
}

// Storage for one bound argument: references as pointers, values as themselves.
template <typename P>
using arg_storage_t =
    std::conditional_t<std::is_reference_v<P>, std::remove_reference_t<P>*, std::remove_cvref_t<P>>;

template <typename P>
task<void> bind_one(context& ctx, std::optional<arg_storage_t<P>>& slot) {
  using D = std::remove_cvref_t<P>;
  if constexpr (std::is_same_v<D, context>) {
    slot = &ctx;
  } else if constexpr (std::is_same_v<D, http::request>) {
    slot = &ctx.request();
  } else if constexpr (std::is_same_v<D, http::response>) {
    slot = &ctx.response();
  } else if constexpr (std::is_same_v<D, cancellation_token>) {
    slot.emplace(ctx.aborted());
  } else if constexpr (is_from_route<D>::value) {
    slot.emplace(bind_text<D>(ctx.route_value(D::name), "route value"));
  } else if constexpr (is_from_query<D>::value) {
    slot.emplace(bind_text<D>(ctx.query(D::name), "query parameter"));
  } else if constexpr (is_from_header<D>::value) {
    auto h = ctx.request().header(D::name);
    slot.emplace(
        bind_text<D>(h ? std::optional<std::string>(std::string(*h)) : std::nullopt, "header"));
  } else if constexpr (is_from_body<D>::value) {
    using T = std::remove_cvref_t<decltype(*std::declval<D&>())>;
    nlohmann::json doc = co_await read_json_body(ctx);
    if constexpr (std::is_same_v<T, nlohmann::json>) {
      slot.emplace(std::move(doc));
    } else {
      try {
        slot.emplace(doc.get<T>());
      } catch (const nlohmann::json::exception& e) {
        throw_json_shape_error(e, typeid(T));
      }
    }
  } else {
    static_assert(sizeof(D) == 0,
                  "a handler parameter must be context&, http::request&, http::response&, "
                  "cancellation_token, from_route<...>, from_query<...>, from_header<...> or "
                  "from_body<...>");
  }
  co_return;
}

template <typename P>
decltype(auto) unwrap_arg(std::optional<arg_storage_t<P>>& slot) {
  if constexpr (std::is_reference_v<P>) {
    return static_cast<P>(**slot);
  } else {
    return std::move(*slot);
  }
}

// Writes what a handler returned.
task<void> write_text(context& ctx, std::string_view text);
task<void> write_json(context& ctx, const nlohmann::json& value);
task<void> write_converted_json(context& ctx, nlohmann::json value);
// write_json for a document the caller gives up (a handler's returned temporary): also takes a
// flat document apart more cheaply than its destructor would.
task<void> write_owned_json(context& ctx, nlohmann::json& value);
task<void> write_status(context& ctx, int status);
task<void> finish_empty(context& ctx);

// Not a coroutine (a frame fewer per request): the task it returns refers to `value`, which the
// caller keeps alive until that task ends; `co_await write_result(ctx, f())` does, since f()'s
// result is a temporary of the full expression.
template <typename R>
task<void> write_result(context& ctx, R&& value) {
  using D = std::remove_cvref_t<R>;
  if constexpr (std::is_same_v<D, result>) {
    return value.execute(ctx);
  } else if constexpr (std::is_convertible_v<D, std::string_view>) {
    return write_text(ctx, std::string_view(value));
  } else if constexpr (std::is_same_v<D, nlohmann::json> && !std::is_lvalue_reference_v<R> &&
                       !std::is_const_v<std::remove_reference_t<R>>) {
    return write_owned_json(ctx, value);
  } else if constexpr (std::is_same_v<D, nlohmann::json>) {
    return write_json(ctx, value);
  } else if constexpr (std::is_same_v<D, int>) {
    return write_status(ctx, value);
  } else {
    return write_converted_json(ctx, nlohmann::json(std::forward<R>(value)));
  }
}

template <typename T>
struct callable_traits : callable_traits<decltype(&T::operator())> {};
template <typename C, typename R, typename... A>
struct callable_traits<R (C::*)(A...) const> {
  using result_type = R;
  using args = std::tuple<A...>;
};
template <typename C, typename R, typename... A>
struct callable_traits<R (C::*)(A...) const noexcept> : callable_traits<R (C::*)(A...) const> {};
template <typename C, typename R, typename... A>
struct callable_traits<R (C::*)(A...)> : callable_traits<R (C::*)(A...) const> {};
template <typename R, typename... A>
struct callable_traits<R (*)(A...)> {
  using result_type = R;
  using args = std::tuple<A...>;
};
template <typename R, typename... A>
struct callable_traits<R(A...)> : callable_traits<R (*)(A...)> {};

// Binds the arguments, calls the handler and writes its result, in one frame: a handler that
// returns a value costs this coroutine and the writer's.
template <typename F, typename... A, std::size_t... I>
task<void> invoke_bound(const F& f, context& ctx, std::tuple<A...>*, std::index_sequence<I...>) {
  std::tuple<std::optional<arg_storage_t<A>>...> slots;
  // An http_error from binding or from the handler becomes its problem response while the
  // response has not started. co_await may not appear inside a catch block, hence the optional.
  std::optional<result> failure;
  try {
    (co_await bind_one<A>(ctx, std::get<I>(slots)), ...);
    using R = std::invoke_result_t<const F&, A...>;
    if constexpr (std::is_void_v<R>) {
      f(unwrap_arg<A>(std::get<I>(slots))...);
      co_await finish_empty(ctx);
    } else if constexpr (is_task<R>::value) {
      if constexpr (std::is_void_v<typename is_task<R>::value_type>) {
        co_await f(unwrap_arg<A>(std::get<I>(slots))...);
        co_await finish_empty(ctx);
      } else {
        co_await write_result(ctx, co_await f(unwrap_arg<A>(std::get<I>(slots))...));
      }
    } else {
      co_await write_result(ctx, f(unwrap_arg<A>(std::get<I>(slots))...));
    }
  } catch (const http_error& e) {
    if (ctx.response().has_started()) throw;
    failure = e.to_result();
  }
  if (failure) co_await failure->execute(ctx);
}

}  // namespace detail

// Wraps a handler into an endpoint. The handler is stored once, on the heap, where it stays put
// for the endpoint's lifetime (each request's coroutine refers to it).
template <typename F>
endpoint_fn make_endpoint(F&& handler) {
  using D = std::decay_t<F>;
  using traits = detail::callable_traits<std::remove_pointer_t<D>>;
  using args = typename traits::args;
  auto stored = std::make_shared<const D>(std::forward<F>(handler));
  return [stored](context& ctx) -> task<void> {
    return detail::invoke_bound(*stored, ctx, static_cast<args*>(nullptr),
                                std::make_index_sequence<std::tuple_size_v<args>>{});
  };
}

}  // namespace harrier
