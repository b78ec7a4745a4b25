#pragma once
// The HTTP/1.1 layer: requests, responses, connections and the server.
#include <harrier/http/connection.hpp>
#include <harrier/http/date_cache.hpp>
#include <harrier/http/handler.hpp>
#include <harrier/http/rejection.hpp>
#include <harrier/http/request.hpp>
#include <harrier/http/response.hpp>
#include <harrier/http/server.hpp>
#include <harrier/http/server_limits.hpp>
#include <harrier/http/tcp_transport.hpp>
