#pragma once
// Streaming brotli (RFC 7932) through libbrotlienc, for the response-compression middleware
// (internal). Compiled in only when the build found libbrotlienc and defines HARRIER_HAVE_BROTLI;
// otherwise brotli_available() is false and constructing an encoder throws std::logic_error.
//
// libbrotlienc 1.0.9 (bookworm) has no reset, so an encoder serves one stream.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace harrier::detail {

// Whether this build can produce brotli.
bool brotli_available() noexcept;

class brotli_encoder {
 public:
  // quality: 0 (fast) .. 11 (small). window_bits: log2 of the sliding window, 10..24.
  // size_hint: the input's total size when known, which lets brotli size its buffers to it.
  // Throws std::invalid_argument on a bad quality or window, std::runtime_error when the encoder
  // cannot be created, std::logic_error when brotli is not compiled in.
  brotli_encoder(int quality, int window_bits, std::optional<std::uint64_t> size_hint = {});
  ~brotli_encoder();
  brotli_encoder(const brotli_encoder&) = delete;
  brotli_encoder& operator=(const brotli_encoder&) = delete;

  void write(std::span<const std::byte> input, std::string& out);
  // Emits what lets the peer decode everything written so far.
  void flush(std::string& out);
  // Ends the stream; no write after it.
  void finish(std::string& out);

 private:
  void run(std::span<const std::byte> input, int operation, std::string& out);
  void* m_state = nullptr;  // BrotliEncoderState*, kept out of this header
};

}  // namespace harrier::detail
