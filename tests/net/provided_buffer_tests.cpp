// recv_provided: buffers picked by the layer, given back by the holder. Exercises running out of
// provided buffers (io_uring: ENOBUFS, then re-arming when buffers come back) and a peer that
// sends while nobody reads (the multishot receive pauses, then resumes, losing nothing).

#include "net/net_test_support.hpp"

#include <harrier/core/when_all.hpp>

#include <mutex>
#include <set>

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

TEST_CASE("a steady stream of receives keeps reusing a few warm buffers", "[net][provided]") {
  // io_uring: the ring offers the kernel a window of recently returned buffers, not all 1024 in
  // turn (each receive would land in a cold page). epoll: the block pool's spare.
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& x) -> task<std::size_t> {
    auto [server, client] = co_await connected_pair(x);
    std::set<const std::byte*> used;
    for (int i = 0; i < 600; ++i) {
      co_await client.send(as_bytes("ping"));
      std::size_t got = 0;
      while (got < 4) {
        auto r = co_await server.recv_provided();
        NET_EXPECT(!r.error && !r.buffer.empty());
        used.insert(r.buffer.bytes().data());
        got += r.buffer.size();
      }  // each buffer is given back here, before the next message
    }
    co_return used.size();
  };
  const std::size_t distinct = run(body(env.context));
  CHECK(distinct >= 1);
  CHECK(distinct <= 64);
}

TEST_CASE("a burst of arrivals larger than the ring's window is all received", "[net][provided]") {
  // io_uring: 200 connections receive at once while every buffer is held, far more than the
  // ring's first window: the kernel finds it empty (ENOBUFS) while free buffers wait outside
  // it; the window grows and every starved receive is re-armed.
  const config c = any_config();
  INFO(c.name());
  environment env(c);
  auto body = [](harrier::net::io_context& x) -> task<bool> {
    constexpr int k_pairs = 200;
    std::vector<tcp_stream> servers;
    std::vector<tcp_stream> clients;
    for (int i = 0; i < k_pairs; ++i) {
      auto [s, cl] = co_await connected_pair(x);
      servers.push_back(std::move(s));
      clients.push_back(std::move(cl));
    }
    for (int i = 0; i < k_pairs; ++i)
      co_await clients[i].send(as_bytes("m" + std::to_string(i) + ";"));
    // Every receive holds its buffers until all have arrived.
    auto receive = [](tcp_stream& s, int i) -> task<std::vector<recv_buffer>> {
      const std::string want = "m" + std::to_string(i) + ";";
      std::vector<recv_buffer> held;
      std::string got;
      while (got.size() < want.size()) {
        auto r = co_await s.recv_provided();
        NET_EXPECT(!r.error && !r.buffer.empty());
        got.append(reinterpret_cast<const char*>(r.buffer.bytes().data()), r.buffer.size());
        held.push_back(std::move(r.buffer));
      }
      NET_EXPECT(got == want);
      co_return held;
    };
    std::vector<task<std::vector<recv_buffer>>> receives;
    for (int i = 0; i < k_pairs; ++i)
      receives.push_back(receive(servers[i], i));
    auto held = co_await harrier::when_all(std::move(receives));
    std::set<const std::byte*> distinct;
    for (auto& h : held)
      for (auto& b : h)
        distinct.insert(b.bytes().data());
    std::size_t buffers = 0;
    for (auto& h : held)
      buffers += h.size();
    co_return distinct.size() == buffers&& buffers >= k_pairs;
  };
  CHECK(run(body(env.context)));
}
