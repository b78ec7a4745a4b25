#pragma once
// recv_buffer: a receive buffer that the platform layer chose (tcp_stream::recv_provided).
//
// On io_uring it is one buffer of the ring's provided-buffer pool, picked by the kernel only when
// data arrives, so an idle connection holds no receive buffer. On epoll it is a block_pool block,
// taken only once the socket is readable. Either way the holder must give it back: destroying the
// handle (or release()) returns it, from any thread. Move-only.

#include <harrier/core/block_pool.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <utility>

namespace harrier::net {

namespace detail {
class buffer_ring;
// Returns buffer `id` to its ring; thread-safe.
void give_back(buffer_ring* ring, std::uint16_t id) noexcept;
// The address of buffer `id` of a ring.
std::byte* ring_buffer_address(const buffer_ring* ring, std::uint16_t id) noexcept;
}  // namespace detail

// What a cancelled recv_provided completes with.
// - immediate: operation_canceled, whatever the socket holds (it stays for the next receive).
// - deliver_received: what had reached the socket before the cancellation took effect (bytes,
//   EOF or an error), when there is any; operation_canceled otherwise. For waits that a deadline
//   ends (an idle keep-alive connection): a request that arrived as the deadline fired is
//   answered instead of being closed on. On io_uring such bytes can sit in a provided buffer
//   already, where a MSG_PEEK on the socket cannot see them; collecting them costs the I/O
//   thread one io_uring_enter when nothing has come.
enum class recv_cancel : std::uint8_t { immediate, deliver_received };

class recv_buffer {
 public:
  recv_buffer() noexcept = default;
  recv_buffer(recv_buffer&& other) noexcept
      : m_data(std::exchange(other.m_data, nullptr)),
        m_block(std::move(other.m_block)),
        m_ring(std::exchange(other.m_ring, nullptr)),
        m_size(std::exchange(other.m_size, 0)),
        m_id(other.m_id) {}
  recv_buffer& operator=(recv_buffer&& other) noexcept {
    if (this != &other) {
      release();
      m_data = std::exchange(other.m_data, nullptr);
      m_size = std::exchange(other.m_size, 0);
      m_block = std::move(other.m_block);
      m_ring = std::exchange(other.m_ring, nullptr);
      m_id = other.m_id;
    }
    return *this;
  }
  recv_buffer(const recv_buffer&) = delete;
  recv_buffer& operator=(const recv_buffer&) = delete;
  ~recv_buffer() { release(); }

  // The received bytes.
  std::span<std::byte> bytes() const noexcept { return {m_data, m_size}; }
  std::size_t size() const noexcept { return m_size; }
  bool empty() const noexcept { return m_size == 0; }

  // Gives the buffer back now.
  void release() noexcept {
    if (m_ring != nullptr) detail::give_back(std::exchange(m_ring, nullptr), m_id);
    m_block.reset();
    m_data = nullptr;
    m_size = 0;
  }

  static recv_buffer from_ring(detail::buffer_ring* ring, std::uint16_t id,
                               std::size_t size) noexcept {
    recv_buffer b;
    b.m_ring = ring;
    b.m_id = id;
    b.m_data = detail::ring_buffer_address(ring, id);
    b.m_size = static_cast<std::uint32_t>(size);
    return b;
  }
  static recv_buffer from_block(harrier::block blk, std::size_t size) noexcept {
    recv_buffer b;
    b.m_data = blk.data();
    b.m_size = static_cast<std::uint32_t>(size);
    b.m_block = std::move(blk);
    return b;
  }

 private:
  std::byte* m_data = nullptr;
  harrier::block m_block;
  detail::buffer_ring* m_ring = nullptr;
  std::uint32_t m_size = 0;  // a provided buffer is at most a few KiB
  std::uint16_t m_id = 0;
};

// The result of recv_provided: EOF is !error && buffer.empty().
struct recv_buffer_result {
  std::error_code error;
  recv_buffer buffer;
  explicit operator bool() const noexcept { return !error; }
};

}  // namespace harrier::net
