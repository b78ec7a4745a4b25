#pragma once
// Streaming gzip (RFC 1952) through zlib, and Accept-Encoding negotiation (internal; used by the
// response-compression middleware).

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace harrier::detail {

class gzip_encoder {
 public:
  // level: zlib's 1 (fast) .. 9 (small); 6 is zlib's default. Throws std::runtime_error when
  // zlib cannot initialise (out of memory).
  explicit gzip_encoder(int level = 6);
  ~gzip_encoder();
  gzip_encoder(const gzip_encoder&) = delete;
  gzip_encoder& operator=(const gzip_encoder&) = delete;

  // Compresses input, appending whatever output zlib produced so far to `out`.
  void write(std::span<const std::byte> input, std::string& out);
  // Flushes what was written so far so the peer can decode it (Z_SYNC_FLUSH), for streaming.
  void flush(std::string& out);
  // Ends the stream (trailer with CRC and size). No write after finish.
  void finish(std::string& out);

 private:
  void run(std::span<const std::byte> input, int mode, std::string& out);
  struct state;
  std::unique_ptr<state> m_state;
};

// Whether Accept-Encoding allows gzip: "gzip" or "*" with a non-zero q-value, and gzip not
// refused explicitly ("gzip;q=0").
bool accepts_gzip(std::string_view accept_encoding) noexcept;

}  // namespace harrier::detail
