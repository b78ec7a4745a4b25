#include <harrier/core/block_pool.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <new>

#include "core/asan_poison.hpp"

namespace harrier {

namespace {
constexpr std::align_val_t k_slab_alignment{k_block_bytes};

// The shared pool's per-thread cache. As in frame_allocator.cpp, the hot state is a trivially
// destructible thread_local (reached directly, no guard); a second one with a destructor is
// touched once per thread, at registration, to give the blocks back at thread exit.
struct block_cache {
  std::byte* blocks[block_pool::k_thread_cache_blocks];
  // Written by the owning thread only (a load and a store, no locked instruction); read by
  // stats() on any thread, under the pool's lock, as an estimate.
  std::atomic<std::size_t> count;
  // unused -> active (registered with the pool) -> released (thread exit; never again, so a
  // block freed by a later thread_local destructor takes the lock instead of a dead cache).
  enum class state : unsigned char { unused, active, released } state;
};
constinit thread_local block_cache t_block_cache{};
}  // namespace

struct block_cache_reaper {
  ~block_cache_reaper() {
    block_cache& c = t_block_cache;
    if (c.state != block_cache::state::active) return;
    block_pool& pool = block_pool::shared();
    std::lock_guard lock(pool.m_lock);
    std::erase(pool.m_caches, static_cast<const void*>(&c));
    // ordering: relaxed; the owner is this thread.
    const std::size_t n = c.count.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i)
      pool.m_free.push_back(c.blocks[i]);  // capacity reserved per slab: cannot throw
    c.count.store(0, std::memory_order_relaxed);
    c.state = block_cache::state::released;  // later releases on this thread take the lock
  }
};

void block_pool::register_thread_cache() {
  static thread_local block_cache_reaper reaper;
  (void)&reaper;
  std::lock_guard lock(m_lock);
  m_caches.push_back(&t_block_cache);
  t_block_cache.state = block_cache::state::active;
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
  if (m_thread_caching) {
    block_cache& c = t_block_cache;
    // ordering: relaxed; only this thread writes the count (stats() only reads it).
    const std::size_t n = c.count.load(std::memory_order_relaxed);
    if (n != 0) {
      std::byte* data = c.blocks[n - 1];
      c.count.store(n - 1, std::memory_order_relaxed);
      HARRIER_UNPOISON(data, k_block_bytes);
      return block{data, this};
    }
    if (c.state == block_cache::state::unused) register_thread_cache();
  }
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
  if (m_thread_caching) {
    block_cache& c = t_block_cache;
    // ordering: relaxed, as in acquire().
    const std::size_t n = c.count.load(std::memory_order_relaxed);
    if (c.state == block_cache::state::active && n < k_thread_cache_blocks) {
      c.blocks[n] = data;
      c.count.store(n + 1, std::memory_order_relaxed);
      return;
    }
  }
  std::lock_guard lock(m_lock);
  // Cannot throw: capacity was reserved for every block of every slab when the slab was added.
  m_free.push_back(data);
}

block_pool_stats block_pool::stats() const {
  std::lock_guard lock(m_lock);
  std::size_t cached = 0;
  for (const void* cache : m_caches) {
    // ordering: relaxed; an estimate while the owners run, exact when they are quiet.
    cached += static_cast<const block_cache*>(cache)->count.load(std::memory_order_relaxed);
  }
  return {m_slabs.size(), m_slabs.size() * k_blocks_per_slab, m_free.size() + cached};
}

block_pool& block_pool::shared() {
  // Never destroyed: blocks may be released by threads that outlive static destruction.
  static block_pool* pool = [] {
    auto* p = new block_pool();
    p->m_thread_caching = true;
    return p;
  }();
  return *pool;
}

}  // namespace harrier
