// The minimum response data rate (server_limits::min_response_bytes_per_second), through a real
// server on loopback: a client that stops reading has its connection aborted; one that reads gets
// the whole response. Every wait is bounded (futures waited for at most 10 s, receive timeouts).

#include <harrier/core/cancellation.hpp>
#include <harrier/http/response.hpp>
#include <harrier/http/server.hpp>
#include <harrier/net/io_context.hpp>

#include "support/bounded_stop.hpp"
#include "support/loopback_client.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <string>

using namespace harrier::http;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t k_chunk = 64 * 1024;
constexpr std::size_t k_chunks = 256;  // 16 MiB: far more than loopback's socket buffers hold
constexpr std::uint64_t k_file_bytes = 32 << 20;

struct big_response_server {
  harrier::net::io_context io;
  std::promise<void> handler_done;
  std::atomic<std::size_t> chunks_written{0};
  std::atomic<bool> saw_abort{false};
  server srv;

  int file = -1;  // a sparse 32 MiB file for /file

  // grace: how long a send may take below the minimum rate (the tests of the abort keep it
  // short; the others give a slow machine, or a sanitizer's build under load, room).
  explicit big_response_server(std::chrono::nanoseconds grace = 300ms)
      : srv(io, options(grace), [this](request& req, response& res) -> harrier::task<void> {
          if (req.path() == "/whole") {  // one buffered body, sent by end()
            std::string body(k_chunk * k_chunks, '\0');
            for (std::size_t i = 0; i < body.size(); ++i)
              body[i] = static_cast<char>('a' + i % 23);
            co_await res.send(200, "application/octet-stream", body);
            saw_abort = req.aborted().is_cancellation_requested();
            handler_done.set_value();
            co_return;
          }
          if (req.path() == "/file") {
            res.set_content_length(k_file_bytes);
            co_await res.write_file(file, 0, k_file_bytes);
            saw_abort = req.aborted().is_cancellation_requested();
            handler_done.set_value();
            co_return;
          }
          const std::string chunk(k_chunk, 'x');
          res.set_content_length(k_chunk * k_chunks);
          for (std::size_t i = 0; i < k_chunks; ++i) {
            if (req.aborted().is_cancellation_requested()) {
              saw_abort = true;
              break;
            }
            co_await res.write(chunk);
            ++chunks_written;
          }
          handler_done.set_value();
        }) {
    char path[] = "/tmp/harrier-rate-XXXXXX";
    file = ::mkstemp(path);
    REQUIRE(file >= 0);
    ::unlink(path);
    REQUIRE(::ftruncate(file, static_cast<::off_t>(k_file_bytes)) == 0);
    srv.start();
  }
  ~big_response_server() {
    harrier::test::stop_bounded(srv, io);
    io.stop();
    ::close(file);
  }
  static server_options options(std::chrono::nanoseconds grace) {
    server_options o;
    o.endpoints.push_back(harrier::net::endpoint::parse("127.0.0.1:0"));
    o.connection.limits.min_response_bytes_per_second = 1'000'000;
    o.connection.limits.min_response_rate_grace = grace;
    o.connection.limits.timeout_check_interval = 50ms;
    o.shutdown_timeout = 2s;  // a failed test's stuck connection is aborted at the stop
    return o;
  }
  int connect_and_request(std::string_view get) {
    const int fd = harrier::test::connect_with_timeout(srv.local_endpoints().front());
    harrier::test::send_all(fd, get);
    return fd;
  }
};

// Reads until the server closes or resets: the number of bytes received, or -1 after 10 s
// without either.
long long read_to_end(int fd) {
  long long total = 0;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      total += n;
      continue;
    }
    if (n == 0 || errno == ECONNRESET) return total;
    return -1;
  }
}

// Requests `get` and reads nothing: the server must abort the connection within 10 s (the
// handler finishes and saw request::aborted()), after sending less than `full` bytes.
void expect_aborted_when_not_read(big_response_server& s, std::string_view get,
                                  std::uint64_t full) {
  const int fd = s.connect_and_request(get);
  REQUIRE(s.handler_done.get_future().wait_for(10s) == std::future_status::ready);
  CHECK(s.saw_abort);
  const long long received = read_to_end(fd);
  ::close(fd);
  CHECK(received >= 0);  // the server ended the connection
  CHECK(received < static_cast<long long>(full));
}

}  // namespace

TEST_CASE("a client that stops reading a response has its connection aborted",
          "[http][server][timeouts]") {
  // Nothing is read: the socket buffers fill, a send waits, and the check aborts it once it has
  // waited longer than the grace period (its 64 KiB at 1 MB/s take less).
  big_response_server s;
  expect_aborted_when_not_read(s, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n", k_chunk * k_chunks);
  CHECK(s.chunks_written < k_chunks);
}

TEST_CASE("a client that reads keeps its connection under the minimum response data rate",
          "[http][server][timeouts]") {
  big_response_server s;
  const int fd = s.connect_and_request("GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const long long received = read_to_end(fd);
  ::close(fd);
  REQUIRE(s.handler_done.get_future().wait_for(10s) == std::future_status::ready);
  CHECK_FALSE(s.saw_abort);
  CHECK(s.chunks_written == k_chunks);
  CHECK(received > static_cast<long long>(k_chunk * k_chunks));  // the body and its head
}

TEST_CASE("a client that stops reading a file response has its connection aborted",
          "[http][server][timeouts]") {
  // write_file sends by sendfile(2). As one send, 32 MiB at the 1 MB/s minimum would be allowed
  // 33 s; in 256 KiB pieces each is allowed the 300 ms grace.
  big_response_server s;
  expect_aborted_when_not_read(s, "GET /file HTTP/1.1\r\nHost: t\r\n\r\n", k_file_bytes);
}

TEST_CASE("a client that stops reading a large buffered body has its connection aborted",
          "[http][server][timeouts]") {
  // 16 MiB handed to send() at once: as one send it would be allowed 16.8 s at 1 MB/s; in
  // 256 KiB pieces each is allowed the 300 ms grace.
  big_response_server s;
  expect_aborted_when_not_read(s, "GET /whole HTTP/1.1\r\nHost: t\r\n\r\n", k_chunk * k_chunks);
}

TEST_CASE("a large buffered body sent in pieces arrives whole and in order",
          "[http][server][timeouts]") {
  // Not a test of the rate: a 256 KiB piece read in over 300 ms (TSan, a loaded machine) would
  // abort it (a CI run under TSan did, 11 of 16 MiB read).
  big_response_server s(10s);
  const int fd =
      s.connect_and_request("GET /whole HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const std::string data = harrier::test::read_until_closed(fd);
  ::close(fd);
  REQUIRE(s.handler_done.get_future().wait_for(10s) == std::future_status::ready);
  CHECK_FALSE(s.saw_abort);
  const std::size_t head_end = data.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  const std::string_view body = std::string_view(data).substr(head_end + 4);
  REQUIRE(body.size() == k_chunk * k_chunks);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < body.size(); ++i)
    wrong += body[i] != static_cast<char>('a' + i % 23) ? 1 : 0;
  CHECK(wrong == 0);
}
