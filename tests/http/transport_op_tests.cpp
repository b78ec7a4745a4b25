// transport_op and the frameless wait/send of transport_base (transport.hpp).

#include <harrier/core/sync_wait.hpp>
#include <harrier/core/task.hpp>
#include <harrier/http/transport.hpp>

#include <catch2/catch.hpp>

#include <coroutine>
#include <stdexcept>
#include <string>

using namespace harrier;
using namespace harrier::http;

namespace {

struct op_log {
  int constructed = 0;
  int destroyed = 0;
};

struct logged_op {
  op_log& log;
  io_result result;
  bool fail = false;
  logged_op(op_log& l, io_result r, bool f = false) : log(l), result(r), fail(f) {
    ++log.constructed;
  }
  ~logged_op() { ++log.destroyed; }
  io_result finish() {
    if (fail) throw std::runtime_error("finish failed");
    return result;
  }
};

// A transport whose sends complete later, when the test says so, through start_sendv (no
// task); its waits have only the task form, so they run through transport_base's default.
struct deferred_transport {
  int start_sendv_calls = 0;
  int task_waits = 0;
  std::coroutine_handle<> pending;
  std::size_t pending_bytes = 0;

  struct deferred_send {
    deferred_transport& t;
    io_result finish() noexcept { return {{}, t.pending_bytes}; }
  };
  bool start_sendv(transport_op& op, std::span<const ::iovec> buffers, cancellation_token,
                   std::coroutine_handle<> h) {
    ++start_sendv_calls;
    op.emplace<deferred_send>(*this);
    pending_bytes = 0;
    for (const ::iovec& v : buffers)
      pending_bytes += v.iov_len;
    pending = h;
    return true;  // resumed by complete()
  }
  void complete() { std::exchange(pending, nullptr).resume(); }

  task<io_result> wait_readable(cancellation_token) {
    ++task_waits;
    co_return io_result{{}, 7};
  }

  struct ready {
    io_result r;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    io_result await_resume() const noexcept { return r; }
  };
  ready recv(std::span<std::byte>, cancellation_token) { return {}; }
  ready send(std::span<const std::byte> d, cancellation_token) { return {{{}, d.size()}}; }
  ready sendv(std::span<const ::iovec>, cancellation_token) { return {}; }
  ready shutdown_send() { return {}; }
  void close() noexcept {}
  struct slept {
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    std::error_code await_resume() const noexcept { return {}; }
  };
  slept sleep_for(std::chrono::nanoseconds, cancellation_token) { return {}; }
  transport_clock::time_point now() { return transport_clock::now(); }
};

}  // namespace

TEST_CASE("transport_op: finish gives the result and destroys the operation", "[http][transport]") {
  op_log log;
  {
    transport_op op;
    op.emplace<logged_op>(log, io_result{{}, 42});
    CHECK(log.constructed == 1);
    CHECK(log.destroyed == 0);
    const io_result r = op.finish();
    CHECK(r.bytes == 42);
    CHECK(log.destroyed == 1);
  }
  CHECK(log.destroyed == 1);  // not again with the transport_op
}

TEST_CASE("transport_op: an operation never finished goes with the transport_op",
          "[http][transport]") {
  op_log log;
  {
    transport_op op;
    op.emplace<logged_op>(log, io_result{});
  }
  CHECK(log.constructed == 1);
  CHECK(log.destroyed == 1);
}

TEST_CASE("transport_op: a finish that throws still destroys the operation", "[http][transport]") {
  op_log log;
  transport_op op;
  op.emplace<logged_op>(log, io_result{}, true);
  CHECK_THROWS_WITH(op.finish(), "finish failed");
  CHECK(log.destroyed == 1);
}

TEST_CASE("sendv_op goes through the transport's start_sendv and resumes with its result",
          "[http][transport]") {
  deferred_transport inner;
  transport_adapter<deferred_transport> adapter(inner);
  transport_base& t = adapter;
  const std::string a = "hello, ", b = "world";
  ::iovec buffers[2] = {{const_cast<char*>(a.data()), a.size()},
                        {const_cast<char*>(b.data()), b.size()}};
  io_result got{std::make_error_code(std::errc::io_error), 0};
  bool done = false;
  auto sender = [&]() -> task<void> {
    got = co_await t.sendv_op(buffers, {});
    done = true;
  };
  task<void> running = sender();
  // Start the sender (its continuation does nothing): it suspends in start_sendv until
  // complete().
  auto awaiter = running.operator co_await();
  REQUIRE(awaiter.await_suspend(std::noop_coroutine()));
  CHECK(inner.start_sendv_calls == 1);
  CHECK_FALSE(done);
  inner.complete();
  CHECK(done);
  CHECK_FALSE(got.error);
  CHECK(got.bytes == a.size() + b.size());
}

TEST_CASE("wait_readable_op runs the task form when the transport has no start_wait_readable",
          "[http][transport]") {
  deferred_transport inner;
  transport_adapter<deferred_transport> adapter(inner);
  transport_base& t = adapter;
  const io_result r =
      sync_wait([&]() -> task<io_result> { co_return co_await t.wait_readable_op({}); }());
  CHECK(inner.task_waits == 1);
  CHECK_FALSE(r.error);
  CHECK(r.bytes == 7);
}
