#include <harrier/core/frame_allocator.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <type_traits>

#include "core/asan_poison.hpp"

namespace harrier {
namespace {

// Why the state is split in two (measured with callgrind on bench/middleware's pipeline, ~19
// frames per request): a thread_local with a destructor is reached through a guard on every
// access, which made allocate + deallocate cost ~75 instructions a frame. Here the hot state is a
// trivially constructible and destructible thread_local (zero-initialised, reached directly),
// and a second thread_local with a destructor is touched only once per thread, on first use, to
// hand the cache to the depot at thread exit.
//
// The fast paths test nothing but the list itself: allocate pops when the list is not empty;
// deallocate pushes while the class's budget (how many more frames it may keep) is not zero.
// Everything else (first use, recycling off, an empty or full class, the cache already released
// at thread exit) has a zero budget or an empty list and takes the slow path, which is where the
// depot is (below).

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

// The process-wide depot: per class, a stack of whole lists that threads gave up. A list keeps
// its own links; its first frame also carries the list's length and the link to the next list.
// One lock per class, taken once per list moved (a list is up to a class cache's worth of frames).
// constinit and trivially destructible, so it outlives every thread's cache: a thread that exits
// after main() returns can still give its lists back.
struct list_header {
  free_node node;  // the list's first link, as in a thread's list
  list_header* next_list;
  std::uint32_t length;
};
static_assert(sizeof(list_header) <= k_frame_size_class_bytes);

// Under AddressSanitizer a cached frame is poisoned except for its links (the header's bytes):
// LeakSanitizer does not follow pointers through poisoned memory, and would report every frame
// in the depot but the first of each list as leaked at exit.
constexpr std::size_t k_link_bytes = sizeof(list_header);
static_assert(k_link_bytes % 8 == 0);  // ASan poisons in 8-byte granules

struct depot_class {
  std::mutex lock;
  list_header* top = nullptr;
  std::size_t bytes = 0;
};
static_assert(std::is_trivially_destructible_v<depot_class>);
constinit depot_class g_depot[k_class_count]{};

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

std::uint32_t class_limit(std::size_t index) noexcept {
  return static_cast<std::uint32_t>(k_frame_cache_bytes_per_class / class_bytes(index));
}

// With the lists empty: each class may keep its limit, or nothing.
void set_budgets(frame_cache& c, bool keep) noexcept {
  for (std::size_t i = 0; i < k_class_count; ++i)
    c.budget[i] = keep ? class_limit(i) : 0;
}

// Frees a list of cached (poisoned) frames; returns how many.
std::uint64_t free_list(free_node* node, std::size_t index) noexcept {
  std::uint64_t n = 0;
  while (node != nullptr) {
    HARRIER_UNPOISON(node, class_bytes(index));
    free_node* next = node->next;
    ::operator delete(node, class_bytes(index));
    node = next;
    ++n;
  }
  return n;
}

// Gives the thread's list of the class to the depot (or frees it if the depot's class is full),
// leaving the thread an empty list with its whole budget.
void give_list(frame_cache& c, std::size_t index) noexcept {
  free_node* list = c.heads[index];
  const std::uint32_t length = class_limit(index) - c.budget[index];
  c.heads[index] = nullptr;
  c.budget[index] = class_limit(index);
  if (list == nullptr) return;
  const std::size_t bytes = std::size_t{length} * class_bytes(index);
  depot_class& d = g_depot[index];
  {
    std::lock_guard guard(d.lock);
    if (d.bytes + bytes <= k_frame_depot_bytes_per_class) {
      auto* header = reinterpret_cast<list_header*>(list);  // links are never poisoned
      header->next_list = d.top;
      header->length = length;
      d.top = header;
      d.bytes += bytes;
      ++c.stats.depot_puts;
      return;
    }
  }
  c.stats.heap_frees += free_list(list, index);
}

// Takes a list from the depot; its first frame is unpoisoned, the rest stay poisoned.
list_header* depot_take(frame_cache& c, std::size_t index) noexcept {
  depot_class& d = g_depot[index];
  std::lock_guard guard(d.lock);
  list_header* header = d.top;
  if (header == nullptr) return nullptr;
  HARRIER_UNPOISON(header, class_bytes(index));
  d.top = header->next_list;
  d.bytes -= std::size_t{header->length} * class_bytes(index);
  ++c.stats.depot_takes;
  return header;
}

// Frees the thread's cached frames (recycling turned off).
void release_lists(frame_cache& c) noexcept {
  for (std::size_t i = 0; i < k_class_count; ++i) {
    c.stats.heap_frees += free_list(c.heads[i], i);
    c.heads[i] = nullptr;
    c.budget[i] = 0;
  }
}

// At thread exit the lists go to the depot, and later frees (from other thread_local
// destructors) to the heap.
struct cache_reaper {
  ~cache_reaper() {
    frame_cache& c = t_cache;
    c.state = cache_state::released;
    for (std::size_t i = 0; i < k_class_count; ++i) {
      if (!c.recycling_off) give_list(c, i);  // with recycling off the lists are empty
      c.budget[i] = 0;
    }
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
// The class's list is empty: take one from the depot, else ask the heap.
[[gnu::noinline]] void* allocate_slow(std::size_t bytes) {
  frame_cache& c = t_cache;
  if (recycled_size(bytes)) {
    if (c.state == cache_state::unused) activate(c);
    if (c.state == cache_state::active && !c.recycling_off) {
      const std::size_t index = class_index(bytes);
      if (list_header* list = depot_take(c, index)) {
        c.heads[index] = list->node.next;
        c.budget[index] = class_limit(index) - (list->length - 1);
        ++c.stats.cache_hits;
        return list;
      }
    }
  }
  ++c.stats.heap_allocations;
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
  HARRIER_POISON(reinterpret_cast<std::byte*>(node) + k_link_bytes,
                 class_bytes(index) - k_link_bytes);
  return true;
}

// The class's list is full (or the cache is not in use yet): the list goes to the depot and
// the frame starts a new one.
[[gnu::noinline]] void deallocate_slow(void* frame, std::size_t bytes) noexcept {
  frame_cache& c = t_cache;
  if (recycled_size(bytes)) {
    const std::size_t index = class_index(bytes);
    if (c.state == cache_state::unused) {
      activate(c);
      if (keep(c, frame, index)) return;
    }
    if (c.state == cache_state::active && !c.recycling_off) {
      give_list(c, index);
      if (keep(c, frame, index)) return;
    }
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
  return allocate_slow(bytes);
}

void frame_allocator::deallocate(void* frame, std::size_t bytes) noexcept {
  if (frame == nullptr) return;
  if (recycled_size(bytes) && keep(t_cache, frame, class_index(bytes))) [[likely]] {
    return;
  }
  deallocate_slow(frame, bytes);
}

void frame_allocator::trim() noexcept {
  for (std::size_t i = 0; i < k_class_count; ++i) {
    list_header* top;
    {
      std::lock_guard guard(g_depot[i].lock);
      top = g_depot[i].top;
      g_depot[i].top = nullptr;
      g_depot[i].bytes = 0;
    }
    while (top != nullptr) {
      list_header* next = top->next_list;  // links are never poisoned
      free_list(&top->node, i);
      top = next;
    }
  }
}

frame_allocator_stats frame_allocator::thread_stats() noexcept {
  return t_cache.stats;
}

void frame_allocator::set_thread_recycling(bool enabled) noexcept {
  frame_cache& c = t_cache;
  const bool was_on = !c.recycling_off;
  c.recycling_off = !enabled;
  if (c.state == cache_state::unused) {
    activate(c);
  } else if (c.state == cache_state::active && was_on != enabled) {
    if (!enabled) release_lists(c);  // from now on every frame comes from the heap
    set_budgets(c, enabled);         // the lists are empty either way
  }
}

}  // namespace harrier
