#include <harrier/core/frame_allocator.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/core/task.hpp>

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

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

TEST_CASE(
    "a thread keeps a bounded list per class; a full list goes to the depot, which is "
    "bounded too, and the rest is freed",
    "[frame_allocator]") {
  std::thread([] {
    constexpr std::size_t k_bytes = 4096;  // 8 fit into a 32 KiB class cache
    constexpr std::size_t k_local = harrier::k_frame_cache_bytes_per_class / k_bytes;
    constexpr std::size_t k_depot = harrier::k_frame_depot_bytes_per_class / k_bytes;
    constexpr std::size_t k_frames = k_depot + 100;
    frame_allocator::trim();  // lists other tests' threads left in the depot
    std::vector<void*> frames;
    for (std::size_t i = 0; i < k_frames; ++i)
      frames.push_back(frame_allocator::allocate(k_bytes));
    const auto before = frame_allocator::thread_stats();
    for (void* f : frames)
      frame_allocator::deallocate(f, k_bytes);
    const auto after = frame_allocator::thread_stats();
    // Every frame is kept in the thread's list; each time the list is full (k_local frames) it
    // goes to the depot while the depot has room, and is freed after that.
    CHECK(after.cached_frees - before.cached_frees == k_frames);
    CHECK(after.depot_puts - before.depot_puts == k_depot / k_local);
    CHECK(after.heap_frees - before.heap_frees ==
          (k_frames - 1) / k_local * k_local - k_depot);  // the full lists the depot refused
    frame_allocator::trim();
  }).join();
}

TEST_CASE("frames freed on another thread come back through the depot, not the heap",
          "[frame_allocator]") {
  // A pool's handler frame is made on one worker and, when the handler was suspended and resumed
  // elsewhere, freed on another: the frames must find their way back to the thread that makes
  // them.
  constexpr std::size_t k_bytes = 2900;  // a class no other test uses: 2,944 bytes, 11 per list
  constexpr std::size_t k_local = harrier::k_frame_cache_bytes_per_class / 2944;
  constexpr int k_frames = 200;
  frame_allocator::trim();
  std::vector<void*> frames;
  harrier::frame_allocator_stats maker_first{}, maker_second{}, freer{};
  std::thread maker([&] {
    const auto start = frame_allocator::thread_stats();
    for (int i = 0; i < k_frames; ++i)
      frames.push_back(frame_allocator::allocate(k_bytes));
    maker_first = frame_allocator::thread_stats();
    maker_first.heap_allocations -= start.heap_allocations;
  });
  maker.join();
  std::thread([&] {
    for (void* f : frames)
      frame_allocator::deallocate(f, k_bytes);
    freer = frame_allocator::thread_stats();
  }).join();
  frames.clear();
  std::thread([&] {
    const auto start = frame_allocator::thread_stats();
    for (int i = 0; i < k_frames; ++i)
      frames.push_back(frame_allocator::allocate(k_bytes));
    maker_second = frame_allocator::thread_stats();
    maker_second.heap_allocations -= start.heap_allocations;
    maker_second.depot_takes -= start.depot_takes;
    for (void* f : frames)
      frame_allocator::deallocate(f, k_bytes);
  }).join();
  CHECK(maker_first.heap_allocations == k_frames);
  CHECK(freer.heap_frees == 0);
  // The freeing thread gave all but its last (partly filled) list to the depot, and its exit gave
  // that one too: the second round needs no heap at all.
  CHECK(freer.depot_puts == (k_frames - 1) / k_local);
  CHECK(maker_second.heap_allocations == 0);
  CHECK(maker_second.depot_takes == (k_frames + k_local - 1) / k_local);
  frame_allocator::trim();
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
