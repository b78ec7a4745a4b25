// connection_core: the request loop. See connection_core.hpp for the buffer, output and timeout
// design, and connection.hpp for the lifecycle.

#include "http/connection_core.hpp"

#include <harrier/core/spawn.hpp>

#include <harrier/diagnostics/trace_names.hpp>
#include <harrier/diagnostics/trace_recorder.hpp>

#include "core/logger.hpp"
#include "http/authority.hpp"
#include "http/request_path.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace harrier::http::detail {

connection_core::connection_core(transport_base& transport,
                                 std::shared_ptr<const http1_options> options,
                                 request_handler handler, connection_info info,
                                 const connection_describer* describer)
    : m_transport(transport),
      m_shared_options(std::move(options)),
      m_options(*m_shared_options),
      m_handler(std::move(handler)),
      m_dates(m_options.dates != nullptr ? *m_options.dates : date_cache::shared()),
      m_rejections(m_options.rejections != nullptr ? *m_options.rejections
                                                   : rejection_counters::shared()),
      m_parser(m_options.limits),
      m_request(*this),
      m_response(*this) {
  if (!m_handler) throw std::invalid_argument("http1_connection: the request handler is empty");
  m_request.m_connection = std::move(info);
  m_request.m_describer = describer;  // if any, asked when a request first wants the connection
  // No receive buffer yet: run() takes one when the first bytes arrive (input_buffer.cpp).
  // Room for the headers of a typical API client or load generator (curl 3, wrk 1-2, language
  // HTTP libraries 3-8) without growing; a browser's request (10-16) grows it once for the rest
  // of the connection. 8, not 16: 384 bytes less per connection with the parser's offsets.
  m_header_views.reserve(8);
  m_request.m_aborted = m_client_gone.token();
}

connection_core::~connection_core() = default;

task<void> connection_core::run() {
  if (!m_options.external_timeout_checks) {
    m_watchdog = std::make_unique<watchdog_control>();
    spawn(watchdog(), "http connection watchdog");
  }
  for (;;) {
    // Read until a whole request head is buffered: here rather than in a coroutine of its own,
    // a frame fewer per request (callgrind, /plaintext: 7,950-7,973 -> 7,779-7,786 instructions).
    head_result head = head_result::closed;
    bool message_complete = false;  // the head ended a request without a body
    for (;;) {
      if (m_parsed < m_end) {
        const parse_step step =
            m_parser.execute(request_base(), m_parsed - m_start, m_end - m_start);
        m_parsed = m_start + step.position;
        if (step.event == parse_event::head_complete) {
          m_head_length = step.position;
          message_complete = step.message_complete;
          head = head_result::ok;
          break;
        }
        if (step.event == parse_event::error) {
          reject(m_parser.error_reason());
          head = head_result::rejected;
          break;
        }
        if (m_parsed == m_end && only_blank_lines()) {
          // RFC 9112 section 2.2: empty lines before a request line are ignored (some clients
          // send a CRLF after a body). Alone they start no request: the connection stays idle,
          // and its idle deadline runs on from where it was (see below), neither the request
          // headers timeout (an unasked-for 408) nor a fresh keep-alive timeout.
          m_start = m_parsed = m_end = 0;
          m_blank_lines_dropped = true;
        }
      }
      if (m_data != nullptr && m_end == m_capacity && !make_room_for_head()) {
        // A head that does not fit has passed a limit already, unless the limits are inconsistent.
        reject(rejection_reason::headers_too_large);
        head = head_result::rejected;
        break;
      }
      // About to wait for input: whatever responses are buffered must leave first.
      if (!m_out.empty()) {
        const bool sent = co_await flush_output();  // not in the condition: see body_reader.cpp
        if (!sent) {
          head = head_result::closed;
          break;
        }
      }

      const bool idle = m_end == m_start;
      if (idle) {
        // A connection that has not had a request yet is not idle in the keep-alive sense: it was
        // accepted a moment ago, and its client has sent its first request or is about to. At
        // shutdown it gets a short grace for it (check_timeouts), where an idle keep-alive
        // connection closes at once: a connection accepted just before SIGTERM, or queued while
        // every worker was busy, was closed with its request unanswered (6 of 8 in the audit).
        const bool first = !m_served_a_request;
        arm_deadline(first ? deadline_kind::first_request : deadline_kind::keep_alive,
                     !std::exchange(m_blank_lines_dropped, false));
        // ordering: seq_cst, against begin_shutdown's store-then-load: either it sees our deadline
        // and fires it, or we see its flag here.
        if (!first && m_shutting_down.load(std::memory_order_seq_cst)) {
          disarm_deadline();
          head = head_result::closed;
          break;
        }
      } else {
        // The request headers timeout runs from the first byte of the request, across reads.
        arm_deadline(deadline_kind::headers, !m_head_phase_started);
        m_head_phase_started = true;
      }
      io_result r;
      if (m_read_ahead_active) {
        if (idle && m_end == 0 && !m_heap && m_read_ahead_waits_only) release_idle_buffer();
        co_await m_read_ahead_done;
        if (take_read_ahead(r)) r = co_await m_transport.recv(free_space(), {});
      } else if (idle && m_end == 0 && !m_heap && m_transport.can_wait_readable()) {
        // Idle between requests: the receive buffer goes back to the pool while we wait, so an
        // idle keep-alive connection holds none (as nginx frees its header buffer). It comes back
        // when bytes do; they wait in the transport meanwhile.
        release_idle_buffer();
        r = co_await m_transport.wait_readable(m_idle_cancel.token());
        reacquire_buffer();
        if (!r.error && r.bytes != 0 && !take_kept_input(r)) {
          r = co_await m_transport.recv(free_space(), {});
        }
      } else {
        reacquire_buffer();  // a transport that cannot wait without a buffer
        // Chosen before the co_await: GCC 12 destroys a conditional's temporary twice there.
        const cancellation_source& source = idle ? m_idle_cancel : m_recv_cancel;
        r = co_await m_transport.recv(free_space(), source.token());
      }
      const deadline_kind fired = disarm_deadline();
      if (fired == deadline_kind::headers) {
        reject(rejection_reason::headers_timeout);
        head = head_result::rejected;
        break;
      }
      if (fired != deadline_kind::none) {  // keep-alive, first request, shutdown
        // The deadline fired, but a request may have come all the same: its bytes received
        // while the connection waited for a thread (a pool starved by blocking handlers) and
        // the heartbeat saw it idle, or as the deadline fired (a cancelled wait_readable
        // completes with what had arrived; input_waiting() asks transports without it).
        // Closing lost requests the clients had sent before shutdown (2 of 12 in a CI run of
        // the contract test). They are answered, with Connection: close. Only the idle waits'
        // token was cancelled, so the rest of the request reads under its own timeouts.
        if ((r.error || r.bytes == 0) && !(r.error && m_transport.input_waiting())) {
          head = head_result::closed;
          break;
        }
        m_deadline.store(0, std::memory_order_seq_cst);  // only run() leaves a fired word
        m_last_request = true;
        if (r.error) {  // cancelled before it saw the bytes: they are in the socket
          reacquire_buffer();
          r = co_await m_transport.recv(free_space(), m_recv_cancel.token());
        }
      }
      if (r.error || r.bytes == 0) {
        if (r.error) peer_gone();
        if (!idle) {
          harrier::detail::harrier_logger()->debug(
              "http: connection closed inside a request head ({} bytes received)", m_end - m_start);
        }
        head = head_result::closed;
        break;
      }
      m_end += r.bytes;
    }
    if (head != head_result::ok) break;
    if (!begin_request()) break;
    m_message_done = message_complete;
    if (m_body_done && m_parsed == m_end && m_end < m_capacity) start_read_ahead();
    // The handler is awaited here rather than in a coroutine of its own, and a request whose
    // response ended and whose body was read is finished without one: two frames fewer per
    // request (callgrind, /plaintext: about 200 instructions).
    std::exception_ptr failure;
    if (m_out.empty()) {
      try {
        co_await m_handler(m_request, m_response);
      } catch (...) {
        failure = std::current_exception();
      }
    } else {
      failure = co_await invoke_handler_behind_held_output();
    }
    handler_returned(failure);
    if (m_broken || m_abort_now) break;
    if (m_response.m_ended && m_body_done) {
      finish_message();
    } else {
      co_await finish_request();
    }
    if (m_broken || m_abort_now || m_close_after_response) break;
    prepare_next_request();
  }
  co_await close_connection();
  if (m_watchdog) {
    // ordering: release/acquire pairs with the watchdog's load; the cancellation wakes its sleep.
    m_watchdog->stop.store(true, std::memory_order_release);
    m_watchdog->cancel.request_cancellation();
    co_await m_watchdog->done;
  }
}

namespace {
// Takes the next element of a comma-separated field value (RFC 9110 section 5.6.1) off the
// front of `list`, without the OWS around it (empty for an empty element).
std::string_view next_list_element(std::string_view& list) noexcept {
  const std::size_t comma = list.find(',');
  const std::string_view element = trim_ows(list.substr(0, comma));
  list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  return element;
}
}  // namespace

// Whether a Connection field value (a list of tokens, RFC 9110 section 7.6.1) holds the "close"
// option, case-insensitively.
bool connection_core::lists_close(std::string_view list) noexcept {
  while (!list.empty()) {
    if (iequals(next_list_element(list), "close")) return true;
  }
  return false;
}

// The four forms of request-target (RFC 9112 §3.2): origin-form "/path?query"; absolute-form
// "http://host/path?query", which a server MUST accept (clients talking to a proxy send it), whose
// path and query are then routed as usual; asterisk-form "*" for OPTIONS. Authority-form is
// CONNECT's, which the parser refuses (501). Anything else, and a fragment ('#', which
// clients never send), is refused. `rest` is what routing sees: the target from its path on.
bool connection_core::split_target(std::string_view method, std::string_view target,
                                   std::string_view& rest, std::string_view& authority) noexcept {
  authority = {};
  if (target.find('#') != std::string_view::npos) return false;
  if (!target.empty() && target.front() == '/') {
    rest = target;
    return true;
  }
  if (target == "*") {
    rest = target;
    return method == "OPTIONS";
  }
  const std::size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return false;
  const std::string_view scheme = target.substr(0, scheme_end);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
  const std::string_view after = target.substr(scheme_end + 3);
  const std::size_t path_start = after.find_first_of("/?");
  // No authority ("http://", "http:///x"): RFC 9110 section 4.2.1, a recipient MUST reject an
  // http URI with an empty host.
  if (after.empty() || path_start == 0) return false;
  rest = path_start == std::string_view::npos ? std::string_view() : after.substr(path_start);
  authority = after.substr(0, path_start);
  return true;
}

// Transfer-Encoding of a request (RFC 9112 §6): chunked must be the final coding (else the
// length is unknowable: 400), applied once (400); any other coding is one this server does not
// implement (501, "SHOULD" in §6.1). Returns the reason to refuse the request, if any.
std::optional<rejection_reason> connection_core::check_transfer_codings(
    bool chunked_last) const noexcept {
  if (!chunked_last) return rejection_reason::invalid_transfer_encoding;
  int chunked = 0;
  bool other = false;
  for (const header_field& f : m_header_views) {
    if (!iequals(f.name, "transfer-encoding")) continue;
    std::string_view list = f.value;
    while (!list.empty()) {
      const std::string_view coding = next_list_element(list);
      if (coding.empty()) continue;  // empty list elements are allowed (RFC 9110 §5.6.1)
      if (iequals(coding, "chunked")) {
        ++chunked;
      } else {
        other = true;
      }
    }
  }
  if (chunked != 1) return rejection_reason::invalid_transfer_encoding;
  if (other) return rejection_reason::unsupported_transfer_coding;
  return std::nullopt;
}

bool connection_core::begin_request() {
  request_parser& p = m_parser;
  const bool has_body = p.chunked() || (p.has_content_length() && p.content_length() > 0);
  if (has_body && !ensure_body_room_after_head()) {
    reject(rejection_reason::headers_too_large);
    return false;
  }
  const char* base = request_base();
  m_header_views.clear();
  std::size_t hosts = 0;
  std::size_t host_index = 0;
  std::optional<std::string_view> expect;
  bool close_option = false;
  for (const header_offsets& h : p.headers()) {
    header_field f{std::string_view(base + h.name_offset, h.name_length),
                   trim_ows(std::string_view(base + h.value_offset, h.value_length))};
    switch (f.name.size()) {  // by length first: one compare for most fields
      case 4:
        if (iequals(f.name, "host")) {
          ++hosts;
          host_index = m_header_views.size();
        }
        break;
      case 6:
        if (iequals(f.name, "expect")) expect = f.value;
        break;
      case 10:
        if (iequals(f.name, "connection")) close_option |= lists_close(f.value);
        break;
      case 17:
        if (f.value.empty() && iequals(f.name, "transfer-encoding")) {
          // llhttp sets no flag for an empty Transfer-Encoding, so it would pass as absent; a
          // hop that reads it otherwise (with a Content-Length, say) is a smuggling risk: 400.
          reject(rejection_reason::invalid_transfer_encoding);
          return false;
        }
        break;
      default:
        break;
    }
    m_header_views.push_back(f);
  }
  const bool http11 = p.version_minor() >= 1;
  if (hosts > 1) {
    reject(rejection_reason::duplicate_host);
    return false;
  }
  if (hosts == 0 && http11) {
    reject(rejection_reason::missing_host);
    return false;
  }
  // An empty Host is valid: a client whose target URI has no authority sends one (RFC 9112
  // section 3.2), and the server then names itself (section 3.3). Kestrel and Go's net/http
  // accept it; nginx does not.
  if (hosts == 1 && !m_header_views[host_index].value.empty() &&
      m_header_views[host_index].value != m_last_valid_host) {
    // A client sends the same Host on every request of a connection: checked once. (Only a
    // value that is not empty gets here, so an empty m_last_valid_host means "none yet".)
    if (!valid_authority(m_header_views[host_index].value)) {
      reject(rejection_reason::invalid_host);  // RFC 9112 section 3.2: MUST answer 400
      return false;
    }
    m_last_valid_host = m_header_views[host_index].value;
  }
  if (p.has_transfer_encoding() && !http11) {
    // RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing
    // (an HTTP/1.0 hop in between may not know chunked); refused as nginx does.
    reject(rejection_reason::invalid_transfer_encoding);
    return false;
  }
  if (p.has_transfer_encoding()) {
    if (const auto refused = check_transfer_codings(p.chunked())) {
      reject(*refused);
      return false;
    }
  }
  m_declared_length.reset();
  if (p.has_content_length()) {
    m_declared_length = p.content_length();
    const auto& max_body = m_options.limits.max_request_body_bytes;
    if (max_body && *m_declared_length > *max_body) {
      reject(rejection_reason::body_too_large);
      return false;
    }
  }

  request& req = m_request;
  req.m_method = p.method(base);
  req.m_target = std::string_view(base + p.target_offset(), p.target_length());
  std::string_view path_and_query;
  std::string_view authority;
  if (!split_target(req.m_method, req.m_target, path_and_query, authority)) {
    reject(rejection_reason::invalid_target);
    return false;
  }
  if (!authority.empty()) {
    // RFC 9112 section 3.2.2: the absolute-form's authority replaces the Host header (which
    // HTTP/1.1 still requires, checked above), for everything that reads the host.
    if (!valid_authority(authority)) {
      reject(rejection_reason::invalid_host);
      return false;
    }
    if (hosts == 1) {
      m_header_views[host_index].value = authority;
    } else {
      m_header_views.push_back(header_field{"Host", authority});  // HTTP/1.0 without Host
    }
  }
  const std::size_t question = path_and_query.find('?');
  req.m_path = path_and_query.substr(0, question);
  if (req.m_path.empty()) req.m_path = "/";  // absolute-form without a path (RFC 9112 §3.2.2)
  if (has_dot_segments(req.m_path)) {
    remove_dot_segments(req.m_path, m_normalized_path);
    req.m_path = m_normalized_path;
  }
  req.m_query =
      question == std::string_view::npos ? std::string_view() : path_and_query.substr(question + 1);
  req.m_version_major = p.version_major();  // 1: the parser refuses others (505, or 400)
  req.m_version_minor = p.version_minor();
  req.m_headers = header_list(m_header_views);
  // llhttp's answer, unless a Connection field lists "close" where it did not see it: it lets
  // keep-alive win over close for HTTP/1.0 ("keep-alive, close", or two fields), and does not
  // take OWS after the token ("close<HTAB>"). RFC 9112 section 9.6: after a request with close
  // the server MUST close. (The other way, keeping open what llhttp closes, would make it refuse
  // the next request as data after the end.)
  req.m_keep_alive = p.should_keep_alive() && !close_option;
  req.m_is_head = req.m_method == "HEAD";

  m_request_keep_alive = req.m_keep_alive;
  m_no_response_body = req.m_is_head;
  m_body_done = !p.chunked() && m_declared_length.value_or(0) == 0;
  m_body_received = 0;
  m_body_received_for_watchdog.store(0, std::memory_order_relaxed);
  m_body_reading_started = false;
  m_expect_continue = http11 && !m_body_done && expect && iequals(*expect, "100-continue");
  m_continue_sent = false;
  m_close_after_response = false;
  auto& recorder = diagnostics::default_trace_recorder();
  if (recorder.enabled()) [[unlikely]] {
    recorder.instant(diagnostics::trace_names::k_headers_parsed,
                     diagnostics::trace_names::k_category_http, {{"target", req.m_target}});
  }
  return true;
}

void connection_core::handler_returned(std::exception_ptr error) {
  auto& recorder = diagnostics::default_trace_recorder();
  if (recorder.enabled()) [[unlikely]] {
    recorder.instant(diagnostics::trace_names::k_response_written,
                     diagnostics::trace_names::k_category_http,
                     {{"status", m_response.status()}, {"bytes", m_response.body_bytes()}});
  }
  if (!error) return;
  if (m_response.m_started) {
    // The client has part of a response; nothing we send now can be framed correctly.
    harrier::detail::harrier_logger()->error(
        "http: handler for {} {} failed after the response started; aborting the connection",
        m_request.method(), m_request.path());
    m_abort_now = true;
    return;
  }
  try {
    std::rethrow_exception(error);
  } catch (const bad_request& e) {
    // A body read found the body malformed, too large or too slow: the client gets that status.
    if (e.reason() == rejection_reason::incomplete_body) {
      m_broken = true;
    }
    reject(e.reason());
    return;
  } catch (const std::exception& e) {
    if (dynamic_cast<const operation_cancelled*>(&e) != nullptr &&
        m_client_gone.is_cancellation_requested()) {
      // The client left, or half-closed its side, and the handler stopped on request::aborted():
      // not a failure of the handler. 499 (nginx's and ASP.NET Core's "client closed request")
      // reaches a client that half-closed and still reads; then the connection closes.
      harrier::detail::harrier_logger()->debug(
          "http: handler for {} {} stopped: the client closed the request", m_request.method(),
          m_request.path());
      if (m_broken) return;
      m_response.reset();
      m_response.m_status = 499;
      m_response.m_body_bytes = 0;
      m_close_after_response = true;
      return;
    }
    harrier::detail::harrier_logger()->error("http: handler for {} {} threw: {}",
                                             m_request.method(), m_request.path(), e.what());
  } catch (...) {
    harrier::detail::harrier_logger()->error("http: handler for {} {} threw a non-exception",
                                             m_request.method(), m_request.path());
  }
  if (m_broken) return;
  m_response.reset();
  m_response.m_status = 500;
  m_response.add_header("Content-Type", "text/plain");
  m_response.m_pending_body = "Internal Server Error";
  m_response.m_body_bytes = m_response.m_pending_body.size();
}

task<void> connection_core::finish_request() {
  if (!m_response.m_ended) co_await end_response(m_response);
  if (m_broken || m_abort_now) co_return;
  if (m_close_after_response) co_return;
  // Read and drop what the handler left of the body, so that the next request starts at a
  // request boundary. Bounded by the body size limit and the data rate timeout.
  try {
    while (!m_body_done)
      (void)co_await read_body();
  } catch (const bad_request& e) {
    m_rejections.add(e.reason());
    harrier::detail::harrier_logger()->debug("http: request rejected while draining its body: {}",
                                             rejection_name(e.reason()));
    m_close_after_response = true;
    m_linger = true;  // the client may still be sending that body
    co_return;
  }
  finish_message();
}

void connection_core::finish_message() {
  if (m_broken || m_abort_now || m_close_after_response) return;
  if (!m_message_done) {
    // A request without a body: llhttp reports its end on the next call, even with no input.
    const parse_step step = m_parser.execute(request_base(), m_parsed - m_start, m_end - m_start);
    m_parsed = m_start + step.position;
    if (step.event != parse_event::message_complete) {
      m_close_after_response = true;
      return;
    }
    m_message_done = true;
  }
}

void connection_core::reject(rejection_reason reason) {
  m_rejections.add(reason);
  // Whatever the handler had buffered is replaced by the error response.
  m_response.reset();
  m_response.m_ended = true;
  if (const std::string_view detail = m_parser.llhttp_reason(); !detail.empty()) {
    harrier::detail::harrier_logger()->debug("http: request rejected: {} (llhttp: {})",
                                             rejection_name(reason), detail);
  } else {
    harrier::detail::harrier_logger()->debug("http: request rejected: {}", rejection_name(reason));
  }
  m_close_after_response = true;
  const int status = rejection_status(reason);
  if (status == 0 || m_broken) return;
  m_linger = true;
  // RFC 9110 section 9.3.2: no content in a response to HEAD, a rejection's included.
  if (!m_no_response_body) m_no_response_body = rejected_request_is_head();
  append_simple_response(status, reason_phrase(status));
}

bool connection_core::only_blank_lines() const noexcept {
  // Whole CRLF pairs only: a CR whose LF has not come stays for the next read, and a bare LF
  // stays to be refused with the request it precedes (has_bare_line_break), as before.
  const std::size_t n = m_end - m_start;
  if (n % 2 != 0) return false;
  const char* p = request_base();
  for (std::size_t i = 0; i < n; i += 2) {
    if (p[i] != '\r' || p[i + 1] != '\n') return false;
  }
  return true;
}

bool connection_core::rejected_request_is_head() const noexcept {
  if (m_parser.head_done()) return m_parser.head_method();
  // The head is incomplete or malformed: the method, if it arrived whole, starts the request
  // (after any empty lines, which RFC 9112 section 2.2 lets a client send first).
  std::string_view rest(request_base(), m_end - m_start);
  while (!rest.empty() && (rest.front() == '\r' || rest.front() == '\n'))
    rest.remove_prefix(1);
  return rest.starts_with("HEAD ");
}

void connection_core::prepare_next_request() noexcept {
  m_parser.next_message();
  m_response.reset();
  m_no_response_body = false;
  m_header_views.clear();
  m_served_a_request = true;
  m_start = m_parsed;
  if (m_start == m_end) m_start = m_parsed = m_end = 0;
  m_head_phase_started = false;
}

void connection_core::peer_gone() noexcept {
  m_broken = true;
  m_client_gone.request_cancellation();
}

task<void> connection_core::close_connection() {
  bool more_input = false;  // the client sent more than the requests answered
  if (m_read_ahead_active) {
    // Nothing more will be read; the pending receive must end before the connection does.
    m_idle_cancel.request_cancellation();
    co_await m_read_ahead_done;
    io_result unread;
    (void)take_read_ahead(unread);  // what it received is not wanted any more
    more_input = !unread.error && unread.bytes != 0;
  }
  if (!m_broken && !m_abort_now) {
    const bool sent = co_await flush_output();  // not in the condition: see body_reader.cpp
    // Linger after a rejection, and whenever the client sent (or may be sending) more than we
    // read: pipelined requests behind a Connection: close, a body the handler left unread. As
    // nginx does. Otherwise close(2) alone sends the FIN: a shutdown(2) before it was one more
    // system call of the ~10 a connection with a single request costs (about 1 us here).
    const bool linger = m_linger || more_input || m_parsed != m_end || !m_body_done;
    if (sent && linger) {
      co_await m_transport.shutdown_send();
      // After an error response the client may still be sending the rest of its request (a
      // body over the limit). Closing with unread input resets the connection, and the reset
      // can destroy our response before the client has read it (RFC 9112 section 9.6), so
      // input is read and dropped until the client closes, for at most the linger timeout
      // (2 s) and k_linger_max_bytes. The client closes once it has read the response: Go,
      // Node and Java clients read while they upload. One that uploads everything first
      // (Python's http.client) needs its whole body read: 32 MiB covers the default body
      // limit (30 MB). Only 64 KiB were read before, which took ~2 ms: Go's client then saw
      // "broken pipe" instead of its 413 in 20-60 % of 1-32 MiB uploads (audit 4).
      constexpr std::size_t k_linger_max_bytes = 32 * 1024 * 1024;
      std::size_t drained = 0;
      reacquire_buffer();
      arm_deadline(deadline_kind::linger, true);
      while (drained < k_linger_max_bytes) {
        m_start = m_parsed = m_end = 0;
        const io_result r = co_await m_transport.recv(free_space(), m_recv_cancel.token());
        if (r.error || r.bytes == 0) break;
        drained += r.bytes;
      }
      disarm_deadline();
    }
  }
  close_transport();
  m_client_gone.request_cancellation();
}

void connection_core::begin_shutdown() noexcept {
  // ordering: seq_cst; see run().
  m_shutting_down.store(true, std::memory_order_seq_cst);
  std::int64_t current = m_deadline.load(std::memory_order_seq_cst);
  if (current > 0 && (current & 7) == static_cast<std::int64_t>(deadline_kind::keep_alive)) {
    if (m_deadline.compare_exchange_strong(current,
                                           -static_cast<std::int64_t>(deadline_kind::shutdown),
                                           std::memory_order_seq_cst)) {
      m_idle_cancel.request_cancellation();
    }
  }
}

void connection_core::abort() noexcept {
  m_idle_cancel.request_cancellation();
  m_recv_cancel.request_cancellation();
  m_abort.request_cancellation();
  m_client_gone.request_cancellation();
  // A handler that ignores its token (one that blocks its thread) would hold the connection
  // open until it returns: the client learns of the abort now (audit 3: it got its empty reply
  // 5 s after the shutdown timeout, when the process exited).
  abort_transport();
}

void connection_core::abort_transport() noexcept {
  std::uint8_t expected = k_transport_open;
  // ordering: acq_rel pairs with close_transport: the socket is not closed under us.
  if (m_transport_state.compare_exchange_strong(expected, k_transport_aborting,
                                                std::memory_order_acq_rel)) {
    m_transport.abort_io();
    m_transport_state.store(k_transport_open, std::memory_order_release);
  }
}

void connection_core::close_transport() noexcept {
  std::uint8_t expected = k_transport_open;
  // ordering: acq_rel pairs with abort_transport. An abort in progress is one shutdown(2) call:
  // wait for it rather than close the descriptor under it.
  while (!m_transport_state.compare_exchange_weak(expected, k_transport_closed,
                                                  std::memory_order_acq_rel)) {
    expected = k_transport_open;
    std::this_thread::yield();
  }
  m_transport.close();
}

void connection_core_deleter::operator()(connection_core* core) const noexcept {
  delete core;
}

connection_core_ptr make_connection_core(transport_base& transport,
                                         std::shared_ptr<const http1_options> options,
                                         request_handler handler, connection_info info,
                                         const connection_describer* describer) {
  if (options == nullptr) throw std::invalid_argument("http1_connection: the options are null");
  return connection_core_ptr(new connection_core(transport, std::move(options), std::move(handler),
                                                 std::move(info), describer));
}
task<void> run_connection(connection_core& core) {
  return core.run();
}
void begin_connection_shutdown(connection_core& core) noexcept {
  core.begin_shutdown();
}
void abort_connection(connection_core& core) noexcept {
  core.abort();
}
std::chrono::nanoseconds check_connection_timeouts(connection_core& core,
                                                   transport_clock::time_point now) noexcept {
  return core.check_timeouts(now);
}

}  // namespace harrier::http::detail
