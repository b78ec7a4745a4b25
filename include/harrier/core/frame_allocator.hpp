#pragma once
// Recycling allocator for coroutine frames.
//
// A request passes through a dozen coroutines (connection loop, parser, middleware, handler), each
// with a frame of a few hundred bytes. Sending every one of them through malloc costs more than the
// work they do, so task frames come from per-thread free lists, one per size class.
//
// Contract:
// - allocate() is safe on any thread; deallocate() may run on a different thread than allocate():
//   the block then joins the freeing thread's cache. Frames migrate with their work; the caches are
//   bounded, so migration cannot make memory grow without limit.
// - Sizes are rounded up to k_frame_size_class_bytes; frames larger than k_max_recycled_frame_bytes
//   go straight to operator new.
// - Each thread keeps at most k_frame_cache_bytes_per_class bytes per class. A thread whose class
//   is full moves the whole list to a process-wide depot, and a thread whose class is empty takes
//   a list from it before it asks the heap, so frames made on one thread and freed on another
//   (a handler resumed on another pool worker) come back without malloc. The depot keeps at most
//   k_frame_depot_bytes_per_class bytes per class; beyond that frames are freed.
// - A thread's cache goes to the depot when the thread exits; trim() frees the depot.
// - Under AddressSanitizer cached frames are poisoned (but for their first 24 bytes, the cache's
//   links), so a use after free is still reported.

#include <cstddef>
#include <cstdint>

namespace harrier {

// 64 bytes: one cache line, and the granularity at which GCC's frames for our tasks differ.
inline constexpr std::size_t k_frame_size_class_bytes = 64;
// Frames above 4 KiB are rare (large locals in a coroutine); they are not worth caching.
inline constexpr std::size_t k_max_recycled_frame_bytes = 4096;
// 32 KiB per class per thread: enough for ~128 frames of a typical 256-byte task; a guess, not
// tuned.
inline constexpr std::size_t k_frame_cache_bytes_per_class = 32 * 1024;
// 1 MiB per class for the whole process: the handler frames of ~1,000 requests in flight (the
// example server's pipeline frame is 896 bytes). Why a depot at all: at 1,000 connections on the
// io_uring pool, a request's frames were allocated on one worker and freed on the other often
// enough that malloc and free took ~1.6 % of the CPU (perf record, wrk -c1000 /plaintext).
inline constexpr std::size_t k_frame_depot_bytes_per_class = 1024 * 1024;

struct frame_allocator_stats {
  std::uint64_t heap_allocations = 0;  // served by operator new
  std::uint64_t cache_hits = 0;        // served from this thread's free lists
  std::uint64_t heap_frees = 0;        // to operator delete (depot full, recycling off, too big)
  std::uint64_t cached_frees = 0;      // kept in this thread's free lists
  std::uint64_t depot_takes = 0;       // lists taken from the depot (when a class ran empty)
  std::uint64_t depot_puts = 0;        // lists given to the depot (when a class was full)
};

class frame_allocator {
 public:
  static void* allocate(std::size_t bytes);
  static void deallocate(void* frame, std::size_t bytes) noexcept;

  // Counters of the calling thread, for tests and benchmarks.
  static frame_allocator_stats thread_stats() noexcept;

  // Turns recycling off (or on) for the calling thread: every frame then goes to the heap.
  // Benchmarks use it to measure what recycling saves.
  static void set_thread_recycling(bool enabled) noexcept;

  // Frees the frames the process-wide depot holds (the threads' own lists stay). For an
  // embedder that wants memory back after a peak, and for tests.
  static void trim() noexcept;
};

namespace detail {

// Base of every promise whose frames should be recycled. The sized operator delete is the one the
// compiler calls for coroutine frames, so no size header is stored.
struct frame_allocated {
  static void* operator new(std::size_t bytes) { return frame_allocator::allocate(bytes); }
  static void operator delete(void* frame, std::size_t bytes) noexcept {
    frame_allocator::deallocate(frame, bytes);
  }
};

}  // namespace detail
}  // namespace harrier
