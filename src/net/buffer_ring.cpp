#include "net/buffer_ring.hpp"

#include <harrier/net/recv_buffer.hpp>

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>

namespace harrier::net::detail {

void give_back(buffer_ring* ring, std::uint16_t id) noexcept {
  ring->give_back(id);
}

std::byte* ring_buffer_address(const buffer_ring* ring, std::uint16_t id) noexcept {
  return ring->address(id);
}

buffer_ring::~buffer_ring() {
  if (m_ring != nullptr) ::munmap(m_ring, m_ring_bytes);
  if (m_buffers != nullptr) ::munmap(m_buffers, m_buffers_bytes);
}

void buffer_ring::open(::io_uring& ring, unsigned count, std::size_t bytes,
                       std::function<void()> wake) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            "harrier: provided_buffers must be a power of two <= 32768");
  }
  m_count = count;
  m_bytes = bytes;
  m_wake = std::move(wake);
  m_ring_bytes = sizeof(::io_uring_buf) * count;
  void* r =
      ::mmap(nullptr, m_ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED) throw std::system_error(errno, std::system_category(), "mmap(buf ring)");
  m_ring = static_cast<::io_uring_buf_ring*>(r);
  m_buffers_bytes = bytes * count;
  void* b = ::mmap(nullptr, m_buffers_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (b == MAP_FAILED) throw std::system_error(errno, std::system_category(), "mmap(buffers)");
  m_buffers = static_cast<std::byte*>(b);
  m_links = std::make_unique<std::uint32_t[]>(count);
  m_spare = std::make_unique<std::uint16_t[]>(count);

  ::io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(m_ring);
  reg.ring_entries = count;
  reg.bgid = k_group_id;
  int rc = ::io_uring_register_buf_ring(&ring, &reg, 0);
  if (rc < 0) throw std::system_error(-rc, std::system_category(), "io_uring_register_buf_ring");
  m_registered = true;
  ::io_uring_buf_ring_init(m_ring);
  // Every buffer starts free, buffer 0 on top, and the ring gets its first window.
  for (unsigned i = 0; i < count; ++i)
    m_spare[i] = static_cast<std::uint16_t>(count - 1 - i);
  m_spare_count = count;
  top_up();
}

void buffer_ring::close(::io_uring& ring) noexcept {
  if (m_registered) ::io_uring_unregister_buf_ring(&ring, k_group_id);
  m_registered = false;
}

void buffer_ring::wait_for_returns() const noexcept {
  while (m_returning.load(std::memory_order_acquire) != 0)
    std::this_thread::yield();
}

void buffer_ring::give_back(std::uint16_t id) noexcept {
  // ordering: see reactor::push_remote; the same guard against destruction during the wake-up.
  m_returning.fetch_add(1, std::memory_order_relaxed);
  std::uint32_t head = m_returned.load(std::memory_order_relaxed);
  do {
    m_links[id] = head;
    // ordering: release publishes m_links[id] to the I/O thread's acquire exchange; seq_cst
    // because the starving check below must not be ordered before the push (Dekker with
    // set_starving + recycle on the I/O thread).
  } while (!m_returned.compare_exchange_weak(head, id, std::memory_order_seq_cst,
                                             std::memory_order_relaxed));
  if (m_starving.load(std::memory_order_seq_cst) && m_wake) m_wake();
  m_returning.fetch_sub(1, std::memory_order_release);
}

unsigned buffer_ring::window() const noexcept {
  return std::min(m_count, std::max(k_min_window, 2 * m_peak));
}

unsigned buffer_ring::available() const noexcept {
  // The kernel's consumption shows in the completions this thread has harvested; one it has not
  // harvested yet makes this an overestimate until it does.
  const auto in_ring = static_cast<std::int32_t>(m_added - m_consumed);
  return in_ring > 0 ? static_cast<unsigned>(in_ring) : 0;
}

unsigned buffer_ring::recycle() noexcept {
  // ordering: acquire pairs with give_back's CAS.
  std::uint32_t id = m_returned.exchange(k_empty, std::memory_order_seq_cst);
  if (id != k_empty) {
    // The chain is newest first; stack it so that the newest (warmest) ends on top.
    unsigned n = 0;
    for (std::uint32_t i = id; i != k_empty; i = m_links[i])
      ++n;
    unsigned slot = m_spare_count + n;
    for (std::uint32_t i = id; i != k_empty; i = m_links[i])
      m_spare[--slot] = static_cast<std::uint16_t>(i);
    m_spare_count += n;
  }
  // The peak of buffers taken per turn, losing 1/64 of itself per turn once the load falls.
  const unsigned taken = m_consumed - m_consumed_mark;
  m_consumed_mark = m_consumed;
  const unsigned before = window();
  m_peak = std::max(taken, m_peak - (m_peak + 63) / 64);
  if (m_ran_dry) {  // the window was too small, not the pool: double it (once per turn)
    m_ran_dry = false;
    m_peak = std::max(m_peak, before);
  }
  return top_up();
}

unsigned buffer_ring::top_up() noexcept {
  const unsigned target = window();
  const unsigned have = available();
  if (have >= target || m_spare_count == 0) return 0;
  const unsigned add = std::min(target - have, m_spare_count);
  const int mask = ::io_uring_buf_ring_mask(m_count);
  for (unsigned k = 0; k < add; ++k) {
    const std::uint16_t id = m_spare[--m_spare_count];
    ::io_uring_buf_ring_add(m_ring, address(id), static_cast<unsigned>(m_bytes), id, mask,
                            static_cast<int>(k));
  }
  // ordering: io_uring_buf_ring_advance is a release store of the tail, publishing the entries.
  ::io_uring_buf_ring_advance(m_ring, static_cast<int>(add));
  m_added += add;
  return add;
}

void buffer_ring::note_empty() noexcept {
  // The kernel found the ring empty. If buffers were added since the last time it did, they may
  // be what the count says is there (added after the kernel looked): trust the count. If not,
  // the count cannot be right: believe the kernel (so that a receive re-armed on the count's word
  // cannot fail forever).
  if (m_added == m_added_at_empty) m_consumed = m_added;
  m_added_at_empty = m_added;
  if (m_spare_count > 0) m_ran_dry = true;  // free buffers wait outside the ring
}

}  // namespace harrier::net::detail
