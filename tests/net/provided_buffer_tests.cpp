// recv_provided: buffers picked by the layer, given back by the holder. Exercises running out of
// provided buffers (io_uring: ENOBUFS, then re-arming when buffers come back) and a peer that
// sends while nobody reads (the multishot receive pauses, then resumes, losing nothing).

#include "net/net_test_support.hpp"

#include <harrier/core/when_all.hpp>

#include <mutex>

using namespace net_test;
using harrier::task;
using harrier::net::recv_buffer;
using harrier::net::tcp_stream;

namespace {

harrier::net::io_options tiny_ring(config c, harrier::executor* dispatch) {
  harrier::net::io_options o;
  o.backend = usable(c.backend);
  o.dispatch = dispatch;
  o.provided_buffers = 4;  // io_uring: four buffers for the whole I/O thread
  return o;
}

}  // namespace

TEST_CASE("a receive waiting for provided buffers resumes once the holders give them back",
          "[net][provided]") {
  const config c = any_config();
  INFO(c.name());
  std::unique_ptr<harrier::executor> pool = make_dispatch(c);
  harrier::net::io_context ctx(tiny_ring(c, pool.get()));
  auto body = [](harrier::net::io_context& x) -> task<bool> {
    auto [server, client] = co_await connected_pair(x);
    // The reader and the releaser may run on different pool threads.
    struct holder {
      std::mutex mutex;
      std::vector<recv_buffer> buffers;
    } held;
    std::string got;
    auto release_later = [](harrier::net::io_context& y, holder& h) -> task<void> {
      co_await harrier::net::sleep_for(y, 20ms);
      std::lock_guard lock(h.mutex);
      h.buffers.clear();  // gives every buffer back
    };
    auto reader = [](tcp_stream& s, tcp_stream& peer, holder& h, std::string& out) -> task<void> {
      for (int i = 0; i < 8; ++i) {
        co_await peer.send(as_bytes("message " + std::to_string(i) + ";"));
        auto r = co_await s.recv_provided();
        NET_EXPECT(!r.error && !r.buffer.empty());
        out.append(reinterpret_cast<const char*>(r.buffer.bytes().data()), r.buffer.size());
        std::lock_guard lock(h.mutex);
        h.buffers.push_back(std::move(r.buffer));  // hold it: the ring runs dry after four
      }
    };
    co_await harrier::when_all(reader(server, client, held, got), release_later(x, held));
    std::string expected;
    for (int i = 0; i < 8; ++i)
      expected += "message " + std::to_string(i) + ";";
    co_return got == expected;
  };
  CHECK(run(body(ctx)));
}

TEST_CASE("data sent while nobody reads is all delivered later, in order", "[net][provided]") {
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& x) -> task<bool> {
    auto [server, client] = co_await connected_pair(x);
    // Arm the multishot receive, then stop reading while the peer sends 20 separate messages.
    co_await client.send(as_bytes("start;"));
    std::string got;
    {
      auto r = co_await server.recv_provided();
      NET_EXPECT(!r.error);
      got.append(reinterpret_cast<const char*>(r.buffer.bytes().data()), r.buffer.size());
    }
    std::string expected = "start;";
    for (int i = 0; i < 20; ++i) {
      const std::string m = "m" + std::to_string(i) + ";";
      expected += m;
      co_await client.send(as_bytes(m));
      co_await harrier::net::sleep_for(x, 1ms);  // separate arrivals, separate completions
    }
    co_await client.shutdown_send();
    while (true) {
      auto r = co_await server.recv_provided();
      NET_EXPECT(!r.error);
      if (r.buffer.empty()) break;
      got.append(reinterpret_cast<const char*>(r.buffer.bytes().data()), r.buffer.size());
    }
    co_return got == expected;
  };
  CHECK(run(body(env.context)));
}
