#pragma once
// An in-memory transport and a fake event loop for the HTTP tests.
//
// Everything runs on the test's thread. Operations that cannot complete at once park their
// coroutine; feeding bytes, closing, advancing the fake clock or cancelling moves it to the
// loop's ready queue, and loop.run() resumes the ready coroutines until none is left. So a test is
// a deterministic script: feed, run, look at what the server wrote. Nothing sleeps; a server that
// would hang shows up as a connection that is not finished when the script ends.
//
// Input is a list of chunks; each recv returns at most one chunk, and at most max_recv_bytes of
// it (1 makes the server read byte by byte). Every send/sendv appends to `output` and counts one
// write, so coalescing is visible as send_calls.

#include <harrier/core/cancellation.hpp>
#include <harrier/core/spawn.hpp>
#include <harrier/core/task.hpp>
#include <harrier/http/connection.hpp>
#include <harrier/http/request.hpp>
#include <harrier/http/response.hpp>
#include <harrier/http/transport.hpp>

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstring>
#include <deque>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace harrier::http::testing {

using namespace std::chrono_literals;

class fake_loop {
 public:
  void post(std::coroutine_handle<> h) { m_ready.push_back(h); }
  // Resumes ready coroutines until none is left (bounded, so a livelock fails instead of hanging).
  void run() {
    for (int i = 0; i < 1'000'000 && !m_ready.empty(); ++i) {
      auto h = m_ready.front();
      m_ready.pop_front();
      h.resume();
    }
  }
  transport_clock::time_point now() const { return m_now; }
  // Moves the clock forward in steps of at most `step`, waking sleepers as their time comes.
  void advance(std::chrono::nanoseconds by, std::chrono::nanoseconds step = 100ms) {
    const auto target = m_now + by;
    while (m_now < target) {
      m_now = std::min(target, m_now + step);
      wake_sleepers();
      run();
    }
  }

  struct sleeper {
    transport_clock::time_point wake;
    std::coroutine_handle<> handle;
    std::uint64_t id;
  };
  std::uint64_t next_sleeper_id() { return ++m_sleeper_ids; }
  using sleeper_list = std::list<sleeper>;
  sleeper_list& sleepers() { return m_sleepers; }
  void wake_sleepers() {
    for (auto it = m_sleepers.begin(); it != m_sleepers.end();) {
      if (it->wake <= m_now) {
        post(it->handle);
        it = m_sleepers.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::size_t sleeper_count() const { return m_sleepers.size(); }

 private:
  std::deque<std::coroutine_handle<>> m_ready;
  std::list<sleeper> m_sleepers;
  std::uint64_t m_sleeper_ids = 0;
  transport_clock::time_point m_now{std::chrono::seconds(1000)};
};

class memory_transport {
 public:
  explicit memory_transport(fake_loop& loop) : m_loop(loop) {}

  // --- test side ---
  void feed(std::string_view bytes) {
    m_input.emplace_back(bytes);
    deliver();
  }
  void feed_eof() {
    m_eof = true;
    deliver();
  }
  std::size_t max_recv_bytes = static_cast<std::size_t>(-1);
  std::string output;
  std::size_t send_calls = 0;
  bool closed = false;
  bool send_shut_down = false;
  std::size_t recv_calls = 0;
  bool recv_pending() const { return m_pending != nullptr; }
  bool input_waiting() const noexcept { return !m_input.empty(); }  // as a peek: EOF is not input

  // --- transport side (the http::transport concept) ---
  struct recv_awaiter {
    memory_transport& t;
    std::span<std::byte> buffer;
    cancellation_token token;
    io_result result{};
    std::coroutine_handle<> handle{};
    std::optional<cancellation_registration> registration;

    bool await_ready() {
      ++t.recv_calls;
      if (token.is_cancellation_requested()) {
        result.error = std::make_error_code(std::errc::operation_canceled);
        return true;
      }
      return t.try_fill(*this);
    }
    void await_suspend(std::coroutine_handle<> h) {
      handle = h;
      t.m_pending = this;
      registration.emplace(token, [this]() noexcept {
        if (t.m_pending != this) return;
        t.m_pending = nullptr;
        result.error = std::make_error_code(std::errc::operation_canceled);
        t.m_loop.post(handle);
      });
    }
    io_result await_resume() {
      registration.reset();
      return result;
    }
  };
  recv_awaiter recv(std::span<std::byte> buffer, cancellation_token token = {}) {
    return recv_awaiter{*this, buffer, std::move(token)};
  }

  struct ready_awaiter {
    io_result result;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    io_result await_resume() const noexcept { return result; }
  };
  ready_awaiter send(std::span<const std::byte> data, cancellation_token = {}) {
    if (closed || fail_sends) return {{std::make_error_code(std::errc::broken_pipe), 0}};
    ++send_calls;
    output.append(reinterpret_cast<const char*>(data.data()), data.size());
    return {{{}, data.size()}};
  }
  ready_awaiter sendv(std::span<const ::iovec> buffers, cancellation_token = {}) {
    if (closed || fail_sends) return {{std::make_error_code(std::errc::broken_pipe), 0}};
    ++send_calls;
    std::size_t total = 0;
    for (const ::iovec& v : buffers) {
      output.append(static_cast<const char*>(v.iov_base), v.iov_len);
      total += v.iov_len;
    }
    return {{{}, total}};
  }
  ready_awaiter shutdown_send() {
    send_shut_down = true;
    return {};
  }
  void close() noexcept {
    closed = true;
    if (m_pending != nullptr) {
      recv_awaiter* p = std::exchange(m_pending, nullptr);
      p->result.error = std::make_error_code(std::errc::operation_canceled);
      m_loop.post(p->handle);
    }
  }
  bool fail_sends = false;

  struct sleep_awaiter {
    fake_loop& loop;
    std::chrono::nanoseconds delay;
    cancellation_token token;
    std::error_code result{};
    std::uint64_t id = 0;
    std::optional<cancellation_registration> registration;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      id = loop.next_sleeper_id();
      loop.sleepers().push_back({loop.now() + delay, h, id});
      registration.emplace(token, [this, h]() noexcept {
        // Still in the list means not woken yet: take it out and complete it as cancelled.
        for (auto it = loop.sleepers().begin(); it != loop.sleepers().end(); ++it) {
          if (it->id == id) {
            loop.sleepers().erase(it);
            result = std::make_error_code(std::errc::operation_canceled);
            loop.post(h);
            return;
          }
        }
      });
    }
    std::error_code await_resume() {
      registration.reset();
      return result;
    }
  };
  sleep_awaiter sleep_for(std::chrono::nanoseconds delay, cancellation_token token = {}) {
    return sleep_awaiter{m_loop, delay, std::move(token)};
  }
  transport_clock::time_point now() const { return m_loop.now(); }

 private:
  bool try_fill(recv_awaiter& a) {
    if (closed) {
      a.result.error = std::make_error_code(std::errc::bad_file_descriptor);
      return true;
    }
    if (m_input.empty()) {
      if (!m_eof) return false;
      a.result = {};  // EOF
      return true;
    }
    std::string& chunk = m_input.front();
    const std::size_t n = std::min({chunk.size(), a.buffer.size(), max_recv_bytes});
    std::memcpy(a.buffer.data(), chunk.data(), n);
    chunk.erase(0, n);
    if (chunk.empty()) m_input.pop_front();
    a.result = {{}, n};
    return true;
  }
  void deliver() {
    if (m_pending != nullptr && try_fill(*m_pending)) {
      recv_awaiter* p = std::exchange(m_pending, nullptr);
      m_loop.post(p->handle);
    }
  }

  fake_loop& m_loop;
  std::deque<std::string> m_input;
  bool m_eof = false;
  recv_awaiter* m_pending = nullptr;
};

static_assert(transport<memory_transport>);

// One connection on a memory transport, with its loop.
class connection_harness {
 public:
  explicit connection_harness(request_handler handler, http1_options options = {})
      : transport(loop) {
    options.rejections = &rejections;
    connection.emplace(transport, options, std::move(handler));
  }
  ~connection_harness() {
    if (started && !finished) {
      transport.close();
      loop.run();
      for (int i = 0; i < 100 && !finished; ++i)
        loop.advance(1s);
    }
  }
  void start() {
    started = true;
    spawn(run_to_end(), "test connection");
    loop.run();
  }
  void feed(std::string_view bytes) {
    transport.feed(bytes);
    loop.run();
  }
  void feed_eof() {
    transport.feed_eof();
    loop.run();
  }

  fake_loop loop;
  memory_transport transport;
  rejection_counters rejections;
  std::optional<http1_connection<memory_transport>> connection;
  bool started = false;
  bool finished = false;

 private:
  task<void> run_to_end() {
    co_await connection->run();
    finished = true;
  }
};

// A response as the client sees it.
struct parsed_response {
  int status = 0;
  std::string head;  // status line and headers, as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;
  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (iequals(n, name)) return v;
    }
    return std::nullopt;
  }
  // How many header lines are named `name` (case-insensitive): singleton fields appear once.
  std::size_t header_count(std::string_view name) const {
    return static_cast<std::size_t>(
        std::count_if(headers.begin(), headers.end(),
                      [name](const auto& field) { return iequals(field.first, name); }));
  }
};

// Splits `wire` into responses. Bodies are framed by Content-Length or chunked encoding; a
// response with neither takes the rest (close-delimited). `no_body` lists indices of responses
// to HEAD requests. 1xx responses are returned as responses too.
inline std::vector<parsed_response> parse_responses(std::string_view wire,
                                                    std::vector<std::size_t> no_body = {}) {
  std::vector<parsed_response> out;
  while (!wire.empty()) {
    parsed_response r;
    const std::size_t head_end = wire.find("\r\n\r\n");
    if (head_end == std::string_view::npos) {
      r.status = -1;  // incomplete
      r.head = std::string(wire);
      out.push_back(r);
      break;
    }
    r.head = std::string(wire.substr(0, head_end + 2));
    std::string_view head = wire.substr(0, head_end);
    wire.remove_prefix(head_end + 4);
    const std::size_t line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    head = line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
    while (!head.empty()) {
      const std::size_t e = head.find("\r\n");
      const std::string_view line = head.substr(0, e);
      const std::size_t colon = line.find(':');
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
      if (e == std::string_view::npos) break;
      head.remove_prefix(e + 2);
    }
    const bool skip_body = r.status < 200 || r.status == 204 || r.status == 304 ||
                           std::find(no_body.begin(), no_body.end(), out.size()) != no_body.end();
    if (!skip_body) {
      if (auto cl = r.header("Content-Length")) {
        const std::size_t n = std::min<std::size_t>(std::stoul(*cl), wire.size());
        r.body = std::string(wire.substr(0, n));
        wire.remove_prefix(n);
      } else if (auto te = r.header("Transfer-Encoding"); te && *te == "chunked") {
        r.chunked = true;
        for (;;) {
          const std::size_t e = wire.find("\r\n");
          if (e == std::string_view::npos) break;
          const std::size_t size = std::stoul(std::string(wire.substr(0, e)), nullptr, 16);
          wire.remove_prefix(e + 2);
          if (size == 0) {
            wire.remove_prefix(std::min<std::size_t>(2, wire.size()));
            break;
          }
          r.body += std::string(wire.substr(0, size));
          wire.remove_prefix(std::min(wire.size(), size + 2));
        }
      } else {
        r.body = std::string(wire);
        wire = {};
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

inline std::string get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) +
         "\r\n";
}

// A handler answering "hello <path>" and counting its calls.
struct hello_handler {
  int* calls;
  task<void> operator()(request& req, response& res) const {
    ++*calls;
    std::string body = "hello " + std::string(req.path());
    co_await res.send(200, "text/plain", body);
  }
};

}  // namespace harrier::http::testing
