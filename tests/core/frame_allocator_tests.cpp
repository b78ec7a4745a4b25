#include <harrier/core/frame_allocator.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/core/task.hpp>

#include <catch2/catch.hpp>

#include <thread>

using harrier::frame_allocator;
using harrier::task;

namespace {

task<int> leaf(int x) {
  co_return x * 2;
}

task<int> request_like(int x) {
  int a = co_await leaf(x);
  int b = co_await leaf(a);
  co_return b;
}

}  // namespace

TEST_CASE("task frames are recycled: a steady loop stops allocating from the heap",
          "[frame_allocator]") {
  // Run on a fresh thread so that its counters start at zero.
  std::thread([] {
    // Warm up: the first round allocates each size class once.
    for (int i = 0; i < 10; ++i)
      harrier::sync_wait(request_like(i));
    const auto before = frame_allocator::thread_stats();
    for (int i = 0; i < 10'000; ++i)
      harrier::sync_wait(request_like(i));
    const auto after = frame_allocator::thread_stats();
    CHECK(after.heap_allocations == before.heap_allocations);
    CHECK(after.cache_hits - before.cache_hits >= 3 * 10'000);
  }).join();
}

TEST_CASE("a recycled frame is the same memory as the frame freed before it", "[frame_allocator]") {
  std::thread([] {
    void* first = frame_allocator::allocate(200);
    frame_allocator::deallocate(first, 200);
    void* second = frame_allocator::allocate(250);  // same 64-byte class (193..256 bytes)
    CHECK(second == first);
    frame_allocator::deallocate(second, 250);
  }).join();
}

TEST_CASE("frames of different size classes are not mixed", "[frame_allocator]") {
  std::thread([] {
    void* small = frame_allocator::allocate(64);
    frame_allocator::deallocate(small, 64);
    void* large = frame_allocator::allocate(1000);
    CHECK(large != small);
    frame_allocator::deallocate(large, 1000);
  }).join();
}

TEST_CASE("with recycling off every frame comes from the heap", "[frame_allocator]") {
  std::thread([] {
    frame_allocator::set_thread_recycling(false);
    harrier::sync_wait(request_like(1));
    const auto before = frame_allocator::thread_stats();
    for (int i = 0; i < 100; ++i)
      harrier::sync_wait(request_like(i));
    const auto after = frame_allocator::thread_stats();
    CHECK(after.cache_hits == before.cache_hits);
    CHECK(after.heap_allocations - before.heap_allocations >= 300);
  }).join();
}

TEST_CASE("the per-class cache is bounded and the excess is freed", "[frame_allocator]") {
  std::thread([] {
    constexpr std::size_t k_bytes = 4096;  // 8 fit into a 32 KiB class cache
    std::vector<void*> frames;
    for (int i = 0; i < 100; ++i)
      frames.push_back(frame_allocator::allocate(k_bytes));
    const auto before = frame_allocator::thread_stats();
    for (void* f : frames)
      frame_allocator::deallocate(f, k_bytes);
    const auto after = frame_allocator::thread_stats();
    CHECK(after.cached_frees - before.cached_frees ==
          harrier::k_frame_cache_bytes_per_class / k_bytes);
    CHECK(after.heap_frees - before.heap_frees ==
          100 - harrier::k_frame_cache_bytes_per_class / k_bytes);
  }).join();
}

TEST_CASE("frames larger than the largest class bypass the cache", "[frame_allocator]") {
  std::thread([] {
    const auto before = frame_allocator::thread_stats();
    void* big = frame_allocator::allocate(harrier::k_max_recycled_frame_bytes + 1);
    frame_allocator::deallocate(big, harrier::k_max_recycled_frame_bytes + 1);
    const auto after = frame_allocator::thread_stats();
    CHECK(after.heap_allocations - before.heap_allocations == 1);
    CHECK(after.heap_frees - before.heap_frees == 1);
  }).join();
}
