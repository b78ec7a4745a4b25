// timer_heap: the per-I/O-thread timer structure, tested alone (no threads, no clock).

#include <harrier/net/detail/io_operation.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

#include "net/timer_heap.hpp"

using harrier::net::detail::io_operation;
using harrier::net::detail::op_kind;
using harrier::net::detail::timer_heap;

namespace {

struct timers {
  std::deque<io_operation> ops;
  io_operation& make(std::int64_t deadline) {
    io_operation& op =
        ops.emplace_back(op_kind::timer, nullptr, nullptr, harrier::cancellation_token{});
    op.timer = {deadline, 0, 0};
    return op;
  }
};

}  // namespace

TEST_CASE("timer_heap pops by deadline, equal deadlines in arrival order", "[net][timer_heap]") {
  timers t;
  timer_heap heap;
  std::mt19937 rng(1);
  std::vector<io_operation*> pushed;
  for (int i = 0; i < 500; ++i) {
    io_operation& op = t.make(static_cast<std::int64_t>(rng() % 50));
    heap.push(&op);
    pushed.push_back(&op);
  }
  std::vector<io_operation*> popped;
  while (!heap.empty())
    popped.push_back(heap.pop());
  REQUIRE(popped.size() == pushed.size());
  for (std::size_t i = 1; i < popped.size(); ++i) {
    const auto& a = popped[i - 1]->timer;
    const auto& b = popped[i]->timer;
    CHECK((a.deadline_ns < b.deadline_ns ||
           (a.deadline_ns == b.deadline_ns && a.sequence < b.sequence)));
  }
}

TEST_CASE("timer_heap removes any timer and keeps the order of the rest", "[net][timer_heap]") {
  timers t;
  timer_heap heap;
  std::mt19937 rng(2);
  std::vector<io_operation*> live;
  for (int i = 0; i < 300; ++i) {
    io_operation& op = t.make(static_cast<std::int64_t>(rng() % 1000));
    heap.push(&op);
    live.push_back(&op);
  }
  std::shuffle(live.begin(), live.end(), rng);
  for (int i = 0; i < 150; ++i) {
    heap.remove(live.back());
    live.pop_back();
  }
  std::sort(live.begin(), live.end(), [](io_operation* a, io_operation* b) {
    return a->timer.deadline_ns != b->timer.deadline_ns
               ? a->timer.deadline_ns < b->timer.deadline_ns
               : a->timer.sequence < b->timer.sequence;
  });
  std::vector<io_operation*> popped;
  while (!heap.empty())
    popped.push_back(heap.pop());
  CHECK(popped == live);
}
