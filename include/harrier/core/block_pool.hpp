#pragma once
// block_pool: fixed-size 4 KiB buffers for socket reads and writes, as Kestrel's memory pool.
//
// Contract:
// - acquire() returns a block no one else holds; its bytes are uninitialised. Thread-safe.
// - A block goes back to its pool when its handle is destroyed or reset, from any thread.
// - Blocks are carved from slabs (k_blocks_per_slab blocks, page-aligned) that the pool keeps until
//   it is destroyed; memory is reused, never returned to the OS while the pool lives.
// - The pool must outlive its blocks. Destroying a pool with blocks still out is a programming
// error
//   (reported to stderr; their memory is leaked rather than freed under a live handle).
// - Under AddressSanitizer a returned block is poisoned: touching it after release is reported.
// - The shared pool keeps up to k_thread_cache_blocks returned blocks per thread, so that a
//   connection's give-back and take-again of its receive block (once per request) takes no lock:
//   a spin lock's exchange each way was 4 of a request's ~24 locked instructions. stats() counts
//   those blocks as free. A thread's cache goes back to the pool when the thread exits.

#include <harrier/core/detail/spin_lock.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

namespace harrier {

// 4 KiB: a page, and the block size of Kestrel's pinned memory pool.
inline constexpr std::size_t k_block_bytes = 4096;
// 32 blocks (128 KiB) per slab: one allocation per 32 connections' worth of receive buffers.
inline constexpr std::size_t k_blocks_per_slab = 32;

class block_pool;

class block {
 public:
  block() noexcept = default;
  block(block&& other) noexcept
      : m_data(std::exchange(other.m_data, nullptr)),
        m_pool(std::exchange(other.m_pool, nullptr)) {}
  block& operator=(block&& other) noexcept {
    if (this != &other) {
      reset();
      m_data = std::exchange(other.m_data, nullptr);
      m_pool = std::exchange(other.m_pool, nullptr);
    }
    return *this;
  }
  block(const block&) = delete;
  block& operator=(const block&) = delete;
  ~block() { reset(); }

  explicit operator bool() const noexcept { return m_data != nullptr; }
  std::byte* data() const noexcept { return m_data; }
  static constexpr std::size_t size() noexcept { return k_block_bytes; }
  std::span<std::byte> bytes() const noexcept { return {m_data, m_data ? k_block_bytes : 0}; }

  // Returns the block to its pool now.
  void reset() noexcept;

 private:
  friend class block_pool;
  block(std::byte* data, block_pool* pool) noexcept : m_data(data), m_pool(pool) {}
  std::byte* m_data = nullptr;
  block_pool* m_pool = nullptr;
};

struct block_pool_stats {
  std::size_t slabs = 0;
  std::size_t blocks_total = 0;
  std::size_t blocks_free = 0;
  std::size_t blocks_in_use() const noexcept { return blocks_total - blocks_free; }
};

class block_pool {
 public:
  block_pool() = default;
  block_pool(const block_pool&) = delete;
  block_pool& operator=(const block_pool&) = delete;
  ~block_pool();

  block acquire();
  block_pool_stats stats() const;

  // The process-wide pool that the platform and HTTP layers use by default. Never destroyed.
  static block_pool& shared();

  static constexpr std::size_t k_thread_cache_blocks = 8;

 private:
  friend class block;
  friend struct block_cache_reaper;
  void release(std::byte* data) noexcept;
  void register_thread_cache();

  // A spin lock (a pthread mutex pair cost ~1% of a request's CPU): taken by private pools, and
  // by the shared one only when a thread's cache is empty or full.
  mutable detail::spin_lock m_lock;
  std::vector<std::byte*> m_free;  // LIFO: the most recently used block is the warmest in cache
  std::vector<std::byte*> m_slabs;
  bool m_thread_caching = false;      // the shared pool only: it outlives every thread's cache
  std::vector<const void*> m_caches;  // the registered thread caches, for stats()
};

inline void block::reset() noexcept {
  if (m_data != nullptr) {
    m_pool->release(m_data);
    m_data = nullptr;
    m_pool = nullptr;
  }
}

}  // namespace harrier
