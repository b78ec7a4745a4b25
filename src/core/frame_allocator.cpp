#include <harrier/core/frame_allocator.hpp>

#include <array>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define HARRIER_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define HARRIER_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define HARRIER_POISON(p, n) ((void)(p), (void)(n))
#define HARRIER_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace harrier {
namespace {

constexpr std::size_t k_class_count = k_max_recycled_frame_bytes / k_frame_size_class_bytes;

// Set when this thread's cache has been destroyed at thread exit: frames freed by later
// thread_local destructors then go straight to the heap. A bool has no destructor, so it stays
// valid.
thread_local bool t_cache_destroyed = false;

struct free_node {
  free_node* next;
};

// One per thread. Plain (non-atomic) state: only its own thread touches it.
struct frame_cache {
  struct size_class {
    free_node* head = nullptr;
    std::size_t count = 0;
  };
  std::array<size_class, k_class_count> classes{};
  frame_allocator_stats stats{};
  bool recycling = true;

  frame_cache() = default;
  frame_cache(const frame_cache&) = delete;
  frame_cache& operator=(const frame_cache&) = delete;

  ~frame_cache() {
    t_cache_destroyed = true;
    for (std::size_t i = 0; i < k_class_count; ++i) {
      const std::size_t bytes = (i + 1) * k_frame_size_class_bytes;
      free_node* node = classes[i].head;
      while (node != nullptr) {
        HARRIER_UNPOISON(node, bytes);
        free_node* next = node->next;
        ::operator delete(node, bytes);
        node = next;
      }
    }
  }
};

frame_cache& this_thread_cache() noexcept {
  thread_local frame_cache cache;
  return cache;
}

constexpr std::size_t class_index(std::size_t bytes) noexcept {
  return (bytes + k_frame_size_class_bytes - 1) / k_frame_size_class_bytes - 1;
}

// What is actually asked of operator new, so that the sized delete always gets the same size.
constexpr std::size_t heap_bytes(std::size_t bytes) noexcept {
  if (bytes == 0 || bytes > k_max_recycled_frame_bytes) return bytes;
  return (class_index(bytes) + 1) * k_frame_size_class_bytes;
}

}  // namespace

void* frame_allocator::allocate(std::size_t bytes) {
  if (t_cache_destroyed) return ::operator new(heap_bytes(bytes));
  frame_cache& cache = this_thread_cache();
  if (bytes == 0 || bytes > k_max_recycled_frame_bytes) {
    ++cache.stats.heap_allocations;
    return ::operator new(bytes);
  }
  const std::size_t index = class_index(bytes);
  const std::size_t rounded = (index + 1) * k_frame_size_class_bytes;
  auto& cls = cache.classes[index];
  if (cls.head != nullptr) {
    free_node* node = cls.head;
    HARRIER_UNPOISON(node, rounded);
    cls.head = node->next;
    --cls.count;
    ++cache.stats.cache_hits;
    return node;
  }
  ++cache.stats.heap_allocations;
  return ::operator new(rounded);
}

void frame_allocator::deallocate(void* frame, std::size_t bytes) noexcept {
  if (frame == nullptr) return;
  if (t_cache_destroyed) {
    ::operator delete(frame, heap_bytes(bytes));
    return;
  }
  frame_cache& cache = this_thread_cache();
  if (bytes == 0 || bytes > k_max_recycled_frame_bytes) {
    ++cache.stats.heap_frees;
    ::operator delete(frame, bytes);
    return;
  }
  const std::size_t index = class_index(bytes);
  const std::size_t rounded = (index + 1) * k_frame_size_class_bytes;
  auto& cls = cache.classes[index];
  if (!cache.recycling || (cls.count + 1) * rounded > k_frame_cache_bytes_per_class) {
    ++cache.stats.heap_frees;
    ::operator delete(frame, rounded);
    return;
  }
  auto* node = static_cast<free_node*>(frame);
  node->next = cls.head;
  cls.head = node;
  ++cls.count;
  ++cache.stats.cached_frees;
  HARRIER_POISON(node, rounded);
}

frame_allocator_stats frame_allocator::thread_stats() noexcept {
  return this_thread_cache().stats;
}

void frame_allocator::set_thread_recycling(bool enabled) noexcept {
  this_thread_cache().recycling = enabled;
}

}  // namespace harrier
