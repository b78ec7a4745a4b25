#pragma once
// The platform layer: sockets, listeners, timers and their awaitables, over io_uring or epoll.

#include <harrier/net/endpoint.hpp>
#include <harrier/net/io_context.hpp>
#include <harrier/net/io_result.hpp>
#include <harrier/net/listener.hpp>
#include <harrier/net/recv_buffer.hpp>
#include <harrier/net/tcp_stream.hpp>
#include <harrier/net/timeout.hpp>
#include <harrier/net/timer.hpp>
