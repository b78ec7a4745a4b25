#pragma once
// global_queue: work posted from outside the pool and overflow from full local queues.
//
// A mutex around a growable ring. Posts from outside are comparatively rare (the platform layer
// posts batches), and workers take batches of items per lock, so the lock is cold; the length is
// mirrored in an atomic so that the hot "anything there?" check takes no lock.

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <mutex>
#include <span>
#include <vector>

namespace harrier::detail {

class global_queue {
 public:
  global_queue() : m_ring(256, nullptr) {}

  // Returns false (and queues nothing) once the queue is closed.
  bool push(void* item) {
    std::lock_guard lock(m_mutex);
    if (m_closed) return false;
    push_locked(item);
    // ordering: release; the items themselves are published by the mutex, the atomic only
    // gates the lock-free emptiness check (a stale zero is covered by the parking handshake).
    m_length.store(m_count, std::memory_order_release);
    return true;
  }

  bool push_batch(std::span<void* const> items) {
    std::lock_guard lock(m_mutex);
    if (m_closed) return false;
    for (void* item : items)
      push_locked(item);
    m_length.store(m_count, std::memory_order_release);
    return true;
  }

  // The same for coroutine handles (their frame addresses are the items): all or none.
  bool push_handles(std::span<const std::coroutine_handle<>> handles) {
    std::lock_guard lock(m_mutex);
    if (m_closed) return false;
    for (std::coroutine_handle<> h : handles)
      push_locked(h.address());
    m_length.store(m_count, std::memory_order_release);
    return true;
  }

  // Closes the queue if it is empty (the last step of stop()); returns whether it did.
  bool close_if_empty() {
    std::lock_guard lock(m_mutex);
    if (m_count == 0) m_closed = true;
    return m_closed;
  }

  // Takes up to out.size() items, oldest first; returns how many.
  std::size_t pop_batch(std::span<void*> out) {
    if (m_length.load(std::memory_order_acquire) == 0) return 0;
    std::lock_guard lock(m_mutex);
    std::size_t n = 0;
    while (n < out.size() && m_count > 0) {
      out[n++] = m_ring[m_head];
      m_head = (m_head + 1) & (m_ring.size() - 1);
      --m_count;
    }
    m_length.store(m_count, std::memory_order_release);
    return n;
  }

  std::size_t size() const noexcept { return m_length.load(std::memory_order_acquire); }
  bool empty() const noexcept { return size() == 0; }

 private:
  void push_locked(void* item) {
    if (m_count == m_ring.size()) grow();
    m_ring[(m_head + m_count) & (m_ring.size() - 1)] = item;
    ++m_count;
  }
  void grow() {
    std::vector<void*> bigger(m_ring.size() * 2, nullptr);
    for (std::size_t i = 0; i < m_count; ++i)
      bigger[i] = m_ring[(m_head + i) & (m_ring.size() - 1)];
    m_ring.swap(bigger);
    m_head = 0;
  }

  std::mutex m_mutex;
  std::vector<void*> m_ring;  // size is a power of two
  std::size_t m_head = 0;
  std::size_t m_count = 0;
  bool m_closed = false;
  std::atomic<std::size_t> m_length{0};
};

}  // namespace harrier::detail
