#include "middleware/gzip_encoder.hpp"

#include <zlib.h>

#include <cctype>
#include <stdexcept>

namespace harrier::detail {

struct gzip_encoder::state {
  z_stream stream{};
};

gzip_encoder::gzip_encoder(int level) : m_state(std::make_unique<state>()) {
  // windowBits 15 + 16 asks zlib for a gzip header and trailer instead of zlib's own.
  if (deflateInit2(&m_state->stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("gzip_encoder: zlib's deflateInit2 failed (out of memory?)");
  }
}

gzip_encoder::~gzip_encoder() {
  deflateEnd(&m_state->stream);
}

void gzip_encoder::run(std::span<const std::byte> input, int mode, std::string& out) {
  z_stream& z = m_state->stream;
  // zlib's API takes a non-const pointer but does not write through next_in.
  z.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(input.data()));
  z.avail_in = static_cast<uInt>(input.size());
  do {
    const std::size_t before = out.size();
    const std::size_t room = 16 * 1024;
    out.resize(before + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    z.avail_out = static_cast<uInt>(room);
    const int rc = deflate(&z, mode);
    out.resize(before + room - z.avail_out);
    if (rc == Z_STREAM_ERROR) throw std::logic_error("gzip_encoder: write after finish");
  } while (z.avail_out == 0 || z.avail_in > 0);
}

void gzip_encoder::write(std::span<const std::byte> input, std::string& out) {
  run(input, Z_NO_FLUSH, out);
}
void gzip_encoder::flush(std::string& out) {
  run({}, Z_SYNC_FLUSH, out);
}
void gzip_encoder::finish(std::string& out) {
  run({}, Z_FINISH, out);
}

bool accepts_gzip(std::string_view header) noexcept {
  bool gzip = false, gzip_listed = false, star = false;
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const std::size_t semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    while (!coding.empty() && coding.front() == ' ')
      coding.remove_prefix(1);
    while (!coding.empty() && coding.back() == ' ')
      coding.remove_suffix(1);
    bool zero = false;
    if (semi != std::string_view::npos) {
      std::string_view param = item.substr(semi + 1);
      while (!param.empty() && param.front() == ' ')
        param.remove_prefix(1);
      if (param.substr(0, 2) == "q=" || param.substr(0, 2) == "Q=") {
        param.remove_prefix(2);
        zero = !param.empty() && param.find_first_not_of("0. ") == std::string_view::npos;
      }
    }
    std::string lower;
    for (char c : coding)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (lower == "gzip" || lower == "x-gzip") {
      gzip_listed = true;
      gzip = !zero;
    } else if (lower == "*") {
      star = !zero;
    }
  }
  return gzip || (!gzip_listed && star);
}

}  // namespace harrier::detail
