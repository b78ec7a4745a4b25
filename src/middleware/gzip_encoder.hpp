#pragma once
// Streaming gzip (RFC 1952) through zlib, and Accept-Encoding negotiation (RFC 9110 12.5.3), for
// the response-compression middleware (internal).
//
// The encoder keeps one zlib stream (about 256 KiB at windowBits 15, memLevel 8); reset() starts
// a new, independent gzip stream on the same memory.

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace harrier::detail {

class gzip_encoder {
 public:
  // level: zlib's 1 (fast) .. 9 (small); 6 is zlib's default. Throws std::invalid_argument on a
  // level outside 1..9 and std::runtime_error when zlib cannot initialise (out of memory).
  explicit gzip_encoder(int level = 6);
  ~gzip_encoder();
  gzip_encoder(const gzip_encoder&) = delete;
  gzip_encoder& operator=(const gzip_encoder&) = delete;

  int level() const noexcept { return m_level; }
  // Compresses input, appending whatever output zlib produced so far to `out`.
  void write(std::span<const std::byte> input, std::string& out);
  // Flushes what was written so far so the peer can decode it (Z_SYNC_FLUSH), for streaming.
  void flush(std::string& out);
  // Ends the stream (trailer with CRC and size). No write after finish, until reset().
  void finish(std::string& out);
  // Makes the encoder ready for a new, independent stream (keeps its memory).
  void reset();

 private:
  void run(std::span<const std::byte> input, int mode, std::string& out);
  struct state;
  std::unique_ptr<state> m_state;
  int m_level;
};

// Content codings the middleware can produce.
enum class content_coding : unsigned char { identity, gzip, br };

std::string_view coding_name(content_coding coding) noexcept;

// Chooses the coding for a response from `offered` (the server's order of preference, without
// identity) given the request's Accept-Encoding:
// - no header: identity (RFC 9110 allows any coding then, but clients that decode send the
//   header, and servers conventionally do not compress without it);
// - the highest q-value wins; "x-gzip" is gzip; "*" stands for every coding not listed; q=0
//   refuses; among equal q-values the server's order decides;
// - identity wins when the client lists it with a higher q-value than the best coding;
// - malformed elements are ignored.
// Returns identity when nothing offered is acceptable.
content_coding choose_coding(std::optional<std::string_view> accept_encoding,
                             std::span<const content_coding> offered) noexcept;

// Whether Accept-Encoding allows gzip (choose_coding with gzip offered alone).
bool accepts_gzip(std::string_view accept_encoding) noexcept;

}  // namespace harrier::detail
