#include <harrier/core/block_pool.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using harrier::block;
using harrier::block_pool;

TEST_CASE("a block is 4 KiB, page-aligned and writable", "[block_pool]") {
  block_pool pool;
  block b = pool.acquire();
  REQUIRE(b);
  CHECK(b.size() == 4096);
  CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % 4096 == 0);
  std::fill(b.bytes().begin(), b.bytes().end(), std::byte{0xAB});
  CHECK(b.data()[4095] == std::byte{0xAB});
}

TEST_CASE("a released block returns to its pool and is handed out again", "[block_pool]") {
  block_pool pool;
  std::byte* first = nullptr;
  {
    block b = pool.acquire();
    first = b.data();
    CHECK(pool.stats().blocks_in_use() == 1);
  }
  CHECK(pool.stats().blocks_in_use() == 0);
  block again = pool.acquire();
  CHECK(again.data() == first);  // LIFO: the warmest block first
}

TEST_CASE("moving a block transfers ownership; reset returns it", "[block_pool]") {
  block_pool pool;
  block a = pool.acquire();
  block b = std::move(a);
  CHECK_FALSE(a);  // NOLINT(bugprone-use-after-move)
  CHECK(b);
  CHECK(pool.stats().blocks_in_use() == 1);
  b.reset();
  CHECK_FALSE(b);
  CHECK(pool.stats().blocks_in_use() == 0);
}

TEST_CASE("the pool grows by slabs and never hands one block out twice", "[block_pool]") {
  block_pool pool;
  std::vector<block> held;
  std::set<std::byte*> seen;
  for (std::size_t i = 0; i < 3 * harrier::k_blocks_per_slab + 1; ++i) {
    held.push_back(pool.acquire());
    CHECK(seen.insert(held.back().data()).second);
  }
  CHECK(pool.stats().slabs == 4);
  held.clear();
  CHECK(pool.stats().blocks_free == pool.stats().blocks_total);
}

TEST_CASE("concurrent acquire and release never share a block between holders", "[block_pool]") {
  block_pool pool;
  constexpr int k_threads = 4;
  constexpr int k_rounds = 2000;
  std::atomic<int> collisions{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<block> mine;
      for (int r = 0; r < k_rounds; ++r) {
        mine.push_back(pool.acquire());
        // Stamp the block with our id; if anyone else holds it, their stamp will differ.
        auto* stamp = reinterpret_cast<int*>(mine.back().data());
        *stamp = t;
        if (mine.size() == 8) {
          for (block& b : mine) {
            if (*reinterpret_cast<int*>(b.data()) != t) ++collisions;
          }
          mine.clear();
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(collisions == 0);
  CHECK(pool.stats().blocks_in_use() == 0);
}

TEST_CASE("the shared pool's thread caches count as free and never share a block", "[block_pool]") {
  block_pool& pool = block_pool::shared();
  const std::size_t in_use_before = pool.stats().blocks_in_use();
  constexpr int k_threads = 4;
  constexpr int k_rounds = 2000;
  std::atomic<int> collisions{0};
  std::vector<block> handed_over;  // released on this thread, acquired on others
  std::mutex handed_mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<block> mine;
      for (int r = 0; r < k_rounds; ++r) {
        mine.push_back(pool.acquire());
        *reinterpret_cast<int*>(mine.back().data()) = t;
        if (mine.size() == block_pool::k_thread_cache_blocks + 3) {  // overflows the cache
          for (block& b : mine) {
            if (*reinterpret_cast<int*>(b.data()) != t) ++collisions;
          }
          std::lock_guard lock(handed_mutex);
          handed_over.push_back(std::move(mine.back()));  // freed by another thread
          mine.clear();
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(collisions == 0);
  handed_over.clear();
  // The exited threads' caches went back to the pool; this thread's cache counts as free.
  CHECK(pool.stats().blocks_in_use() == in_use_before);
  {
    block b = pool.acquire();
    CHECK(pool.stats().blocks_in_use() == in_use_before + 1);
  }
  CHECK(pool.stats().blocks_in_use() == in_use_before);
}
