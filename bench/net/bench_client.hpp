#pragma once
// The benchmark's load generator: a plain epoll loop, run in a forked process so that its cost
// is the same whichever backend the server under test uses, and so that it never shares the
// server's address space (RSS) or syscall count.

#include <sys/socket.h>

#include <cstddef>

namespace bench {

struct client_plan {
  const ::sockaddr* server;
  ::socklen_t server_length;
  int connections;
  int pipeline;  // requests written back to back before waiting for their responses
  std::size_t request_bytes;
  bool idle;     // connect, report, then hold the connections without sending
  int ready_fd;  // one byte is written here once every connection is up
};

// Runs until killed. Never returns.
[[noreturn]] void run_client(const client_plan& plan);

// The same closed loop on harrier's own io_uring backend (inline dispatch): a cheaper client, so
// that the server, not the load generator, is what saturates first in the ping-pong comparison.
[[noreturn]] void run_client_uring(const client_plan& plan);

}  // namespace bench
