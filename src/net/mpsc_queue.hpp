#pragma once
// mpsc_queue: the intrusive queue through which any thread hands work to an I/O thread
// (internal).
//
// Nodes are one word; the node's kind rides in the low bits of the links (nodes are 8-byte
// aligned). Producers push with one CAS on a Treiber stack; the single consumer (the I/O thread)
// takes the whole stack with one exchange and reverses it, which restores FIFO order. Pop-all never
// dereferences a node that another thread may be pushing, so there is no ABA problem.

#include <harrier/net/detail/io_operation.hpp>

#include <atomic>
#include <cstdint>

namespace harrier::net::detail {

class mpsc_queue {
 public:
  using node_kind = queue_node::node_kind;

  void push(queue_node* node, node_kind kind) noexcept {
    const auto tagged = reinterpret_cast<std::uintptr_t>(node) | static_cast<std::uintptr_t>(kind);
    std::uintptr_t head = m_head.load(std::memory_order_relaxed);
    do {
      node->next = head;
      // ordering: seq_cst, not only release: the reactor's sleep protocol is a Dekker pattern
      // (push then load `sleeping` here; store `sleeping` then check empty() there).
    } while (!m_head.compare_exchange_weak(head, tagged, std::memory_order_seq_cst,
                                           std::memory_order_relaxed));
  }

  // ordering: seq_cst, the other half of the sleep protocol.
  bool empty() const noexcept { return m_head.load(std::memory_order_seq_cst) == 0; }

  // Consumer only. Returns the tagged nodes oldest first, linked through `next`; walk with
  // node_of(), kind_of() and next_of().
  std::uintptr_t take_all() noexcept {
    // ordering: acquire pairs with the producers' CAS, publishing the nodes' contents.
    std::uintptr_t tagged = m_head.exchange(0, std::memory_order_acquire);
    std::uintptr_t reversed = 0;
    while (tagged != 0) {
      queue_node* node = node_of(tagged);
      const std::uintptr_t next = node->next;
      node->next = reversed;
      reversed = tagged;
      tagged = next;
    }
    return reversed;
  }

  static queue_node* node_of(std::uintptr_t tagged) noexcept {
    return reinterpret_cast<queue_node*>(tagged & ~queue_node::k_kind_mask);
  }
  static node_kind kind_of(std::uintptr_t tagged) noexcept {
    return static_cast<node_kind>(tagged & queue_node::k_kind_mask);
  }

 private:
  std::atomic<std::uintptr_t> m_head{0};
};

}  // namespace harrier::net::detail
