#pragma once
// connection_core: the HTTP/1.1 state machine of one connection (internal).
//
// One coroutine (run) owns everything here except the deadline word and the cancellation sources,
// which the timeout watchdog, begin_shutdown() and abort() touch from other threads, and the
// hand-offs documented in read_ahead.cpp and held_output.cpp (each through an async_event).
//
// Receive buffer: [0, m_start) is done with; [m_start, m_parsed) is the current request as parsed
// so far; [m_parsed, m_end) is received but not parsed (the rest of this request, or pipelined
// requests); [m_end, m_capacity) is free. The head of the current request stays put while its
// handler runs (request views point into it); body bytes after it are compacted away as the body is
// read. While a handler runs, at most the read-ahead (below) receives, into the buffer's free end,
// so unread pipelined input never exceeds one buffer: this is the request-buffer back-pressure,
// far below server_limits::max_request_buffer_bytes.
//
// Output buffer: responses are serialised into m_out and sent when (a) the connection is about to
// wait for input, (b) a response ends and no further request is buffered, (c) it passes
// max_response_buffer_bytes, (d) the handler flushes, (e) the connection closes. Rule (b) is what
// coalesces a pipelined batch of responses into one send; held_output.cpp keeps rule (b) from
// delaying those responses behind a handler that suspends.
//
// Client disconnects: while a handler runs with the request fully read and nothing else buffered,
// one receive stays pending (the read-ahead). If it sees EOF or an error, request::aborted() is
// cancelled so the handler can stop; if it gets bytes (the next request), they are kept, and the
// loop continues with them instead of issuing a new receive, so this costs no extra system call.
//
// Timeouts: one deadline word (kind and phase number, or "fired") and check_timeouts(now), which
// times how long it has seen the same phase armed, and on expiry swaps the word to "fired"
// (compare-exchange, so a deadline that was just disarmed is never fired) and cancels the pending
// receive. The owner's heartbeat calls it (the server walks all its connections, as Kestrel's
// heartbeat does), or else a watchdog coroutine of the connection's own, sleeping on the
// transport's timer. The connection reads the word back when its receive returns, so the two
// sides agree on whether a timeout happened. The request path arms and disarms with two atomic
// operations: no timer, and no clock read, per request.

#include <harrier/core/block_pool.hpp>
#include <harrier/core/cancellation.hpp>
#include <harrier/core/spawn.hpp>
#include <harrier/core/task.hpp>
#include <harrier/http/connection.hpp>
#include <harrier/http/request.hpp>
#include <harrier/http/response.hpp>

#include "http/async_event.hpp"
#include "http/request_parser.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace harrier::http::detail {

enum class deadline_kind : std::int64_t {
  none = 0,
  keep_alive = 1,     // waiting for the first byte of a request: close quietly
  headers = 2,        // inside a request head: 408
  body_rate = 3,      // waiting for body bytes below the minimum rate: 408
  linger = 4,         // draining input after an error response before closing
  shutdown = 5,       // fired only: the server is shutting down and the connection was idle
  first_request = 6,  // a new connection waiting for its first request: as keep_alive, except
                      // that shutdown does not close it at once (see run)
};

// The kinds that wait for a request's first byte: they cancel m_idle_cancel, the others
// m_recv_cancel.
constexpr bool is_idle_deadline(deadline_kind kind) noexcept {
  return kind == deadline_kind::keep_alive || kind == deadline_kind::first_request ||
         kind == deadline_kind::shutdown;
}

class connection_core {
 public:
  // Whether a Connection field value (a list of tokens) holds the "close" option, in any case.
  static bool lists_close(std::string_view list) noexcept;
  connection_core(transport_base& transport, std::shared_ptr<const http1_options> options,
                  request_handler handler, connection_info info,
                  const connection_describer* describer);
  ~connection_core();
  connection_core(const connection_core&) = delete;
  connection_core& operator=(const connection_core&) = delete;

  task<void> run();
  void begin_shutdown() noexcept;
  void abort() noexcept;
  // One timeout check (see watchdog.cpp); returns how long until this connection's current
  // deadline could pass (nanoseconds::max() when none is armed). One caller at a time: the
  // owner's heartbeat, or the connection's own watchdog when options.external_timeout_checks is
  // false.
  std::chrono::nanoseconds check_timeouts(transport_clock::time_point now) noexcept;

  // request_body
  task<std::span<const std::byte>> read_body();
  task<std::string> read_all(std::size_t limit);
  bool body_complete() const noexcept { return m_body_done; }
  std::optional<std::uint64_t> declared_length() const noexcept { return m_declared_length; }

  // response
  // The part of write_body that needs no I/O: true when it took `data` (buffered it before the
  // head, or counted it for a body that is never sent); false, with nothing done, when
  // write_body must send. Throws as write_body does on a misuse.
  bool take_body_now(response& res, std::span<const std::byte> data);
  task<void> write_body(response& res, std::span<const std::byte> data);
  task<void> write_file(response& res, int fd, std::uint64_t offset, std::uint64_t length);
  task<void> write_file_by_copy(response& res, int fd, std::uint64_t offset, std::uint64_t length);
  task<void> flush_response(response& res);
  task<void> end_response(response& res);
  const date_cache& dates() const noexcept { return m_dates; }

 private:
  enum class head_result { ok, closed, rejected };

  // connection_core.cpp: the loop
  bool begin_request();
  // After the handler returned or threw (`error`): a failure becomes 500, 499 or an abort.
  void handler_returned(std::exception_ptr error);
  task<void> finish_request();
  // The end of finish_request, once the response ended and the body was read: the request's
  // message end is parsed, so the next request starts at a boundary.
  void finish_message();
  void reject(rejection_reason reason);
  bool rejected_request_is_head() const noexcept;
  // The unparsed input holds nothing but CRLF pairs (empty lines between requests).
  bool only_blank_lines() const noexcept;
  task<void> close_connection();
  void prepare_next_request() noexcept;
  void peer_gone() noexcept;
  // watchdog.cpp: the two halves of check_timeouts.
  std::chrono::nanoseconds check_deadline(transport_clock::time_point now) noexcept;
  std::chrono::nanoseconds check_send_rate(transport_clock::time_point now) noexcept;
  // Around every send, for the response data rate (check_send_rate). Sends never overlap (a
  // handler's wait for held output orders them), so plain loads and stores suffice: on x86 these
  // are ordinary moves, nothing on the request path.
  void send_begins(std::size_t bytes) noexcept {
    m_send_bytes.store(bytes, std::memory_order_relaxed);
    // ordering: release pairs with check_send_rate's acquire: it reads this send's size.
    m_send_seq.store(m_send_seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  // abort_io() from any thread, never on a closed transport: the socket's state (and its
  // descriptor, which another connection may reuse) goes away at close, which run() does while
  // an abort() or a rate check may run elsewhere. close_transport (run() only) waits for an
  // abort in progress.
  void abort_transport() noexcept;
  void close_transport() noexcept;
  // A send failed: the peer is gone, or the rate check aborted the connection (logged once).
  void send_failed() noexcept;
  void send_ends() noexcept {
    m_send_seq.store(m_send_seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // held_output.cpp: pipelined responses are not held back by a handler that suspends
  task<std::exception_ptr> invoke_handler_behind_held_output();
  task<void> run_handler_detached();

  // read_ahead.cpp: the receive kept pending while a handler runs, to notice a client that leaves
  void start_read_ahead();
  harrier::detail::detached_task read_ahead(std::span<std::byte> into);
  std::optional<rejection_reason> check_transfer_codings(bool chunked_last) const noexcept;
  // After wait_readable: copies the bytes the transport kept without a recv (and its coroutine
  // frames) when it can; false when the transport cannot, and recv() must take them.
  bool take_kept_input(io_result& r) noexcept;
  // The origin-form part of the target (path and query) into `rest`, and for absolute-form the
  // authority into `authority` (empty otherwise). False when the form does not fit the method.
  static bool split_target(std::string_view method, std::string_view target, std::string_view& rest,
                           std::string_view& authority) noexcept;
  // After m_read_ahead_done is set: takes the read-ahead's result into r. True when its bytes
  // wait in the transport and must still be received with recv().
  bool take_read_ahead(io_result& r);

  // input_buffer.cpp: the receive buffer
  bool make_room_for_head();
  void make_room_for_body() noexcept;
  bool ensure_body_room_after_head();
  std::span<std::byte> free_space() noexcept;
  void release_idle_buffer() noexcept;  // only with an empty pool-block buffer
  void reacquire_buffer();
  const char* request_base() const noexcept { return m_data + m_start; }
  char* request_base() noexcept { return m_data + m_start; }

  // response_writer.cpp: serialisation and sending
  void start_response(response& res, bool at_end);
  void append_body(response& res, std::span<const std::byte> data);
  void append_simple_response(int status, std::string_view body);
  class head_buffer;
  // The status line, Date and Server (those two unless `res` has its own).
  void put_head_prefix(head_buffer& head, int status, const response* res = nullptr) const;
  task<bool> flush_output(std::span<const std::byte> extra = {});
  // flush_output's steps before and after its send, which end_response also takes without
  // flush_output's frame: the buffers to send (0: none), and the send's outcome (false: failed).
  std::size_t output_buffers(::iovec (&buffers)[2], std::span<const std::byte> extra) noexcept;
  bool output_sent(const io_result& r) noexcept;
  // Sends over k_send_piece bytes go in pieces, each timed by the response data rate.
  static constexpr std::size_t k_send_piece = 256 * 1024;
  task<io_result> send_in_pieces(::iovec (&buffers)[2], std::size_t count);
  bool decide_keep_alive(const response& res) const noexcept;

  // watchdog.cpp: timeouts
  // Arms a deadline of `kind`. A new phase restarts the clock; re-arming the same phase (another
  // receive for the same request head or body) keeps the time already spent.
  void arm_deadline(deadline_kind kind, bool new_phase) noexcept;
  deadline_kind disarm_deadline() noexcept;  // the kind that fired, or none
  task<void> watchdog();

  transport_base& m_transport;
  // Shared with the owner's other connections (a server's): 16 bytes instead of a copy's 136.
  std::shared_ptr<const http1_options> m_shared_options;
  const http1_options& m_options;
  request_handler m_handler;
  date_cache& m_dates;
  rejection_counters& m_rejections;
  request_parser m_parser;

  // Receive buffer: a pool block at first, a heap buffer once a head needs more.
  harrier::block m_block;
  std::unique_ptr<char[]> m_heap;
  char* m_data = nullptr;
  std::size_t m_capacity = 0;
  std::size_t m_start = 0;
  std::size_t m_parsed = 0;
  std::size_t m_end = 0;
  std::size_t m_head_length = 0;  // bytes of the current head, from m_start

  // The current request.
  request m_request;
  response m_response;
  std::string m_normalized_path;  // request::path() when the target had dot segments
  std::string m_last_valid_host;  // the last Host value valid_authority() accepted
  std::vector<header_field> m_header_views;
  bool m_head_phase_started = false;
  std::optional<std::uint64_t> m_declared_length;
  std::uint64_t m_body_received = 0;
  bool m_body_reading_started = false;
  bool m_body_done = true;
  bool m_message_done = true;
  bool m_expect_continue = false;
  bool m_continue_sent = false;
  bool m_request_keep_alive = true;
  bool m_no_response_body = false;     // HEAD
  bool m_blank_lines_dropped = false;  // the idle deadline runs on (run())

  // Output.
  std::string m_out;

  // Connection state (owned by run()).
  bool m_close_after_response = false;  // decided when the current response head was written
  bool m_broken = false;                // the transport failed or the peer left: stop at once
  bool m_abort_now = false;             // close without flushing (handler failed mid-response)
  bool m_linger = false;                // drain input briefly before closing (after a rejection)
  bool m_served_a_request = false;
  bool m_last_request = false;  // its bytes came as an idle deadline fired: close after it

  // Shared with other threads.
  std::atomic<std::int64_t> m_deadline{0};
  // check_timeouts' own state, beside the word it reads: the word it last saw, and since when.
  std::int64_t m_seen_word = 0;
  transport_clock::time_point m_seen_since{};
  std::atomic<std::uint64_t> m_body_received_for_watchdog{0};
  // The response data rate: m_send_seq is odd while a send is pending, m_send_bytes its size
  // (written by the sending side); the checker's own view of them; whether it aborted for it.
  std::atomic<std::uint64_t> m_send_seq{0};
  std::atomic<std::size_t> m_send_bytes{0};
  std::uint64_t m_send_seen_seq = 0;
  transport_clock::time_point m_send_seen_since{};
  std::atomic<bool> m_send_too_slow{false};
  static constexpr std::uint8_t k_transport_open = 0;
  static constexpr std::uint8_t k_transport_aborting = 1;
  static constexpr std::uint8_t k_transport_closed = 2;
  std::atomic<std::uint8_t> m_transport_state{k_transport_open};
  bool m_send_rate_logged = false;  // run()'s side
  std::int64_t m_phase = 0;         // run() only: numbers the deadline phases
  std::atomic<bool> m_shutting_down{false};
  cancellation_source m_recv_cancel;  // the head's and the body's timeouts, abort
  // The waits for a request's first byte (run()'s idle wait, the read-ahead): keep-alive and
  // first-request timeouts, shutdown of an idle connection, abort. Apart from m_recv_cancel so
  // that a request whose bytes came as such a deadline fired can still be read with its own
  // timeouts (see run()).
  cancellation_source m_idle_cancel;
  cancellation_source m_abort;        // abort(): cancels sends
  cancellation_source m_client_gone;  // request::aborted(): abort, EOF or error from the peer
  // Only for a connection that runs its own watchdog (no external heartbeat).
  struct watchdog_control {
    std::atomic<bool> stop{false};
    cancellation_source cancel;  // stops the watchdog's sleep at the end of run()
    async_event done;
  };
  std::unique_ptr<watchdog_control> m_watchdog;

  // Held output: responses buffered before a handler that may suspend (see held_output.cpp).
  std::string m_out_held;
  bool m_held_active = false;  // written by run() only while no handler runs
  async_event m_held_sent;
  async_event m_handler_done;
  std::exception_ptr m_handler_error;

  // The read-ahead (owned by run(); the result crosses threads through the event).
  bool m_read_ahead_active = false;
  bool m_read_ahead_waits_only = false;  // it waits in the transport; the buffer is free
  std::size_t m_read_ahead_offset = 0;
  io_result m_read_ahead_result;
  async_event m_read_ahead_done;
};

}  // namespace harrier::http::detail
