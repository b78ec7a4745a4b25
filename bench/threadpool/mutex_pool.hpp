#pragma once
// The baseline: a plain FIFO pool, one std::deque of std::function behind one mutex and one
// condition variable. Every post takes the lock and notifies; every worker contends for it.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace harrier::bench {

class mutex_pool {
 public:
  explicit mutex_pool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i)
      m_threads.emplace_back([this] { run(); });
  }
  ~mutex_pool() {
    {
      std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_cv.notify_all();
    for (auto& t : m_threads)
      t.join();
  }
  mutex_pool(const mutex_pool&) = delete;
  mutex_pool& operator=(const mutex_pool&) = delete;

  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(m_mutex);
      m_queue.push_back(std::move(fn));
    }
    m_cv.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(m_mutex);
        m_cv.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
        if (m_queue.empty()) return;  // stopping and drained
        fn = std::move(m_queue.front());
        m_queue.pop_front();
      }
      fn();
    }
  }

  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<std::function<void()>> m_queue;
  bool m_stopping = false;
  std::vector<std::thread> m_threads;
};

}  // namespace harrier::bench
