#pragma once
// job_allocator: recycled nodes for callables posted to the thread pool.
//
// Why not frame_allocator: its per-thread cache holds 512 nodes of 64 bytes, sized for coroutine
// frames that mostly die on the thread that made them. Posted callables move: a worker posts a
// burst (a request fanning out, a loop spawning work), thieves run half of it and free those
// nodes on their own thread. A burst larger than the cache then goes to malloc on one side and
// free on the other (measured: 30 % of the spawn benchmark's time in malloc/free with a burst of
// 4000). This cache is deeper (k_job_cache_bytes_per_class per size class per thread), so a
// thread that frees a thief's share reuses it for its own next burst.
//
// Contract as frame_allocator's: allocate on any thread, free on any thread (the node joins the
// freeing thread's cache), bounded per thread, released at thread exit.

#include <cstddef>

namespace harrier::detail {

inline constexpr std::size_t k_job_size_class_bytes = 32;
inline constexpr std::size_t k_max_recycled_job_bytes = 256;
// 256 KiB per class per thread: 4096 nodes of 64 bytes. A guess sized by the benchmark's burst.
inline constexpr std::size_t k_job_cache_bytes_per_class = 256 * 1024;

void* job_allocate(std::size_t bytes);
void job_deallocate(void* node, std::size_t bytes) noexcept;

}  // namespace harrier::detail
