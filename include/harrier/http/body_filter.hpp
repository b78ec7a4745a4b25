#pragma once
// body_filter: a transformation of a response body on its way to the connection (compression is
// the user; the HTTP layer knows nothing about what a filter does).
//
// Contract (see response::set_body_filter):
// - A filter is installed before the response starts and is consulted once, by start(), at the
//   moment the connection is about to serialise the head: status and headers are final from the
//   handler's side, and the body's length is known if the handler declared it or if the whole
//   body is still buffered (end() before the buffer filled). start() may still change headers
//   (add Content-Encoding, Vary, replace ETag) and returns whether it takes part. A filter that
//   declines is dropped: the response goes on exactly as if none had been installed.
// - A filter that takes part sees every body byte the handler writes, in order, through
//   transform(); flush() when the handler flushes (emit what lets the client decode everything
//   so far); finish() once at end(). Its output is what the client receives. The handler's
//   Content-Length is dropped (the output's length is unknown) unless end() finds the whole
//   output still buffered, in which case the output's length is used.
// - When no body is sent (HEAD, 1xx, 204, 304), start() is told so (`body_sent` is false) and
//   transform/flush/finish are never called: the head is what GET would get, without a
//   Content-Length (RFC 9110 9.3.2 lets HEAD omit fields only known while generating content).
// - Calls come from the connection's coroutine, one at a time; the filter must outlive the
//   response's end (the response is finished before the installer's scope ends, or the filter is
//   removed with set_body_filter(nullptr)). Exceptions from a filter propagate to the handler's
//   write/flush/end call.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace harrier::http {

class response;

class body_filter {
 public:
  struct head_info {
    // The unfiltered body's length when known: the declared Content-Length, or the whole body's
    // size when end() came before the head left. nullopt for a streamed body.
    std::optional<std::uint64_t> body_length;
    // False for HEAD and for statuses without a body (1xx, 204, 304): nothing will be filtered.
    bool body_sent = true;
  };

  virtual ~body_filter() = default;

  // Decides whether to filter this response; may change the response's status and headers.
  virtual bool start(response& res, const head_info& info) = 0;
  // Appends the output for `input` to `out` (possibly nothing yet).
  virtual void transform(std::span<const std::byte> input, std::string& out) = 0;
  // Appends output that lets the client decode everything transformed so far.
  virtual void flush(std::string& out) = 0;
  // Appends the last bytes of the output. Called once; nothing is transformed after it.
  virtual void finish(std::string& out) = 0;
};

}  // namespace harrier::http
