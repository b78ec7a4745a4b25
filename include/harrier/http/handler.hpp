#pragma once
// request_handler: the application entry point a connection calls once per request.
//
// Type-erased and cheap to call: an object pointer and a function pointer (no virtual dispatch,
// no allocation per call). Copies share the callable (one reference count bump per connection,
// never per request), so one handler serves every connection of a server. The callable must be
// safe to call from several threads at once. The handler keeps the callable alive for as long as
// any copy exists, so a capturing lambda coroutine is safe here: its captures live in the closure
// object, which outlives every call the connections make.

#include <harrier/core/task.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace harrier::http {

class request;
class response;

class request_handler {
 public:
  request_handler() = default;

  template <typename F>
  requires(!std::is_same_v<std::decay_t<F>, request_handler> &&
           std::is_invocable_r_v<task<void>, const std::decay_t<F>&, request&, response&>)
      request_handler(F&& callable)  // NOLINT: implicit on purpose, as std::function
      : m_object(std::make_shared<const std::decay_t<F>>(std::forward<F>(callable))),
        m_invoke([](const void* object, request& req, response& res) {
          return (*static_cast<const std::decay_t<F>*>(object))(req, res);
        }) {}

  explicit operator bool() const noexcept { return m_invoke != nullptr; }
  task<void> operator()(request& req, response& res) const {
    return m_invoke(m_object.get(), req, res);
  }

 private:
  std::shared_ptr<const void> m_object;
  task<void> (*m_invoke)(const void*, request&, response&) = nullptr;
};

}  // namespace harrier::http
