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
// one holder at a time); the I/O thread takes the whole stack (exchange, so no ABA) and re-adds
// the buffers to the ring with one tail update. If the kernel ran out of buffers (ENOBUFS) and a
// receive is waiting, `m_starving` is set and give_back wakes the I/O thread.

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
  // I/O thread: re-adds returned buffers to the ring; returns how many.
  unsigned recycle() noexcept;
  // Waits until no thread is inside give_back() (destruction).
  void wait_for_returns() const noexcept;
  void set_starving(bool starving) noexcept {
    m_starving.store(starving, std::memory_order_seq_cst);
  }

 private:
  static constexpr std::uint32_t k_empty = 0xffffffffu;

  ::io_uring_buf_ring* m_ring = nullptr;
  std::size_t m_ring_bytes = 0;
  std::byte* m_buffers = nullptr;
  std::size_t m_buffers_bytes = 0;
  std::size_t m_bytes = 0;
  unsigned m_count = 0;
  bool m_registered = false;
  std::unique_ptr<std::uint32_t[]> m_links;  // returned-stack links, indexed by buffer id
  std::atomic<std::uint32_t> m_returned{k_empty};
  std::atomic<bool> m_starving{false};
  std::atomic<int> m_returning{0};  // threads inside give_back()
  std::function<void()> m_wake;
};

}  // namespace harrier::net::detail
