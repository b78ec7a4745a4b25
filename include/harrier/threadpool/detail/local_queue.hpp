#pragma once
// local_queue<Capacity>: a worker's bounded run queue, in the shape Go and Tokio use.
//
// Protocol (one owner, any number of thieves):
// - Only the owner pushes, at `tail`. Only the owner stores `tail`.
// - Everybody (the owner's pop and the thieves' steal) takes from `head` by compare-and-swap, so
//   the owner's pop is FIFO; the owner's "newest first" comes from the worker's LIFO slot, kept
//   outside this ring (as Go's runnext), which keeps this ring simple and every take a single CAS.
// - A thief copies the oldest half into its own (empty) ring first and then claims it with one CAS
//   on the victim's head. When the CAS fails the copy is simply discarded: the slots it read may
//   already hold newer items, which is why slots are atomics (relaxed) rather than plain pointers.
// - When the ring is full the owner claims the older half with one CAS and hands it, plus the new
//   item, to an overflow callback (the pool's global queue): one lock for 129 items.
//
// Races survived: owner push vs. thief steal (the owner only reuses a slot after `head` moved past
// it, observed with acquire); owner pop vs. thief steal (both CAS `head`, the loser retries);
// a thief reading a torn (head, tail) pair (tail - head above Capacity: it retries).
//
// Items are opaque non-null pointers (the pool's tagged work items).

#include <array>
#include <atomic>
#include <cstdint>
#include <span>

namespace harrier::detail {

template <std::uint32_t Capacity = 256>
class local_queue {
  static_assert(Capacity >= 4 && (Capacity & (Capacity - 1)) == 0,
                "local_queue capacity must be a power of two, at least 4");
  static constexpr std::uint32_t k_mask = Capacity - 1;

 public:
  static constexpr std::uint32_t capacity = Capacity;

  local_queue() {
    for (auto& slot : m_slots)
      slot.store(nullptr, std::memory_order_relaxed);
  }
  local_queue(const local_queue&) = delete;
  local_queue& operator=(const local_queue&) = delete;

  // Owner only. Pushes item; when the ring is full, moves the older half and item to
  // overflow(std::span<void* const>) instead.
  template <typename Overflow>
  void push(void* item, Overflow&& overflow) {
    for (;;) {
      // ordering: tail is only written by us; head acquire pairs with the consumers' CAS so that
      // their reads of the slots we may now overwrite happened before.
      const std::uint32_t tail = m_tail.load(std::memory_order_relaxed);
      std::uint32_t head = m_head.load(std::memory_order_acquire);
      if (tail - head < Capacity) {
        m_slots[tail & k_mask].store(item, std::memory_order_relaxed);
        // ordering: release publishes the slot to consumers that acquire tail.
        m_tail.store(tail + 1, std::memory_order_release);
        return;
      }
      constexpr std::uint32_t half = Capacity / 2;
      void* batch[half + 1];
      for (std::uint32_t i = 0; i < half; ++i) {
        batch[i] = m_slots[(head + i) & k_mask].load(std::memory_order_relaxed);
      }
      // ordering: acq_rel, as every consumer's claim of [head, head + n).
      if (!m_head.compare_exchange_strong(head, head + half, std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
        continue;  // thieves made room meanwhile
      }
      batch[half] = item;
      overflow(std::span<void* const>(batch, half + 1));
      return;
    }
  }

  // Owner only. Pushes as many of items as fit; returns how many were pushed.
  std::size_t push_some(std::span<void* const> items) {
    const std::uint32_t tail = m_tail.load(std::memory_order_relaxed);
    const std::uint32_t head = m_head.load(std::memory_order_acquire);
    std::uint32_t room = Capacity - (tail - head);
    const std::uint32_t n = items.size() < room ? static_cast<std::uint32_t>(items.size()) : room;
    for (std::uint32_t i = 0; i < n; ++i) {
      m_slots[(tail + i) & k_mask].store(items[i], std::memory_order_relaxed);
    }
    // ordering: release publishes the slots.
    m_tail.store(tail + n, std::memory_order_release);
    return n;
  }

  // Owner only: takes the oldest item, or nullptr.
  void* pop() noexcept {
    // ordering: acquire pairs with other consumers' CAS (their claims are visible to us).
    std::uint32_t head = m_head.load(std::memory_order_acquire);
    for (;;) {
      const std::uint32_t tail = m_tail.load(std::memory_order_relaxed);  // our own store
      if (head == tail) return nullptr;
      void* item = m_slots[head & k_mask].load(std::memory_order_relaxed);
      // ordering: acq_rel like every claim of [head, head + n); a failed CAS reloads head with
      // acquire, so the next slot read sees what its pusher published.
      if (m_head.compare_exchange_weak(head, head + 1, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return item;
      }
    }
  }

  // Any thread except the owner of dst; dst's owner is the calling thread and dst should be
  // empty. Moves the older half of this ring into dst and returns one of them to run at once
  // (nullptr when nothing was stolen).
  void* steal_half_into(local_queue& dst) noexcept {
    const std::uint32_t dst_tail = dst.m_tail.load(std::memory_order_relaxed);  // ours
    const std::uint32_t dst_head = dst.m_head.load(std::memory_order_acquire);
    const std::uint32_t dst_room = Capacity - (dst_tail - dst_head);
    for (;;) {
      // ordering: acquire on both: head for the claims of others, tail for the slots published.
      std::uint32_t head = m_head.load(std::memory_order_acquire);
      const std::uint32_t tail = m_tail.load(std::memory_order_acquire);
      std::uint32_t n = tail - head;
      n -= n / 2;
      if (n == 0) return nullptr;
      if (n > Capacity / 2) continue;  // torn read of (head, tail): retry
      if (n > dst_room) n = dst_room;
      if (n == 0) return nullptr;
      for (std::uint32_t i = 0; i < n; ++i) {
        void* item = m_slots[(head + i) & k_mask].load(std::memory_order_relaxed);
        dst.m_slots[(dst_tail + i) & k_mask].store(item, std::memory_order_relaxed);
      }
      // ordering: acq_rel: release orders our slot reads before the owner's reuse of them.
      if (!m_head.compare_exchange_strong(head, head + n, std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
        continue;
      }
      --n;
      void* first = dst.m_slots[(dst_tail + n) & k_mask].load(std::memory_order_relaxed);
      // ordering: release publishes the copied slots to dst's thieves.
      if (n > 0) dst.m_tail.store(dst_tail + n, std::memory_order_release);
      return first;
    }
  }

  // Any thread: an estimate (exact when quiescent).
  std::uint32_t size() const noexcept {
    const std::uint32_t head = m_head.load(std::memory_order_acquire);
    const std::uint32_t tail = m_tail.load(std::memory_order_acquire);
    const std::uint32_t n = tail - head;
    return n > Capacity ? 0 : n;
  }
  bool empty() const noexcept { return size() == 0; }

 private:
  alignas(64) std::atomic<std::uint32_t> m_head{0};
  alignas(64) std::atomic<std::uint32_t> m_tail{0};
  alignas(64) std::array<std::atomic<void*>, Capacity> m_slots;
};

}  // namespace harrier::detail
