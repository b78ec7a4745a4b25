#include <harrier/core/frame_allocator.hpp>

#include <cstdint>
#include <new>

#include "core/asan_poison.hpp"

namespace harrier {
namespace {

// Why the state is split in two (measured with callgrind on bench/middleware's pipeline, ~19
// frames per request): a thread_local with a destructor is reached through a guard on every
// access, which made allocate + deallocate cost ~75 instructions a frame. Here the hot state is a
// trivially constructible and destructible thread_local (zero-initialised, reached directly),
// and a second thread_local with a destructor is touched only once per thread, on first use, to
// release the cache at thread exit.
//
// The fast paths test nothing but the list itself: allocate pops when the list is not empty;
// deallocate pushes while the class's budget (how many more frames it may keep) is not zero.
// Everything else (first use, recycling off, a full class, the cache already released at thread
// exit) has a zero budget or an empty list and takes the slow path.

constexpr std::size_t k_class_count = k_max_recycled_frame_bytes / k_frame_size_class_bytes;

struct free_node {
  free_node* next;
};

enum class cache_state : std::uint8_t { unused, active, released };

struct frame_cache {
  free_node* heads[k_class_count];
  std::uint32_t budget[k_class_count];  // frames the class may still keep
  frame_allocator_stats stats;
  cache_state state;
  bool recycling_off;
};

// constinit: initialised statically, so no access goes through a dynamic-initialisation guard.
constinit thread_local frame_cache t_cache{};

constexpr std::size_t class_index(std::size_t bytes) noexcept {
  return (bytes - 1) / k_frame_size_class_bytes;  // bytes in 1..k_max_recycled_frame_bytes
}
constexpr std::size_t class_bytes(std::size_t index) noexcept {
  return (index + 1) * k_frame_size_class_bytes;
}
constexpr bool recycled_size(std::size_t bytes) noexcept {
  return bytes - 1 < k_max_recycled_frame_bytes;  // 0 wraps around: not recycled
}
// What is actually asked of operator new, so that the sized delete always gets the same size.
constexpr std::size_t heap_bytes(std::size_t bytes) noexcept {
  return recycled_size(bytes) ? class_bytes(class_index(bytes)) : bytes;
}

void set_budgets(frame_cache& c, bool keep) noexcept {
  for (std::size_t i = 0; i < k_class_count; ++i) {
    std::uint32_t kept = 0;
    for (free_node* n = c.heads[i]; n != nullptr; n = n->next)
      ++kept;
    const auto limit = static_cast<std::uint32_t>(k_frame_cache_bytes_per_class / class_bytes(i));
    c.budget[i] = keep && kept < limit ? limit - kept : 0;
  }
}

// Frees the thread's cached frames at thread exit, and makes later frees (from other
// thread_local destructors) go to the heap.
void release_lists(frame_cache& c) noexcept {
  for (std::size_t i = 0; i < k_class_count; ++i) {
    free_node* node = c.heads[i];
    c.heads[i] = nullptr;
    c.budget[i] = 0;
    while (node != nullptr) {
      HARRIER_UNPOISON(node, class_bytes(i));
      free_node* next = node->next;
      ::operator delete(node, class_bytes(i));
      node = next;
    }
  }
}

struct cache_reaper {
  ~cache_reaper() {
    t_cache.state = cache_state::released;
    release_lists(t_cache);
  }
};

// First use on this thread: arm the reaper and hand out budgets.
void activate(frame_cache& c) {
  static thread_local cache_reaper reaper;
  (void)&reaper;
  c.state = cache_state::active;
  set_budgets(c, !c.recycling_off);
}

// The slow paths live out of line, so that the fast paths stay leaf functions.
[[gnu::noinline]] void* allocate_from_heap(std::size_t bytes) {
  ++t_cache.stats.heap_allocations;
  return ::operator new(heap_bytes(bytes));
}

// Keeps the frame in its class's list if the class may keep one more.
inline bool keep(frame_cache& c, void* frame, std::size_t index) noexcept {
  if (c.budget[index] == 0) return false;
  auto* node = static_cast<free_node*>(frame);
  node->next = c.heads[index];
  c.heads[index] = node;
  --c.budget[index];
  ++c.stats.cached_frees;
  HARRIER_POISON(node, class_bytes(index));
  return true;
}

[[gnu::noinline]] void deallocate_slow(void* frame, std::size_t bytes) noexcept {
  frame_cache& c = t_cache;
  if (recycled_size(bytes) && c.state == cache_state::unused) {
    activate(c);
    if (keep(c, frame, class_index(bytes))) return;
  }
  ++c.stats.heap_frees;
  ::operator delete(frame, heap_bytes(bytes));
}

}  // namespace

void* frame_allocator::allocate(std::size_t bytes) {
  if (recycled_size(bytes)) [[likely]] {
    frame_cache& c = t_cache;
    const std::size_t index = class_index(bytes);
    if (free_node* node = c.heads[index]) [[likely]] {
      HARRIER_UNPOISON(node, class_bytes(index));
      c.heads[index] = node->next;
      ++c.budget[index];
      ++c.stats.cache_hits;
      return node;
    }
  }
  return allocate_from_heap(bytes);
}

void frame_allocator::deallocate(void* frame, std::size_t bytes) noexcept {
  if (frame == nullptr) return;
  if (recycled_size(bytes) && keep(t_cache, frame, class_index(bytes))) [[likely]] {
    return;
  }
  deallocate_slow(frame, bytes);
}

frame_allocator_stats frame_allocator::thread_stats() noexcept {
  return t_cache.stats;
}

void frame_allocator::set_thread_recycling(bool enabled) noexcept {
  frame_cache& c = t_cache;
  c.recycling_off = !enabled;
  if (c.state == cache_state::unused) {
    activate(c);
  } else if (c.state == cache_state::active) {
    if (!enabled) release_lists(c);  // from now on every frame comes from the heap
    set_budgets(c, enabled);
  }
}

}  // namespace harrier
