// request_parser: see request_parser.hpp for the contract.
//
// llhttp calls back with pointers into the window being parsed; every callback turns them into
// offsets from m_base at once. Limit checks return HPE_USER after recording the reason, which
// stops llhttp for good: nothing after the offending byte is interpreted.

#include "http/request_parser.hpp"

#include "http/chunk_line.hpp"
#include "http/line_breaks.hpp"

#include <harrier/http/headers.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

namespace harrier::http::detail {

namespace {
// Bytes a header costs against the headers limit beyond its name and value: ": " and CRLF, as
// Kestrel counts the raw header block.
constexpr std::size_t k_header_line_overhead_bytes = 4;
// Bytes of the request line outside the target: the method's space, " HTTP/1.1", CRLF.
constexpr std::size_t k_request_line_overhead_bytes = 12;
}  // namespace

struct parser_callbacks {
  static request_parser& self(llhttp_t* p) { return *static_cast<request_parser*>(p->data); }
  static std::size_t offset(request_parser& r, const char* at) {
    return static_cast<std::size_t>(at - r.m_base);
  }

  static int on_message_begin(llhttp_t* p) {
    request_parser& r = self(p);
    r.m_headers.clear();
    r.m_last = request_parser::last_token::none;
    r.m_in_trailers = false;
    r.m_head_done = false;
    r.m_head_ends_message = false;
    r.m_url_length = 0;
    r.m_method_length = 0;
    r.m_token_method_length = 0;
    r.m_version_started = false;
    r.m_header_bytes = 0;
    r.m_header_count = 0;
    r.m_extension_budget = r.m_limits.max_chunk_extension_bytes;
    r.m_announced_chunk_bytes = 0;
    r.m_at_chunk_line = false;
    r.m_last_chunk = false;
    return 0;
  }

  static int on_method(llhttp_t* p, const char*, std::size_t n) {
    self(p).m_method_length += n;
    return 0;
  }

  static int on_url(llhttp_t* p, const char* at, std::size_t n) {
    request_parser& r = self(p);
    // RFC 9112 §3.2: no whitespace or control characters in the request-target. llhttp 8.1 (not
    // built in strict mode) passes some through (form feed, for one); a proxy that splits the
    // request line on them would see another target and version.
    for (std::size_t i = 0; i < n; ++i) {
      const auto c = static_cast<unsigned char>(at[i]);
      if (c <= ' ' || c == 0x7f) return r.fail(rejection_reason::invalid_target);
    }
    if (r.m_url_length == 0) {
      // RFC 9112 section 3: one SP between method and request-target. llhttp skips several; a
      // recipient MAY, but Kestrel and Go answer 400 (the grammar's SHOULD), and so do we: a
      // proxy in front that splits on each SP would read another target.
      if (at - r.m_base >= 2 && at[-2] == ' ') return r.fail(rejection_reason::invalid_target);
      r.m_url_offset = offset(r, at);
    }
    r.m_url_length += n;
    if (r.m_method_length + r.m_url_length + k_request_line_overhead_bytes >
        r.m_limits.max_request_line_bytes) {
      return r.fail(rejection_reason::request_line_too_long);
    }
    return 0;
  }

  // llhttp 8.1 also takes RTSP/x.x and ICE/x.x (with their methods) where HTTP-version must be
  // "HTTP/" DIGIT "." DIGIT (RFC 9112 section 2.3): the name before the digits is checked here,
  // where the version's first byte is (the request line is still in the window's buffer).
  static int on_version(llhttp_t* p, const char* at, std::size_t) {
    request_parser& r = self(p);
    if (r.m_version_started) return 0;
    r.m_version_started = true;
    constexpr std::string_view k_name = "HTTP/";
    if (at - r.m_base < static_cast<std::ptrdiff_t>(k_name.size()) ||
        std::string_view(at - k_name.size(), k_name.size()) != k_name) {
      return r.fail(rejection_reason::invalid_version);
    }
    // One SP between request-target and version too (see on_url).
    const char* name = at - k_name.size();
    if (name - r.m_base >= 2 && name[-1] == ' ' && name[-2] == ' ') {
      return r.fail(rejection_reason::invalid_version);
    }
    return 0;
  }

  // llhttp checked the syntax (HTTP/DIGIT.DIGIT); the number is ours to judge (the constructor
  // explains). Any HTTP/1.x is served, a higher minor as HTTP/1.1 (version_minor()); another
  // major gets 505, as Kestrel answers a version it does not implement.
  static int on_version_complete(llhttp_t* p) {
    if (p->http_major != 1) return self(p).fail(rejection_reason::unsupported_version);
    return 0;
  }

  static int add_header_bytes(request_parser& r, std::size_t n) {
    r.m_header_bytes += n;
    if (r.m_header_bytes > r.m_limits.max_request_headers_total_bytes) {
      return r.fail(rejection_reason::headers_too_large);
    }
    return 0;
  }

  static int on_header_field(llhttp_t* p, const char* at, std::size_t n) {
    request_parser& r = self(p);
    // RFC 9112 §5.1: no whitespace between the field name and the colon. llhttp 8.1 passes
    // "Host " through; a proxy in front of us might not, which is the smuggling risk.
    for (std::size_t i = 0; i < n; ++i) {
      if (at[i] == ' ' || at[i] == '\t') return r.fail(rejection_reason::invalid_header);
    }
    if (r.m_last != request_parser::last_token::field) r.m_field_name_bytes = 0;
    r.m_field_name_bytes += n;
    if (r.m_last != request_parser::last_token::field) {
      if (++r.m_header_count > r.m_limits.max_request_header_count) {
        return r.fail(rejection_reason::too_many_headers);
      }
      if (r.m_in_trailers) {
        r.m_trailer = {};
      } else {
        header_offsets h;
        h.name_offset = static_cast<std::uint32_t>(offset(r, at));
        h.name_length = static_cast<std::uint32_t>(n);
        r.m_headers.push_back(h);
      }
      r.m_last = request_parser::last_token::field;
      if (r.m_in_trailers) r.m_trailer.name_end = r.stream_position(at) + n;
      return add_header_bytes(r, n + k_header_line_overhead_bytes);
    }
    if (r.m_in_trailers) {
      r.m_trailer.name_end = r.stream_position(at) + n;
    } else {
      r.m_headers.back().name_length += static_cast<std::uint32_t>(n);
    }
    return add_header_bytes(r, n);
  }

  // Trailers are parsed while the connection compacts body bytes away between reads, so their
  // obs-fold checks use stream positions, and a line break in the gap between name and value
  // that lay in an earlier window is remembered (request_parser::note_window_end).
  static int on_trailer_value(request_parser& r, const char* at, std::size_t n) {
    request_parser::trailer_state& t = r.m_trailer;
    const std::uint64_t at_position = r.stream_position(at);
    if (r.m_last == request_parser::last_token::field) {
      // n == 0: an empty value (see on_header_value), not a fold.
      if (n != 0 && (t.line_break_in_gap || r.line_break_in_window(t.name_end, at_position))) {
        return r.fail(rejection_reason::obs_fold);
      }
    } else if (at_position != t.value_end) {
      return r.fail(rejection_reason::obs_fold);
    }
    t.value_end = at_position + n;
    r.m_last = request_parser::last_token::value;
    return add_header_bytes(r, n);
  }

  // RFC 9112 §5.1: a field name is a token, at least one character. llhttp 8.1 (not built in
  // strict mode) takes ": value" as a field with an empty name.
  static bool empty_field_name(const request_parser& r) noexcept {
    return r.m_last == request_parser::last_token::none ||
           (r.m_last == request_parser::last_token::field && r.m_field_name_bytes == 0);
  }

  static int on_header_value(llhttp_t* p, const char* at, std::size_t n) {
    request_parser& r = self(p);
    if (empty_field_name(r)) return r.fail(rejection_reason::invalid_header);
    if (r.m_in_trailers) return on_trailer_value(r, at, n);
    header_offsets& h = r.m_headers.back();
    const std::size_t at_offset = offset(r, at);
    if (r.m_last == request_parser::last_token::field) {
      // Between the name and the first value byte only ':' and whitespace may stand; a line break
      // there means the value began on a continuation line (obs-fold). An empty value (RFC 9110
      // section 5.5 allows one: "X-Empty:") comes as a zero-length piece at the start of the
      // next line, so its gap holds the line's own CRLF: no fold. A fold after an empty value
      // comes as a later piece that is not adjacent to this one (checked below). A zero-length
      // piece at the end of a read is the same: the value goes on where it stands.
      if (n != 0) {
        for (std::size_t i = h.name_offset + h.name_length; i < at_offset; ++i) {
          if (r.m_base[i] == '\r' || r.m_base[i] == '\n') {
            return r.fail(rejection_reason::obs_fold);
          }
        }
      }
      h.value_offset = static_cast<std::uint32_t>(at_offset);
      h.value_length = static_cast<std::uint32_t>(n);
    } else {
      // A piece not adjacent to the previous one: llhttp skipped a CRLF and whitespace, i.e.
      // folded.
      if (at_offset != static_cast<std::size_t>(h.value_offset) + h.value_length) {
        return r.fail(rejection_reason::obs_fold);
      }
      h.value_length += static_cast<std::uint32_t>(n);
    }
    r.m_last = request_parser::last_token::value;
    return add_header_bytes(r, n);
  }

  static int on_headers_complete(llhttp_t* p) {
    request_parser& r = self(p);
    // A request line without a version ("GET /x", HTTP/0.9's form): llhttp calls it 0.9 without
    // a version to complete. Not HTTP/1.x: 400 (an explicit HTTP/0.9 got 505 above).
    if (p->http_major != 1) return r.fail(rejection_reason::invalid_version);
    if (r.m_last == request_parser::last_token::field && r.m_field_name_bytes == 0) {
      return r.fail(rejection_reason::invalid_header);
    }
    // An origin server does not tunnel: CONNECT gets 501 (and llhttp would take what follows
    // as the tunnel's bytes).
    if (p->method == HTTP_CONNECT) return r.fail(rejection_reason::unsupported_method);
    // harrier never switches protocols, so an Upgrade request is an ordinary one (RFC 9110
    // section 7.8: a server MAY ignore Upgrade; the client then goes on in HTTP/1.1, as curl
    // does after offering h2c). Cleared here, llhttp reads its body by its framing and parses
    // what follows as the next request: it never pauses for an upgrade.
    p->upgrade = 0;
    r.m_head_done = true;
    r.m_in_trailers = true;
    r.m_last = request_parser::last_token::none;
    if ((p->flags & (F_CHUNKED | F_TRANSFER_ENCODING)) == 0 &&
        ((p->flags & F_CONTENT_LENGTH) == 0 || p->content_length == 0)) {
      // No body: llhttp completes the message next, in this call, and execute() reports both
      // at its pause there. One llhttp_execute per such request instead of two (~200
      // instructions a request, callgrind).
      r.m_head_ends_message = true;
      return 0;
    }
    r.m_pause = request_parser::pause_reason::head;
    return HPE_PAUSED;
  }

  static int on_body(llhttp_t* p, const char* at, std::size_t n) {
    request_parser& r = self(p);
    const std::size_t at_offset = offset(r, at);
    if (!r.m_body_offset) {
      r.m_body_offset = at_offset;
      r.m_body_length = n;
    } else if (*r.m_body_offset + r.m_body_length == at_offset) {
      r.m_body_length += n;
    } else {
      // Cannot happen: we pause at every chunk end, so one window holds one run of body bytes.
      return r.fail(rejection_reason::malformed);
    }
    return 0;
  }

  // Extensions are dropped; their names and values (llhttp calls these in pieces) only count.
  static int on_chunk_extension(llhttp_t* p, const char*, std::size_t n) {
    request_parser& r = self(p);
    if (n > r.m_extension_budget) return r.fail(rejection_reason::chunk_extensions_too_long);
    r.m_extension_budget -= n;
    return 0;
  }

  // Paused so that execute() can check the CRLF that ended the chunk-size line. The chunk's
  // size (in content_length here) adds to the extension budget; a size llhttp accepted is below
  // 2^64, and the budget saturates.
  static int on_chunk_header(llhttp_t* p) {
    request_parser& r = self(p);
    const std::uint64_t size = p->content_length;
    r.m_announced_chunk_bytes = size > UINT64_MAX - r.m_announced_chunk_bytes
                                    ? UINT64_MAX
                                    : r.m_announced_chunk_bytes + size;
    if (r.m_limits.max_request_body_bytes &&
        r.m_announced_chunk_bytes > *r.m_limits.max_request_body_bytes) {
      return r.fail(rejection_reason::body_too_large);
    }
    const std::uint64_t allowance =
        p->content_length > (UINT64_MAX - 16) / 2 ? UINT64_MAX : 16 + 2 * p->content_length;
    r.m_extension_budget = allowance > UINT64_MAX - r.m_extension_budget
                               ? UINT64_MAX
                               : r.m_extension_budget + allowance;
    r.m_last_chunk = p->content_length == 0;
    r.m_pause = request_parser::pause_reason::chunk_header;
    return HPE_PAUSED;
  }

  static int on_chunk_complete(llhttp_t* p) {
    self(p).m_pause = request_parser::pause_reason::chunk;
    return HPE_PAUSED;
  }

  static int on_message_complete(llhttp_t* p) {
    self(p).m_pause = request_parser::pause_reason::message;
    return HPE_PAUSED;
  }

  static const llhttp_settings_t& settings() {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t v;
      llhttp_settings_init(&v);
      v.on_message_begin = on_message_begin;
      v.on_method = on_method;
      v.on_url = on_url;
      v.on_version = on_version;
      v.on_version_complete = on_version_complete;
      v.on_header_field = on_header_field;
      v.on_header_value = on_header_value;
      v.on_headers_complete = on_headers_complete;
      v.on_body = on_body;
      v.on_chunk_extension_name = on_chunk_extension;
      v.on_chunk_extension_value = on_chunk_extension;
      v.on_chunk_header = on_chunk_header;
      v.on_chunk_complete = on_chunk_complete;
      v.on_message_complete = on_message_complete;
      return v;
    }();
    return s;
  }
};

request_parser::request_parser(const server_limits& limits) : m_limits(limits) {
  llhttp_init(&m_llhttp, HTTP_REQUEST, &parser_callbacks::settings());
  m_llhttp.data = this;
  // Every lenient flag off but LENIENT_VERSION (8.1 has no setters; this states them all).
  // Strict llhttp knows only 0.9, 1.0, 1.1 and 2.0 and calls anything else invalid (400), but
  // RFC 9112 section 2.3 says a server SHOULD process HTTP/1.2 and later minors as the highest
  // minor it implements, as nginx and Go's net/http do. With LENIENT_VERSION llhttp still
  // demands the syntax and stores the digits; on_version_complete decides (505 for a major
  // other than 1). No other leniency: the flag changes nothing about framing.
  m_llhttp.lenient_flags = LENIENT_VERSION;
  m_headers.reserve(8);  // as connection_core's header views (see there)
}

request_parser::~request_parser() = default;

int request_parser::fail(rejection_reason reason) noexcept {
  m_error = reason;
  m_callback_failed = true;
  return HPE_USER;
}

parse_step request_parser::fail_step(rejection_reason reason, std::size_t begin) noexcept {
  m_error = reason;
  m_failed = true;
  parse_step step;
  step.event = parse_event::error;
  step.position = begin;
  return step;
}

bool request_parser::crlf_before(const char* base, std::size_t begin,
                                 std::size_t position) const noexcept {
  if (position < 2 || position - 1 < begin) return false;
  const char cr = position - 2 >= begin ? base[position - 2] : m_previous_byte;
  return cr == '\r' && base[position - 1] == '\n';
}

std::uint64_t request_parser::stream_position(const char* at) const noexcept {
  return m_stream_begin + static_cast<std::uint64_t>(at - (m_base + m_window_begin));
}

bool request_parser::line_break_in_window(std::uint64_t from, std::uint64_t to) const noexcept {
  from = std::max(from, m_stream_begin);  // earlier bytes may be gone: see line_break_in_gap
  for (std::uint64_t i = from; i < to; ++i) {
    const char c = m_base[m_window_begin + static_cast<std::size_t>(i - m_stream_begin)];
    if (c == '\r' || c == '\n') return true;
  }
  return false;
}

void request_parser::note_window_end(std::size_t position) noexcept {
  const std::uint64_t end = m_stream_begin + (position - m_window_begin);
  if (m_in_trailers && m_last == last_token::field && !m_trailer.line_break_in_gap) {
    m_trailer.line_break_in_gap = line_break_in_window(m_trailer.name_end, end);
  }
  m_stream_begin = end;
}

void request_parser::next_message() noexcept {
  m_pause = pause_reason::none;
  m_head_done = false;
}

const char* request_parser::llhttp_reason() const noexcept {
  // A check of ours failed in a callback: llhttp's reason would only name the callback.
  if (m_callback_failed) return "";
  const char* reason = llhttp_get_error_reason(&m_llhttp);
  return reason != nullptr ? reason : "";
}

namespace {
// What llhttp parses in place of a method it does not know. It parses a request's framing from
// its header fields whatever the method; only CONNECT (a tunnel) and PRI (the HTTP/2 preface)
// are special to it, and GET is neither.
constexpr std::string_view k_stand_in_method = "GET";

// Methods llhttp knows only for RTSP: it takes them, then refuses them at an HTTP version.
bool rtsp_only(std::uint8_t method) noexcept {
  return method >= HTTP_DESCRIBE && method <= HTTP_FLUSH;
}

rejection_reason classify(llhttp_errno_t error, const char* reason) {
  switch (error) {
    case HPE_INVALID_METHOD:
      return rejection_reason::invalid_method;
    case HPE_INVALID_URL:
      return rejection_reason::invalid_target;
    case HPE_INVALID_VERSION:
      return rejection_reason::invalid_version;
    case HPE_CR_EXPECTED:
    case HPE_LF_EXPECTED:
      return rejection_reason::invalid_line_ending;
    case HPE_INVALID_HEADER_TOKEN:
      return rejection_reason::invalid_header;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      return std::strncmp(reason, "Duplicate", 9) == 0
                 ? rejection_reason::duplicate_content_length
                 : rejection_reason::content_length_with_transfer_encoding;
    case HPE_INVALID_CONTENT_LENGTH:
      return rejection_reason::invalid_content_length;
    case HPE_INVALID_CHUNK_SIZE:
      return rejection_reason::invalid_chunk;
    case HPE_INVALID_TRANSFER_ENCODING:
      return rejection_reason::invalid_transfer_encoding;
    default:
      return rejection_reason::malformed;
  }
}
}  // namespace

// RFC 9110 section 9.1: a method is any token, and case-sensitive ("get" is not GET); what a
// server does not implement is the application's to answer (501 or 405), on a connection that
// stays usable, as Kestrel, nginx and Go do. llhttp 8.1 refuses every method outside its table
// (QUERY, BREW, get), and RTSP's at the HTTP version. So when it refuses one that is a token
// followed by SP, it starts the message again on k_stand_in_method and goes on after the token.
request_parser::token_method request_parser::take_token_method(const char* base, std::size_t end,
                                                               std::size_t& from) noexcept {
  std::size_t i = m_method_scanned;
  if (!m_method_pending) {
    i = 0;
    while (i < end && (base[i] == '\r' || base[i] == '\n'))
      ++i;  // empty lines before a request line are ignored (RFC 9112 section 2.2)
    m_token_method_offset = i;
  }
  const std::size_t start = m_token_method_offset;
  while (i < end && is_token_char(base[i]))
    ++i;
  m_method_pending = false;
  if (i == start || (i < end && base[i] != ' ')) return token_method::none;
  if (i - start + k_request_line_overhead_bytes > m_limits.max_request_line_bytes) {
    return token_method::too_long;
  }
  if (i == end) {
    m_method_pending = true;
    m_method_scanned = i;
    return token_method::incomplete;
  }
  llhttp_reset(&m_llhttp);
  const llhttp_errno_t error =
      llhttp_execute(&m_llhttp, k_stand_in_method.data(), k_stand_in_method.size());
  if (error != HPE_OK) return token_method::none;  // cannot happen: a fresh parser takes "GET"
  m_method_length = i - start;
  m_token_method_offset = start;
  m_token_method_length = i - start;
  from = i;
  return token_method::taken;
}

parse_step request_parser::execute(char* base, std::size_t begin, std::size_t end) {
  if (m_failed) return fail_step(m_error, begin);
  m_base = base;
  m_window_begin = begin;
  m_body_offset.reset();
  m_body_length = 0;
  parse_step step;
  if (m_at_chunk_line) {
    // See request_parser.hpp, "Chunk extensions".
    const std::size_t available = end - begin;
    switch (prepare_chunk_line(base + begin, std::min(available, k_max_held_chunk_line_bytes))) {
      case chunk_line_status::incomplete:
        if (available < k_max_held_chunk_line_bytes) {
          step.event = parse_event::need_more;
          step.position = begin;  // the line's start stays unparsed, for the next call
          return step;
        }
        break;  // too long to hold back: llhttp parses it as it comes
      case chunk_line_status::invalid:
        return fail_step(rejection_reason::invalid_chunk, begin);
      case chunk_line_status::ready:
        break;
    }
    m_at_chunk_line = false;
  }
  std::size_t from = begin;
  // A method llhttp does not know (take_token_method): taken, pending, or too long.
  std::optional<token_method> method;
  if (m_method_pending) {
    method = take_token_method(base, end, from);
    if (*method == token_method::none) return fail_step(rejection_reason::invalid_method, begin);
  }
  for (;;) {
    if (method) {
      const token_method taken = *std::exchange(method, std::nullopt);
      if (taken == token_method::incomplete) {
        step.event = parse_event::need_more;
        step.position = end;
        break;
      }
      if (taken == token_method::too_long) {
        // RFC 9112 section 3: a method longer than any the server implements SHOULD get 501.
        fail(rejection_reason::unsupported_method);
        return fail_step(m_error, begin);
      }
      // token_method::taken: llhttp goes on after the token, from `from`.
    }
    m_pause = pause_reason::none;
    const llhttp_errno_t error = llhttp_execute(&m_llhttp, base + from, end - from);
    if (error == HPE_OK) {
      step.event = parse_event::need_more;
      step.position = end;
      break;
    }
    if (error != HPE_PAUSED) {
      if (!m_callback_failed && !m_head_done && m_token_method_length == 0 &&
          (error == HPE_INVALID_METHOD ||
           (error == HPE_INVALID_CONSTANT && rtsp_only(m_llhttp.method)))) {
        method = take_token_method(base, end, from);
        if (*method != token_method::none) continue;
      }
      // A callback's own reason stands: llhttp reports HPE_USER from a data callback but its
      // HPE_CB_* code from the others (on_version_complete, on_headers_complete).
      if (!m_callback_failed) m_error = classify(error, llhttp_reason());
      return fail_step(m_error, begin);
    }
    step.position = static_cast<std::size_t>(llhttp_get_error_pos(&m_llhttp) - base);
    llhttp_resume(&m_llhttp);
    if (m_pause == pause_reason::chunk_header) {
      // The chunk-size line must end in CRLF; then parsing goes on in this window.
      if (!crlf_before(base, begin, step.position)) {
        return fail_step(rejection_reason::invalid_chunk, begin);
      }
      from = step.position;
      continue;
    }
    switch (m_pause) {
      case pause_reason::head:
        if (has_bare_line_break(base, step.position)) {
          return fail_step(rejection_reason::invalid_line_ending, begin);
        }
        step.event = parse_event::head_complete;
        m_at_chunk_line = chunked();
        break;
      case pause_reason::chunk:
        // Chunk data ends in CRLF (llhttp skips any two bytes there).
        if (!crlf_before(base, begin, step.position)) {
          return fail_step(rejection_reason::invalid_chunk, begin);
        }
        step.event = parse_event::chunk_end;
        m_at_chunk_line = !m_last_chunk;
        break;
      case pause_reason::message:
        if (m_head_ends_message) {  // the head, and the message with it (reset by the next)
          if (has_bare_line_break(base, step.position)) {
            return fail_step(rejection_reason::invalid_line_ending, begin);
          }
          step.event = parse_event::head_complete;
          step.message_complete = true;
          break;
        }
        // A chunked message ends with the CRLF after the trailers. At `begin` (the message ends
        // where the last chunk did) that CRLF was checked at the chunk's end.
        if (chunked() && step.position > begin && !crlf_before(base, begin, step.position)) {
          return fail_step(rejection_reason::invalid_chunk, begin);
        }
        step.event = parse_event::message_complete;
        break;
      case pause_reason::none:
      case pause_reason::chunk_header:
        step.event = parse_event::need_more;
        break;
    }
    break;
  }
  if (step.position > begin) m_previous_byte = base[step.position - 1];
  note_window_end(step.position);
  if (m_body_offset) {
    step.body_offset = *m_body_offset;
    step.body_length = m_body_length;
  }
  return step;
}

std::string_view request_parser::method(const char* base) const noexcept {
  if (m_token_method_length != 0) return {base + m_token_method_offset, m_token_method_length};
  return llhttp_method_name(static_cast<llhttp_method_t>(m_llhttp.method));
}
bool request_parser::head_method() const noexcept {
  return m_token_method_length == 0 && m_llhttp.method == HTTP_HEAD;
}
int request_parser::version_major() const noexcept {
  return m_llhttp.http_major;
}
int request_parser::version_minor() const noexcept {
  // A later HTTP/1 minor is processed as HTTP/1.1 (see the constructor).
  return m_llhttp.http_minor > 1 ? 1 : m_llhttp.http_minor;
}
bool request_parser::chunked() const noexcept {
  return (m_llhttp.flags & F_CHUNKED) != 0;
}
bool request_parser::has_content_length() const noexcept {
  return (m_llhttp.flags & F_CONTENT_LENGTH) != 0;
}
std::uint64_t request_parser::content_length() const noexcept {
  return m_llhttp.content_length;
}
bool request_parser::has_transfer_encoding() const noexcept {
  return (m_llhttp.flags & F_TRANSFER_ENCODING) != 0;
}
bool request_parser::should_keep_alive() const noexcept {
  return llhttp_should_keep_alive(&m_llhttp) != 0;
}

}  // namespace harrier::http::detail
