#include <harrier/diagnostics/thread_stack.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace harrier::diagnostics;
using namespace std::chrono_literals;

TEST_CASE("the stack of a thread blocked in a sleep names the sleep", "[thread_stack]") {
  std::atomic<bool> release{false};
  std::atomic<bool> sleeping{false};
  std::thread blocked([&] {
    sleeping = true;
    while (!release)
      std::this_thread::sleep_for(50ms);  // survives EINTR by looping anyway
  });
  while (!sleeping)
    std::this_thread::yield();
  std::this_thread::sleep_for(10ms);  // let it enter the sleep; the capture works either way
  const std::vector<stack_frame> frames = capture_thread_stack(blocked.native_handle(), 2s);
  release = true;
  blocked.join();
  REQUIRE(frames.size() >= 2);
  const std::string text = format_stack(frames);
  INFO(text);
  CHECK(text.find("sleep") != std::string::npos);
  CHECK(text.rfind("  #0 ", 0) == 0);
}

TEST_CASE("a thread that blocks the signal yields an empty stack after the timeout",
          "[thread_stack]") {
  std::mutex mutex;
  std::condition_variable cv;
  bool ready = false;
  bool done = false;
  std::thread masked([&] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, thread_stack_signal());
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::unique_lock lock(mutex);
    ready = true;
    cv.notify_all();
    cv.wait_for(lock, 10s, [&] { return done; });
  });
  {
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, 5s, [&] { return ready; }));
  }
  const auto before = std::chrono::steady_clock::now();
  CHECK(capture_thread_stack(masked.native_handle(), 50ms).empty());
  CHECK(std::chrono::steady_clock::now() - before < 2s);
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  cv.notify_all();
  masked.join();  // the pending signal is delivered harmlessly: the request was revoked

  // The slot is free again for the next capture.
  std::atomic<bool> stop{false};
  std::thread other([&] {
    while (!stop)
      std::this_thread::sleep_for(5ms);
  });
  CHECK_FALSE(capture_thread_stack(other.native_handle(), 2s).empty());
  stop = true;
  other.join();
}
