// connection_core's receive buffer: growing it for large heads, compacting it for bodies.
//
// A connection starts with one 4 KiB block from the shared block pool, which holds any ordinary
// request head and a pipelined batch of small requests. While it waits idle for its next request
// (nothing buffered, transport able to wait without a buffer) it gives the block back and takes
// one again when bytes arrive: 10,000 idle keep-alive connections hold no receive buffers. A head
// that does not fit moves to a heap buffer, doubled up to the head limits; the connection keeps
// that buffer until it closes.

#include "http/connection_core.hpp"

#include <algorithm>
#include <cstring>

namespace harrier::http::detail {

namespace {
// Room kept after a head for body bytes; below it, body reads would crawl in tiny pieces.
constexpr std::size_t k_min_body_room_bytes = 2048;
}  // namespace

std::span<std::byte> connection_core::free_space() noexcept {
  return {reinterpret_cast<std::byte*>(m_data + m_end), m_capacity - m_end};
}

void connection_core::release_idle_buffer() noexcept {
  m_block.reset();
  m_data = nullptr;
  m_capacity = 0;
  m_start = m_parsed = m_end = 0;
}

void connection_core::reacquire_buffer() {
  if (m_data != nullptr) return;
  m_block = block_pool::shared().acquire();
  m_data = reinterpret_cast<char*>(m_block.data());
  m_capacity = m_block.size();
}

namespace {
void move_to_front(char* data, std::size_t& start, std::size_t& parsed, std::size_t& end) {
  if (start == 0) return;
  std::memmove(data, data + start, end - start);
  parsed -= start;
  end -= start;
  start = 0;
}
}  // namespace

bool connection_core::make_room_for_head() {
  if (m_start > 0) {
    move_to_front(m_data, m_start, m_parsed, m_end);
    return true;
  }
  const server_limits& limits = m_options.limits;
  const std::size_t max_capacity = std::min(
      limits.max_request_line_bytes + limits.max_request_headers_total_bytes + k_block_bytes,
      std::max(limits.max_request_buffer_bytes, k_block_bytes));
  if (m_capacity >= max_capacity) return false;
  const std::size_t capacity = std::min(m_capacity * 2, max_capacity);
  auto grown = std::make_unique<char[]>(capacity);
  std::memcpy(grown.get(), m_data + m_start, m_end - m_start);
  m_parsed -= m_start;
  m_end -= m_start;
  m_start = 0;
  m_heap = std::move(grown);
  m_block.reset();
  m_data = m_heap.get();
  m_capacity = capacity;
  return true;
}

bool connection_core::ensure_body_room_after_head() {
  if (m_capacity - (m_start + m_head_length) >= k_min_body_room_bytes) return true;
  move_to_front(m_data, m_start, m_parsed, m_end);
  if (m_capacity - m_head_length >= k_min_body_room_bytes) return true;
  const std::size_t capacity = m_head_length + k_min_body_room_bytes + k_block_bytes;
  auto grown = std::make_unique<char[]>(capacity);
  std::memcpy(grown.get(), m_data, m_end);
  m_heap = std::move(grown);
  m_block.reset();
  m_data = m_heap.get();
  m_capacity = capacity;
  return true;
}

void connection_core::make_room_for_body() noexcept {
  // Body bytes before m_parsed were handed out already; only the head must stay where it is.
  const std::size_t body_start = m_start + m_head_length;
  if (m_parsed <= body_start) return;
  std::memmove(m_data + body_start, m_data + m_parsed, m_end - m_parsed);
  m_end -= m_parsed - body_start;
  m_parsed = body_start;
}

}  // namespace harrier::http::detail
