#pragma once
// Cancellation: a source that requests, tokens that observe, registrations that react.
//
// The platform layer registers a callback on a pending recv, accept or timer; the callback asks the
// backend to abort the operation, which then completes with operation_aborted.
//
// Contract:
// - request_cancellation() is idempotent and thread-safe; the first call runs every registered
//   callback exactly once, on the calling thread, in no particular order.
// - A callback registered after cancellation runs at once, inside the registration's constructor,
//   on the registering thread. It still runs exactly once.
// - Destroying a registration unregisters it. If its callback is running on another thread at that
//   moment, the destructor waits for it to return, so the callback never outlives the state it
//   touches. A callback may destroy its own registration (no self-deadlock).
// - Callbacks must not throw (they are noexcept; a throw terminates).
// - A default-constructed token can never be cancelled, and registering on it costs nothing.
// - Registering a function pointer does not allocate: the registration object is the list node.
//   The callable form allocates one small holder. The shared state is allocated once per source.

#include <atomic>
#include <memory>
#include <type_traits>
#include <utility>

namespace harrier {

class cancellation_token;
class cancellation_registration;

namespace detail {
class cancellation_state;
}

class cancellation_source {
 public:
  cancellation_source();
  cancellation_source(cancellation_source&&) noexcept = default;
  cancellation_source& operator=(cancellation_source&&) noexcept = default;
  cancellation_source(const cancellation_source&) = default;
  cancellation_source& operator=(const cancellation_source&) = default;
  ~cancellation_source() = default;

  cancellation_token token() const noexcept;
  // Returns true if this call performed the cancellation (false if it had happened before).
  bool request_cancellation() const;
  bool is_cancellation_requested() const noexcept;

 private:
  std::shared_ptr<detail::cancellation_state> m_state;
};

class cancellation_token {
 public:
  cancellation_token() noexcept = default;

  bool can_be_cancelled() const noexcept { return m_state != nullptr; }
  bool is_cancellation_requested() const noexcept;
  // Throws operation_cancelled if cancellation was requested.
  void throw_if_cancellation_requested() const;

 private:
  friend class cancellation_source;
  friend class cancellation_registration;
  explicit cancellation_token(std::shared_ptr<detail::cancellation_state> state) noexcept
      : m_state(std::move(state)) {}
  std::shared_ptr<detail::cancellation_state> m_state;
};

// Thrown by throw_if_cancellation_requested and by operations that report cancellation by
// exception rather than by error code.
class operation_cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "harrier: operation cancelled"; }
};

class cancellation_registration {
 public:
  using callback_fn = void (*)(void* context) noexcept;

  // Registers callback(context) on token. Runs it at once if cancellation was already requested.
  cancellation_registration(const cancellation_token& token, callback_fn callback, void* context);
  // The same, taking over the token's reference to the shared state (no reference-count
  // increment: a token made for one operation and handed in costs one atomic less per side).
  cancellation_registration(cancellation_token&& token, callback_fn callback, void* context);

  // Takes over the token's reference but registers only at arm(), so that an operation that
  // may finish without waiting (a send the kernel takes at once) costs no registration (the
  // state's lock, twice) when it does. Until then the callback cannot run; destroying an
  // unarmed registration touches nothing shared.
  struct deferred_t {
    explicit deferred_t() = default;
  };
  static constexpr deferred_t deferred{};
  cancellation_registration(deferred_t, cancellation_token&& token, callback_fn callback,
                            void* context) noexcept
      : m_callback(callback),
        m_context(context),
        m_state(std::move(token.m_state)),
        m_deferred(m_state != nullptr) {}
  // Whether cancellation was requested on the token (a plain load; any time).
  bool is_cancellation_requested() const noexcept;
  // For a deferred registration: registers now, or runs the callback at once if cancellation
  // was already requested. Once only.
  void arm() noexcept;

  // Convenience: any noexcept callable, stored inside the registration.
  template <typename F>
  requires std::is_nothrow_invocable_v<F&> cancellation_registration(
      const cancellation_token& token, F&& callable)
      : cancellation_registration(token, std::forward<F>(callable), holder_tag{}) {}

  cancellation_registration(const cancellation_registration&) = delete;
  cancellation_registration& operator=(const cancellation_registration&) = delete;
  ~cancellation_registration();

 private:
  friend class detail::cancellation_state;
  struct holder_tag {};

  template <typename F>
  cancellation_registration(const cancellation_token& token, F&& callable, holder_tag)
      : m_holder(std::make_unique<holder<std::decay_t<F>>>(std::forward<F>(callable))) {
    m_callback = [](void* context) noexcept { static_cast<holder_base*>(context)->invoke(); };
    m_context = m_holder.get();
    attach(token.m_state);
  }

  struct holder_base {
    virtual ~holder_base() = default;
    virtual void invoke() noexcept = 0;
  };
  template <typename F>
  struct holder final : holder_base {
    explicit holder(F f) : fn(std::move(f)) {}
    void invoke() noexcept override { fn(); }
    F fn;
  };

  void attach(std::shared_ptr<detail::cancellation_state> state);

  callback_fn m_callback = nullptr;
  void* m_context = nullptr;
  std::unique_ptr<holder_base> m_holder;
  std::shared_ptr<detail::cancellation_state> m_state;
  // Intrusive list links, guarded by the state's lock.
  cancellation_registration* m_next = nullptr;
  cancellation_registration* m_prev = nullptr;
  // Set by the cancelling thread once the callback has returned; the destructor waits on it.
  std::atomic<bool> m_callback_done{false};
  bool m_linked = false;
  bool m_deferred = false;  // holds the state but is not registered (not armed yet)
  bool* m_destroyed_flag = nullptr;
};

}  // namespace harrier
