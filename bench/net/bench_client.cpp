// The load generator (see bench_client.hpp). Each connection writes `pipeline` requests of
// `request_bytes`, waits until as many bytes came back, and starts again: a closed loop, so the
// throughput is the server's (plus the loop's fixed cost).

#include "bench_client.hpp"

#include <harrier/core/spawn.hpp>
#include <harrier/core/task.hpp>
#include <harrier/net/net.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace bench {
namespace {

struct connection {
  int fd = -1;
  std::size_t expect = 0;  // bytes still to read for the current round
};

int connect_one(const client_plan& plan) {
  int fd = ::socket(plan.server->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, plan.server, plan.server_length) != 0) {
    std::perror("bench client: connect");
    std::_Exit(2);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

void send_round(connection& c, const std::vector<char>& round) {
  std::size_t sent = 0;
  while (sent < round.size()) {
    ssize_t n = ::send(c.fd, round.data() + sent, round.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) continue;  // tiny rounds: the socket buffer never fills in practice
      std::_Exit(0);                  // the server went away: the run is over
    }
    sent += static_cast<std::size_t>(n);
  }
  c.expect = round.size();
}

}  // namespace

void run_client(const client_plan& plan) {
  std::vector<connection> conns(static_cast<std::size_t>(plan.connections));
  for (auto& c : conns)
    c.fd = connect_one(plan);
  char ready = 'r';
  [[maybe_unused]] ssize_t w = ::write(plan.ready_fd, &ready, 1);
  if (plan.idle) {
    while (true)
      ::pause();
  }
  const std::vector<char> round(plan.request_bytes * static_cast<std::size_t>(plan.pipeline), 'q');
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (auto& c : conns) {
    ::epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    send_round(c, round);
  }
  std::vector<::epoll_event> events(256);
  std::vector<char> sink(1 << 16);
  while (true) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<connection*>(events[static_cast<std::size_t>(i)].data.ptr);
      ssize_t got = ::recv(c->fd, sink.data(), sink.size(), 0);
      if (got == 0 || (got < 0 && errno != EAGAIN)) std::_Exit(0);
      if (got < 0) continue;
      c->expect -= std::min(c->expect, static_cast<std::size_t>(got));
      if (c->expect == 0) send_round(*c, round);
    }
  }
}

namespace {

harrier::task<void> ping_pong(harrier::net::tcp_stream s, std::vector<char> round) {
  const auto request = std::as_bytes(std::span<const char>(round));
  while (true) {
    auto w = co_await s.send(request);
    if (w.error) std::_Exit(0);
    std::size_t expect = round.size();
    while (expect > 0) {
      auto r = co_await s.recv_provided();
      if (r.error || r.buffer.empty()) std::_Exit(0);
      expect -= std::min(expect, r.buffer.size());
    }
  }
}

harrier::task<void> connect_all(harrier::net::io_context& ctx, const client_plan& plan,
                                harrier::net::endpoint to) {
  const std::vector<char> round(plan.request_bytes * static_cast<std::size_t>(plan.pipeline), 'q');
  std::vector<harrier::net::tcp_stream> streams;
  for (int i = 0; i < plan.connections; ++i) {
    auto c = co_await harrier::net::connect(ctx, to);
    if (c.error) std::_Exit(2);
    streams.push_back(std::move(c.stream));
  }
  char ready = 'r';
  [[maybe_unused]] ssize_t w = ::write(plan.ready_fd, &ready, 1);
  for (auto& s : streams)
    harrier::spawn(ping_pong(std::move(s), round));
}

}  // namespace

void run_client_uring(const client_plan& plan) {
  harrier::net::io_options options;
  options.backend = harrier::net::backend_kind::io_uring;
  harrier::net::io_context ctx(options);
  harrier::spawn(connect_all(
      ctx, plan, harrier::net::endpoint::from_sockaddr(plan.server, plan.server_length)));
  while (true)
    ::pause();
}

}  // namespace bench
