#include <harrier/core/cancellation.hpp>

#include <harrier/core/detail/spin_lock.hpp>

#include <atomic>
#include <mutex>
#include <thread>

namespace harrier {
namespace detail {

// Shared by a source and its tokens. One lock guards the registration list; the cancelled flag is
// also atomic so that is_cancellation_requested() is a plain load on the hot path.
//
// The race this must survive: thread A cancels and runs callback C while thread B destroys C's
// registration. B must not return (and free the registration, and whatever C touches) before C has
// returned, unless B *is* A (a callback that destroys its own registration).
class cancellation_state {
 public:
  bool is_cancelled() const noexcept { return m_cancelled.load(std::memory_order_acquire); }

  bool request() {
    std::unique_lock lock(m_lock);
    if (m_cancelled.load(std::memory_order_relaxed)) return false;
    m_cancelled.store(true, std::memory_order_release);
    m_cancelling_thread = std::this_thread::get_id();
    while (m_head != nullptr) {
      cancellation_registration* reg = m_head;
      unlink(reg);
      m_running = reg;
      bool destroyed = false;
      reg->m_destroyed_flag = &destroyed;
      lock.unlock();
      reg->m_callback(reg->m_context);
      lock.lock();
      m_running = nullptr;
      if (!destroyed) {
        reg->m_destroyed_flag = nullptr;
        // ordering: release pairs with the destructor's acquire load; the destructor then takes
        // the lock, so it cannot free reg before this thread has dropped it.
        reg->m_callback_done.store(true, std::memory_order_release);
        reg->m_callback_done.notify_all();
      }
    }
    return true;
  }

  // Returns false if cancellation already happened (the caller then runs the callback itself).
  bool try_add(cancellation_registration* reg) {
    std::lock_guard lock(m_lock);
    if (m_cancelled.load(std::memory_order_relaxed)) return false;
    reg->m_next = m_head;
    reg->m_prev = nullptr;
    if (m_head != nullptr) m_head->m_prev = reg;
    m_head = reg;
    reg->m_linked = true;
    return true;
  }

  void remove(cancellation_registration* reg) {
    std::unique_lock lock(m_lock);
    if (reg->m_linked) {
      unlink(reg);
      return;
    }
    if (m_running != reg) return;  // its callback already ran to completion
    if (m_cancelling_thread == std::this_thread::get_id()) {
      *reg->m_destroyed_flag = true;  // the callback is destroying its own registration
      return;
    }
    lock.unlock();
    while (!reg->m_callback_done.load(std::memory_order_acquire)) {
      reg->m_callback_done.wait(false, std::memory_order_acquire);
    }
    lock.lock();  // wait until the cancelling thread has let go of reg
  }

 private:
  void unlink(cancellation_registration* reg) noexcept {
    if (reg->m_prev != nullptr) reg->m_prev->m_next = reg->m_next;
    if (reg->m_next != nullptr) reg->m_next->m_prev = reg->m_prev;
    if (m_head == reg) m_head = reg->m_next;
    reg->m_next = reg->m_prev = nullptr;
    reg->m_linked = false;
  }

  spin_lock m_lock;  // a few pointer writes per registration, several per request
  std::atomic<bool> m_cancelled{false};
  cancellation_registration* m_head = nullptr;
  cancellation_registration* m_running = nullptr;
  std::thread::id m_cancelling_thread;
};

}  // namespace detail

cancellation_source::cancellation_source()
    : m_state(std::make_shared<detail::cancellation_state>()) {}

cancellation_token cancellation_source::token() const noexcept {
  return cancellation_token{m_state};
}

bool cancellation_source::request_cancellation() const {
  return m_state->request();
}

bool cancellation_source::is_cancellation_requested() const noexcept {
  return m_state->is_cancelled();
}

bool cancellation_token::is_cancellation_requested() const noexcept {
  return m_state != nullptr && m_state->is_cancelled();
}

void cancellation_token::throw_if_cancellation_requested() const {
  if (is_cancellation_requested()) throw operation_cancelled{};
}

cancellation_registration::cancellation_registration(const cancellation_token& token,
                                                     callback_fn callback, void* context)
    : m_callback(callback), m_context(context) {
  attach(token.m_state);
}

cancellation_registration::cancellation_registration(cancellation_token&& token,
                                                     callback_fn callback, void* context)
    : m_callback(callback), m_context(context) {
  attach(std::move(token.m_state));
}

void cancellation_registration::attach(std::shared_ptr<detail::cancellation_state> state) {
  if (state == nullptr) return;
  if (state->try_add(this)) {
    m_state = std::move(state);
  } else {
    m_callback(m_context);
  }
}

bool cancellation_registration::is_cancellation_requested() const noexcept {
  return m_state != nullptr && m_state->is_cancelled();
}

void cancellation_registration::arm() noexcept {
  if (!m_deferred) return;
  m_deferred = false;
  if (!m_state->try_add(this)) {
    m_state.reset();
    m_callback(m_context);
  }
}

cancellation_registration::~cancellation_registration() {
  if (m_state != nullptr && !m_deferred) m_state->remove(this);
}

}  // namespace harrier
