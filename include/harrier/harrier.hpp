#pragma once
// harrier: an embeddable C++20 HTTP server runtime. The umbrella header.
#include <harrier/core.hpp>
#include <harrier/diagnostics.hpp>
#include <harrier/http.hpp>
#include <harrier/middleware/application.hpp>
#include <harrier/middleware/builtin.hpp>
#include <harrier/net/net.hpp>
#include <harrier/threadpool/thread_pool.hpp>
#include <harrier/version.hpp>
