#pragma once
// timer_heap: the pending timers of one I/O thread, a binary min-heap on (deadline, sequence)
// (internal; I/O thread only).
//
// Each timer_op stores its own heap index, so cancelling one is O(log n) without searching, and
// the heap is a vector of pointers into coroutine frames: no allocation per timer once the vector
// has grown. Equal deadlines fire in arrival order (the sequence number).

#include <harrier/net/detail/io_operation.hpp>

#include <cstdint>
#include <vector>

namespace harrier::net::detail {

class timer_heap {
 public:
  bool empty() const noexcept { return m_heap.empty(); }
  std::size_t size() const noexcept { return m_heap.size(); }
  io_operation* top() const noexcept { return m_heap.front(); }

  void push(io_operation* op) {
    op->timer.sequence = m_next_sequence++;
    op->timer.heap_index = m_heap.size();
    m_heap.push_back(op);
    sift_up(m_heap.size() - 1);
  }

  void remove(io_operation* op) noexcept {
    std::size_t i = op->timer.heap_index;
    std::size_t last = m_heap.size() - 1;
    if (i != last) {
      place(i, m_heap[last]);
      m_heap.pop_back();
      sift_down(i);
      sift_up(i);
    } else {
      m_heap.pop_back();
    }
  }

  io_operation* pop() noexcept {
    io_operation* op = m_heap.front();
    remove(op);
    return op;
  }

 private:
  static bool earlier(const io_operation* a, const io_operation* b) noexcept {
    if (a->timer.deadline_ns != b->timer.deadline_ns) {
      return a->timer.deadline_ns < b->timer.deadline_ns;
    }
    return a->timer.sequence < b->timer.sequence;
  }
  void place(std::size_t i, io_operation* op) noexcept {
    m_heap[i] = op;
    op->timer.heap_index = i;
  }
  void sift_up(std::size_t i) noexcept {
    io_operation* op = m_heap[i];
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!earlier(op, m_heap[parent])) break;
      place(i, m_heap[parent]);
      i = parent;
    }
    place(i, op);
  }
  void sift_down(std::size_t i) noexcept {
    io_operation* op = m_heap[i];
    const std::size_t n = m_heap.size();
    while (true) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && earlier(m_heap[child + 1], m_heap[child])) ++child;
      if (!earlier(m_heap[child], op)) break;
      place(i, m_heap[child]);
      i = child;
    }
    place(i, op);
  }

  std::vector<io_operation*> m_heap;
  std::uint64_t m_next_sequence = 0;
};

}  // namespace harrier::net::detail
