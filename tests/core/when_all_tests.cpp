#include <harrier/core/sync_wait.hpp>
#include <harrier/core/task.hpp>
#include <harrier/core/when_all.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using harrier::sync_wait;
using harrier::task;
using harrier::when_all;

namespace {

task<int> value(int v) {
  co_return v;
}
task<std::string> text(std::string s) {
  co_return s;
}
task<void> nothing(int& counter) {
  ++counter;
  co_return;
}
task<int> fails(std::string message) {
  throw std::runtime_error(message);
  co_return 0;
}

// Suspends and is resumed by a separate thread: the children of when_all finish elsewhere.
struct resume_on_new_thread {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const {
    std::thread([h] { h.resume(); }).detach();
  }
  void await_resume() const noexcept {}
};

task<int> value_from_other_thread(int v) {
  co_await resume_on_new_thread{};
  co_return v;
}

}  // namespace

TEST_CASE("when_all over a tuple returns every result in order", "[when_all]") {
  int counter = 0;
  auto [a, b, c] = sync_wait(when_all(value(1), text("two"), nothing(counter)));
  CHECK(a == 1);
  CHECK(b == "two");
  CHECK(c == std::monostate{});
  CHECK(counter == 1);
}

TEST_CASE("when_all over a vector returns every result in order", "[when_all]") {
  std::vector<task<int>> tasks;
  for (int i = 0; i < 100; ++i)
    tasks.push_back(value(i));
  std::vector<int> results = sync_wait(when_all(std::move(tasks)));
  REQUIRE(results.size() == 100);
  for (int i = 0; i < 100; ++i)
    CHECK(results[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("when_all over a vector of void tasks runs them all", "[when_all]") {
  int counter = 0;
  std::vector<task<void>> tasks;
  for (int i = 0; i < 10; ++i)
    tasks.push_back(nothing(counter));
  sync_wait(when_all(std::move(tasks)));
  CHECK(counter == 10);
}

TEST_CASE("when_all over an empty vector completes at once", "[when_all]") {
  CHECK(sync_wait(when_all(std::vector<task<int>>{})).empty());
}

TEST_CASE("when_all waits for every child, then propagates the first failure", "[when_all]") {
  int counter = 0;
  std::vector<task<int>> tasks;
  tasks.push_back(value(1));
  tasks.push_back(fails("first"));
  tasks.push_back(fails("second"));
  CHECK_THROWS_WITH(sync_wait(when_all(std::move(tasks))), "first");

  auto with_void = [&]() -> task<void> {
    co_await when_all(value(1), fails("tuple failure"), nothing(counter));
  };
  CHECK_THROWS_WITH(sync_wait(with_void()), "tuple failure");
  CHECK(counter == 1);  // the child after the failing one still ran
}

TEST_CASE("when_all resumes the awaiter once children finish on other threads", "[when_all]") {
  std::vector<task<int>> tasks;
  for (int i = 0; i < 32; ++i)
    tasks.push_back(value_from_other_thread(i));
  std::vector<int> results = sync_wait(when_all(std::move(tasks)));
  REQUIRE(results.size() == 32);
  for (int i = 0; i < 32; ++i)
    CHECK(results[static_cast<std::size_t>(i)] == i);

  auto [x, y] = sync_wait(when_all(value_from_other_thread(5), value(6)));
  CHECK(x + y == 11);
}

TEST_CASE("when_all of many synchronous children uses constant stack", "[when_all]") {
  std::vector<task<int>> tasks;
  for (int i = 0; i < 200'000; ++i)
    tasks.push_back(value(1));
  std::vector<int> results = sync_wait(when_all(std::move(tasks)));
  CHECK(results.size() == 200'000);
}
