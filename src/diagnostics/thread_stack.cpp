// capture_thread_stack: a signal handler fills one shared slot; see thread_stack.hpp.
//
// The slot's protocol, with `state` holding a request id (odd ids are never used, so 0 = idle):
//   requester: state = id (release) -> pthread_kill -> wait until state == id + 1 ("written")
//   handler:   CAS state id -> id | claimed; backtrace(); state = id + 1 (release)
//   timeout:   CAS state id -> 0 (revoked: a late handler's CAS fails, it writes nothing);
//              if that CAS fails the handler has claimed the slot: wait for it to finish.
// ordering: release on publishing the request and the result, acquire on reading them, so the
// frames written by the handler are visible to the requester.

#include <harrier/diagnostics/thread_stack.hpp>

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

namespace harrier::diagnostics {

namespace {

constexpr int k_max_frames = 64;
constexpr std::uint64_t k_claimed = 1ULL << 63;

struct capture_slot {
  std::atomic<std::uint64_t> state{0};
  void* frames[k_max_frames] = {};
  int count = 0;  // written by the handler between claim and publish
};

capture_slot g_slot;
std::mutex g_capture_mutex;  // one capture at a time

void on_stack_signal(int, siginfo_t*, void*) {
  const int saved_errno = errno;
  std::uint64_t id = g_slot.state.load(std::memory_order_acquire);
  if (id != 0 && (id & k_claimed) == 0 && (id & 1) == 0 &&
      g_slot.state.compare_exchange_strong(id, id | k_claimed, std::memory_order_acquire)) {
    g_slot.count = ::backtrace(g_slot.frames, k_max_frames);
    g_slot.state.store(id + 1, std::memory_order_release);
  }
  errno = saved_errno;
}

void install_handler_once() {
  static const bool installed = [] {
    // backtrace() loads libgcc's unwinder on first use, which is not safe inside a handler.
    void* warm[2];
    ::backtrace(warm, 2);
    struct sigaction action {};
    action.sa_sigaction = on_stack_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (::sigaction(thread_stack_signal(), &action, nullptr) != 0)
      throw std::runtime_error("capture_thread_stack: sigaction failed");
    return true;
  }();
  (void)installed;
}

std::string describe(void* address) {
  Dl_info info{};
  if (::dladdr(address, &info) == 0 || info.dli_fname == nullptr) return fmt::format("{}", address);
  const char* module = info.dli_fname;
  if (const char* slash = std::strrchr(module, '/')) module = slash + 1;
  const auto addr = reinterpret_cast<std::uintptr_t>(address);
  if (info.dli_sname == nullptr)
    return fmt::format("{}+{:#x}", module, addr - reinterpret_cast<std::uintptr_t>(info.dli_fbase));
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status), &std::free);
  const char* name = status == 0 && demangled ? demangled.get() : info.dli_sname;
  return fmt::format("{}+{:#x} ({})", name, addr - reinterpret_cast<std::uintptr_t>(info.dli_saddr),
                     module);
}

}  // namespace

int thread_stack_signal() noexcept {
  return SIGRTMIN + 7;
}

std::vector<stack_frame> capture_thread_stack(pthread_t target, std::chrono::milliseconds timeout) {
  install_handler_once();
  std::lock_guard lock(g_capture_mutex);
  static std::uint64_t next_id = 0;
  next_id += 2;  // even ids only; id + 1 marks "written"
  const std::uint64_t id = next_id;
  g_slot.state.store(id, std::memory_order_release);
  if (::pthread_kill(target, thread_stack_signal()) != 0) {
    g_slot.state.store(0, std::memory_order_relaxed);
    return {};
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (g_slot.state.load(std::memory_order_acquire) != id + 1) {
    if (std::chrono::steady_clock::now() >= deadline) {
      std::uint64_t expected = id;
      if (g_slot.state.compare_exchange_strong(expected, 0, std::memory_order_acq_rel))
        return {};  // revoked before the handler claimed it
      // Claimed: the handler is running backtrace() now; it finishes shortly.
      while (g_slot.state.load(std::memory_order_acquire) != id + 1)
        std::this_thread::yield();
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  std::vector<stack_frame> frames;
  // Skip the handler's own frame and the kernel's signal trampoline.
  constexpr int k_handler_frames = 2;
  for (int i = k_handler_frames; i < g_slot.count; ++i)
    frames.push_back(stack_frame{g_slot.frames[i], describe(g_slot.frames[i])});
  g_slot.state.store(0, std::memory_order_relaxed);
  return frames;
}

std::string format_stack(const std::vector<stack_frame>& frames) {
  std::string out;
  for (std::size_t i = 0; i < frames.size(); ++i)
    out += fmt::format("  #{} {}\n", i, frames[i].description);
  return out;
}

}  // namespace harrier::diagnostics
