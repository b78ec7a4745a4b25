#pragma once
// Response compression (ASP.NET Core's ResponseCompression, nginx's gzip module): brotli or gzip
// by the request's Accept-Encoding, for compressible types above a size threshold.
//
//   app.use(harrier::response_compression());          // defaults below
//
// What it does, decided when the response head is about to leave (so the handler's
// Content-Type, status and headers are known; see http::body_filter):
// - Responses that already have a Content-Encoding, that carry no body (1xx, 204, 304), that
//   are partial (206 or Content-Range), or that have no Content-Type are left untouched.
// - A response whose media type matches `mime_types` (and not `excluded_mime_types`) gets
//   `Vary: Accept-Encoding`, compressed or not, so caches keep the variants apart.
// - It is compressed when the client accepts a coding in `encodings` (q-values, "*",
//   "identity;q=0" per RFC 9110 12.5.3; brotli first on equal q) and the body is not known to be
//   shorter than `minimum_bytes`. The body's length is known when the handler declared it or
//   ended the response while the body was still buffered (under the connection's 64 KiB response
//   buffer); a longer or flushed stream is compressed.
// - A compressed response gets Content-Encoding, loses Content-Length (it is framed by the
//   compressed length when that is known at the end, chunked otherwise) and Accept-Ranges, and a
//   strong ETag becomes weak (W/"..."): the bytes differ from the identity variant's, while
//   If-None-Match's weak comparison still revalidates it.
// - A 304 answering If-None-Match with that weak ETag gets the weak ETag and Vary back, as the
//   compressed 200 had (RFC 9110 15.4.5); other 304s pass untouched.
// - HEAD gets the headers GET would get, without Content-Length.
// - The handler's flush() flushes the compressor too, so streamed responses stay incremental.
// Install it before middleware whose responses should be compressed (it compresses what is
// written below it), after the exception handler if its problem documents should be compressed.

#include <harrier/middleware/pipeline.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace harrier {

struct compression_options {
  // Codings to offer, in the server's order of preference: "br", "gzip". "br" is dropped
  // silently when the build has no brotli (compression_available("br") is false).
  std::vector<std::string> encodings = {"br", "gzip"};
  // zlib level 1..9. Measured (bench/middleware/compression_bench.cpp): on 64 KiB of JSON,
  // level 4 costs twice level 1 per byte for output 11% smaller, and level 6 costs 1.8 times
  // level 4 for 9% smaller again; on minified JavaScript 6 costs 1.9 times 4 for 4%. nginx and
  // ASP.NET Core default to 1; 4 is the knee for dynamic responses.
  int gzip_level = 4;
  // brotli quality 0..11. At 4 the output is as small as gzip 4's or smaller on every sample
  // (equal on a 14 KiB script, 2.5% smaller on minified JS, 6% on HTML, 15-17% on JSON). It costs
  // 0.9-1.2 times gzip 4 on bodies of 64 KiB and more, 1.7 times at 14 KiB and 2 times on bodies
  // of a few KiB (brotli's fixed cost per stream: 6 us against gzip's 3.5 us). Quality 5 costs
  // twice 4 on large bodies for 5% smaller output. An API serving mostly small JSON on busy CPUs
  // may prefer encodings = {"gzip", "br"} or a quality of 1-3.
  int brotli_quality = 4;
  // log2 of brotli's window (10..24). 18 (256 KiB) bounds each stream's memory for dynamic
  // responses; larger windows only help bodies much larger than that.
  int brotli_window_bits = 18;
  // Bodies known to be shorter are sent as they are. Under about 1 KiB the response fits one
  // TCP segment with its head either way, so compressing saves no packet and still costs the
  // compressor's fixed 3.5-6 us. Akamai's often-quoted threshold is 860; nginx's default is 20.
  std::uint64_t minimum_bytes = 1024;
  // Media types to compress: exact ("application/json"), a whole top-level type ("text/*") or a
  // structured-syntax suffix ("application/*+json"). Compared case-insensitively, parameters
  // ignored.
  std::vector<std::string> mime_types = {
      "text/*",
      "application/json",
      "application/*+json",
      "application/javascript",
      "application/x-javascript",
      "application/ecmascript",
      "application/xml",
      "application/*+xml",
      "application/yaml",
      "application/wasm",
      "application/graphql-response+json",
      "image/svg+xml",
      "image/x-icon",
      "image/bmp",
      "font/ttf",
      "font/otf",
  };
  // Never compressed even when `mime_types` matches. Server-sent events are excluded by
  // default: compression adds latency per event and some proxies buffer compressed streams.
  std::vector<std::string> excluded_mime_types = {"text/event-stream"};
};

// The middleware. Throws std::invalid_argument on an unknown coding, a level or quality out of
// range, or a malformed media type pattern.
middleware_fn response_compression(compression_options options = {});

// Whether this build can produce `coding` ("gzip" always; "br" when built with libbrotlienc).
bool compression_available(std::string_view coding) noexcept;

}  // namespace harrier
