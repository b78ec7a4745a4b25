// thread_pool: the public facade over pool_core (see pool_core.cpp and worker.cpp).

#include <harrier/threadpool/thread_pool.hpp>

#include <array>

#include "threadpool/pool_core.hpp"

namespace harrier {

std::string_view to_string(adjustment_reason reason) noexcept {
  static constexpr std::array<std::string_view, k_adjustment_reason_count> names = {
      "Warmup",      "Initializing", "RandomMove",     "ClimbingMove",       "ChangePoint",
      "Stabilizing", "Starvation",   "ThreadTimedOut", "CooperativeBlocking"};
  const auto index = static_cast<std::size_t>(reason);
  return index < names.size() ? names[index] : "Unknown";
}

thread_pool::thread_pool(thread_pool_options options)
    : m_core(std::make_unique<detail::pool_core>(*this, std::move(options))) {
  m_core->start();
}

thread_pool::~thread_pool() {
  m_core->stop();
}

void thread_pool::post(std::coroutine_handle<> h) {
  m_core->post_item(h.address());
}

void thread_pool::post_batch(std::span<const std::coroutine_handle<>> batch) {
  m_core->post_handles(batch);
}

bool thread_pool::saturated() const noexcept {
  return m_core->saturated();
}

void thread_pool::wait_for_idle_thread(std::chrono::nanoseconds timeout) noexcept {
  m_core->wait_for_idle_thread(timeout);
}

bool thread_pool::attach_driver(io_driver& driver) {
  return m_core->attach_driver(driver);
}

void thread_pool::detach_driver(io_driver& driver) noexcept {
  m_core->detach_driver(driver);
}

void thread_pool::post_job(detail::pool_job* job) {
  m_core->post_item(detail::tag_job(job));
}

void thread_pool::stop() {
  m_core->stop();
}

thread_pool* thread_pool::current() noexcept {
  detail::pool_core* core = detail::current_core();
  return core != nullptr ? &core->owner() : nullptr;
}

thread_pool_stats thread_pool::stats() const {
  return m_core->stats();
}

void thread_pool::set_event_listener(std::function<void(const thread_pool_event&)> listener) {
  m_core->set_event_listener(std::move(listener));
}

const thread_pool_options& thread_pool::options() const noexcept {
  return m_core->options();
}

}  // namespace harrier
