#include "middleware/brotli_encoder.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#if defined(HARRIER_HAVE_BROTLI)
#include <brotli/encode.h>
#endif

namespace harrier::detail {

#if defined(HARRIER_HAVE_BROTLI)

namespace {
BrotliEncoderState* as_state(void* p) noexcept {
  return static_cast<BrotliEncoderState*>(p);
}
}  // namespace

bool brotli_available() noexcept {
  return true;
}

brotli_encoder::brotli_encoder(int quality, int window_bits,
                               std::optional<std::uint64_t> size_hint) {
  if (quality < BROTLI_MIN_QUALITY || quality > BROTLI_MAX_QUALITY) {
    throw std::invalid_argument("brotli_encoder: quality must be 0..11, got " +
                                std::to_string(quality));
  }
  if (window_bits < BROTLI_MIN_WINDOW_BITS || window_bits > BROTLI_MAX_WINDOW_BITS) {
    throw std::invalid_argument("brotli_encoder: window bits must be 10..24, got " +
                                std::to_string(window_bits));
  }
  BrotliEncoderState* s = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
  if (s == nullptr) throw std::runtime_error("brotli_encoder: cannot create an encoder");
  m_state = s;
  BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, static_cast<std::uint32_t>(quality));
  BrotliEncoderSetParameter(s, BROTLI_PARAM_LGWIN, static_cast<std::uint32_t>(window_bits));
  if (size_hint) {
    // The hint is a 32-bit value; brotli only uses it to size buffers.
    const std::uint64_t hint = std::min<std::uint64_t>(*size_hint, 1u << 30);
    BrotliEncoderSetParameter(s, BROTLI_PARAM_SIZE_HINT, static_cast<std::uint32_t>(hint));
  }
}

brotli_encoder::~brotli_encoder() {
  BrotliEncoderDestroyInstance(as_state(m_state));
}

void brotli_encoder::run(std::span<const std::byte> input, int operation, std::string& out) {
  BrotliEncoderState* s = as_state(m_state);
  const auto op = static_cast<BrotliEncoderOperation>(operation);
  std::size_t avail_in = input.size();
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(input.data());
  std::size_t avail_out = 0;  // output is taken from the encoder's own buffer, without a copy
  do {
    if (!BrotliEncoderCompressStream(s, op, &avail_in, &next_in, &avail_out, nullptr, nullptr)) {
      throw std::logic_error("brotli_encoder: the encoder failed (write after finish?)");
    }
    while (BrotliEncoderHasMoreOutput(s)) {
      std::size_t size = 0;
      const std::uint8_t* data = BrotliEncoderTakeOutput(s, &size);
      out.append(reinterpret_cast<const char*>(data), size);
    }
  } while (avail_in > 0 || (op == BROTLI_OPERATION_FINISH && !BrotliEncoderIsFinished(s)));
}

void brotli_encoder::write(std::span<const std::byte> input, std::string& out) {
  if (input.empty()) return;
  run(input, BROTLI_OPERATION_PROCESS, out);
}
void brotli_encoder::flush(std::string& out) {
  run({}, BROTLI_OPERATION_FLUSH, out);
}
void brotli_encoder::finish(std::string& out) {
  run({}, BROTLI_OPERATION_FINISH, out);
}

#else  // !HARRIER_HAVE_BROTLI

bool brotli_available() noexcept {
  return false;
}

brotli_encoder::brotli_encoder(int, int, std::optional<std::uint64_t>) {
  throw std::logic_error("brotli_encoder: this build has no brotli (libbrotlienc not found)");
}
brotli_encoder::~brotli_encoder() = default;
void brotli_encoder::run(std::span<const std::byte>, int, std::string&) {}
void brotli_encoder::write(std::span<const std::byte>, std::string&) {}
void brotli_encoder::flush(std::string&) {}
void brotli_encoder::finish(std::string&) {}

#endif

}  // namespace harrier::detail
