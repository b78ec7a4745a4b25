#pragma once
// A futex wait with a timeout on a 32-bit atomic. std::atomic::wait has no timeout, and an idle
// worker must wake after idle_timeout to exit, so the Linux call is made directly.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace harrier::detail {

// Sleeps while word == expected, at most `timeout` (negative: forever). Spurious returns are
// allowed; callers re-check their condition.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept;
void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept;
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;

}  // namespace harrier::detail
