// tests/vitess: the start-peek-cancel stress loop (issue 19). Each iteration does what a read
// does at start-up and when SIGTERM arrives during it: a fresh client (channel), the position
// peek, a cancel through the Asio cancellation slot a moment later (engine stop(), commit
// 929dfa2), and the client's destruction (it waits for gRPC to finish the cancelled call, commit
// 3e849cb). This ordering once aborted in gRPC's ref_counted.h; the loop is meant to be run under
// ASan and TSan (docs/soak.md). PEEK_CANCEL_ITERATIONS sets the count (default 1000).
#include <doctest/doctest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <optional>
#include <random>

#include "vitess/vstream_client.hpp"
#include "vstream_test_server.hpp"

using namespace sv::vitess;
using sv::vitess::test::Script;
using sv::vitess::test::TestServer;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

int iterations() {
  const char* n = std::getenv("PEEK_CANCEL_ITERATIONS");
  return n ? std::atoi(n) : 1000;
}

vtgate::VStreamResponse positions_response() {
  vtgate::VStreamResponse r;
  auto* ev = r.add_events();
  ev->set_type(binlogdata::VGTID);
  auto* sg = ev->mutable_vgtid()->add_shard_gtids();
  sg->set_keyspace("shop");
  sg->set_shard("-");
  sg->set_gtid("MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:1-42");
  return r;
}

struct Outcome {
  bool finished = false;
  bool ok = false;
  sv::FailureType type = sv::FailureType::system_error;
};

//! The peek as a coroutine whose outcome lands in `out` (Result has no default value, which
//! co_spawn's completion would need).
asio::awaitable<void> peek_into(std::shared_ptr<VStreamClient> client, asio::any_io_executor ex, Outcome& out) {
  std::vector<std::string> tables{"customers"};
  VStreamRequestOptions opts;
  auto r = co_await client->peek_current_positions(ex, "shop", tables, opts);
  out.finished = true;
  out.ok = r.ok();
  if (!r.ok()) out.type = r.error().type;
}

//! One start-peek-cancel: the peek runs on a cancellation slot that fires after `delay`.
Outcome peek_and_cancel(int port, std::chrono::microseconds delay) {
  ChannelOptions o;
  o.host = "127.0.0.1";
  o.port = static_cast<std::uint16_t>(port);
  o.tls_mode = TlsMode::disabled;
  o.username = "user";
  o.password = "pass";
  auto created = VStreamClient::create(o);
  REQUIRE(created.ok());
  std::shared_ptr<VStreamClient> client = *created;
  Outcome out;
  {
    asio::io_context io;
    asio::cancellation_signal cancel;
    asio::steady_timer timer(io, delay);
    timer.async_wait([&](boost::system::error_code) { cancel.emit(asio::cancellation_type::terminal); });
    asio::any_io_executor ex = io.get_executor();
    asio::co_spawn(io, peek_into(client, ex, out),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr) { timer.cancel(); }));
    io.run_for(20s);
  }
  client.reset();  // waits for gRPC to finish the cancelled call, as the process's exit does
  return out;
}

}  // namespace

TEST_CASE("vstream: start, peek, cancel in a loop (a stalled and an answering vtgate)") {
  TestServer srv;
  std::atomic<int> call{0};
  srv.service.script_for = [&](const vtgate::VStreamRequest&) {
    Script s;
    if (++call % 2 == 0) s.responses.push_back(positions_response());  // every other peek gets its answer
    s.stall = true;
    return s;
  };
  std::mt19937 rnd(19);
  std::uniform_int_distribution<int> micros(0, 3000);
  const int n = iterations();
  int answered = 0, cancelled = 0;
  for (int i = 0; i < n; ++i) {
    const Outcome o = peek_and_cancel(srv.port, std::chrono::microseconds(micros(rnd)));
    REQUIRE_MESSAGE(o.finished, "iteration " << i << ": the peek did not end after its cancel");
    if (o.ok) {
      ++answered;
    } else {
      CHECK_MESSAGE(o.type == sv::FailureType::transient_error, "iteration " << i);
      ++cancelled;
    }
  }
  MESSAGE(n << " iterations: " << answered << " peeks answered before the cancel, " << cancelled << " cancelled");
  CHECK(answered + cancelled == n);
  // Every call the server saw has ended on the server too.
  CHECK(srv.service.done.wait_at_least(srv.service.calls.load(), 10s));
}
