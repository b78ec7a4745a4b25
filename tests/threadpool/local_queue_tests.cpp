// local_queue: one owner pushing and popping against several thieves; every item exactly once.
// Run at the real capacity and at a shrunken one (8), which makes overflow and wrap-around common.

#include <harrier/threadpool/detail/local_queue.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

// Items are small integers encoded as pointers (never null: value + 1).
void* encode(std::uint32_t value) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(value) + 1);
}
std::uint32_t decode(void* item) {
  return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(item) - 1);
}

template <std::uint32_t Capacity>
void stress(std::uint32_t items, int thieves) {
  using queue = harrier::detail::local_queue<Capacity>;
  auto seen = std::make_unique<std::atomic<std::uint32_t>[]>(items);
  for (std::uint32_t i = 0; i < items; ++i)
    seen[i] = 0;
  std::atomic<std::uint32_t> taken{0};
  auto take = [&](void* item) {
    seen[decode(item)].fetch_add(1, std::memory_order_relaxed);
    taken.fetch_add(1, std::memory_order_relaxed);
  };

  queue owner_queue;
  std::mutex overflow_mutex;
  std::vector<void*> overflow;
  std::atomic<bool> done_pushing{false};

  std::vector<std::thread> threads;
  for (int t = 0; t < thieves; ++t) {
    threads.emplace_back([&] {
      queue mine;
      // Stops by itself: once the owner is done and every item is accounted for.
      while (!(done_pushing.load() && taken.load() == items)) {
        if (void* item = owner_queue.steal_half_into(mine)) {
          take(item);
          while (void* more = mine.pop())
            take(more);
        } else {
          std::this_thread::yield();
        }
      }
    });
  }

  for (std::uint32_t i = 0; i < items; ++i) {
    owner_queue.push(encode(i), [&](std::span<void* const> batch) {
      std::lock_guard lock(overflow_mutex);
      overflow.insert(overflow.end(), batch.begin(), batch.end());
    });
    if (i % 3 == 0) {
      if (void* item = owner_queue.pop()) take(item);
    }
  }
  while (void* item = owner_queue.pop())
    take(item);
  {
    std::lock_guard lock(overflow_mutex);
    for (void* item : overflow)
      take(item);
  }
  done_pushing = true;
  for (auto& t : threads)
    t.join();

  REQUIRE(taken.load() == items);
  std::uint32_t wrong = 0;
  for (std::uint32_t i = 0; i < items; ++i)
    wrong += seen[i].load() != 1;
  REQUIRE(wrong == 0);
  REQUIRE(owner_queue.empty());
}

}  // namespace

TEST_CASE("local queue gives every item exactly once to its owner and three thieves") {
  stress<256>(200'000, 3);
}

TEST_CASE("a shrunken local queue (capacity 8) overflows and wraps without losing items") {
  stress<8>(200'000, 3);
}

TEST_CASE("a full local queue moves half plus the new item to the overflow") {
  harrier::detail::local_queue<8> q;
  std::vector<void*> overflow;
  for (std::uint32_t i = 0; i < 9; ++i) {
    q.push(encode(i),
           [&](std::span<void* const> batch) { overflow.assign(batch.begin(), batch.end()); });
  }
  REQUIRE(overflow.size() == 5);
  REQUIRE(decode(overflow.front()) == 0);  // the oldest half leaves
  REQUIRE(decode(overflow.back()) == 8);
  REQUIRE(q.size() == 4);
  REQUIRE(decode(q.pop()) == 4);
}

TEST_CASE("a thief takes the older half and returns one to run") {
  harrier::detail::local_queue<16> victim;
  harrier::detail::local_queue<16> thief;
  for (std::uint32_t i = 0; i < 6; ++i)
    victim.push(encode(i), [](std::span<void* const>) {});
  void* first = victim.steal_half_into(thief);
  REQUIRE(first != nullptr);
  REQUIRE(decode(first) == 2);  // the last of the stolen three comes back to run
  REQUIRE(thief.size() == 2);
  REQUIRE(victim.size() == 3);
  REQUIRE(decode(victim.pop()) == 3);
  REQUIRE(thief.steal_half_into(victim) != nullptr);
}
