#include <harrier/core/block_pool.hpp>

#include <cstdio>
#include <new>

#include "core/asan_poison.hpp"

namespace harrier {

namespace {
constexpr std::align_val_t k_slab_alignment{k_block_bytes};
}

block_pool::~block_pool() {
  const block_pool_stats s = stats();
  if (s.blocks_in_use() != 0) {
    std::fprintf(stderr,
                 "harrier: block_pool destroyed with %zu block(s) still in use; leaking its %zu "
                 "slab(s) instead of freeing memory under live handles\n",
                 s.blocks_in_use(), s.slabs);
    return;
  }
  for (std::byte* slab : m_slabs) {
    HARRIER_UNPOISON(slab, k_block_bytes * k_blocks_per_slab);
    ::operator delete(slab, k_block_bytes* k_blocks_per_slab, k_slab_alignment);
  }
}

block block_pool::acquire() {
  std::unique_lock lock(m_lock);
  if (m_free.empty()) {
    lock.unlock();
    // Allocate outside the lock; other threads keep acquiring and releasing meanwhile.
    auto* slab =
        static_cast<std::byte*>(::operator new(k_block_bytes* k_blocks_per_slab, k_slab_alignment));
    HARRIER_POISON(slab, k_block_bytes * k_blocks_per_slab);
    lock.lock();
    m_slabs.push_back(slab);
    m_free.reserve(m_slabs.size() * k_blocks_per_slab);
    for (std::size_t i = k_blocks_per_slab; i-- > 0;)
      m_free.push_back(slab + i * k_block_bytes);
  }
  std::byte* data = m_free.back();
  m_free.pop_back();
  lock.unlock();
  HARRIER_UNPOISON(data, k_block_bytes);
  return block{data, this};
}

void block_pool::release(std::byte* data) noexcept {
  HARRIER_POISON(data, k_block_bytes);
  std::lock_guard lock(m_lock);
  // Cannot throw: capacity was reserved for every block of every slab when the slab was added.
  m_free.push_back(data);
}

block_pool_stats block_pool::stats() const {
  std::lock_guard lock(m_lock);
  return {m_slabs.size(), m_slabs.size() * k_blocks_per_slab, m_free.size()};
}

block_pool& block_pool::shared() {
  // Never destroyed: blocks may be released by threads that outlive static destruction.
  static block_pool* pool = new block_pool();
  return *pool;
}

}  // namespace harrier
