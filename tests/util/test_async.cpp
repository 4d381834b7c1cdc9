// tests/util: Slots, Permit and Latch — the engine's reader bound and per-stream push order.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/async.hpp"

namespace asio = boost::asio;
using sv::async::Latch;
using sv::async::Permit;
using sv::async::Slots;

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
