#pragma once
// buffer_ring: io_uring's provided-buffer ring for one I/O thread (internal).
//
// The kernel picks a buffer from this ring only when data arrives for a multishot receive, so an
// idle connection holds none. liburing 2.3 has no io_uring_setup_buf_ring: we mmap the ring
// entries and the buffers ourselves and register them with io_uring_register_buf_ring. The buffer
// area is reserved with MAP_NORESERVE: a buffer costs resident memory only once written.
//
// Returning buffers: a recv_buffer may be released on any thread. give_back() pushes the buffer id
// on a lock-free stack (the links live in a side array indexed by id, since each id has exactly
// one holder at a time); the I/O thread takes the whole stack (exchange, so no ABA). If the
// kernel ran out of buffers (ENOBUFS) and a receive is waiting, `m_starving` is set and
// give_back wakes the I/O thread.
//
// A window, not the whole pool, in the ring: the kernel takes buffers from the ring's head and we
// add at its tail, so a buffer put back waits behind every other free one. With all 1024 buffers
// of 4 KiB in the ring, each receive lands in the one least recently used: a cold page (every
// small request a cache and TLB miss, and all buffers' first lines compete for the same cache
// sets, being 4 KiB apart). So the ring holds only about twice what the kernel takes between two
// of the I/O thread's turns (`window()`, at least k_min_window), and the other free buffers wait
// in a stack, the most recently returned on top, from which recycle() tops the ring up: a handful
// of warm buffers serve a steady load. The window follows the peak consumption per turn (which
// loses 1/64 of itself a turn once the load falls); an ENOBUFS while free buffers wait (the
// window was too small, not the pool) doubles it.

#include <liburing.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace harrier::net::detail {

class buffer_ring {
 public:
  static constexpr std::uint16_t k_group_id = 0;

  buffer_ring() = default;
  ~buffer_ring();
  buffer_ring(const buffer_ring&) = delete;
  buffer_ring& operator=(const buffer_ring&) = delete;

  // Maps and registers `count` (a power of two) buffers of `bytes` each. Throws std::system_error.
  void open(::io_uring& ring, unsigned count, std::size_t bytes, std::function<void()> wake);
  void close(::io_uring& ring) noexcept;

  std::byte* address(std::uint16_t id) const noexcept { return m_buffers + id * m_bytes; }
  std::size_t buffer_bytes() const noexcept { return m_bytes; }

  // Any thread.
  void give_back(std::uint16_t id) noexcept;
  // I/O thread: takes the returned buffers and tops the ring up to its window; returns how many
  // buffers it added to the ring.
  unsigned recycle() noexcept;
  // I/O thread: a completion carried a buffer (the kernel took one from the ring).
  void note_consumed() noexcept { ++m_consumed; }
  // I/O thread: a receive found the ring empty (ENOBUFS). If free buffers wait outside it, the
  // window grows; the next recycle() adds them.
  void note_empty() noexcept;
  // Buffers the ring holds for the kernel now (as far as this thread has seen), and its target.
  unsigned available() const noexcept;
  unsigned window() const noexcept;
  // Waits until no thread is inside give_back() (destruction).
  void wait_for_returns() const noexcept;
  void set_starving(bool starving) noexcept {
    m_starving.store(starving, std::memory_order_seq_cst);
  }

 private:
  static constexpr std::uint32_t k_empty = 0xffffffffu;
  static constexpr unsigned k_min_window = 32;

  unsigned top_up() noexcept;

  ::io_uring_buf_ring* m_ring = nullptr;
  std::size_t m_ring_bytes = 0;
  std::byte* m_buffers = nullptr;
  std::size_t m_buffers_bytes = 0;
  std::size_t m_bytes = 0;
  unsigned m_count = 0;
  bool m_registered = false;
  std::unique_ptr<std::uint32_t[]> m_links;  // returned-stack links, indexed by buffer id
  // I/O thread only: free buffers outside the ring (a stack, warmest on top), the ring's added
  // and consumed counts (wrapping), and the recent peak of buffers taken per turn.
  std::unique_ptr<std::uint16_t[]> m_spare;
  unsigned m_spare_count = 0;
  std::uint32_t m_added = 0;
  std::uint32_t m_consumed = 0;
  std::uint32_t m_consumed_mark = 0;
  std::uint32_t m_added_at_empty = 0;
  unsigned m_peak = 0;
  bool m_ran_dry = false;
  std::atomic<std::uint32_t> m_returned{k_empty};
  std::atomic<bool> m_starving{false};
  std::atomic<int> m_returning{0};  // threads inside give_back()
  std::function<void()> m_wake;
};

}  // namespace harrier::net::detail
