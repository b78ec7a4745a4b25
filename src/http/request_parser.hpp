#pragma once
// request_parser: llhttp 8.1 with every lenient flag off, driven one pause at a time.
//
// The connection owns the receive buffer and hands the parser a window of it; the parser returns
// at the first of: the end of the request head, one piece of body data, the end of a chunk, the
// end of the message, an error, or the end of the window (need more bytes). Stopping at the end
// of each message (HPE_PAUSED from on_message_complete) is what keeps pipelined requests in the
// buffer, unparsed, until the current one has been answered.
//
// Positions are offsets from the start of the current request (the `base` of execute()), not
// pointers: the buffer may grow (move) while the head is still incomplete. A token split across
// two reads arrives as two callbacks whose pieces are adjacent in the buffer; a piece that is not
// adjacent to the previous piece of the same header value can only be an obs-fold continuation,
// which llhttp 8.1 accepts and we refuse.
//
// Checks made here, beyond llhttp's own: request line, header bytes and header count limits (in
// the callbacks, so an oversized head is refused as soon as it passes the limit), whitespace in a
// field name, obs-fold, and the version token kept so that "HTTP/3.0" can become 505 rather
// than 400. Host, framing and body-size rules are checked by the connection at head_complete.
//
// Line endings: llhttp 8.1 built without LLHTTP_STRICT_MODE (Debian's sources, as we build them)
// takes any byte after the CR that ends the head, the chunk-size line or the trailers, any two
// bytes for the CRLF after chunk data, and a bare LF in the head. Each is a request-smuggling
// shape (a proxy that frames the bytes differently sees other requests), so the parser checks
// them itself: at head_complete no CR or LF of the head stands outside a CRLF pair; at the end of
// a chunk-size line (a pause on on_chunk_header), of chunk data (chunk_end) and of the trailers
// (message_complete of a chunked body) the two bytes before the position are CRLF. The byte
// before a window may have been compacted away by the connection, so the last byte of the
// previous window is remembered. After any error the parser refuses to go on.
//
// Chunk extensions: llhttp 8.1's grammar for them is wrong both ways. It refuses valid ones
// (a token value followed by another extension, "5;a=b;c=d"; a quoted-pair; BWS around ";" and
// "="), and takes invalid ones ("5;a=", "5;=b"). So the parser checks each chunk-size line that
// carries one against RFC 9112 section 7.1.1 itself, before llhttp sees it: it waits until the
// whole line is in the window (at most k_max_held_chunk_line_bytes; a longer line goes to llhttp
// as it is, and llhttp's own rules apply), refuses a line that does not match, and rewrites a
// line that does in place, keeping its length, to a form llhttp takes ("5;xxxxxxx"): the
// extensions are ignored anyway (a recipient MUST ignore unrecognised ones), and their bytes
// still count against max_chunk_extension_bytes. This is why execute() takes a writable buffer,
// and why it may return need_more before the end of the window (the start of an incomplete
// chunk-size line, which the caller keeps for the next call).

#include <harrier/http/rejection.hpp>
#include <harrier/http/server_limits.hpp>

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace harrier::http::detail {

struct header_offsets {
  std::uint32_t name_offset = 0;
  std::uint32_t name_length = 0;
  std::uint32_t value_offset = 0;
  std::uint32_t value_length = 0;
};

enum class parse_event : unsigned char {
  need_more,         // the window is consumed; read more bytes
  head_complete,     // the request head is parsed; the body (if any) follows
  chunk_end,         // a chunk ended (its data, if in this window, is in body_offset/length)
  message_complete,  // the request is over; the next byte belongs to the next request
  error,             // see error_reason(); nothing after the error may be interpreted
};

struct parse_step {
  parse_event event = parse_event::need_more;
  std::size_t position = 0;  // offset from base where parsing stopped
  // Body bytes found in this window (with any event but error); body_length == 0 when none.
  std::size_t body_offset = 0;
  std::size_t body_length = 0;
  // With head_complete: the request has no body and is over too (no message_complete follows).
  bool message_complete = false;
};

class request_parser {
 public:
  explicit request_parser(const server_limits& limits);
  ~request_parser();
  request_parser(const request_parser&) = delete;
  request_parser& operator=(const request_parser&) = delete;

  // Parses base[begin, end); offsets in the result and in the accessors are relative to base.
  parse_step execute(char* base, std::size_t begin, std::size_t end);
  // Prepares for the next request (after message_complete).
  void next_message() noexcept;

  rejection_reason error_reason() const noexcept { return m_error; }
  // llhttp's own words for a parse error it found ("" when none, or when one of our checks
  // failed), for the log.
  const char* llhttp_reason() const noexcept;

  // The request line and headers of the current message are complete.
  bool head_done() const noexcept { return m_head_done; }

  // Valid after head_complete. Any token (RFC 9110 section 9.1), not only llhttp's table (see
  // take_token_method()); one outside it is a view into the request at `base`, the request's
  // base now (the connection may have moved the head since execute()).
  std::string_view method(const char* base) const noexcept;
  // Valid after head_complete: the method is HEAD (no view into the request needed).
  bool head_method() const noexcept;
  std::size_t target_offset() const noexcept { return m_url_offset; }
  std::size_t target_length() const noexcept { return m_url_length; }
  int version_major() const noexcept;
  int version_minor() const noexcept;
  const std::vector<header_offsets>& headers() const noexcept { return m_headers; }
  bool chunked() const noexcept;
  bool has_content_length() const noexcept;
  std::uint64_t content_length() const noexcept;  // when has_content_length()
  bool has_transfer_encoding() const noexcept;
  bool should_keep_alive() const noexcept;
  bool in_trailers() const noexcept { return m_in_trailers; }

 private:
  friend struct parser_callbacks;

  int fail(rejection_reason reason) noexcept;
  // llhttp refused the method of the request at base[0, end) (or a token method is pending): if
  // it is a token followed by SP, llhttp starts the message again on a stand-in method and goes
  // on after the token (`from`), and method() reports the token. incomplete: the token runs to
  // `end`; it is pending, and the next call scans only the bytes after it (llhttp stays idle).
  // too_long: longer than the request line may be.
  enum class token_method { none, taken, incomplete, too_long };
  token_method take_token_method(const char* base, std::size_t end, std::size_t& from) noexcept;
  parse_step fail_step(rejection_reason reason, std::size_t begin) noexcept;
  std::uint64_t stream_position(const char* at) const noexcept;
  // Whether a CR or LF lies at stream positions [from, to) within the current window.
  bool line_break_in_window(std::uint64_t from, std::uint64_t to) const noexcept;
  // Advances the stream position past the window's parsed bytes, remembering a line break in a
  // trailer's name-value gap.
  void note_window_end(std::size_t position) noexcept;
  // Whether the two bytes before `position` (relative to the base of execute(base, begin, ..))
  // are CRLF; position - 1 must be >= begin.
  bool crlf_before(const char* base, std::size_t begin, std::size_t position) const noexcept;

  const server_limits& m_limits;
  llhttp_t m_llhttp;
  const char* m_base = nullptr;
  std::vector<header_offsets> m_headers;
  rejection_reason m_error = rejection_reason::malformed;
  enum class last_token : unsigned char { none, field, value } m_last = last_token::none;
  bool m_in_trailers = false;
  bool m_head_done = false;
  bool m_head_ends_message = false;  // no body: on_message_complete follows in the same call
  std::size_t m_url_offset = 0;
  std::size_t m_url_length = 0;
  std::size_t m_method_length = 0;
  // A method llhttp does not know, at base + offset (length 0: llhttp's own method).
  std::size_t m_token_method_offset = 0;
  std::size_t m_token_method_length = 0;
  // A token method whose end has not arrived: scanned up to base + m_method_scanned.
  bool m_method_pending = false;
  std::size_t m_method_scanned = 0;
  bool m_version_started = false;  // on_version has seen the version's first byte
  std::size_t m_header_bytes = 0;
  std::size_t m_header_count = 0;
  std::size_t m_field_name_bytes = 0;  // of the current field (head or trailer)
  // Chunk extension bytes the request may still send (server_limits::max_chunk_extension_bytes).
  std::uint64_t m_extension_budget = 0;
  // Chunk data the request has announced so far (the sum of its chunk sizes, saturating): a
  // chunk that would take the body past server_limits::max_request_body_bytes is refused at its
  // size line, before its data is read (as a Content-Length is, before the body).
  std::uint64_t m_announced_chunk_bytes = 0;
  // Trailer fields are checked but not kept; this tracks the current one for obs-fold checks,
  // in stream positions (bytes since the parser was made), which survive the connection's
  // compaction of body bytes between reads, unlike offsets from the base.
  struct trailer_state {
    std::uint64_t name_end = 0;
    std::uint64_t value_end = 0;
    bool line_break_in_gap = false;  // a CR or LF between name and value, in an earlier window
  } m_trailer;
  std::uint64_t m_stream_begin = 0;  // stream position of `begin` in the current execute()
  std::size_t m_window_begin = 0;    // `begin` of the current execute()
  std::optional<std::size_t> m_body_offset;
  std::size_t m_body_length = 0;
  // The next bytes start a chunk-size line (after the head of a chunked message, and after
  // the data of a chunk that was not the last); and whether the current chunk is the last.
  bool m_at_chunk_line = false;
  bool m_last_chunk = false;
  char m_previous_byte = 0;        // the last byte parsed by the previous execute()
  bool m_failed = false;           // an error was reported: nothing more is parsed
  bool m_callback_failed = false;  // a callback failed with m_error (fail())
  enum class pause_reason : unsigned char {
    none,
    head,
    chunk_header,
    chunk,
    message
  } m_pause = pause_reason::none;
};

}  // namespace harrier::http::detail
