#pragma once
// The workloads of the thread-pool benchmark, written once for any pool with post(callable).
//
// - spawn_rate: empty tasks spawned from inside the pool (roots each spawn `children` empty
//   items), items per second. Completion is counted per thread (see per_thread_counter).
// - fork_join_rate: parallel Fibonacci by continuation passing (every call is a task; the last
//   child to finish completes its parent), tasks per second. No sequential cutoff: this measures
//   the scheduler, not the arithmetic.
// - mixed_throughput: a closed loop of `in_flight` items, each spinning `cpu` then sleeping
//   `wait` (an unannotated blocking wait), reposting itself until stopped; items per second.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

namespace harrier::bench {

using clock_type = std::chrono::steady_clock;

class done_signal {
 public:
  void set() {
    std::lock_guard lock(m_mutex);
    m_done = true;
    m_cv.notify_all();
  }
  bool wait_for(std::chrono::seconds timeout) {
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, timeout, [this] { return m_done; });
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_done = false;
};

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

// Completed items, counted per thread on its own cache line (single writer, relaxed), so that
// counting does not bounce a line between the cores and favour a pool that runs everything on
// one thread. The measuring thread polls the sum.
class per_thread_counter {
 public:
  void increment() noexcept {
    thread_local std::size_t index = m_next.fetch_add(1, std::memory_order_relaxed) % k_slots;
    auto& slot = m_slots[index].value;
    slot.store(slot.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  std::uint64_t sum() const noexcept {
    std::uint64_t total = 0;
    for (const auto& s : m_slots)
      total += s.value.load(std::memory_order_relaxed);
    return total;
  }

 private:
  static constexpr std::size_t k_slots = 256;
  struct alignas(64) padded {
    std::atomic<std::uint64_t> value{0};
  };
  static inline std::atomic<std::size_t> m_next{0};
  padded m_slots[k_slots];
};

// One counter per benchmark run would need a fresh thread_local index per run; instead the
// counter is process-wide and each run measures its difference.
inline per_thread_counter& spawn_counter() {
  static per_thread_counter counter;
  return counter;
}

template <typename Pool>
double spawn_rate(Pool& pool, unsigned roots, unsigned children) {
  per_thread_counter& counter = spawn_counter();
  const std::uint64_t before = counter.sum();
  const std::uint64_t total = static_cast<std::uint64_t>(roots) * children;
  const auto start = clock_type::now();
  for (unsigned r = 0; r < roots; ++r) {
    pool.post([&pool, &counter, children] {
      for (unsigned c = 0; c < children; ++c)
        pool.post([&counter] { counter.increment(); });
    });
  }
  const auto deadline = start + std::chrono::seconds(60);
  while (counter.sum() - before < total) {
    if (clock_type::now() > deadline) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return static_cast<double>(total) / seconds_since(start);
}

namespace detail {

struct fib_node {
  fib_node* parent;
  std::atomic<int> pending{2};
  std::atomic<long> sum{0};
};

template <typename Pool>
struct fib_context {
  Pool& pool;
  done_signal done;
  std::atomic<long> result{0};
  std::atomic<std::uint64_t> tasks{0};

  void complete(fib_node* node, long value) {
    for (;;) {
      fib_node* parent = node->parent;
      delete node;
      if (parent == nullptr) {
        result.store(value);
        done.set();
        return;
      }
      parent->sum.fetch_add(value, std::memory_order_relaxed);
      if (parent->pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      node = parent;
      value = parent->sum.load(std::memory_order_relaxed);
    }
  }

  void fib(int n, fib_node* node) {
    tasks.fetch_add(1, std::memory_order_relaxed);
    if (n < 2) {
      complete(node, n);
      return;
    }
    auto* a = new fib_node{node};
    auto* b = new fib_node{node};
    pool.post([this, n, a] { fib(n - 1, a); });
    pool.post([this, n, b] { fib(n - 2, b); });
  }
};

}  // namespace detail

template <typename Pool>
double fork_join_rate(Pool& pool, int n, long expected) {
  detail::fib_context<Pool> context{pool};
  const auto start = clock_type::now();
  auto* root = new detail::fib_node{nullptr};
  pool.post([&context, n, root] { context.fib(n, root); });
  if (!context.done.wait_for(std::chrono::seconds(60))) return 0;
  const double seconds = seconds_since(start);
  if (context.result.load() != expected) return 0;
  return static_cast<double>(context.tasks.load()) / seconds;
}

inline void spin_for(std::chrono::microseconds duration) {
  const auto until = clock_type::now() + duration;
  while (clock_type::now() < until) {
  }
}

template <typename Pool>
double mixed_throughput(Pool& pool, unsigned in_flight, std::chrono::microseconds cpu,
                        std::chrono::microseconds wait, std::chrono::milliseconds duration) {
  struct state {
    Pool& pool;
    std::chrono::microseconds cpu;
    std::chrono::microseconds wait;
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> completed{0};
    std::atomic<unsigned> live{0};
    done_signal all_stopped;

    void item() {
      spin_for(cpu);
      std::this_thread::sleep_for(wait);
      completed.fetch_add(1, std::memory_order_relaxed);
      if (stop.load(std::memory_order_relaxed)) {
        if (live.fetch_sub(1, std::memory_order_acq_rel) == 1) all_stopped.set();
        return;
      }
      pool.post([this] { item(); });
    }
  };
  state s{pool, cpu, wait};
  s.live = in_flight;
  const auto start = clock_type::now();
  for (unsigned i = 0; i < in_flight; ++i)
    pool.post([&s] { s.item(); });
  std::this_thread::sleep_for(duration);
  const std::uint64_t completed = s.completed.load();
  const double seconds = seconds_since(start);
  s.stop = true;
  s.all_stopped.wait_for(std::chrono::seconds(60));
  return static_cast<double>(completed) / seconds;
}

}  // namespace harrier::bench
