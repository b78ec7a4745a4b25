#pragma once
// harrier: an embeddable C++20 HTTP server runtime. The umbrella header.
#include <harrier/core.hpp>
#include <harrier/threadpool/thread_pool.hpp>
#include <harrier/version.hpp>
