#pragma once
// A minimal executor for the topology comparison: N threads and one locked queue, one
// notification per batch. The real work-stealing pool lives in src/threadpool; this stands in for
// it so that the platform layer can be measured alone.

#include <harrier/core/executor.hpp>

#include <condition_variable>
#include <coroutine>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace bench {

class simple_pool final : public harrier::executor {
 public:
  explicit simple_pool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i)
      m_threads.emplace_back([this] { work(); });
  }
  ~simple_pool() override {
    {
      std::lock_guard lock(m_mutex);
      m_done = true;
    }
    m_cv.notify_all();
    for (auto& t : m_threads)
      t.join();
  }
  void post(std::coroutine_handle<> h) override {
    {
      std::lock_guard lock(m_mutex);
      m_queue.push_back(h);
    }
    m_cv.notify_one();
  }
  void post_batch(std::span<const std::coroutine_handle<>> batch) override {
    {
      std::lock_guard lock(m_mutex);
      m_queue.insert(m_queue.end(), batch.begin(), batch.end());
    }
    if (batch.size() == 1) {
      m_cv.notify_one();
    } else {
      m_cv.notify_all();
    }
  }

 private:
  void work() {
    std::unique_lock lock(m_mutex);
    while (true) {
      m_cv.wait(lock, [this] { return m_done || !m_queue.empty(); });
      if (m_queue.empty()) return;
      auto h = m_queue.front();
      m_queue.pop_front();
      lock.unlock();
      h.resume();
      lock.lock();
    }
  }
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<std::coroutine_handle<>> m_queue;
  bool m_done = false;
  std::vector<std::thread> m_threads;
};

}  // namespace bench
