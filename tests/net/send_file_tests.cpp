// tcp_stream::send_file: zero-copy sending of a file range, on every backend and dispatch mode.

#include "net/net_test_support.hpp"

#include <harrier/core/cancellation.hpp>
#include <harrier/core/when_all.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

using namespace net_test;
using harrier::task;
using harrier::net::tcp_stream;

namespace {

// A temporary file with a recognisable pattern, removed (and closed) at the end of the test.
struct temp_file {
  explicit temp_file(std::size_t size) {
    char path[] = "/tmp/harrier-send-file-XXXXXX";
    fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::unlink(path);
    content.resize(size);
    for (std::size_t i = 0; i < size; ++i)
      content[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
    REQUIRE(::write(fd, content.data(), size) == static_cast<ssize_t>(size));
  }
  ~temp_file() { ::close(fd); }
  int fd = -1;
  std::string content;
};

task<std::string> read_to_eof(tcp_stream& s) {
  std::string got;
  std::vector<std::byte> buffer(64 * 1024);
  while (true) {
    auto r = co_await s.recv(buffer);
    NET_EXPECT(!r.error);
    if (r.bytes == 0) break;
    got.append(reinterpret_cast<const char*>(buffer.data()), r.bytes);
  }
  co_return got;
}

task<harrier::net::io_result> send_then_close(tcp_stream& s, int fd, std::uint64_t offset,
                                              std::size_t length) {
  auto r = co_await s.send_file(fd, offset, length);
  co_await s.shutdown_send();
  co_return r;
}

}  // namespace

TEST_CASE("send_file sends a file range byte for byte, through a full socket buffer",
          "[net][send_file]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  // 8 MiB is far beyond loopback's socket buffers: the send waits for the reader many times.
  temp_file file(8 * 1024 * 1024);
  const std::uint64_t offset = 1000;
  const std::size_t length = file.content.size() - 2000;
  auto body = [](harrier::net::io_context& ctx, int fd, std::uint64_t off,
                 std::size_t len) -> task<std::pair<harrier::net::io_result, std::string>> {
    auto [server, client] = co_await connected_pair(ctx);
    auto [sent, got] =
        co_await harrier::when_all(send_then_close(server, fd, off, len), read_to_eof(client));
    co_return std::pair{sent, std::move(got)};
  };
  auto [sent, got] = run(body(env.context, file.fd, offset, length));
  CHECK(!sent.error);
  CHECK(sent.bytes == length);
  REQUIRE(got.size() == length);
  CHECK(got == file.content.substr(offset, length));
  CHECK(::lseek(file.fd, 0, SEEK_CUR) == static_cast<off_t>(file.content.size()));  // not moved
}

TEST_CASE("send_file of a range past the end of the file fails with io_error", "[net][send_file]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  temp_file file(10'000);
  auto body = [](harrier::net::io_context& ctx,
                 int fd) -> task<std::pair<harrier::net::io_result, std::string>> {
    auto [server, client] = co_await connected_pair(ctx);
    auto [sent, got] =
        co_await harrier::when_all(send_then_close(server, fd, 4000, 20'000), read_to_eof(client));
    co_return std::pair{sent, std::move(got)};
  };
  auto [sent, got] = run(body(env.context, file.fd));
  CHECK(sent.error == std::errc::io_error);
  CHECK(sent.bytes == 6000);  // what the file had from the offset on
  CHECK(got == file.content.substr(4000));
}

TEST_CASE("a send_file waiting for a reader is cancelled by its token, once", "[net][send_file]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  temp_file file(32 * 1024 * 1024);  // the reader never reads: the socket fills up
  auto body = [](harrier::net::io_context& ctx, int fd,
                 std::size_t len) -> task<harrier::net::io_result> {
    auto [server, client] = co_await connected_pair(ctx);
    harrier::cancellation_source source;
    auto canceller = [](harrier::net::io_context& io,
                        harrier::cancellation_source& s) -> task<harrier::net::io_result> {
      co_await harrier::net::sleep_for(io, std::chrono::milliseconds(50));
      s.request_cancellation();
      co_return harrier::net::io_result{};
    };
    auto sender = [](tcp_stream& s, int file_fd, std::size_t n,
                     harrier::cancellation_token t) -> task<harrier::net::io_result> {
      co_return co_await s.send_file(file_fd, 0, n, std::move(t));
    };
    auto [sent, ignored] =
        co_await harrier::when_all(sender(server, fd, len, source.token()), canceller(ctx, source));
    (void)ignored;
    co_return sent;
  };
  const auto sent = run(body(env.context, file.fd, file.content.size()));
  CHECK(sent.error == std::errc::operation_canceled);
  CHECK(sent.bytes > 0);
  CHECK(sent.bytes < file.content.size());
}

TEST_CASE("send_file to a peer that reset fails with an error and raises no SIGPIPE",
          "[net][send_file]") {
  // sendfile(2) has no MSG_NOSIGNAL; an unguarded call here would kill the test process.
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  temp_file file(8 * 1024 * 1024);
  auto body = [](harrier::net::io_context& ctx, int fd,
                 std::size_t len) -> task<harrier::net::io_result> {
    auto [server, client] = co_await connected_pair(ctx);
    const ::linger reset{1, 0};
    ::setsockopt(client.native_handle(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    client.close();  // RST: the server's writes fail with ECONNRESET, then EPIPE
    harrier::net::io_result last;
    // The first failing write may report the reset; the ones after it are EPIPE + SIGPIPE.
    for (int i = 0; i < 5 && last.error != std::errc::broken_pipe; ++i)
      last = co_await server.send_file(fd, 0, len);
    co_return last;
  };
  const auto sent = run(body(env.context, file.fd, file.content.size()));
  CHECK(sent.error == std::errc::broken_pipe);
}
