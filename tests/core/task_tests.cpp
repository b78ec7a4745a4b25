#include <harrier/core/sync_wait.hpp>
#include <harrier/core/task.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>

using harrier::sync_wait;
using harrier::task;

namespace {

task<int> answer(bool& started) {
  started = true;
  co_return 42;
}

task<int> add_one(int x) {
  co_return x + 1;
}

task<int> chain(int depth) {
  int total = 0;
  for (int i = 0; i < depth; ++i)
    total = co_await add_one(total);
  co_return total;
}

task<void> throws_runtime_error() {
  throw std::runtime_error("boom");
  co_return;
}

task<int> nested_throw() {
  co_await throws_runtime_error();
  co_return 1;
}

task<std::unique_ptr<std::string>> move_only_result() {
  co_return std::make_unique<std::string>("moved");
}

int g_value = 7;
task<int&> reference_result() {
  co_return g_value;
}

task<long long> recursive_sum(long long n) {
  if (n == 0) co_return 0;
  co_return n + co_await recursive_sum(n - 1);
}

}  // namespace

TEST_CASE("a task does not start until it is awaited", "[task]") {
  bool started = false;
  task<int> t = answer(started);
  CHECK_FALSE(started);
  CHECK_FALSE(t.is_ready());
  CHECK(sync_wait(std::move(t)) == 42);
  CHECK(started);
}

TEST_CASE("a task that is destroyed without being awaited never runs its body", "[task]") {
  bool started = false;
  { task<int> t = answer(started); }
  CHECK_FALSE(started);
}

TEST_CASE("a task's value reaches the awaiter", "[task]") {
  CHECK(sync_wait(add_one(1)) == 2);
  CHECK(*sync_wait(move_only_result()) == "moved");
  int& ref = sync_wait(reference_result());
  CHECK(&ref == &g_value);
}

TEST_CASE("an exception thrown in a task is rethrown from co_await in the awaiter", "[task]") {
  CHECK_THROWS_WITH(sync_wait(nested_throw()), "boom");
}

TEST_CASE("awaiting an lvalue task leaves the result in the task", "[task]") {
  auto outer = []() -> task<int> {
    task<int> inner = add_one(9);
    int& first = co_await inner;
    int& again = co_await inner;  // already complete: same stored result
    co_return first + (&first == &again ? 0 : 1000);
  };
  CHECK(sync_wait(outer()) == 10);
}

TEST_CASE("awaiting an empty task throws logic_error", "[task]") {
  auto outer = []() -> task<void> {
    task<int> empty;
    co_await std::move(empty);
  };
  CHECK_THROWS_AS(sync_wait(outer()), std::logic_error);

  auto moved_from = []() -> task<void> {
    task<int> t = add_one(1);
    task<int> other = std::move(t);
    co_await std::move(t);  // NOLINT(bugprone-use-after-move): this is the point of the test
  };
  CHECK_THROWS_WITH(sync_wait(moved_from()), Catch::Contains("empty task"));
}

TEST_CASE("one million synchronously completing co_awaits in sequence do not overflow the stack",
          "[task]") {
  // Each co_await completes without suspending; with symmetric transfer the stack stays flat.
  CHECK(sync_wait(chain(1'000'000)) == 1'000'000);
}

TEST_CASE("a thousand levels of tasks awaiting tasks complete", "[task]") {
  CHECK(sync_wait(recursive_sum(1'000)) == 500'500LL);
}

TEST_CASE("a task is move-only", "[task]") {
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<task<int>>);
  STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<task<int>>);
  STATIC_REQUIRE(std::is_nothrow_move_constructible_v<task<int>>);
  STATIC_REQUIRE(std::is_nothrow_move_assignable_v<task<int>>);
}
