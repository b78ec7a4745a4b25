// tcp_transport (the server's transport over the net layer's tcp_stream), on a real loopback
// connection: what the connection relies on beyond the net layer's own tests.

#include <harrier/http/tcp_transport.hpp>

#include "net/net_test_support.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <string>

using namespace net_test;
using harrier::cancellation_source;
using harrier::task;

TEST_CASE("tcp_transport: an idle wait cancelled as input arrives returns the input",
          "[http][transport]") {
  // A keep-alive connection's wait for its next request is cancelled when its timeout fires
  // (or at shutdown). A request that came in that instant must be answered, not closed on: the
  // wait completes with it. The bytes arrive and the cancellation is consumed within one turn of
  // the I/O thread, before it polls again (on io_uring the bytes are then still in the socket,
  // and the next poll would move them into a provided buffer, out of a MSG_PEEK's sight).
  const auto backend =
      GENERATE(harrier::net::backend_kind::io_uring, harrier::net::backend_kind::epoll);
  const bool frameless = GENERATE(true, false);  // start_wait_readable, or the task form
  INFO(harrier::net::to_string(backend) << (frameless ? " start_wait_readable" : " wait_readable"));
  harrier::net::io_context context(harrier::net::io_options{usable(backend), nullptr});
  auto body = [](harrier::net::io_context& ctx, bool use_op) -> task<std::string> {
    auto [server, client] = co_await connected_pair(ctx);
    harrier::http::tcp_transport inner(server, ctx);
    harrier::http::transport_adapter<harrier::http::tcp_transport> transport(inner);
    std::byte buffer[64];
    // A first wait arms io_uring's multishot receive.
    NET_EXPECT(::send(client.native_handle(), "a", 1, MSG_NOSIGNAL) == 1);
    auto first = co_await transport.wait_readable_op({});
    NET_EXPECT(!first.error && first.bytes == 1 && transport.take_ready(buffer) == 1);

    cancellation_source source;
    bool arrived = false;
    harrier::spawn(act_after_timer(ctx, [&source, &arrived, client_fd = client.native_handle(),
                                         server_fd = server.native_handle()] {
      constexpr std::string_view request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
      if (::send(client_fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
        ::pollfd p{server_fd, POLLIN, 0};
        arrived = ::poll(&p, 1, 5000) == 1;  // loopback: there at once
      }
      source.request_cancellation();  // on the I/O thread: consumed at once
    }));
    const harrier::http::io_result r = use_op ? co_await transport.wait_readable_op(source.token())
                                              : co_await transport.wait_readable(source.token());
    NET_EXPECT(arrived);
    NET_EXPECT(!r.error && r.bytes > 0);
    const std::size_t n = transport.take_ready(buffer);
    co_return std::string(reinterpret_cast<const char*>(buffer), n);
  };
  CHECK(run(body(context, frameless)) == "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}
