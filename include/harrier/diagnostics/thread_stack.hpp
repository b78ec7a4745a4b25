#pragma once
// thread_stack: the call stack of another thread of this process, for the blocking detector's
// warning ("this worker has run one item for 1.2 s; it is here: ...").
//
// How: a real-time signal (k_thread_stack_signal) is sent to the target with pthread_kill; its
// handler records backtrace() into a shared slot, and the caller symbolizes the frames (dladdr
// names, demangled; functions of the main executable are named only when it is linked with
// -rdynamic, otherwise they show as module+offset). One capture runs at a time (a mutex).
//
// Races survived: a target that does not run the handler within `timeout` (stopped, masked the
// signal) returns an empty result; the request is then revoked with a compare-exchange, so a
// handler that runs late writes nothing, or, if it already claimed the slot, is waited for.
// A target in a restartable system call resumes it (SA_RESTART); sleeps return early with EINTR,
// which std::this_thread::sleep_for and condition-variable waits absorb.
//
// Linux only. The handler is installed on first use and stays installed.

#include <chrono>
#include <string>
#include <vector>

#include <pthread.h>

namespace harrier::diagnostics {

// SIGRTMIN + 7: clear of glibc's internal real-time signals (below SIGRTMIN) and of the low
// SIGRTMIN+n values that libraries most often pick. A guess, not a registry; change if it clashes.
int thread_stack_signal() noexcept;

struct stack_frame {
  void* address = nullptr;
  std::string description;  // "function+0x1a (libfoo.so)" or "libfoo.so+0x1234"
};

// The frames of `target`, innermost first, without the signal-handling frames. Empty if the
// thread did not answer within timeout.
std::vector<stack_frame> capture_thread_stack(
    pthread_t target, std::chrono::milliseconds timeout = std::chrono::milliseconds(200));

// One frame per line, "  #0 description", for a log message.
std::string format_stack(const std::vector<stack_frame>& frames);

}  // namespace harrier::diagnostics
