#pragma once
// stop_bounded: stops an http::server from a test thread and waits at most 30 s for it. A stop
// that does not finish prints what still runs (the server's connections, the io_context's pending
// operations) and aborts: ctest's timeout otherwise kills a hung test with nothing to say (one
// loopback test hung in CI's ASan stage once, with no output).

#include <harrier/core/sync_wait.hpp>
#include <harrier/http/server.hpp>
#include <harrier/net/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>

namespace harrier::test {

inline void stop_bounded(http::server& srv, net::io_context& io) {
  std::promise<void> stopped;
  std::future<void> stopped_future = stopped.get_future();
  std::thread watchdog([&srv, &io, &stopped_future] {
    if (stopped_future.wait_for(std::chrono::seconds(30)) == std::future_status::ready) return;
    const http::server_stats s = srv.stats();
    const net::io_stats i = io.stats();
    std::fprintf(stderr,
                 "http::server::stop() did not finish in 30 s: %zu connection(s) active (%llu "
                 "accepted, %llu refused); io_context: %llu operation(s) pending, %llu completed\n",
                 s.active_connections, static_cast<unsigned long long>(s.connections_total),
                 static_cast<unsigned long long>(s.connections_refused),
                 static_cast<unsigned long long>(i.pending_operations),
                 static_cast<unsigned long long>(i.completions));
    std::fflush(stderr);
    std::abort();
  });
  sync_wait(srv.stop());
  stopped.set_value();
  watchdog.join();
}

}  // namespace harrier::test
