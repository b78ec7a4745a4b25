#include "middleware/gzip_encoder.hpp"

#include <zlib.h>
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using harrier::detail::accepts_gzip;
using harrier::detail::choose_coding;
using harrier::detail::content_coding;
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

TEST_CASE("a reset gzip encoder starts a new, independent stream", "[compression]") {
  gzip_encoder encoder(4);
  CHECK(encoder.level() == 4);
  std::string first, second;
  encoder.write(bytes("first stream"), first);
  encoder.finish(first);
  encoder.reset();
  encoder.write(bytes("second stream"), second);
  encoder.finish(second);
  CHECK(gunzip(first) == "first stream");
  CHECK(gunzip(second) == "second stream");
}

TEST_CASE("an empty body still makes a valid gzip stream", "[compression]") {
  gzip_encoder encoder(1);
  std::string out;
  encoder.write({}, out);
  encoder.finish(out);
  CHECK(gunzip(out).empty());
}

TEST_CASE("gzip levels outside 1..9 are refused", "[compression]") {
  CHECK_THROWS_AS(gzip_encoder(0), std::invalid_argument);
  CHECK_THROWS_AS(gzip_encoder(10), std::invalid_argument);
}

TEST_CASE("Accept-Encoding negotiation follows q-values, the wildcard and identity",
          "[compression]") {
  const content_coding both[] = {content_coding::br, content_coding::gzip};
  const content_coding gzip_first[] = {content_coding::gzip, content_coding::br};
  using enum content_coding;
  CHECK(choose_coding(std::nullopt, both) == identity);  // no header: not compressed
  CHECK(choose_coding("", both) == identity);
  CHECK(choose_coding("gzip", both) == gzip);
  CHECK(choose_coding("x-gzip", both) == gzip);
  CHECK(choose_coding("GZip", both) == gzip);
  CHECK(choose_coding("gzip, deflate, br", both) == br);  // equal q: the server's order
  CHECK(choose_coding("gzip, deflate, br", gzip_first) == gzip);
  CHECK(choose_coding("br;q=0.5, gzip", both) == gzip);
  CHECK(choose_coding("br;q=0.5, gzip;q=0.501", both) == gzip);
  CHECK(choose_coding("br ; q=0.9 , gzip ; q=0.8", both) == br);
  CHECK(choose_coding("*", both) == br);
  CHECK(choose_coding("*;q=0.5, br;q=0.1", both) == gzip);  // * covers gzip only
  CHECK(choose_coding("*;q=0", both) == identity);
  CHECK(choose_coding("gzip;q=0, br;q=0", both) == identity);
  CHECK(choose_coding("gzip;q=0, *", both) == br);
  CHECK(choose_coding("gzip;q=0.0, *;q=0", both) == identity);
  CHECK(choose_coding("deflate", both) == identity);
  CHECK(choose_coding("identity", both) == identity);
  CHECK(choose_coding("identity;q=0, gzip", both) == gzip);
  CHECK(choose_coding("identity;q=1, gzip;q=0.5", both) == identity);  // identity preferred
  CHECK(choose_coding("gzip;q=2, br;q=abc", both) == identity);        // malformed: ignored
  CHECK(choose_coding("gzip;q=0.1234", both) == identity);             // more than 3 decimals
  CHECK(choose_coding("gzip;level=1;q=0.3", both) == gzip);
  CHECK(harrier::detail::accepts_gzip("deflate, gzip;q=0.5"));
  CHECK_FALSE(harrier::detail::accepts_gzip("gzip;q=0"));
}
