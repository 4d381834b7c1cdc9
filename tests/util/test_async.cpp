// tests/util: Slots, Permit and Latch — the engine's reader bound and per-stream push order —
// and StopSource/StopCallback, the engine's one cancellation mechanism.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "util/async.hpp"

namespace asio = boost::asio;
using sv::async::Latch;
using sv::async::Permit;
using sv::async::Slots;
using Stop = sv::async::StopSource<std::string>;
using OnStop = sv::async::StopCallback<std::string>;

namespace {

//! Takes a slot, records its name, yields `hold` times to the io_context, then lets go.
asio::awaitable<void> occupy(Slots& slots, std::vector<std::string>& order, std::string name, int hold, int& inside,
                             int& most) {
  Permit p = co_await slots.acquire();
  order.push_back(name);
  most = std::max(most, ++inside);
  for (int i = 0; i < hold; ++i) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  --inside;
}

}  // namespace

TEST_CASE("Slots admits at most n holders and serves waiters in arrival order") {
  asio::io_context io;
  Slots slots(io.get_executor(), 2);
  std::vector<std::string> order;
  int inside = 0, most = 0;
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    asio::co_spawn(io, occupy(slots, order, name, 3, inside, most), asio::detached);
  }
  io.run();
  CHECK(most == 2);
  CHECK(order == std::vector<std::string>{"a", "b", "c", "d", "e"});
  CHECK(slots.free() == 2);
  CHECK(slots.waiting() == 0);
}

TEST_CASE("Slots has at least one slot") {
  asio::io_context io;
  Slots slots(io.get_executor(), 0);
  std::vector<std::string> order;
  int inside = 0, most = 0;
  asio::co_spawn(io, occupy(slots, order, "a", 1, inside, most), asio::detached);
  asio::co_spawn(io, occupy(slots, order, "b", 1, inside, most), asio::detached);
  io.run();
  CHECK(most == 1);
  CHECK(order == std::vector<std::string>{"a", "b"});
  CHECK(slots.free() == 1);
}

TEST_CASE("a Permit gives its slot back when destroyed, reset or moved from") {
  asio::io_context io;
  Slots slots(io.get_executor(), 1);
  std::optional<Permit> kept;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { kept.emplace(co_await slots.acquire()); }, asio::detached);
  io.run();
  REQUIRE(kept);
  CHECK(kept->held());
  CHECK(slots.free() == 0);

  Permit moved = std::move(*kept);
  CHECK_FALSE(kept->held());
  CHECK(moved.held());
  kept.reset();
  CHECK(slots.free() == 0);  // the moved-from permit released nothing
  moved.reset();
  CHECK_FALSE(moved.held());
  CHECK(slots.free() == 1);
  moved.reset();  // twice is harmless
  CHECK(slots.free() == 1);
}

TEST_CASE("a released Permit passes its slot straight to the first waiter") {
  asio::io_context io;
  Slots slots(io.get_executor(), 1);
  std::vector<std::string> order;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Permit first = co_await slots.acquire();
        order.push_back("first");
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
              Permit p = co_await slots.acquire();
              order.push_back("waiter");
            },
            asio::detached);
        co_await asio::post(ex, asio::use_awaitable);
        CHECK(slots.waiting() == 1);
        first.reset();
        CHECK(slots.free() == 0);  // handed over, not returned to the pool
      },
      asio::detached);
  io.run();
  CHECK(order == std::vector<std::string>{"first", "waiter"});
  CHECK(slots.free() == 1);
}

TEST_CASE("Latch waits for every added coroutine") {
  asio::io_context io;
  Latch latch(io.get_executor());
  int finished = 0;
  bool waited = false;
  for (int i = 1; i <= 3; ++i) {
    latch.add();
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          for (int k = 0; k < i; ++k) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
          ++finished;
        },
        [&](std::exception_ptr) { latch.done(); });
  }
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await latch.wait();
        CHECK(finished == 3);
        waited = true;
      },
      asio::detached);
  io.run();
  CHECK(waited);
  CHECK(latch.pending() == 0);
}

TEST_CASE("Latch with nothing added does not wait") {
  asio::io_context io;
  Latch latch(io.get_executor());
  bool waited = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await latch.wait();
        waited = true;
      },
      asio::detached);
  io.run();
  CHECK(waited);
}

TEST_CASE("StopSource runs its callbacks once, in registration order, and keeps the first reason") {
  Stop stop;
  std::vector<std::string> ran;
  OnStop a(stop, [&] { ran.push_back("a:" + stop.reason()); });
  OnStop b(stop, [&] { ran.push_back("b"); });
  CHECK_FALSE(stop.stop_requested());
  CHECK(stop.callbacks() == 2);
  CHECK(ran.empty());

  CHECK(stop.request_stop("failed"));
  CHECK(stop.stop_requested());
  CHECK(stop.reason() == "failed");
  CHECK(ran == std::vector<std::string>{"a:failed", "b"});
  CHECK(stop.callbacks() == 0);

  CHECK_FALSE(stop.request_stop("reshard"));
  CHECK(stop.reason() == "failed");
  CHECK(ran.size() == 2);
}

TEST_CASE("a StopCallback registered after the stop runs at once; a destroyed one never runs") {
  Stop stop;
  std::vector<std::string> ran;
  {
    OnStop gone(stop, [&] { ran.push_back("gone"); });
    CHECK(stop.callbacks() == 1);
  }
  CHECK(stop.callbacks() == 0);
  OnStop kept(stop, [&] { ran.push_back("kept"); });
  REQUIRE(stop.request_stop("stopped"));
  CHECK(ran == std::vector<std::string>{"kept"});
  OnStop late(stop, [&] { ran.push_back("late"); });
  CHECK(ran == std::vector<std::string>{"kept", "late"});
  CHECK(stop.callbacks() == 0);
}

TEST_CASE("a StopCallback may end other registrations while the stop runs") {
  Stop stop;
  std::vector<std::string> ran;
  std::optional<OnStop> second;
  std::optional<OnStop> first;
  first.emplace(stop, [&] {
    ran.push_back("first");
    second.reset();  // the operation the second belongs to ended meanwhile
    first.reset();   // and its own
  });
  second.emplace(stop, [&] { ran.push_back("second"); });
  OnStop third(stop, [&] { ran.push_back("third"); });
  REQUIRE(stop.request_stop("x"));
  CHECK(ran == std::vector<std::string>{"first", "third"});
  CHECK(stop.callbacks() == 0);
}

TEST_CASE("a child StopSource stops with its parent's reason, and alone without stopping the parent") {
  Stop parent;
  std::vector<std::string> ran;
  {
    Stop round(parent);
    OnStop reader(round, [&] { ran.push_back("reader:" + round.reason()); });
    REQUIRE(round.request_stop("reshard"));
    CHECK(ran == std::vector<std::string>{"reader:reshard"});
    CHECK_FALSE(parent.stop_requested());
    CHECK(parent.callbacks() == 1);  // the child's link to its parent
  }
  CHECK(parent.callbacks() == 0);  // a destroyed child is no longer linked

  Stop round(parent);
  OnStop reader(round, [&] { ran.push_back("reader:" + round.reason()); });
  REQUIRE(parent.request_stop("stopped"));
  CHECK(round.stop_requested());
  CHECK(round.reason() == "stopped");
  CHECK(ran == std::vector<std::string>{"reader:reshard", "reader:stopped"});

  Stop late(parent);  // a child of a stopped scope starts stopped
  CHECK(late.stop_requested());
  CHECK(late.reason() == "stopped");
}

TEST_CASE("a StopCallback cancels a pending timer: the wait ends at the stop, not at the expiry") {
  asio::io_context io;
  Stop stop;
  bool cancelled = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io, std::chrono::hours(1));
        OnStop on_stop(stop, [&] { timer.cancel(); });
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        cancelled = ec == asio::error::operation_aborted;
      },
      asio::detached);
  asio::post(io, [&] { (void)stop.request_stop("stopped"); });
  const auto start = std::chrono::steady_clock::now();
  io.run();
  CHECK(cancelled);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::minutes(1));
  CHECK(stop.callbacks() == 0);
}
