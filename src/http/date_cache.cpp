// date_cache: IMF-fixdate formatting and the seqlock that publishes it.

#include <harrier/http/date_cache.hpp>

#include <cstring>
#include <ctime>

namespace harrier::http {

void format_imf_fixdate(std::chrono::system_clock::time_point time, char* out) noexcept {
  static constexpr const char* k_days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  auto two = [](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  std::memcpy(out, k_days[utc.tm_wday], 3);
  out[3] = ',';
  out[4] = ' ';
  two(out + 5, utc.tm_mday);
  out[7] = ' ';
  std::memcpy(out + 8, k_months[utc.tm_mon], 3);
  out[11] = ' ';
  const int year = utc.tm_year + 1900;
  two(out + 12, (year / 100) % 100);
  two(out + 14, year % 100);
  out[16] = ' ';
  two(out + 17, utc.tm_hour);
  out[19] = ':';
  two(out + 20, utc.tm_min);
  out[22] = ':';
  two(out + 23, utc.tm_sec);
  std::memcpy(out + 25, " GMT", 4);
}

date_cache::date_cache() {
  refresh(std::chrono::system_clock::now());
}

void date_cache::refresh(std::chrono::system_clock::time_point now) noexcept {
  char text[32] = {};
  format_imf_fixdate(now, text);
  std::uint64_t words[4];
  std::memcpy(words, text, sizeof(words));
  // Several writers may call this at once (each application's heartbeat refreshes the shared
  // cache). Only one may own the seqlock: the CAS from an even count to odd takes it; a writer
  // that finds a refresh in progress, or loses the race, leaves: the other one publishes a date
  // of the same second. (Two writers both incrementing once left the count odd for good, and
  // every reader spinning.)
  // ordering: seqlock writer without fences (ThreadSanitizer does not model them). The odd count
  // is ordered before the words because each word store is a release; the final even count is a
  // release store after them. The CAS is relaxed for the same reason.
  std::uint32_t sequence = m_sequence.load(std::memory_order_relaxed);
  if ((sequence & 1) != 0) return;
  if (!m_sequence.compare_exchange_strong(sequence, sequence + 1, std::memory_order_relaxed)) {
    return;
  }
  for (std::size_t i = 0; i < 4; ++i)
    m_words[i].store(words[i], std::memory_order_release);
  m_sequence.store(sequence + 2, std::memory_order_release);
  // ordering: release, after the words: a reader that sees these seconds copies those words or
  // later ones.
  m_seconds.store(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count(),
                  std::memory_order_release);
}

void date_cache::copy_to(char* out) const noexcept {
  std::uint64_t words[4];
  for (;;) {
    // ordering: seqlock reader. Acquire on the first count pairs with the writer's final release.
    // The words are acquire loads: if one saw a store of a refresh in progress, it also sees that
    // refresh's odd count, and the second count load (after it) cannot return an older value.
    const std::uint32_t before = m_sequence.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < 4; ++i)
      words[i] = m_words[i].load(std::memory_order_acquire);
    const std::uint32_t after = m_sequence.load(std::memory_order_relaxed);
    if (before == after && (before & 1) == 0) break;
  }
  std::memcpy(out, words, k_imf_fixdate_bytes);
}

std::chrono::system_clock::time_point date_cache::time() const noexcept {
  // ordering: acquire, pairs with refresh()'s release.
  return std::chrono::system_clock::time_point(
      std::chrono::seconds(m_seconds.load(std::memory_order_acquire)));
}

std::string date_cache::current() const {
  std::string value(k_imf_fixdate_bytes, '\0');
  copy_to(value.data());
  return value;
}

date_cache& date_cache::shared() noexcept {
  static date_cache cache;
  return cache;
}

}  // namespace harrier::http
