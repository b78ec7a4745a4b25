#pragma once
// Test helper: records a pool's events and lets a test wait, with a bound, for one to arrive.

#include <harrier/threadpool/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

namespace harrier::test {

class event_recorder {
 public:
  void attach(thread_pool& pool) {
    pool.set_event_listener([this](const thread_pool_event& e) {
      std::lock_guard lock(m_mutex);
      m_events.push_back(e);
      m_cv.notify_all();
    });
  }

  // Waits until an event satisfies pred (true) or the timeout passes (false).
  bool wait_for(const std::function<bool(const thread_pool_event&)>& pred,
                std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    std::size_t checked = 0;
    return m_cv.wait_for(lock, timeout, [&] {
      for (; checked < m_events.size(); ++checked) {
        if (pred(m_events[checked])) return true;
      }
      return false;
    });
  }

  std::vector<thread_pool_event> events() {
    std::lock_guard lock(m_mutex);
    return m_events;
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::vector<thread_pool_event> m_events;
};

// A gate that blocked work items wait on; released once. Every wait is bounded, so a bug fails
// the test instead of hanging it.
class gate {
 public:
  void release() {
    std::lock_guard lock(m_mutex);
    m_open = true;
    m_cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, std::chrono::seconds(20), [this] { return m_open; });
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_open = false;
};

// A one-shot flag a test waits on with a bound.
class flag {
 public:
  void set() {
    std::lock_guard lock(m_mutex);
    m_set = true;
    m_cv.notify_all();
  }
  bool wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, timeout, [this] { return m_set; });
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_set = false;
};

}  // namespace harrier::test
