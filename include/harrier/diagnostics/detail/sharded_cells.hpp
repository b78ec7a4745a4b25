#pragma once
// Sharded cells: the storage behind every counter and histogram series (internal header).
//
// A series owns k_shard_count cache-line-aligned cells. A thread is given a shard index once, on
// its first increment (round robin over threads), and from then on adds into "its" cell with one
// relaxed fetch_add: no lock, no allocation, and no cache line shared with the threads that hold
// the other shards. Readers sum the shards. More threads than shards is still correct (two threads
// then share a cell and pay the contention of one atomic), only slower.
//
// ordering: every access here is relaxed. A cell is a statistic, not a synchronisation point:
// a reader sums whatever each cell holds at the time; it never reads other memory based on it.
// Counts are exact once the writers are joined (their joins give the needed happens-before).

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>

namespace harrier::diagnostics::detail {

// 16 shards: one per thread for pools up to 16 busy workers; beyond that threads share cells.
// A guess sized for the 2–16 core machines we test on, not tuned; it costs 1 KiB per counter.
inline constexpr std::size_t k_shard_count = 16;
inline constexpr std::size_t k_cache_line_bytes = 64;
inline constexpr std::size_t k_words_per_line = k_cache_line_bytes / sizeof(std::uint64_t);

// Hands out the next shard index to a thread that has none yet (round robin).
std::uint32_t assign_shard_index() noexcept;

// The calling thread's shard, in [0, k_shard_count).
inline std::size_t this_thread_shard() noexcept {
  constexpr std::uint32_t k_unassigned = ~std::uint32_t{0};
  static thread_local std::uint32_t index = k_unassigned;
  if (index == k_unassigned) [[unlikely]]
    index = assign_shard_index();
  return index;
}

// k_shard_count rows of `words_per_shard` 64-bit words; each row starts on its own cache line.
class sharded_words {
 public:
  explicit sharded_words(std::size_t words_per_shard)
      : m_stride((words_per_shard + k_words_per_line - 1) / k_words_per_line * k_words_per_line),
        m_words(static_cast<std::atomic<std::uint64_t>*>(
            ::operator new (bytes(), std::align_val_t{k_cache_line_bytes}))) {
    for (std::size_t i = 0; i < m_stride * k_shard_count; ++i)
      new (m_words + i) std::atomic<std::uint64_t>(0);
  }
  ~sharded_words() {
    // std::atomic<std::uint64_t> is trivially destructible: only the memory is released.
    ::operator delete (m_words, bytes(), std::align_val_t{k_cache_line_bytes});
  }
  sharded_words(const sharded_words&) = delete;
  sharded_words& operator=(const sharded_words&) = delete;

  std::atomic<std::uint64_t>* row(std::size_t shard) noexcept { return m_words + shard * m_stride; }
  const std::atomic<std::uint64_t>* row(std::size_t shard) const noexcept {
    return m_words + shard * m_stride;
  }
  std::atomic<std::uint64_t>* this_thread_row() noexcept { return row(this_thread_shard()); }

  // Sum of word `word` over all shards (two's complement: signed adds sum correctly too).
  std::uint64_t sum(std::size_t word) const noexcept {
    std::uint64_t total = 0;
    for (std::size_t s = 0; s < k_shard_count; ++s)
      total += row(s)[word].load(std::memory_order_relaxed);  // ordering: see file comment
    return total;
  }

 private:
  std::size_t bytes() const noexcept {
    return (m_stride == 0 ? 1 : m_stride) * k_shard_count * sizeof(std::uint64_t);
  }

  std::size_t m_stride;
  std::atomic<std::uint64_t>* m_words;
};

// Adds `delta` to a double stored as its bit pattern. The row is (nearly always) this thread's
// alone, so the compare-exchange succeeds first time.
inline void add_double_bits(std::atomic<std::uint64_t>& word, double delta) noexcept {
  std::uint64_t old_bits = word.load(std::memory_order_relaxed);
  // ordering: relaxed, as every cell access (file comment); the CAS makes the add atomic.
  while (!word.compare_exchange_weak(
      old_bits, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old_bits) + delta),
      std::memory_order_relaxed, std::memory_order_relaxed)) {
  }
}

}  // namespace harrier::diagnostics::detail
