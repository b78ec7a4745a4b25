#pragma once
// date_cache: the `Date` header value, formatted once a second instead of once per response.
//
// As Kestrel's DateHeaderValueManager: the server's 1 s heartbeat calls refresh(now); responses
// copy the current value. The value is IMF-fixdate (RFC 9110 §5.6.7), always 29 characters, e.g.
// "Sun, 06 Nov 1994 08:49:37 GMT".
//
// Thread-safety: refresh() and copy_to() may run on different threads. The 29 bytes live in
// atomic words behind a sequence counter (a seqlock): a reader that overlaps a refresh retries, so
// no torn date ever leaves, and readers never take a lock. Writers may race (one heartbeat per
// application): one of them publishes, the others skip that refresh.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace harrier::http {

inline constexpr std::size_t k_imf_fixdate_bytes = 29;

class date_cache {
 public:
  // Starts with the current system time.
  date_cache();

  void refresh(std::chrono::system_clock::time_point now) noexcept;
  // Writes the 29 bytes of the current value to out.
  void copy_to(char* out) const noexcept;
  std::string current() const;
  // The current value as a time (whole seconds). A Date copied after this call is no earlier
  // (unless the system clock steps back): what a Last-Modified is clamped to (RFC 9110 8.8.2.1).
  std::chrono::system_clock::time_point time() const noexcept;

  // The process-wide cache that connections use by default.
  static date_cache& shared() noexcept;

 private:
  std::atomic<std::uint32_t> m_sequence{0};
  std::array<std::atomic<std::uint64_t>, 4> m_words{};
  std::atomic<std::int64_t> m_seconds{0};  // since the epoch, of the published words
};

// Formats `time` as IMF-fixdate into out (29 bytes).
void format_imf_fixdate(std::chrono::system_clock::time_point time, char* out) noexcept;

}  // namespace harrier::http
