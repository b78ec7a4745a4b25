#include "middleware/gzip_encoder.hpp"

#include <zlib.h>
#include <catch2/catch.hpp>

#include <string>

using harrier::detail::accepts_gzip;
using harrier::detail::gzip_encoder;

namespace {

std::string gunzip(const std::string& compressed) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  inflateEnd(&z);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

}  // namespace

TEST_CASE("gzip output round-trips through zlib and is smaller for text", "[compression]") {
  std::string text;
  for (int i = 0; i < 2000; ++i)
    text += "Hello, World! ";
  gzip_encoder encoder;
  std::string out;
  encoder.write(bytes(text.substr(0, 1000)), out);
  encoder.flush(out);
  encoder.write(bytes(text.substr(1000)), out);
  encoder.finish(out);
  CHECK(out.size() < text.size() / 10);
  CHECK(static_cast<unsigned char>(out[0]) == 0x1f);  // gzip magic
  CHECK(static_cast<unsigned char>(out[1]) == 0x8b);
  CHECK(gunzip(out) == text);
}

TEST_CASE("Accept-Encoding negotiation honours q-values and the wildcard", "[compression]") {
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("gzip, deflate, br"));
  CHECK(accepts_gzip("deflate, GZIP;q=0.5"));
  CHECK(accepts_gzip("*"));
  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("br, deflate"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0.0, *"));
  CHECK_FALSE(accepts_gzip("*;q=0"));
  CHECK(accepts_gzip("identity, *;q=1"));
}
