#include <harrier/diagnostics/detail/sharded_cells.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <thread>
#include <vector>

using namespace harrier::diagnostics::detail;

TEST_CASE("a thread keeps the same shard for its whole life", "[sharded_cells]") {
  const std::size_t first = this_thread_shard();
  CHECK(first < k_shard_count);
  CHECK(this_thread_shard() == first);
}

TEST_CASE("consecutive new threads are spread over distinct shards", "[sharded_cells]") {
  std::set<std::size_t> shards;
  for (std::size_t t = 0; t < k_shard_count; ++t) {
    std::size_t shard = k_shard_count;
    std::thread([&shard] { shard = this_thread_shard(); }).join();
    shards.insert(shard);
  }
  CHECK(shards.size() == k_shard_count);  // round robin: no two of k_shard_count threads share
}

TEST_CASE("each shard row starts on its own cache line", "[sharded_cells]") {
  sharded_words words(3);
  for (std::size_t s = 0; s < k_shard_count; ++s) {
    CHECK(reinterpret_cast<std::uintptr_t>(words.row(s)) % k_cache_line_bytes == 0);
    if (s > 0) CHECK(words.row(s) - words.row(s - 1) >= 8);
  }
}

TEST_CASE("sums over shards add signed deltas in two's complement", "[sharded_cells]") {
  sharded_words words(1);
  words.row(0)[0].fetch_add(5);
  words.row(7)[0].fetch_add(static_cast<std::uint64_t>(std::int64_t{-8}));
  CHECK(static_cast<std::int64_t>(words.sum(0)) == -3);
}

TEST_CASE("adding to a double stored as bits accumulates", "[sharded_cells]") {
  std::atomic<std::uint64_t> word{0};
  add_double_bits(word, 0.25);
  add_double_bits(word, 0.5);
  CHECK(std::bit_cast<double>(word.load()) == 0.75);
}
