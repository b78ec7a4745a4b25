#include <harrier/core/cancellation.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

using harrier::cancellation_registration;
using harrier::cancellation_source;
using harrier::cancellation_token;

TEST_CASE("a cancellation callback runs exactly once when cancellation is requested",
          "[cancellation]") {
  cancellation_source source;
  int calls = 0;
  cancellation_registration reg(source.token(), [&]() noexcept { ++calls; });
  CHECK(calls == 0);
  CHECK(source.request_cancellation());
  CHECK(calls == 1);
  CHECK_FALSE(source.request_cancellation());  // idempotent
  CHECK(calls == 1);
  CHECK(source.token().is_cancellation_requested());
}

TEST_CASE("a callback registered after cancellation runs at once, exactly once", "[cancellation]") {
  cancellation_source source;
  source.request_cancellation();
  int calls = 0;
  {
    cancellation_registration reg(source.token(), [&]() noexcept { ++calls; });
    CHECK(calls == 1);
    source.request_cancellation();
  }
  CHECK(calls == 1);
}

TEST_CASE("a destroyed registration's callback never runs", "[cancellation]") {
  cancellation_source source;
  int calls = 0;
  {
    cancellation_registration reg(source.token(), [&]() noexcept { ++calls; });
  }
  source.request_cancellation();
  CHECK(calls == 0);
}

TEST_CASE("a default token is never cancelled and ignores registrations", "[cancellation]") {
  cancellation_token token;
  CHECK_FALSE(token.can_be_cancelled());
  CHECK_FALSE(token.is_cancellation_requested());
  int calls = 0;
  cancellation_registration reg(token, [&]() noexcept { ++calls; });
  CHECK(calls == 0);
  CHECK_NOTHROW(token.throw_if_cancellation_requested());
}

TEST_CASE("throw_if_cancellation_requested throws operation_cancelled", "[cancellation]") {
  cancellation_source source;
  source.request_cancellation();
  CHECK_THROWS_AS(source.token().throw_if_cancellation_requested(), harrier::operation_cancelled);
}

TEST_CASE("a function-pointer registration passes its context", "[cancellation]") {
  cancellation_source source;
  int hits = 0;
  cancellation_registration reg(
      source.token(), [](void* ctx) noexcept { ++*static_cast<int*>(ctx); }, &hits);
  source.request_cancellation();
  CHECK(hits == 1);
}

TEST_CASE("a registration that takes over its token's reference outlives every source",
          "[cancellation]") {
  int hits = 0;
  std::optional<cancellation_source> source(std::in_place);
  cancellation_token token = source->token();
  cancellation_registration reg(
      std::move(token), [](void* ctx) noexcept { ++*static_cast<int*>(ctx); }, &hits);
  CHECK_FALSE(token.can_be_cancelled());  // NOLINT(bugprone-use-after-move): taken over
  source->request_cancellation();
  CHECK(hits == 1);
  source.reset();  // the registration alone keeps the state now (ASan: no use after free)
  CHECK(hits == 1);
}

TEST_CASE("a callback may destroy its own registration", "[cancellation]") {
  cancellation_source source;
  std::optional<cancellation_registration> reg;
  int calls = 0;
  reg.emplace(source.token(), [&]() noexcept {
    ++calls;
    reg.reset();
  });
  source.request_cancellation();
  CHECK(calls == 1);
  CHECK_FALSE(reg.has_value());
}

TEST_CASE("every one of many callbacks runs exactly once under racing cancel and register",
          "[cancellation]") {
  for (int round = 0; round < 200; ++round) {
    cancellation_source source;
    constexpr int k_registrations = 64;
    std::vector<std::atomic<int>> calls(k_registrations);
    std::atomic<bool> go{false};
    std::thread registrar([&] {
      while (!go.load())
        std::this_thread::yield();
      std::vector<std::unique_ptr<cancellation_registration>> regs;
      for (int i = 0; i < k_registrations; ++i) {
        regs.push_back(std::make_unique<cancellation_registration>(
            source.token(), [&calls, i]() noexcept { calls[static_cast<std::size_t>(i)]++; }));
      }
      // Keep them alive until after cancellation has certainly happened.
      while (!source.is_cancellation_requested())
        std::this_thread::yield();
    });
    go = true;
    source.request_cancellation();
    registrar.join();
    for (auto& c : calls)
      CHECK(c.load() == 1);
  }
}

TEST_CASE("destroying a registration waits for its callback running on another thread",
          "[cancellation]") {
  cancellation_source source;
  std::atomic<bool> callback_started{false};
  std::atomic<bool> release_callback{false};
  std::atomic<bool> callback_finished{false};
  auto reg = std::make_unique<cancellation_registration>(source.token(), [&]() noexcept {
    callback_started = true;
    while (!release_callback.load())
      std::this_thread::yield();
    callback_finished = true;
  });
  std::thread canceller([&] { source.request_cancellation(); });
  while (!callback_started.load())
    std::this_thread::yield();

  std::atomic<bool> destroyed{false};
  std::thread destroyer([&] {
    reg.reset();  // must block until the callback returns
    destroyed = true;
  });
  // The destroyer cannot finish while the callback is held; releasing it lets both complete.
  CHECK_FALSE(destroyed.load());
  release_callback = true;
  destroyer.join();
  canceller.join();
  CHECK(callback_finished.load());
  CHECK(destroyed.load());
}

namespace {
void count_call(void* context) noexcept {
  ++*static_cast<int*>(context);
}
}  // namespace

TEST_CASE("a deferred registration waits for arm(), and runs its callback once armed",
          "[cancellation]") {
  cancellation_source source;
  int calls = 0;
  {
    // Never armed: a cancellation does not reach it, and it goes without touching the source.
    cancellation_registration reg(cancellation_registration::deferred, source.token(), &count_call,
                                  &calls);
    CHECK_FALSE(reg.is_cancellation_requested());
  }
  {
    cancellation_registration reg(cancellation_registration::deferred, source.token(), &count_call,
                                  &calls);
    reg.arm();
    CHECK(calls == 0);
    source.request_cancellation();
    CHECK(calls == 1);
    CHECK(reg.is_cancellation_requested());
  }
  CHECK(calls == 1);
}

TEST_CASE("a deferred registration armed after cancellation runs its callback at arm()",
          "[cancellation]") {
  cancellation_source source;
  int calls = 0;
  cancellation_registration reg(cancellation_registration::deferred, source.token(), &count_call,
                                &calls);
  source.request_cancellation();
  CHECK(calls == 0);  // not registered yet
  CHECK(reg.is_cancellation_requested());
  reg.arm();
  CHECK(calls == 1);
  reg.arm();  // once only
  CHECK(calls == 1);
}
