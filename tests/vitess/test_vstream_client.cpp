// tests/vitess: the VStream client against an in-test gRPC server — stream, EOF, error classes,
// auth header, request shape, backpressure, cancellation, deadline, idle timeout, peek, TLS.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback.hpp"
#include "vitess/vstream_client.hpp"
#include "vstream_test_server.hpp"

using namespace sv::vitess;
using sv::vitess::test::Script;
using sv::vitess::test::TestServer;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Runs one coroutine to completion on a fresh io_context (bounded by `limit`, scaled under
// ThreadSanitizer: the backpressure case moves 50 MiB), rethrowing failures.
template <class F>
void run_async(F&& body, std::chrono::seconds limit = 20s * sv::vitess::test::kDeadlineScale) {
  asio::io_context io;
  std::exception_ptr failure;
  bool finished = false;
  asio::any_io_executor ex = io.get_executor();  // an lvalue (GCC 12 coroutine temporaries)
  asio::co_spawn(io, std::forward<F>(body)(ex), [&](std::exception_ptr e) {
    failure = e;
    finished = true;
  });
  io.run_for(limit);
  REQUIRE_MESSAGE(finished, "coroutine did not finish in time");
  if (failure) std::rethrow_exception(failure);
}

vtgate::VStreamResponse response_with(std::initializer_list<binlogdata::VEventType> types, std::string statement = {}) {
  vtgate::VStreamResponse r;
  for (auto t : types) {
    auto* ev = r.add_events();
    ev->set_type(t);
    if (!statement.empty()) ev->set_statement(statement);
  }
  return r;
}

vtgate::VStreamResponse vgtid_response(std::string ks, std::string shard, std::string gtid) {
  vtgate::VStreamResponse r;
  auto* ev = r.add_events();
  ev->set_type(binlogdata::VGTID);
  auto* sg = ev->mutable_vgtid()->add_shard_gtids();
  sg->set_keyspace(ks);
  sg->set_shard(shard);
  sg->set_gtid(gtid);
  return r;
}

ChannelOptions plain_options(int port) {
  ChannelOptions o;
  o.host = "127.0.0.1";
  o.port = static_cast<std::uint16_t>(port);
  o.tls_mode = TlsMode::disabled;
  o.username = "user";
  o.password = "pass";
  return o;
}

std::shared_ptr<VStreamClient> make_client(const ChannelOptions& o) {
  auto c = VStreamClient::create(o);
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
  return *c;
}

vtgate::VStreamRequest simple_request() {
  ShardStart s{"shop", "-80", "", {}};
  std::vector<std::string> tables{"customers"};
  return build_vstream_request(std::span(&s, 1), tables, {});
}

// Drains a stream, collecting statements of the first event of each response, and its end.
asio::awaitable<std::pair<std::vector<std::string>, StreamItem>> drain(VStream& s, std::size_t limit = 10000) {
  std::vector<std::string> got;
  for (std::size_t i = 0; i < limit; ++i) {
    StreamItem item = co_await s.next();
    if (auto* r = std::get_if<vtgate::VStreamResponse>(&item)) {
      got.push_back(r->events_size() ? r->events(0).statement() : "<empty>");
      continue;
    }
    co_return std::make_pair(std::move(got), std::move(item));
  }
  co_return std::make_pair(std::move(got), StreamItem{StreamEof{}});
}

}  // namespace

TEST_CASE("vstream: request built as the Go connector builds it") {
  binlogdata::TableLastPK pk;
  pk.set_table_name("customers");
  pk.mutable_lastpk()->add_fields()->set_name("id");
  std::vector<ShardStart> shards{{"shop", "-80", "MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:1-5", {pk}},
                                 {"shop", "80-", "", {}}};
  std::vector<std::string> tables{"customers", "we`ird"};
  VStreamRequestOptions o;
  o.tablet_type = tablet_type_from(true, false);
  o.cells = default_cells_for_host("abc.us-east-2.connect.psdb.cloud");
  auto req = build_vstream_request(shards, tables, o);
  CHECK(req.tablet_type() == topodata::REPLICA);
  CHECK(req.flags().minimize_skew());
  CHECK(req.flags().cells() == "planetscale_operator_default");
  CHECK(req.flags().heartbeat_interval() == 0);
  REQUIRE(req.vgtid().shard_gtids_size() == 2);
  CHECK(req.vgtid().shard_gtids(0).keyspace() == "shop");
  CHECK(req.vgtid().shard_gtids(0).shard() == "-80");
  CHECK(req.vgtid().shard_gtids(0).gtid() == "MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:1-5");
  REQUIRE(req.vgtid().shard_gtids(0).table_p_ks_size() == 1);
  CHECK(req.vgtid().shard_gtids(0).table_p_ks(0).table_name() == "customers");
  CHECK(req.vgtid().shard_gtids(0).table_p_ks(0).lastpk().fields(0).name() == "id");
  CHECK(req.vgtid().shard_gtids(1).gtid().empty());
  CHECK(req.vgtid().shard_gtids(1).table_p_ks_size() == 0);
  REQUIRE(req.filter().rules_size() == 2);
  CHECK(req.filter().rules(0).match() == "customers");
  CHECK(req.filter().rules(0).filter() == "SELECT * FROM `customers`");
  CHECK(req.filter().rules(1).match() == "we`ird");
  CHECK(req.filter().rules(1).filter() == "SELECT * FROM `we``ird`");

  // A select list per table: every identifier quoted, backticks doubled; no list = `SELECT *`.
  std::vector<std::vector<std::string>> columns{{"id", "na`me", "select"}};
  auto narrowed = build_vstream_request(shards, tables, o, columns);
  REQUIRE(narrowed.filter().rules_size() == 2);
  CHECK(narrowed.filter().rules(0).match() == "customers");
  CHECK(narrowed.filter().rules(0).filter() == "SELECT `id`, `na``me`, `select` FROM `customers`");
  CHECK(narrowed.filter().rules(1).filter() == "SELECT * FROM `we``ird`");
  CHECK(select_filter("t", std::vector<std::string>{}) == "SELECT * FROM `t`");
  CHECK(select_filter("a`b", std::vector<std::string>{"`"}) == "SELECT ```` FROM `a``b`");

  CHECK(tablet_type_from(false, false) == TabletType::primary);
  CHECK(tablet_type_from(true, true) == TabletType::rdonly);
  VStreamRequestOptions rdonly;
  rdonly.tablet_type = TabletType::rdonly;
  CHECK(build_vstream_request({}, {}, rdonly).tablet_type() == topodata::RDONLY);
  CHECK(build_vstream_request({}, {}, {}).tablet_type() == topodata::PRIMARY);
  CHECK(default_cells_for_host("vtgate.internal").empty());
  CHECK(default_cells_for_host("aws.connect.psdb.cloud") == "planetscale_operator_default");
  CHECK(VStreamClient::basic_auth_header("user", "pass") == "Basic dXNlcjpwYXNz");
  CHECK(VStreamClient::basic_auth_header("us:er", "p\xC3\xA4ss") == "Basic dXM6ZXI6cMOkc3M=");
}

TEST_CASE("vstream: status classification table") {
  using C = grpc::StatusCode;
  using F = sv::FailureType;
  struct Case {
    C code;
    std::string message;
    F type;
  };
  const Case cases[] = {
      {C::UNAVAILABLE, "connection refused", F::transient_error},
      {C::UNAVAILABLE, "Ssl handshake failed: CERTIFICATE_VERIFY_FAILED", F::config_error},
      {C::DEADLINE_EXCEEDED, "Deadline Exceeded", F::transient_error},
      {C::RESOURCE_EXHAUSTED, "too many streams", F::transient_error},
      {C::RESOURCE_EXHAUSTED, "Received message larger than max (200 vs. 100)", F::system_error},
      {C::ABORTED, "aborted", F::transient_error},
      {C::INTERNAL, "Received RST_STREAM with error code 2", F::transient_error},
      {C::INTERNAL, "vttablet: bad things", F::system_error},
      {C::UNKNOWN, "transport is closing", F::transient_error},
      {C::UNKNOWN, "read tcp: connection reset by peer", F::transient_error},
      {C::UNKNOWN, "vtgate: syntax error", F::system_error},
      {C::UNAUTHENTICATED, "bad password", F::config_error},
      {C::PERMISSION_DENIED, "not allowed", F::config_error},
      {C::INVALID_ARGUMENT, "unknown table", F::config_error},
      {C::NOT_FOUND, "keyspace nope not found", F::config_error},
      {C::FAILED_PRECONDITION, "GTIDSet Mismatch: requested position has purged GTIDs", F::config_error},
      {C::FAILED_PRECONDITION, "tablet not serving", F::transient_error},
      {C::UNIMPLEMENTED, "unknown service", F::config_error},
      {C::CANCELLED, "server shutting down", F::transient_error},
      {C::DATA_LOSS, "x", F::system_error},
      {C::OUT_OF_RANGE, "x", F::system_error},
      {C::ALREADY_EXISTS, "x", F::system_error},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    auto e = classify_status(grpc::Status(c.code, c.message));
    CHECK(e.code == c.code);
    CHECK(e.message == c.message);
    CHECK(e.failure_type == c.type);
    CHECK(e.cause == EndCause::server);
  }
  auto err = classify_status(grpc::Status(C::UNAVAILABLE, "down")).to_error();
  CHECK(err.type == sv::FailureType::transient_error);
  CHECK(err.message == "VStream failed: UNAVAILABLE: down");
  CHECK(err.internal == "grpc status 14 (UNAVAILABLE), cause server");
}

TEST_CASE("vstream: vtgate's position, shard and table errors are config errors that say what to do") {
  using C = grpc::StatusCode;
  struct Case {
    C code;
    std::string message;
    std::string advice_start;
  };
  // The texts as vtgate and vttablet produce them (vitessio/vitess: uvstreamer.go,
  // vstreamer.go wrapError, vstream_manager.go), and MySQL's errno 1236 texts.
  const Case cases[] = {
      {C::INVALID_ARGUMENT,
       "GTIDSet Mismatch: requested source "
       "position:MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:1-99999999, current "
       "target vrep position: MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:1-29",
       "The position names transactions this shard's server does not have"},
      {C::UNKNOWN,
       "stream (at source tablet) error @ 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-99: Replica has "
       "more GTIDs than the "
       "source has, using the source's SERVER_UUID (errno 1236) (sqlstate HY000)",
       "The position names transactions this shard's server does not have"},
      {C::UNKNOWN,
       "vttablet: rpc error: code = Unknown desc = stream (at source tablet) error @ "
       "013c5ddc-dd89-11ed-b3a1-"
       "125a006436b9:1-305627274: Cannot replicate because the source purged required binary logs "
       "(errno 1236) "
       "(sqlstate HY000)",
       "The shard's server no longer has the binary logs"},
      {C::FAILED_PRECONDITION,
       "error starting stream from shard GTID keyspace:\"ks\" shard:\"c0-\": failed to determine "
       "if keyspace ks has been "
       "resharded: shard provided in VGTID, c0-, not found in the ks keyspace",
       "vtgate does not know this shard of the keyspace"},
      {C::UNKNOWN, "table nope is not present in the database", "The table does not exist in the keyspace"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    auto e = classify_status(grpc::Status(c.code, c.message));
    CHECK(e.failure_type == sv::FailureType::config_error);
    auto err = e.to_error();
    CHECK(err.type == sv::FailureType::config_error);
    CHECK(err.message ==
          "VStream failed: " + std::string(status_code_name(c.code)) + ": " + c.message + ". " + std::string(e.advice));
    CHECK(std::string(e.advice).rfind(c.advice_start, 0) == 0);
    const bool says_what_to_do = err.message.find("Reset the stream") != std::string::npos ||
                                 err.message.find("reset a stream") != std::string::npos ||
                                 err.message.find("refresh the source schema") != std::string::npos;
    CHECK(says_what_to_do);
  }
  // Unrelated answers keep their plain classification and carry no advice.
  auto plain = classify_status(grpc::Status(C::UNKNOWN, "vtgate: syntax error"));
  CHECK(plain.advice.empty());
  CHECK(plain.to_error().message == "VStream failed: UNKNOWN: vtgate: syntax error");
}

TEST_CASE("vstream: to_error without advice") {
  using C = grpc::StatusCode;
  auto err = classify_status(grpc::Status(C::UNAVAILABLE, "down")).to_error();
  CHECK(err.type == sv::FailureType::transient_error);
  CHECK(err.message == "VStream failed: UNAVAILABLE: down");
  CHECK(err.internal == "grpc status 14 (UNAVAILABLE), cause server");
}

TEST_CASE("vstream: normal stream, EOF, auth header, request on the wire") {
  TestServer srv;
  srv.service.script_for = [](const vtgate::VStreamRequest&) {
    Script s;
    for (int i = 0; i < 5; ++i) s.responses.push_back(response_with({binlogdata::BEGIN}, "m" + std::to_string(i)));
    return s;
  };
  auto client = make_client(plain_options(srv.port));
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    VStream s = client->open(ex, simple_request());
    auto [got, end] = co_await drain(s);
    CHECK(got == std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"});
    CHECK(std::holds_alternative<StreamEof>(end));
    // after the end, next() keeps saying so
    CHECK(std::holds_alternative<StreamEof>(co_await s.next()));
  });
  std::lock_guard lock(srv.service.mu);
  REQUIRE(srv.service.auth_headers.size() == 1);
  CHECK(srv.service.auth_headers[0] == "Basic dXNlcjpwYXNz");
  CHECK(srv.service.requests[0].SerializeAsString() == simple_request().SerializeAsString());
}

TEST_CASE("vstream: next_wire yields each response's bytes as the server sent them") {
  // A small response, an empty one, and one of about 1 MiB (many HTTP/2 frames: joined into one
  // view); then one protobuf cannot parse (a shard that is not UTF-8), which next_wire passes on
  // as bytes and next() turns into the end of the stream.
  vtgate::VStreamResponse big;
  for (int i = 0; i < 1000; ++i) {
    auto* ev = big.add_events();
    ev->set_type(binlogdata::ROW);
    auto* row = ev->mutable_row_event()->add_row_changes()->mutable_after();
    row->add_lengths(1000);
    row->set_values(std::string(1000, static_cast<char>('a' + i % 26)));
  }
  vtgate::VStreamResponse bad;
  bad.add_events()->set_shard("\xff\xfe");
  const std::vector<vtgate::VStreamResponse> sent = {response_with({binlogdata::BEGIN}, "m0"),
                                                     vtgate::VStreamResponse(), big, bad};
  TestServer srv;
  srv.service.script_for = [&](const vtgate::VStreamRequest&) {
    Script s;
    s.responses = sent;
    return s;
  };
  auto client = make_client(plain_options(srv.port));
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    VStream s = client->open(ex, simple_request());
    for (const auto& r : sent) {
      WireItem item = co_await s.next_wire();
      REQUIRE(std::holds_alternative<WireResponse>(item));
      const WireResponse copy = std::get<WireResponse>(item);  // shares the bytes
      CHECK(copy.bytes() == r.SerializeAsString());
    }
    CHECK(std::holds_alternative<StreamEof>(co_await s.next_wire()));
  });
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    VStream s = client->open(ex, simple_request());
    for (int i = 0; i < 3; ++i) {
      StreamItem item = co_await s.next();
      REQUIRE(std::holds_alternative<vtgate::VStreamResponse>(item));
      CHECK(std::get<vtgate::VStreamResponse>(item).SerializeAsString() ==
            sent[static_cast<std::size_t>(i)].SerializeAsString());
    }
    StreamItem end = co_await s.next();
    REQUIRE(std::holds_alternative<StreamError>(end));
    const auto& e = std::get<StreamError>(end);
    CHECK(e.code == grpc::StatusCode::INTERNAL);
    CHECK(e.failure_type == sv::FailureType::system_error);
    CHECK(e.to_error().message == "VStream failed: INTERNAL: vtgate sent a VStreamResponse that protobuf cannot parse");
    CHECK(std::holds_alternative<StreamError>(co_await s.next()));  // the end stays
  });
}

TEST_CASE("vstream: server errors arrive classified after the data") {
  using C = grpc::StatusCode;
  struct Case {
    C code;
    std::string message;
    sv::FailureType type;
  };
  const Case cases[] = {
      {C::UNAVAILABLE, "tablet went away", sv::FailureType::transient_error},
      {C::DEADLINE_EXCEEDED, "server deadline", sv::FailureType::transient_error},
      {C::RESOURCE_EXHAUSTED, "throttled", sv::FailureType::transient_error},
      {C::ABORTED, "reparent", sv::FailureType::transient_error},
      {C::INTERNAL, "stream reset", sv::FailureType::transient_error},
      {C::UNKNOWN, "connection reset by peer", sv::FailureType::transient_error},
      {C::UNAUTHENTICATED, "invalid credentials", sv::FailureType::config_error},
      {C::PERMISSION_DENIED, "vstream not allowed", sv::FailureType::config_error},
      {C::INVALID_ARGUMENT, "table 'x' not found", sv::FailureType::config_error},
      {C::NOT_FOUND, "keyspace shop not found", sv::FailureType::config_error},
      {C::INTERNAL, "unexpected", sv::FailureType::system_error},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    TestServer srv;
    srv.service.script_for = [&](const vtgate::VStreamRequest&) {
      Script s;
      s.responses.push_back(response_with({binlogdata::BEGIN}, "before"));
      s.final_status = grpc::Status(c.code, c.message);
      return s;
    };
    auto client = make_client(plain_options(srv.port));
    run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
      VStream s = client->open(ex, simple_request());
      auto [got, end] = co_await drain(s);
      CHECK(got == std::vector<std::string>{"before"});
      auto* e = std::get_if<StreamError>(&end);
      REQUIRE(e != nullptr);
      CHECK(e->code == c.code);
      CHECK(e->message == c.message);
      CHECK(e->cause == EndCause::server);
      CHECK(e->failure_type == c.type);
    });
  }
}

TEST_CASE("vstream: unreachable server is a transient UNAVAILABLE") {
  int port;
  {
    TestServer srv;  // grab a free port, then close it
    port = srv.port;
  }
  auto client = make_client(plain_options(port));
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    VStream s = client->open(ex, simple_request(), CallOptions{5s, {}});
    StreamItem item = co_await s.next();
    auto* e = std::get_if<StreamError>(&item);
    REQUIRE(e != nullptr);
    CHECK(e->code == grpc::StatusCode::UNAVAILABLE);
    CHECK(e->transient());
  });
}

TEST_CASE("vstream: backpressure — a consumer that does not read stops the server") {
  TestServer srv;
  constexpr int kMessages = 200;
  const std::string payload(256 * 1024, 'x');
  srv.service.script_for = [&](const vtgate::VStreamRequest&) {
    Script s;
    for (int i = 0; i < kMessages; ++i) {
      auto r = response_with({binlogdata::ROW}, payload);
      r.mutable_events(0)->set_timestamp(i);
      s.responses.push_back(std::move(r));
    }
    return s;
  };
  auto client = make_client(plain_options(srv.port));
  int stalled_at = -1;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    VStream s = client->open(ex, simple_request());
    StreamItem first = co_await s.next();
    REQUIRE(std::holds_alternative<vtgate::VStreamResponse>(first));
    // Stop reading. The server must stall well before the end (flow control) and stay stalled:
    // sample until two readings 300 ms apart agree (bounded: 20 samples), then check the level.
    asio::steady_timer t(ex);
    int a = -1, b = srv.service.writes_done.load();
    for (int i = 0; i < 20 && a != b; ++i) {
      t.expires_after(300ms);
      co_await t.async_wait(asio::use_awaitable);
      a = b;
      b = srv.service.writes_done.load();
    }
    stalled_at = b;
    CHECK(a == b);
    CHECK(b < kMessages / 2);
    // Now read everything, in order.
    std::int64_t expect = 1;
    for (;;) {
      StreamItem item = co_await s.next();
      if (auto* r = std::get_if<vtgate::VStreamResponse>(&item)) {
        CHECK(r->events(0).timestamp() == expect);
        CHECK(r->events(0).statement().size() == payload.size());
        ++expect;
        continue;
      }
      CHECK(std::holds_alternative<StreamEof>(item));
      break;
    }
    CHECK(expect == kMessages);
  });
  MESSAGE("server stalled after " << stalled_at << " of " << kMessages << " 256 KiB messages");
  CHECK(srv.service.writes_done.load() == kMessages);
}

TEST_CASE("vstream: cancellation reaches the server") {
  TestServer srv;
  srv.service.script_for = [](const vtgate::VStreamRequest&) {
    Script s;
    s.responses.push_back(response_with({binlogdata::BEGIN}, "one"));
    s.stall = true;
    return s;
  };
  auto client = make_client(plain_options(srv.port));
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    VStream s = client->open(ex, simple_request());
    StreamItem first = co_await s.next();
    REQUIRE(std::holds_alternative<vtgate::VStreamResponse>(first));
    // cancel while next() is waiting
    asio::steady_timer t(ex);
    t.expires_after(100ms);
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          co_await t.async_wait(asio::use_awaitable);
          s.cancel();
        },
        asio::detached);
    StreamItem item = co_await s.next();
    auto* e = std::get_if<StreamError>(&item);
    REQUIRE(e != nullptr);
    CHECK(e->code == grpc::StatusCode::CANCELLED);
    CHECK(e->cause == EndCause::cancelled);
    CHECK(e->transient());
  });
  srv.service.done.wait_at_least(1, 2s);
  CHECK(srv.service.cancels.load() == 1);
  CHECK(srv.service.done.load() == 1);
}

TEST_CASE("vstream: cancelling the awaiting coroutine cancels the stream") {
  TestServer srv;
  srv.service.script_for = [](const vtgate::VStreamRequest&) { return Script{{}, grpc::Status::OK, true}; };
  auto client = make_client(plain_options(srv.port));
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    VStream s = client->open(ex, simple_request());
    asio::steady_timer t(ex);
    t.expires_after(150ms);
    auto r = co_await (s.next() || t.async_wait(asio::use_awaitable));
    CHECK(r.index() == 3);  // the timer won (StreamItem alternatives are flattened in)
    StreamItem item = co_await s.next();
    auto* e = std::get_if<StreamError>(&item);
    REQUIRE(e != nullptr);
    CHECK(e->cause == EndCause::cancelled);
  });
  srv.service.done.wait_at_least(1, 2s);
  CHECK(srv.service.cancels.load() == 1);
}

TEST_CASE("vstream: destroying an open stream cancels it") {
  TestServer srv;
  srv.service.script_for = [](const vtgate::VStreamRequest&) {
    Script s;
    s.responses.push_back(response_with({binlogdata::BEGIN}, "one"));
    s.stall = true;
    return s;
  };
  auto client = make_client(plain_options(srv.port));
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    {
      VStream s = client->open(ex, simple_request());
      StreamItem first = co_await s.next();
      CHECK(std::holds_alternative<vtgate::VStreamResponse>(first));
    }
    asio::steady_timer t(ex);
    for (int i = 0; i < 100 && srv.service.done.load() < 1; ++i) {
      t.expires_after(20ms);
      co_await t.async_wait(asio::use_awaitable);
    }
  });
  CHECK(srv.service.cancels.load() == 1);
  CHECK(srv.service.done.load() == 1);
}

TEST_CASE("vstream: call deadline and idle timeout") {
  TestServer srv;
  srv.service.script_for = [](const vtgate::VStreamRequest&) {
    Script s;
    s.responses.push_back(response_with({binlogdata::BEGIN}, "one"));
    s.stall = true;
    return s;
  };
  auto client = make_client(plain_options(srv.port));
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto started = std::chrono::steady_clock::now();
    VStream s = client->open(ex, simple_request(), CallOptions{300ms, {}});
    auto [got, end] = co_await drain(s);
    CHECK(got == std::vector<std::string>{"one"});
    auto* e = std::get_if<StreamError>(&end);
    REQUIRE(e != nullptr);
    CHECK(e->code == grpc::StatusCode::DEADLINE_EXCEEDED);
    CHECK(e->cause == EndCause::deadline);
    CHECK(e->transient());
    CHECK(std::chrono::steady_clock::now() - started >= 300ms);
  });
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    VStream s = client->open(ex, simple_request(), CallOptions{{}, 200ms});
    auto [got, end] = co_await drain(s);
    CHECK(got == std::vector<std::string>{"one"});
    auto* e = std::get_if<StreamError>(&end);
    REQUIRE(e != nullptr);
    CHECK(e->code == grpc::StatusCode::DEADLINE_EXCEEDED);
    CHECK(e->cause == EndCause::idle_timeout);
    CHECK(e->message == "no VStream message for 200 ms");
    CHECK(e->transient());
  });
  srv.service.done.wait_at_least(2, 2s);
  CHECK(srv.service.done.load() == 2);
}

TEST_CASE("vstream: peek_current_positions") {
  TestServer srv;
  std::atomic<int> mode{0};
  const std::string pos_a = "MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:1-42";
  const std::string pos_b = "MySQL56/3174b383-5441-11e8-b90a-c80aa9429562:1-7";
  srv.service.script_for = [&](const vtgate::VStreamRequest& req) {
    Script s;
    CHECK(req.vgtid().shard_gtids(0).gtid() == "current");
    switch (mode.load()) {
      case 0:  // an empty response first, then the position
        s.responses.push_back(vtgate::VStreamResponse{});
        s.responses.push_back(vgtid_response("shop", "-80", pos_a));
        s.stall = true;
        break;
      case 1: {  // events without a VGTID, a VGTID with one shard still unknown, then both
        s.responses.push_back(response_with({binlogdata::BEGIN, binlogdata::COMMIT}));
        auto partial = vgtid_response("shop", "-80", pos_a);
        auto* sg = partial.mutable_events(0)->mutable_vgtid()->add_shard_gtids();
        sg->set_keyspace("shop");
        sg->set_shard("80-");
        sg->set_gtid("current");
        s.responses.push_back(partial);
        auto full = partial;
        full.mutable_events(0)->mutable_vgtid()->mutable_shard_gtids(1)->set_gtid(pos_b);
        s.responses.push_back(full);
        s.stall = true;
        break;
      }
      case 2:  // nothing at all
        s.stall = true;
        break;
      case 3: s.final_status = grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no vstream for you"); break;
      case 4:  // OK before any position
        break;
    }
    return s;
  };
  auto client = make_client(plain_options(srv.port));
  std::vector<std::string> tables{"customers"};
  using Positions = std::map<std::string, std::string>;
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    // Arguments are lvalues on purpose: GCC 12 mishandles braced prvalue temporaries that live
    // across a co_await in the caller coroutine.
    VStreamRequestOptions opts;
    mode = 0;
    auto one = co_await client->peek_current_positions(ex, "shop", tables, opts);
    REQUIRE_MESSAGE(one.ok(), (one.ok() ? "" : one.error().message));
    CHECK(*one == Positions{{"-80", pos_a}});

    mode = 1;
    auto two = co_await client->peek_current_positions(ex, "shop", tables, opts);
    REQUIRE_MESSAGE(two.ok(), (two.ok() ? "" : two.error().message));
    CHECK(*two == Positions{{"-80", pos_a}, {"80-", pos_b}});

    mode = 2;
    auto slow = co_await client->peek_current_positions(ex, "shop", tables, opts, 300ms);
    REQUIRE_FALSE(slow.ok());
    CHECK(slow.error().type == sv::FailureType::transient_error);
    CHECK(slow.error().message.find(
              "could not read the current positions of keyspace 'shop': VStream call deadline passed") == 0);

    mode = 3;
    auto denied = co_await client->peek_current_positions(ex, "shop", tables, opts);
    REQUIRE_FALSE(denied.ok());
    CHECK(denied.error().type == sv::FailureType::config_error);
    CHECK(denied.error().message ==
          "could not read the current positions of keyspace 'shop': VStream failed: PERMISSION_DENIED: no vstream "
          "for you");

    mode = 4;
    auto ended = co_await client->peek_current_positions(ex, "shop", tables, opts);
    REQUIRE_FALSE(ended.ok());
    CHECK(ended.error().type == sv::FailureType::transient_error);
    CHECK(ended.error().message == "VStream at 'current' for keyspace 'shop' ended before reporting positions");
  });
  std::lock_guard lock(srv.service.mu);
  REQUIRE(srv.service.requests.size() == 5);
  const auto& first = srv.service.requests[0];
  CHECK(first.vgtid().shard_gtids_size() == 1);
  CHECK(first.vgtid().shard_gtids(0).keyspace() == "shop");
  CHECK(first.vgtid().shard_gtids(0).shard() == "");  // the whole keyspace
  CHECK(first.flags().heartbeat_interval() == 0);
  CHECK(first.filter().rules(0).filter() == "SELECT * FROM `customers`");
}

// ---- TLS --------------------------------------------------------------------------------------

namespace {

struct Pki {
  std::filesystem::path dir;
  std::string ca, other_ca, server_cert, server_key;

  static std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  Pki() {
    char tmpl[] = "/tmp/sv-vstream-tls-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    std::string d = dir.string();
    std::string script =
        "set -e; cd '" + d +
        "'; "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null; "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other-ca "
        "2>/dev/null; "
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=vtgate.test 2>/dev/null; "
        "printf 'subjectAltName=DNS:vtgate.test,IP:127.0.0.1\\n' > ext.cnf; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
        "-extfile ext.cnf 2>/dev/null";
    int rc = std::system(("bash -c \"" + script + "\"").c_str());
    REQUIRE_MESSAGE(rc == 0, "openssl failed");
    ca = slurp(dir / "ca.pem");
    other_ca = slurp(dir / "other.pem");
    server_cert = slurp(dir / "server.pem");
    server_key = slurp(dir / "server.key");
  }
  ~Pki() { std::filesystem::remove_all(dir); }

  std::shared_ptr<grpc::ServerCredentials> server_creds() const {
    grpc::SslServerCredentialsOptions o;
    o.pem_key_cert_pairs.push_back({server_key, server_cert});
    return grpc::SslServerCredentials(o);
  }
};

// Opens one stream with `o` and returns its first item (the scripted server sends one message).
StreamItem first_item(const ChannelOptions& o) {
  StreamItem out = StreamEof{};
  auto client = make_client(o);
  run_async([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    VStream s = client->open(ex, simple_request(), CallOptions{10s, {}});
    out = co_await s.next();
  });
  return out;
}

}  // namespace

TEST_CASE("vstream: TLS modes") {
  Pki pki;
  TestServer srv(pki.server_creds());
  srv.service.script_for = [](const vtgate::VStreamRequest&) {
    Script s;
    s.responses.push_back(response_with({binlogdata::BEGIN}, "tls"));
    return s;
  };
  auto with = [&](TlsMode mode, std::string ca, std::string name = {}) {
    ChannelOptions o = plain_options(srv.port);
    o.tls_mode = mode;
    o.ca_certificate = std::move(ca);
    o.tls_server_name = std::move(name);
    return first_item(o);
  };
  auto is_message = [](const StreamItem& i) {
    auto* r = std::get_if<vtgate::VStreamResponse>(&i);
    return r && r->events(0).statement() == "tls";
  };
  auto tls_error = [](const StreamItem& i) {
    auto* e = std::get_if<StreamError>(&i);
    if (!e) return std::string("no error");
    CHECK(e->code == grpc::StatusCode::UNAVAILABLE);
    return std::string(sv::to_string(e->failure_type));
  };

  // One server for every case (a table, not SUBCASEs, so the server is not rebuilt per case).
  CHECK(is_message(with(TlsMode::required, "")));                        // encrypted, any certificate
  CHECK(is_message(with(TlsMode::required, pki.other_ca)));              // required ignores the CA
  CHECK(is_message(with(TlsMode::verify_ca, pki.ca)));                   // right CA
  CHECK(is_message(with(TlsMode::verify_ca, pki.ca, "wrong.example")));  // verify_ca ignores the name
  CHECK(tls_error(with(TlsMode::verify_ca, pki.other_ca)) == "config_error");
  CHECK(is_message(with(TlsMode::verify_identity, pki.ca)));                 // IP SAN 127.0.0.1
  CHECK(is_message(with(TlsMode::verify_identity, pki.ca, "vtgate.test")));  // DNS SAN
  CHECK(tls_error(with(TlsMode::verify_identity, pki.ca, "wrong.example")) == "config_error");
  CHECK(tls_error(with(TlsMode::verify_identity, pki.other_ca)) == "config_error");
  CHECK(tls_error(with(TlsMode::verify_identity, "")) == "config_error");  // system roots: private CA unknown
  // a plaintext client against a TLS server
  auto item = with(TlsMode::disabled, "");
  REQUIRE(std::holds_alternative<StreamError>(item));
  CHECK(std::get<StreamError>(item).code == grpc::StatusCode::UNAVAILABLE);
  CHECK(srv.service.calls.load() == 6);  // the handshake failures never reached the service
}

TEST_CASE("vstream: channel option validation") {
  ChannelOptions o;
  o.host = "";
  CHECK(VStreamClient::create(o).error().message == "host is empty");
  o.host = "h";
  o.ca_certificate = "not pem";
  CHECK(VStreamClient::create(o).error().message ==
        "ca_certificate is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)");
  // parse_tls_mode: tests/util/test_strings.cpp ("TlsMode: spellings ...").
  o.ca_certificate.clear();
  o.host = "::1";
  o.port = 15991;
  CHECK(VStreamClient::create(o).value()->target() == "[::1]:15991");
}

namespace {

//! A loopback port whose server accepts each connection and closes it at once (as a proxy
//! without backends does), for as long as it lives.
struct ClosingPort {
  sv::testing::LoopbackListener listener;
  const int port = listener.port();
  std::atomic<bool> stop{false};
  std::thread thread{[this] {
    while (!stop.load()) {
      pollfd p{listener.fd(), POLLIN, 0};
      if (::poll(&p, 1, 50) == 1) {  // wakes every 50 ms to see `stop`
        const int c = ::accept(listener.fd(), nullptr, nullptr);
        if (c >= 0) ::close(c);
      }
    }
  }};
  ~ClosingPort() {
    stop = true;
    thread.join();
  }
};

}  // namespace

TEST_CASE(
    "vstream: a tls_mode the server does not match is a config_error that says which tls_mode to "
    "set") {
  Pki pki;
  TestServer tls_srv(pki.server_creds());
  TestServer plain_srv;
  auto error_of = [](const ChannelOptions& o) {
    StreamItem item = first_item(o);
    REQUIRE(std::holds_alternative<StreamError>(item));
    return std::get<StreamError>(item);
  };
  const std::string tls_at = "127.0.0.1:" + std::to_string(tls_srv.port);
  const std::string plain_at = "127.0.0.1:" + std::to_string(plain_srv.port);

  // A plaintext client to a TLS server: gRPC only says "Socket closed"; a handshake probe tells.
  StreamError plain_to_tls = error_of(plain_options(tls_srv.port));
  CHECK(plain_to_tls.code == grpc::StatusCode::UNAVAILABLE);
  CHECK(plain_to_tls.failure_type == sv::FailureType::config_error);
  CHECK(plain_to_tls.message == "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:" + tls_at +
                                    ": Socket closed; " + tls_at +
                                    " expects TLS but tls_mode is disabled: set tls_mode to verify_identity, "
                                    "verify_ca or required");

  // A TLS client to a plaintext server, verifying or not.
  for (TlsMode mode : {TlsMode::required, TlsMode::verify_ca, TlsMode::verify_identity}) {
    CAPTURE(to_string(mode));
    ChannelOptions o = plain_options(plain_srv.port);
    o.tls_mode = mode;
    o.ca_certificate = pki.ca;
    StreamError e = error_of(o);
    CHECK(e.code == grpc::StatusCode::UNAVAILABLE);
    CHECK(e.failure_type == sv::FailureType::config_error);
    CHECK(e.message == "failed to connect to all addresses; last error: UNKNOWN: ipv4:" + plain_at +
                           ": Tls handshake failed: SSL_ERROR_SSL: error:0A00010B:SSL routines::wrong version "
                           "number; " +
                           plain_at + " does not speak TLS but tls_mode is " + std::string(to_string(mode)) +
                           ": enable TLS on vtgate, or set tls_mode to disabled if the network path is trusted");
  }
  CHECK(plain_srv.service.calls.load() == 0);
  CHECK(tls_srv.service.calls.load() == 0);

  // A server that closes every connection without speaking TLS stays a retried transient error.
  ClosingPort closing;
  StreamError closed = error_of(plain_options(closing.port));
  CHECK(closed.code == grpc::StatusCode::UNAVAILABLE);
  CHECK(closed.failure_type == sv::FailureType::transient_error);
  CHECK(closed.message.find("tls_mode") == std::string::npos);
}

TEST_CASE("vstream: tls_mode required does not load ca_certificate; the verifying modes check it first") {
  Pki pki;
  TestServer srv(pki.server_creds());
  srv.service.script_for = [](const vtgate::VStreamRequest&) {
    Script s;
    s.responses.push_back(response_with({binlogdata::BEGIN}, "tls"));
    return s;
  };
  const std::string garbage = "-----BEGIN CERTIFICATE-----\nnot a certificate!\n-----END CERTIFICATE-----\n";
  ChannelOptions o = plain_options(srv.port);
  o.tls_mode = TlsMode::required;
  o.ca_certificate = garbage;
  StreamItem item = first_item(o);  // before: UNAVAILABLE "Failed to create security handshaker"
  auto* r = std::get_if<vtgate::VStreamResponse>(&item);
  REQUIRE_MESSAGE(r != nullptr, (std::holds_alternative<StreamError>(item) ? std::get<StreamError>(item).message : ""));
  CHECK(r->events(0).statement() == "tls");

  for (TlsMode mode : {TlsMode::verify_ca, TlsMode::verify_identity}) {
    o.tls_mode = mode;
    auto client = VStreamClient::create(o);
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().type == sv::FailureType::config_error);
    CHECK(client.error().message ==
          "ca_certificate is not valid PEM: certificate 1 of 1 does not parse (bad base64 decode)");
  }
}
