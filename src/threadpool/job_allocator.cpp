// job_allocator: see include/harrier/threadpool/detail/job_allocator.hpp.

#include <harrier/threadpool/detail/job_allocator.hpp>

#include <array>
#include <cstdint>
#include <new>

namespace harrier::detail {
namespace {

constexpr std::size_t k_class_count = k_max_recycled_job_bytes / k_job_size_class_bytes;

struct free_node {
  free_node* next;
};

// The lists are constinit and trivially destructible, so the hot path reads them with no TLS
// initialisation guard; the object that frees them at thread exit is created on the first free
// that keeps a node (the slow path).
struct job_lists {
  free_node* head[k_class_count];
  std::uint32_t count[k_class_count];
  bool cleaner_registered;
  bool gone;  // the thread is exiting: no more caching
};
constinit thread_local job_lists t_lists{};

struct job_lists_cleaner {
  job_lists_cleaner() = default;
  job_lists_cleaner(const job_lists_cleaner&) = delete;
  job_lists_cleaner& operator=(const job_lists_cleaner&) = delete;
  ~job_lists_cleaner() {
    t_lists.gone = true;
    for (std::size_t i = 0; i < k_class_count; ++i) {
      const std::size_t bytes = (i + 1) * k_job_size_class_bytes;
      for (free_node* node = t_lists.head[i]; node != nullptr;) {
        free_node* next = node->next;
        ::operator delete(node, bytes);
        node = next;
      }
      t_lists.head[i] = nullptr;
      t_lists.count[i] = 0;
    }
  }
};

void register_cleaner() {
  thread_local job_lists_cleaner cleaner;
  t_lists.cleaner_registered = true;
}

constexpr std::size_t class_index(std::size_t bytes) noexcept {
  return (bytes + k_job_size_class_bytes - 1) / k_job_size_class_bytes - 1;
}

constexpr std::size_t rounded(std::size_t bytes) noexcept {
  return bytes > k_max_recycled_job_bytes ? bytes
                                          : (class_index(bytes) + 1) * k_job_size_class_bytes;
}

}  // namespace

void* job_allocate(std::size_t bytes) {
  if (bytes <= k_max_recycled_job_bytes) {
    const std::size_t index = class_index(bytes);
    if (free_node* node = t_lists.head[index]) {
      t_lists.head[index] = node->next;
      --t_lists.count[index];
      return node;
    }
  }
  return ::operator new(rounded(bytes));
}

void job_deallocate(void* node, std::size_t bytes) noexcept {
  if (bytes > k_max_recycled_job_bytes || t_lists.gone) {
    ::operator delete(node, rounded(bytes));
    return;
  }
  const std::size_t index = class_index(bytes);
  if ((t_lists.count[index] + 1) * rounded(bytes) > k_job_cache_bytes_per_class) {
    ::operator delete(node, rounded(bytes));
    return;
  }
  if (!t_lists.cleaner_registered) {
    try {
      register_cleaner();
    } catch (...) {  // no memory for the cleaner: do not cache
      ::operator delete(node, rounded(bytes));
      return;
    }
  }
  auto* free = static_cast<free_node*>(node);
  free->next = t_lists.head[index];
  t_lists.head[index] = free;
  ++t_lists.count[index];
}

}  // namespace harrier::detail
