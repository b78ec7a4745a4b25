// The response-compression middleware: negotiation, what is compressed and what is not, the
// headers of compressed responses, and that bodies decompress to exactly what the handler wrote
// (small, streamed under back-pressure, flushed, HEAD, 304, static files).

#include <harrier/middleware/app_pipeline.hpp>
#include <harrier/middleware/builtin.hpp>
#include <harrier/middleware/compression.hpp>
#include <harrier/middleware/results.hpp>

#include <unistd.h>
#include <zlib.h>
#include <catch2/catch.hpp>

#if defined(HARRIER_HAVE_BROTLI)
#include <brotli/decode.h>
#endif

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "app_harness.hpp"

namespace fs = std::filesystem;
using harrier::app_pipeline;
using harrier::compression_options;
using harrier::context;
using harrier::make_endpoint;
using harrier::response_compression;
using harrier::task;
using harrier::http::testing::parsed_response;
using harrier::testing::request;
using harrier::testing::roundtrip;

namespace {

// Inflates a gzip stream. With `partial`, the stream may stop at a flush point.
std::string gunzip(std::string_view compressed, bool partial = false) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  int rc = Z_OK;
  do {
    const std::size_t before = out.size();
    out.resize(before + 64 * 1024);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    z.avail_out = 64 * 1024;
    rc = inflate(&z, Z_NO_FLUSH);
    out.resize(out.size() - z.avail_out);
  } while (rc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
  inflateEnd(&z);
  if (partial) {
    CHECK((rc == Z_OK || rc == Z_BUF_ERROR || rc == Z_STREAM_END));
  } else {
    CHECK(rc == Z_STREAM_END);
  }
  return out;
}

#if defined(HARRIER_HAVE_BROTLI)
// With `partial`, the stream may stop at a flush point.
std::string unbrotli(std::string_view compressed, bool partial = false) {
  BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  REQUIRE(s != nullptr);
  std::size_t avail_in = compressed.size();
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(compressed.data());
  std::string out;
  BrotliDecoderResult rc;
  do {
    std::uint8_t buffer[16 * 1024];
    std::size_t avail_out = sizeof(buffer);
    std::uint8_t* next_out = buffer;
    rc = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.append(reinterpret_cast<const char*>(buffer), sizeof(buffer) - avail_out);
  } while (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
  BrotliDecoderDestroyInstance(s);
  CHECK(rc == (partial ? BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT : BROTLI_DECODER_RESULT_SUCCESS));
  CHECK(avail_in == 0);
  return out;
}
#endif

std::string decode(const parsed_response& r, bool partial = false) {
  const auto coding = r.header("Content-Encoding");
  if (!coding) return r.body;
  if (*coding == "gzip") return gunzip(r.body, partial);
#if defined(HARRIER_HAVE_BROTLI)
  if (*coding == "br") return unbrotli(r.body, partial);
#endif
  // br here without a decoder: the library was built with brotli and this test without
  // HARRIER_HAVE_BROTLI and libbrotlidec; the build must define both or neither.
  FAIL("cannot decode Content-Encoding " << *coding);
  return {};
}

// Text that compresses like a real page: words from a small vocabulary, pseudo-random order.
std::string sample_text(std::size_t bytes, unsigned seed = 1) {
  static const char* const k_words[] = {
      "harrier ", "server ",   "request ", "response ", "<div> ", "</div>\n",
      "json ",    "{\"id\": ", "42, ",     "true} ",    "the ",   "compression "};
  std::mt19937 rng(seed);
  std::string out;
  while (out.size() < bytes)
    out += k_words[rng() % std::size(k_words)];
  out.resize(bytes);
  return out;
}

// An app with compression in front of a few endpoints that answer with `body`.
app_pipeline make_app(const std::string& body, compression_options options = {}) {
  app_pipeline app;
  app.use(response_compression(std::move(options)));
  app.add_endpoint({"GET"}, "/text", make_endpoint([&body](harrier::http::response& res) {
                     return res.send(200, "text/plain; charset=utf-8", body);
                   }));
  app.add_endpoint({"GET"}, "/png", make_endpoint([&body](harrier::http::response& res) {
                     return res.send(200, "image/png", body);
                   }));
  app.add_endpoint({"GET"}, "/problem", make_endpoint([&body](harrier::http::response& res) {
                     return res.send(404, "application/problem+json", body);
                   }));
  app.add_endpoint({"GET"}, "/events", make_endpoint([&body](harrier::http::response& res) {
                     return res.send(200, "text/event-stream", body);
                   }));
  app.add_endpoint({"GET"}, "/untyped", make_endpoint([&body](harrier::http::response& res) {
                     return res.send(200, "", body);
                   }));
  app.add_endpoint({"GET"}, "/encoded",
                   make_endpoint([&body](harrier::http::response& res) -> task<void> {
                     res.add_header("Content-Encoding", "gzip");
                     co_await res.send(200, "text/plain", body);
                   }));
  app.add_endpoint({"GET"}, "/etag",
                   make_endpoint([&body](harrier::http::response& res) -> task<void> {
                     res.add_header("ETag", "\"v1\"");
                     res.add_header("Vary", "Origin");
                     co_await res.send(200, "application/json", body);
                   }));
  app.add_endpoint({"GET"}, "/declared",
                   make_endpoint([&body](harrier::http::response& res) -> task<void> {
                     res.set_content_type("text/html");
                     res.set_content_length(body.size());
                     for (std::size_t at = 0; at < body.size(); at += 100)
                       co_await res.write(std::string_view(body).substr(at, 100));
                     co_await res.end();
                   }));
  app.add_endpoint({"GET"}, "/304", make_endpoint([](harrier::http::response& res) -> task<void> {
                     res.set_status(304);
                     res.add_header("ETag", "\"v1\"");
                     co_await res.end();
                   }));
  app.add_endpoint({"GET"}, "/206",
                   make_endpoint([&body](harrier::http::response& res) -> task<void> {
                     res.add_header("Content-Range", "bytes 0-" + std::to_string(body.size() - 1) +
                                                         "/" + std::to_string(body.size() * 2));
                     co_await res.send(206, "text/plain", body);
                   }));
  return app;
}

parsed_response get(app_pipeline& app, std::string_view path, std::string_view accept) {
  std::string headers;
  if (!accept.empty()) headers = "Accept-Encoding: " + std::string(accept) + "\r\n";
  return roundtrip(app, request("GET", path, headers));
}

}  // namespace

TEST_CASE("a compressible response above the threshold is gzipped for a gzip client",
          "[compression]") {
  const std::string body = sample_text(10'000);
  auto app = make_app(body);
  const auto r = get(app, "/text", "gzip, deflate");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK(r.header("Vary") == "Accept-Encoding");
  REQUIRE(r.header("Content-Length"));  // whole body buffered: framed by the compressed length
  CHECK(*r.header("Content-Length") == std::to_string(r.body.size()));
  CHECK_FALSE(r.chunked);
  CHECK(r.body.size() < body.size() / 3);
  CHECK(decode(r) == body);
}

TEST_CASE("a declared length is replaced by the compressed length", "[compression]") {
  const std::string body = sample_text(10'000);
  auto app = make_app(body);
  const auto r = get(app, "/declared", "gzip");  // Content-Length set, then 100 small writes
  CHECK(r.header("Content-Encoding") == "gzip");
  REQUIRE(r.header("Content-Length"));
  CHECK(*r.header("Content-Length") == std::to_string(r.body.size()));
  CHECK(r.body.size() < body.size());
  CHECK(decode(r) == body);
}

TEST_CASE("brotli is chosen over gzip when the client accepts both equally", "[compression]") {
  const std::string body = sample_text(10'000);
  auto app = make_app(body);
  const auto r = get(app, "/text", "gzip, deflate, br");
  if (!harrier::compression_available("br")) {
    CHECK(r.header("Content-Encoding") == "gzip");
    return;
  }
  CHECK(r.header("Content-Encoding") == "br");
  CHECK(r.header("Vary") == "Accept-Encoding");
  CHECK(*r.header("Content-Length") == std::to_string(r.body.size()));
  CHECK(decode(r) == body);
}

TEST_CASE("gzip can be preferred or br turned off by the options", "[compression]") {
  const std::string body = sample_text(5'000);
  compression_options options;
  options.encodings = {"gzip"};
  auto app = make_app(body, options);
  const auto r = get(app, "/text", "br, gzip");
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK(decode(r) == body);
}

TEST_CASE("a client that does not accept a coding gets the body as is, with Vary",
          "[compression]") {
  const std::string body = sample_text(10'000);
  auto app = make_app(body);
  for (std::string_view accept : {"", "identity", "deflate", "gzip;q=0, br;q=0", "*;q=0"}) {
    const auto r = get(app, "/text", accept);
    INFO("Accept-Encoding: " << accept);
    CHECK_FALSE(r.header("Content-Encoding"));
    CHECK(r.header("Vary") == "Accept-Encoding");
    CHECK(r.header("Content-Length") == std::to_string(body.size()));
    CHECK(r.body == body);
  }
}

TEST_CASE("a body under the threshold is not compressed but still varies", "[compression]") {
  const std::string body = sample_text(1023);
  auto app = make_app(body);
  auto r = get(app, "/text", "gzip");
  CHECK_FALSE(r.header("Content-Encoding"));
  CHECK(r.header("Vary") == "Accept-Encoding");
  CHECK(r.body == body);

  // The declared length counts too, before any byte is buffered.
  r = get(app, "/declared", "gzip");
  CHECK_FALSE(r.header("Content-Encoding"));
  CHECK(r.header("Content-Length") == "1023");

  const std::string exact = sample_text(1024);
  auto app2 = make_app(exact);
  r = get(app2, "/text", "gzip");
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK(decode(r) == exact);

  compression_options options;
  options.minimum_bytes = 0;
  const std::string tiny = "hi";
  auto app3 = make_app(tiny, options);
  r = get(app3, "/text", "gzip");
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK(decode(r) == tiny);
}

TEST_CASE("only compressible media types are compressed", "[compression]") {
  const std::string body = sample_text(4'000);
  auto app = make_app(body);
  auto r = get(app, "/png", "gzip");
  CHECK_FALSE(r.header("Content-Encoding"));
  CHECK_FALSE(r.header("Vary"));
  CHECK(r.body == body);

  r = get(app, "/events", "gzip");  // excluded by default
  CHECK_FALSE(r.header("Content-Encoding"));
  CHECK(r.body == body);

  r = get(app, "/untyped", "gzip");
  CHECK_FALSE(r.header("Content-Encoding"));

  r = get(app, "/problem", "gzip");  // application/*+json, and an error status
  CHECK(r.status == 404);
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK(decode(r) == body);

  compression_options options;
  options.mime_types = {"image/png"};
  auto app2 = make_app(body, options);
  r = get(app2, "/png", "gzip");
  CHECK(r.header("Content-Encoding") == "gzip");
  r = get(app2, "/text", "gzip");
  CHECK_FALSE(r.header("Content-Encoding"));
}

TEST_CASE("an already encoded response passes untouched", "[compression]") {
  const std::string body = sample_text(4'000);
  auto app = make_app(body);
  const auto r = get(app, "/encoded", "gzip, br");
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK_FALSE(r.header("Vary"));
  CHECK(r.header("Content-Length") == std::to_string(body.size()));
  CHECK(r.body == body);  // not compressed twice
}

TEST_CASE("a compressed response has a weak ETag and keeps other Vary values", "[compression]") {
  const std::string body = sample_text(4'000);
  auto app = make_app(body);
  auto r = get(app, "/etag", "gzip");
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK(r.header("ETag") == "W/\"v1\"");
  int vary_lines = 0;
  bool has_origin = false, has_encoding = false;
  for (const auto& [name, value] : r.headers) {
    if (name != "Vary") continue;
    ++vary_lines;
    has_origin |= value == "Origin";
    has_encoding |= value == "Accept-Encoding";
  }
  CHECK(vary_lines == 2);
  CHECK(has_origin);
  CHECK(has_encoding);

  r = get(app, "/etag", "");  // the identity variant keeps its strong ETag
  CHECK(r.header("ETag") == "\"v1\"");
}

TEST_CASE("304 and 206 responses are not compressed", "[compression]") {
  const std::string body = sample_text(4'000);
  auto app = make_app(body);
  auto r = get(app, "/304", "gzip");
  CHECK(r.status == 304);
  CHECK_FALSE(r.header("Content-Encoding"));
  CHECK(r.header("ETag") == "\"v1\"");
  CHECK(r.body.empty());

  r = get(app, "/206", "gzip");
  CHECK(r.status == 206);
  CHECK_FALSE(r.header("Content-Encoding"));
  CHECK(r.header("Content-Length") == std::to_string(body.size()));
  CHECK(r.body == body);
}

TEST_CASE("Accept-Encoding sent on several lines is read as their joined list", "[compression]") {
  // RFC 9110 5.3: "foo" and "gzip" on two lines mean "foo, gzip".
  const std::string body = sample_text(4'000);
  auto app = make_app(body);
  app.build();
  harrier::http::testing::connection_harness h(app.handler());
  h.start();
  h.feed(request("GET", "/text", "Accept-Encoding: foo\r\nAccept-Encoding: gzip\r\n"));
  h.feed_eof();
  const auto responses = harrier::http::testing::parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0].header("Content-Encoding") == "gzip");
  CHECK(decode(responses[0]) == body);
}

TEST_CASE("HEAD gets the headers GET gets, without a length or a body", "[compression]") {
  const std::string body = sample_text(4'000);
  auto app = make_app(body);
  app.build();
  harrier::http::testing::connection_harness h(app.handler());
  h.start();
  h.feed(request("HEAD", "/text", "Accept-Encoding: gzip\r\n") +
         request("GET", "/text", "Accept-Encoding: gzip\r\n"));
  h.feed_eof();
  const auto responses = harrier::http::testing::parse_responses(h.transport.output, {0});
  REQUIRE(responses.size() == 2);
  const auto& head = responses[0];
  const auto& full = responses[1];
  CHECK(head.body.empty());
  CHECK(head.header("Content-Encoding") == full.header("Content-Encoding"));
  CHECK(head.header("Content-Encoding") == "gzip");
  CHECK(head.header("Vary") == full.header("Vary"));
  CHECK(head.header("Content-Type") == full.header("Content-Type"));
  CHECK_FALSE(head.header("Content-Length"));
  CHECK_FALSE(head.header("Transfer-Encoding"));
  CHECK(decode(full) == body);
}

namespace {

// A 1 MiB body written in 4 KiB pieces through a 16 KiB response buffer (so the connection's
// back-pressure flushes many times), then decoded.
void check_large_streamed(std::string_view accept, std::string_view expected_coding) {
  const std::string body = sample_text(1 << 20, 7);
  app_pipeline app;
  app.use(response_compression());
  app.add_endpoint({"GET"}, "/big",
                   make_endpoint([&body](harrier::http::response& res) -> task<void> {
                     res.set_content_type("application/json");
                     for (std::size_t at = 0; at < body.size(); at += 4096)
                       co_await res.write(std::string_view(body).substr(at, 4096));
                     co_await res.end();
                   }));
  app.build();
  harrier::http::http1_options options;
  options.limits.max_response_buffer_bytes = 16 * 1024;
  harrier::http::testing::connection_harness h(app.handler(), options);
  h.start();
  h.feed(request("GET", "/big", "Accept-Encoding: " + std::string(accept) + "\r\n"));
  h.feed_eof();
  CHECK(h.transport.send_calls >= 3);
  const auto responses = harrier::http::testing::parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  const auto& r = responses[0];
  CHECK(r.header("Content-Encoding") == expected_coding);
  CHECK(r.chunked);
  CHECK_FALSE(r.header("Content-Length"));
  CHECK(r.body.size() < body.size() / 3);
  CHECK(decode(r) == body);
}

}  // namespace

TEST_CASE("a 1 MiB body streamed in many writes decompresses to the original", "[compression]") {
  check_large_streamed("gzip", "gzip");
  if (harrier::compression_available("br")) check_large_streamed("br, gzip", "br");
}

namespace {

// Writes, flushes, looks at what reached the client, writes more: the flushed part must decode
// to exactly the first write.
void check_flush(std::string_view accept, std::string_view expected_coding) {
  const std::string first = sample_text(3'000, 3), second = sample_text(3'000, 4);
  std::string seen_at_flush;
  harrier::http::testing::connection_harness* harness = nullptr;
  app_pipeline app;
  app.use(response_compression());
  app.add_endpoint({"GET"}, "/stream",
                   make_endpoint([&](harrier::http::response& res) -> task<void> {
                     res.set_content_type("text/plain");
                     co_await res.write(first);
                     co_await res.flush();
                     seen_at_flush = harness->transport.output;
                     co_await res.write(second);
                     co_await res.end();
                   }));
  app.build();
  harrier::http::testing::connection_harness h(app.handler());
  harness = &h;
  h.start();
  h.feed(request("GET", "/stream", "Accept-Encoding: " + std::string(accept) + "\r\n"));
  h.feed_eof();
  const auto partial = harrier::http::testing::parse_responses(seen_at_flush);
  REQUIRE(partial.size() == 1);
  CHECK(partial[0].header("Content-Encoding") == expected_coding);
  CHECK(decode(partial[0], true) == first);
  const auto responses = harrier::http::testing::parse_responses(h.transport.output);
  REQUIRE(responses.size() == 1);
  CHECK(decode(responses[0]) == first + second);
}

}  // namespace

TEST_CASE("a flush sends a decodable prefix of a compressed stream", "[compression]") {
  check_flush("gzip", "gzip");
  if (harrier::compression_available("br")) check_flush("br", "br");
}

TEST_CASE("a handler that writes without ending gets its compressed body finished",
          "[compression]") {
  const std::string body = sample_text(70'000);  // passes the 64 KiB buffer: started mid-body
  app_pipeline app;
  app.use(response_compression());
  app.use([&body](context& ctx, harrier::next_handler) -> task<void> {
    ctx.response().set_content_type("text/plain");
    co_await ctx.response().write(body);  // no end(): the middleware must finish the stream
  });
  const auto r = roundtrip(app, request("GET", "/any", "Accept-Encoding: gzip\r\n"));
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK(decode(r) == body);
}

TEST_CASE("a response nobody wrote is left to whoever answers outside", "[compression]") {
  app_pipeline app;
  app.use([](context& ctx, harrier::next_handler next) -> task<void> {
    co_await next(ctx);
    // Like request_timeouts: answers after the inner pipeline returned without a response.
    if (!ctx.response().has_started() && ctx.response().body_bytes() == 0) {
      co_await ctx.response().send(503, "text/plain", sample_text(2'000));
    }
  });
  app.use(response_compression());
  app.use([](context&, harrier::next_handler) -> task<void> { co_return; });
  const auto r = roundtrip(app, request("GET", "/any", "Accept-Encoding: gzip\r\n"));
  CHECK(r.status == 503);
  CHECK_FALSE(r.header("Content-Encoding"));  // the filter was removed when it left
  CHECK(r.body == sample_text(2'000));
}

TEST_CASE("an exception below the middleware leaves the error response uncompressed and intact",
          "[compression]") {
  app_pipeline app;
  app.use(harrier::exception_handler());
  app.use(response_compression());
  app.add_endpoint({"GET"}, "/boom",
                   make_endpoint([]() -> std::string { throw std::runtime_error("boom"); }));
  const auto r = roundtrip(app, request("GET", "/boom", "Accept-Encoding: gzip\r\n"));
  CHECK(r.status == 500);
  CHECK_FALSE(r.header("Content-Encoding"));
  CHECK(r.body.find("\"status\":500") != std::string::npos);
}

TEST_CASE("static files are compressed and revalidate with their weak ETag", "[compression]") {
  const fs::path root =
      fs::temp_directory_path() / ("harrier-compress-" + std::to_string(::getpid()));
  fs::create_directories(root);
  const std::string css = sample_text(20'000, 5);
  std::ofstream(root / "app.css") << css;
  std::ofstream(root / "logo.png") << css;
  struct cleanup {
    fs::path p;
    ~cleanup() { fs::remove_all(p); }
  } remove_root{root};

  app_pipeline app;
  app.use(response_compression());
  app.use(harrier::static_files({.root = root}));
  auto r = get(app, "/app.css", "gzip");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK_FALSE(r.header("Accept-Ranges"));
  REQUIRE(r.header("ETag"));
  const std::string etag(*r.header("ETag"));
  CHECK(etag.rfind("W/\"", 0) == 0);
  CHECK(decode(r) == css);

  // The client revalidates with the ETag it got: If-None-Match compares weakly, so 304.
  r = roundtrip(
      app, request("GET", "/app.css", "Accept-Encoding: gzip\r\nIf-None-Match: " + etag + "\r\n"));
  CHECK(r.status == 304);
  CHECK(r.body.empty());
  CHECK(r.header("ETag") == etag);  // the validator the client holds, not the identity one's
  CHECK(r.header("Vary") == "Accept-Encoding");
  CHECK_FALSE(r.header("Content-Encoding"));

  // The same client without gzip would get the identity 200: its strong ETag, and Vary.
  r = roundtrip(app, request("GET", "/app.css", "If-None-Match: " + etag + "\r\n"));
  CHECK(r.status == 304);
  CHECK(r.header("ETag") == etag.substr(2));
  CHECK(r.header("Vary") == "Accept-Encoding");

  // Revalidating the identity variant gets the strong ETag, as before, and Vary: a 304 carries
  // the ETag and Vary its 200 would (RFC 9110 15.4.5), which the static files tell the
  // middleware (a 304 has no Content-Type to judge by).
  const std::string strong = etag.substr(2);
  r = roundtrip(app, request("GET", "/app.css", "If-None-Match: " + strong + "\r\n"));
  CHECK(r.status == 304);
  CHECK(r.header("ETag") == strong);
  CHECK(r.header("Vary") == "Accept-Encoding");
  // The identity variant's tag from a client that now accepts gzip: its 200 would be gzip.
  r = roundtrip(app, request("GET", "/app.css",
                             "Accept-Encoding: gzip\r\nIf-None-Match: " + strong + "\r\n"));
  CHECK(r.status == 304);
  CHECK(r.header("ETag") == etag);
  CHECK(r.header("Vary") == "Accept-Encoding");
  // By date, the same.
  const auto dated = get(app, "/app.css", "");
  REQUIRE(dated.header("Last-Modified"));
  r = roundtrip(app, request("GET", "/app.css",
                             "Accept-Encoding: gzip\r\nIf-Modified-Since: " +
                                 std::string(*dated.header("Last-Modified")) + "\r\n"));
  CHECK(r.status == 304);
  CHECK(r.header("ETag") == etag);
  CHECK(r.header("Vary") == "Accept-Encoding");
  // A type that is never compressed: its 200 has no Vary, nor has its 304.
  const auto png = get(app, "/logo.png", "gzip");
  REQUIRE(png.header("ETag"));
  CHECK_FALSE(png.header("Vary"));
  r = roundtrip(app, request("GET", "/logo.png",
                             "Accept-Encoding: gzip\r\nIf-None-Match: " +
                                 std::string(*png.header("ETag")) + "\r\n"));
  CHECK(r.status == 304);
  CHECK(r.header("ETag") == png.header("ETag"));
  CHECK_FALSE(r.header("Vary"));

  // A range request gets the identity bytes.
  r = roundtrip(app, request("GET", "/app.css", "Accept-Encoding: gzip\r\nRange: bytes=0-99\r\n"));
  CHECK(r.status == 206);
  CHECK_FALSE(r.header("Content-Encoding"));
  CHECK(r.body == css.substr(0, 100));

  r = get(app, "/logo.png", "gzip");
  CHECK_FALSE(r.header("Content-Encoding"));
  CHECK(r.body == css);
}

TEST_CASE("large static files (the sendfile path) are compressed too, and intact when not",
          "[compression]") {
  // From 32 KiB on the static-file middleware hands the body to response::write_file, which
  // goes zero-copy only when no filter wants the bytes.
  const fs::path root =
      fs::temp_directory_path() / ("harrier-compress-large-" + std::to_string(::getpid()));
  fs::create_directories(root);
  const std::string text = sample_text(300'000, 7);
  std::ofstream(root / "big.js") << text;
  std::ofstream(root / "big.png") << text;
  struct cleanup {
    fs::path p;
    ~cleanup() { fs::remove_all(p); }
  } remove_root{root};

  app_pipeline app;
  app.use(response_compression());
  app.use(harrier::static_files({.root = root}));
  auto r = get(app, "/big.js", "gzip");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Encoding") == "gzip");
  CHECK(decode(r) == text);
  r = get(app, "/big.png", "gzip");
  CHECK(r.status == 200);
  CHECK_FALSE(r.header("Content-Encoding"));
  CHECK(r.header("Content-Length") == std::to_string(text.size()));
  CHECK(r.body == text);
}

TEST_CASE("bad compression options are refused", "[compression]") {
  compression_options options;
  options.encodings = {"deflate"};
  CHECK_THROWS_AS(response_compression(options), std::invalid_argument);
  options = {};
  options.gzip_level = 0;
  CHECK_THROWS_AS(response_compression(options), std::invalid_argument);
  options = {};
  options.brotli_quality = 12;
  CHECK_THROWS_AS(response_compression(options), std::invalid_argument);
  options = {};
  options.mime_types = {"text"};
  CHECK_THROWS_AS(response_compression(options), std::invalid_argument);
  options = {};
  options.mime_types = {"text/h*ml"};
  CHECK_THROWS_AS(response_compression(options), std::invalid_argument);
  CHECK(harrier::compression_available("gzip"));
  CHECK_FALSE(harrier::compression_available("deflate"));
}
