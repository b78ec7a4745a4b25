#pragma once
// The coroutine core: tasks, combinators, cancellation, buffers.
#include <harrier/core/async_event.hpp>
#include <harrier/core/block_pool.hpp>
#include <harrier/core/blocking.hpp>
#include <harrier/core/cancellation.hpp>
#include <harrier/core/executor.hpp>
#include <harrier/core/frame_allocator.hpp>
#include <harrier/core/spawn.hpp>
#include <harrier/core/sync_wait.hpp>
#include <harrier/core/task.hpp>
#include <harrier/core/when_all.hpp>
