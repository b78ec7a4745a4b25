#include "middleware/gzip_encoder.hpp"

#include <harrier/http/headers.hpp>

#include <zlib.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

namespace harrier::detail {

namespace {
// Output is appended in steps of this size at most; compressed output is smaller than its input,
// so one step usually suffices.
constexpr std::size_t k_max_output_step_bytes = 64 * 1024;
constexpr std::size_t k_min_output_step_bytes = 512;
}  // namespace

struct gzip_encoder::state {
  z_stream stream{};
};

gzip_encoder::gzip_encoder(int level) : m_state(std::make_unique<state>()), m_level(level) {
  if (level < 1 || level > 9) {
    throw std::invalid_argument("gzip_encoder: level must be 1..9, got " + std::to_string(level));
  }
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
  const std::size_t room =
      std::clamp(input.size() / 2 + 64, k_min_output_step_bytes, k_max_output_step_bytes);
  do {
    const std::size_t before = out.size();
    out.resize(before + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    z.avail_out = static_cast<uInt>(room);
    const int rc = deflate(&z, mode);
    out.resize(before + room - z.avail_out);
    if (rc == Z_STREAM_ERROR) throw std::logic_error("gzip_encoder: write after finish");
  } while (z.avail_out == 0 || z.avail_in > 0);
}

void gzip_encoder::write(std::span<const std::byte> input, std::string& out) {
  if (input.empty()) return;
  run(input, Z_NO_FLUSH, out);
}
void gzip_encoder::flush(std::string& out) {
  run({}, Z_SYNC_FLUSH, out);
}
void gzip_encoder::finish(std::string& out) {
  run({}, Z_FINISH, out);
}
void gzip_encoder::reset() {
  deflateReset(&m_state->stream);
}

std::string_view coding_name(content_coding coding) noexcept {
  switch (coding) {
    case content_coding::gzip:
      return "gzip";
    case content_coding::br:
      return "br";
    case content_coding::identity:
      break;
  }
  return "identity";
}

namespace {

// RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
// -1 when malformed.
int parse_qvalue(std::string_view v) noexcept {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return -1;
  int q = (v[0] - '0') * 1000;
  if (v.size() == 1) return q;
  if (v[1] != '.' || v.size() > 5) return -1;
  int scale = 100;
  for (char c : v.substr(2)) {
    if (c < '0' || c > '9') return -1;
    q += (c - '0') * scale;
    scale /= 10;
  }
  return q > 1000 ? -1 : q;
}

// The q-value of one element's parameters ("; q=0.5"); 1000 without one, -1 when malformed.
int element_weight(std::string_view params) noexcept {
  int q = 1000;
  while (!params.empty()) {
    const std::size_t semi = params.find(';');
    const std::string_view param = http::trim_ows(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    if (http::iequals(http::trim_ows(param.substr(0, eq)), "q"))
      q = parse_qvalue(http::trim_ows(param.substr(eq + 1)));
  }
  return q;
}

}  // namespace

content_coding choose_coding(std::optional<std::string_view> header,
                             std::span<const content_coding> offered) noexcept {
  if (!header) return content_coding::identity;
  // Weights in thousandths; -1 = not mentioned.
  int star = -1, identity = -1;
  std::array<int, 3> listed = {-1, -1, -1};  // indexed by content_coding
  std::string_view rest = *header;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const std::size_t semi = element.find(';');
    const std::string_view coding = http::trim_ows(element.substr(0, semi));
    const int q = element_weight(semi == std::string_view::npos ? std::string_view{}
                                                                : element.substr(semi + 1));
    if (coding.empty() || q < 0) continue;
    if (http::iequals(coding, "gzip") || http::iequals(coding, "x-gzip")) {
      listed[static_cast<std::size_t>(content_coding::gzip)] = q;
    } else if (http::iequals(coding, "br")) {
      listed[static_cast<std::size_t>(content_coding::br)] = q;
    } else if (http::iequals(coding, "identity")) {
      identity = q;
    } else if (coding == "*") {
      star = q;
    }
  }
  content_coding best = content_coding::identity;
  int best_q = 0;
  for (content_coding c : offered) {
    if (c == content_coding::identity) continue;
    const int explicit_q = listed[static_cast<std::size_t>(c)];
    const int q = explicit_q >= 0 ? explicit_q : std::max(star, 0);
    if (q > best_q) {  // strictly greater: ties keep the server's earlier choice
      best = c;
      best_q = q;
    }
  }
  if (best != content_coding::identity && identity > best_q) return content_coding::identity;
  return best;
}

bool accepts_gzip(std::string_view accept_encoding) noexcept {
  constexpr content_coding k_gzip_only[] = {content_coding::gzip};
  return choose_coding(accept_encoding, k_gzip_only) == content_coding::gzip;
}

}  // namespace harrier::detail
