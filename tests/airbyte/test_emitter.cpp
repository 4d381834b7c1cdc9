#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "airbyte/emitter.hpp"
#include "airbyte/state.hpp"
#include "util/base64.hpp"

namespace asio = boost::asio;
using namespace sv::airbyte;
using sv::base64_decode;
using sv::base64_encode;

namespace {

//! stdout stand-in: a temporary file the test reads back.
struct Capture {
  FILE* file = std::tmpfile();
  int fd() const { return ::fileno(file); }
  ~Capture() { std::fclose(file); }
  std::vector<std::string> lines() const {
    std::string all;
    char buf[65536];
    ::lseek(fd(), 0, SEEK_SET);
    for (ssize_t n; (n = ::read(fd(), buf, sizeof buf)) > 0;) all.append(buf, static_cast<std::size_t>(n));
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < all.size()) {
      const auto nl = all.find('\n', pos);
      REQUIRE(nl != std::string::npos);  // every line is terminated
      out.push_back(all.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  }
};

std::string record_lines(const StreamDescriptor& d, const std::string& shard, int first_seq, int count) {
  const RecordSerializer ser(d);
  RecordBatch batch;
  for (int i = 0; i < count; ++i) {
    auto& w = batch.begin(ser, 1);
    w.StartObject();
    w.Key("shard");
    w.String(shard.c_str());
    w.Key("seq");
    w.Int(first_seq + i);
    w.EndObject();
    batch.end();
  }
  return batch.take();
}

std::string status_line(const char* name, const char* status) {
  return std::string(
             R"({"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":7,"stream_status":{"stream_descriptor":{"name":")") +
         name + R"(","namespace":"db"},"status":")" + status + R"("}}})";
}

std::string record_line(const char* name, const char* shard, int seq) {
  return std::string(R"({"type":"RECORD","record":{"stream":")") + name +
         R"(","namespace":"db","emitted_at":1,"data":{"shard":")" + shard + R"(","seq":)" + std::to_string(seq) + "}}}";
}

EmitterOptions pinned(std::size_t capacity = 16) {
  EmitterOptions o;
  o.queue_capacity = capacity;
  o.clock = [] { return std::int64_t{7}; };
  return o;
}

//! Runs the emitter and one driver coroutine to completion; returns run()'s exit code.
template <class Driver>
int run_with(asio::io_context& io, Emitter& em, Driver driver) {
  int code = -1;
  asio::co_spawn(io, em.run(), [&](std::exception_ptr e, int c) {
    CHECK(!e);
    code = c;
  });
  asio::co_spawn(io, std::move(driver), asio::detached);
  io.run();
  return code;
}

const StreamDescriptor kUsers{"users", "db"};
const StreamDescriptor kOrders{"orders", "db"};

}  // namespace

TEST_CASE("emitter: exact output for one stream that completes and one that never ran") {
  asio::io_context io;
  Capture cap;
  MessageWriter out(cap.fd());
  Emitter em(io.get_executor(), {kUsers, kOrders}, out, pinned());
  // Built outside the coroutine: GCC 12 rejects initializer lists inside coroutine bodies.
  const StreamState first{{{"-80", "AAAA"}}};
  const StreamState second{{{"-80", "AAAA"}, {"80-", "BBBB"}}};
  const int code = run_with(io, em, [&]() -> asio::awaitable<void> {
    CHECK(co_await em.started(0));
    CHECK(co_await em.started(0));  // idempotent
    CHECK(co_await em.push(Batch{0, record_lines(kUsers, "-80", 1, 2), 2, {}}));
    CHECK(co_await em.push(Batch{0, record_lines(kUsers, "-80", 3, 1), 1, first}));
    CHECK(co_await em.push(Batch{0, "", 0, second}));
    CHECK(co_await em.estimate(0, 10, 100));
    CHECK(co_await em.complete(0));
    CHECK(co_await em.push(Batch{0, record_lines(kUsers, "-80", 4, 1), 1, {}}));  // after COMPLETE: dropped
    CHECK(co_await em.complete(0));                                               // dropped too
    co_await em.shutdown();
    CHECK(!co_await em.push(Batch{0, "", 0, {}}));  // the emitter is gone
  });
  CHECK(code == 1);  // `orders` never finished
  const std::vector<std::string> expected = {
      status_line("users", "STARTED"),
      status_line("users", "RUNNING"),
      record_line("users", "-80", 1),
      record_line("users", "-80", 2),
      record_line("users", "-80", 3),
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":"db"},"stream_state":{"shards":{"-80":{"cursor":"AAAA"}}}},"sourceStats":{"recordCount":3.0}}})",
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":"db"},"stream_state":{"shards":{"-80":{"cursor":"AAAA"},"80-":{"cursor":"BBBB"}}}},"sourceStats":{"recordCount":0.0}}})",
      R"({"type":"TRACE","trace":{"type":"ESTIMATE","emitted_at":7,"estimate":{"name":"users","type":"STREAM","namespace":"db","row_estimate":10,"byte_estimate":100}}})",
      status_line("users", "COMPLETE"),
      status_line("orders", "STARTED"),
      R"({"type":"TRACE","trace":{"type":"ERROR","emitted_at":7,"error":{"message":"stream 'orders' did not finish: the sync ended before its reader completed","failure_type":"system_error","stream_descriptor":{"name":"orders","namespace":"db"}}}})",
      status_line("orders", "INCOMPLETE"),
  };
  CHECK(cap.lines() == expected);
  CHECK(em.stats()[0].records == 3);
  CHECK(em.stats()[0].states == 2);
  CHECK(em.stats()[0].dropped_records == 1);
  CHECK(em.stats()[0].complete);
  CHECK(!em.stats()[1].complete);
}

TEST_CASE("emitter: all complete exits 0; each STATE is the batch's whole state") {
  asio::io_context io;
  Capture cap;
  MessageWriter out(cap.fd());
  Emitter em(io.get_executor(), {kUsers, kOrders}, out, pinned());
  // Built outside the coroutine: GCC 12 rejects initializer lists inside coroutine bodies.
  const StreamState users{{{"-80", "OLD1"}, {"80-", "NEW2"}}};
  StreamState whole;
  whole.shards["-"] = "W";
  StreamState next;
  next.shards["-"] = "W2";
  const int code = run_with(io, em, [&]() -> asio::awaitable<void> {
    co_await em.push(Batch{0, record_lines(kUsers, "80-", 1, 1), 1, users});
    co_await em.push(Batch{1, record_lines(kOrders, "-", 1, 2), 2, whole});
    co_await em.push(Batch{1, "", 0, next});
    co_await em.complete(1);
    co_await em.complete(0);
    co_await em.shutdown();
  });
  CHECK(code == 0);
  const std::vector<std::string> expected = {
      status_line("users", "STARTED"),
      status_line("users", "RUNNING"),
      record_line("users", "80-", 1),
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":"db"},"stream_state":{"shards":{"-80":{"cursor":"OLD1"},"80-":{"cursor":"NEW2"}}}},"sourceStats":{"recordCount":1.0}}})",
      status_line("orders", "STARTED"),
      status_line("orders", "RUNNING"),
      record_line("orders", "-", 1),
      record_line("orders", "-", 2),
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"orders","namespace":"db"},"stream_state":{"shards":{"-":{"cursor":"W"}}}},"sourceStats":{"recordCount":2.0}}})",
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"orders","namespace":"db"},"stream_state":{"shards":{"-":{"cursor":"W2"}}}},"sourceStats":{"recordCount":0.0}}})",
      status_line("orders", "COMPLETE"),
      status_line("users", "COMPLETE"),
  };
  CHECK(cap.lines() == expected);
}

TEST_CASE("emitter: a stream with no batches still gets STARTED, RUNNING, COMPLETE") {
  asio::io_context io;
  Capture cap;
  MessageWriter out(cap.fd());
  Emitter em(io.get_executor(), {kUsers}, out, pinned());
  const int code = run_with(io, em, [&]() -> asio::awaitable<void> {
    co_await em.complete(0);
    co_await em.shutdown();
  });
  CHECK(code == 0);
  CHECK(cap.lines() == std::vector<std::string>{status_line("users", "STARTED"), status_line("users", "RUNNING"),
                                                status_line("users", "COMPLETE")});
}

TEST_CASE("emitter: a LOG is written in its place among the stream's messages and changes no phase") {
  asio::io_context io;
  Capture cap;
  MessageWriter out(cap.fd());
  Emitter em(io.get_executor(), {kUsers}, out, pinned());
  const StreamState state{{{"-80", "AAAA"}}};
  const int code = run_with(io, em, [&]() -> asio::awaitable<void> {
    CHECK(co_await em.log(LogLevel::warn, "before anything"));
    CHECK(co_await em.push(Batch{0, record_lines(kUsers, "-80", 1, 1), 1, {}}));
    CHECK(co_await em.log(LogLevel::warn, "a \"quoted\" column left out"));
    CHECK(co_await em.push(Batch{0, "", 0, state}));
    CHECK(co_await em.complete(0));
    co_await em.shutdown();
  });
  CHECK(code == 0);  // a warning is no error
  const std::vector<std::string> expected = {
      R"({"type":"LOG","log":{"level":"WARN","message":"before anything"}})",
      status_line("users", "STARTED"),
      status_line("users", "RUNNING"),
      record_line("users", "-80", 1),
      R"({"type":"LOG","log":{"level":"WARN","message":"a \"quoted\" column left out"}})",
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":"db"},"stream_state":{"shards":{"-80":{"cursor":"AAAA"}}}},"sourceStats":{"recordCount":1.0}}})",
      status_line("users", "COMPLETE"),
  };
  CHECK(cap.lines() == expected);
}

TEST_CASE("emitter: a failing stream gets TRACE ERROR then INCOMPLETE and fails the exit code") {
  asio::io_context io;
  Capture cap;
  MessageWriter out(cap.fd());
  Emitter em(io.get_executor(), {kUsers, kOrders}, out, pinned());
  const int code = run_with(io, em, [&]() -> asio::awaitable<void> {
    co_await em.push(Batch{0, record_lines(kUsers, "-80", 1, 1), 1, {}});
    co_await em.incomplete(0, sv::transient_error("shard -80: vtgate unavailable", "UNAVAILABLE"));
    co_await em.complete(1);
    co_await em.shutdown();
  });
  CHECK(code == 1);
  const std::vector<std::string> expected = {
      status_line("users", "STARTED"),
      status_line("users", "RUNNING"),
      record_line("users", "-80", 1),
      R"({"type":"TRACE","trace":{"type":"ERROR","emitted_at":7,"error":{"message":"shard -80: vtgate unavailable","internal_message":"UNAVAILABLE","failure_type":"transient_error","stream_descriptor":{"name":"users","namespace":"db"}}}})",
      status_line("users", "INCOMPLETE"),
      status_line("orders", "STARTED"),
      status_line("orders", "RUNNING"),
      status_line("orders", "COMPLETE"),
  };
  CHECK(cap.lines() == expected);
}

TEST_CASE("emitter: bounded channel, producers wait until the emitter takes events") {
  asio::io_context io;
  Capture cap;
  MessageWriter out(cap.fd());
  Emitter em(io.get_executor(), {kUsers}, out, pinned(2));
  int accepted = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 1; i <= 10; ++i) {
          if (co_await em.push(Batch{0, record_lines(kUsers, "-", i, 1), 1, {}})) ++accepted;
        }
        co_await em.complete(0);
        co_await em.shutdown();
      },
      asio::detached);
  io.poll();
  CHECK(accepted == 2);  // the channel holds two events; the third push waits
  int code = -1;
  asio::co_spawn(io, em.run(), [&](std::exception_ptr, int c) { code = c; });
  io.run();
  CHECK(accepted == 10);
  CHECK(code == 0);
  CHECK(cap.lines().size() == 13);  // STARTED RUNNING 10×RECORD COMPLETE
}

TEST_CASE("emitter: stdout closed mid-sync stops the emitter and releases producers") {
  ::signal(SIGPIPE, SIG_IGN);
  int p[2];
  REQUIRE(::pipe(p) == 0);
  ::close(p[0]);
  asio::io_context io;
  MessageWriter out(p[1], 16);
  Emitter em(io.get_executor(), {kUsers}, out, pinned(1));
  int refused = 0;
  const int code = run_with(io, em, [&]() -> asio::awaitable<void> {
    for (int i = 1; i <= 50; ++i) {
      if (!co_await em.push(Batch{0, record_lines(kUsers, "-", i, 1), 1, {}})) ++refused;
    }
    co_await em.complete(0);
    co_await em.shutdown();  // returns at once: the emitter is gone
  });
  ::close(p[1]);
  CHECK(code == 1);
  CHECK(out.output_closed());
  CHECK(refused > 40);
}

// ---------------------------------------------------------------------------------------------
// Property test: several producers per stream, random batch sizes, cursors and yields, random
// channel capacity; sometimes one producer fails mid-stream. The output must keep every
// per-stream ordering rule whatever the interleaving.

namespace {

struct Plan {
  std::size_t stream;
  std::string shard;
  int batches;
  int fail_after = -1;  //!< batch index after which this producer reports its stream INCOMPLETE
};

struct World {
  std::vector<StreamDescriptor> streams;
  std::vector<Plan> producers;
  std::vector<int> open_producers;      //!< per stream
  std::vector<bool> failed;             //!< per stream
  std::vector<std::uint64_t> produced;  //!< records pushed per stream
  //! Per stream, the shard cursors whose records were pushed (the engine's coordinator keeps the
  //! same): a STATE carries all of them.
  std::vector<StreamState> states;
  int running = 0;
};

std::string cursor_for(const std::string& shard, int last_seq) {
  return base64_encode(shard + ":" + std::to_string(last_seq));
}

asio::awaitable<void> yield_some(std::mt19937& rng) {
  const int n = std::uniform_int_distribution<int>(0, 3)(rng);
  for (int i = 0; i < n; ++i) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

asio::awaitable<void> producer(Emitter& em, World& world, std::size_t index, unsigned seed) {
  std::mt19937 rng(seed);
  const Plan plan = world.producers[index];
  const auto& desc = world.streams[plan.stream];
  co_await yield_some(rng);
  if (rng() % 2 == 0) co_await em.started(plan.stream);
  if (rng() % 4 == 0) co_await em.estimate(plan.stream, 100, 1000);
  int seq = 0;
  bool failed_here = false;
  for (int b = 0; b < plan.batches; ++b) {
    const int n = std::uniform_int_distribution<int>(0, 5)(rng);
    Batch batch{plan.stream, record_lines(desc, plan.shard, seq + 1, n), static_cast<std::uint64_t>(n), {}};
    seq += n;
    // As the engine does: a STATE may name this batch's cursor (its rows travel with it); without
    // one, the cursor counts once its rows are queued.
    const bool with_state = rng() % 10 < 6;
    if (with_state) {
      world.states[plan.stream].shards[plan.shard] = cursor_for(plan.shard, seq);
      batch.state = world.states[plan.stream];
    }
    world.produced[plan.stream] += static_cast<std::uint64_t>(n);
    co_await em.push(std::move(batch));
    if (!with_state) world.states[plan.stream].shards[plan.shard] = cursor_for(plan.shard, seq);
    co_await yield_some(rng);
    if (b == plan.fail_after) {
      world.failed[plan.stream] = true;
      co_await em.incomplete(plan.stream, sv::transient_error("shard " + plan.shard + " of " + desc.name + " failed"));
      failed_here = true;
      break;
    }
  }
  if (!failed_here) {
    // The final cursor of the shard, with no records.
    world.states[plan.stream].shards[plan.shard] = cursor_for(plan.shard, seq);
    co_await em.push(Batch{plan.stream, "", 0, world.states[plan.stream]});
  }
  if (--world.open_producers[plan.stream] == 0 && !world.failed[plan.stream]) co_await em.complete(plan.stream);
  if (--world.running == 0) co_await em.shutdown();
}

const rapidjson::Value& descriptor_of(const rapidjson::Document& d) {
  const std::string type = d["type"].GetString();
  if (type == "RECORD") return d["record"];
  if (type == "STATE") return d["state"]["stream"]["stream_descriptor"];
  const auto& t = d["trace"];
  const std::string tt = t["type"].GetString();
  if (tt == "STREAM_STATUS") return t["stream_status"]["stream_descriptor"];
  if (tt == "ERROR") return t["error"]["stream_descriptor"];
  return t["estimate"];
}

}  // namespace

TEST_CASE("emitter: per-stream order holds under randomized interleavings of producers") {
  for (unsigned seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    World world;
    const int stream_count = 1 + static_cast<int>(rng() % 4);
    for (int s = 0; s < stream_count; ++s) world.streams.push_back({"t" + std::to_string(s), "db"});
    world.open_producers.assign(stream_count, 0);
    world.failed.assign(stream_count, false);
    world.produced.assign(stream_count, 0);
    world.states.assign(stream_count, StreamState{});
    const char* shard_names[] = {"-40", "40-80", "80-c0", "c0-"};
    for (int s = 0; s < stream_count; ++s) {
      const int shards = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < shards; ++k) {
        world.producers.push_back({static_cast<std::size_t>(s), shard_names[k], static_cast<int>(rng() % 9)});
        ++world.open_producers[s];
      }
    }
    const bool inject_failure = seed % 2 == 0;
    if (inject_failure) {
      auto& victim = world.producers[rng() % world.producers.size()];
      victim.batches = std::max(victim.batches, 2);
      victim.fail_after = static_cast<int>(rng() % static_cast<unsigned>(victim.batches));
    }
    world.running = static_cast<int>(world.producers.size());

    asio::io_context io;
    Capture cap;
    MessageWriter out(cap.fd(), 1 + rng() % 4096);
    Emitter em(io.get_executor(), world.streams, out, pinned(1 + rng() % 4));
    int code = -1;
    asio::co_spawn(io, em.run(), [&](std::exception_ptr e, int c) {
      CHECK(!e);
      code = c;
    });
    for (std::size_t i = 0; i < world.producers.size(); ++i) {
      asio::co_spawn(io, producer(em, world, i, seed * 1000 + static_cast<unsigned>(i)), asio::detached);
    }
    io.run();

    // Replay the output and check every rule.
    struct Seen {
      std::vector<std::string> statuses;
      bool terminal = false;
      std::uint64_t records = 0, since_state = 0, state_sum = 0;
      std::map<std::string, int> last_seq;  // per shard, from RECORD data
      bool error_before_incomplete = false;
    };
    std::vector<Seen> seen(stream_count);
    std::string previous_error_stream;
    for (const auto& line : cap.lines()) {
      rapidjson::Document d;
      d.Parse(line.c_str());
      REQUIRE_MESSAGE(!d.HasParseError(), line);
      const auto& desc = descriptor_of(d);
      const std::string name = desc.HasMember("name") ? desc["name"].GetString() : desc["stream"].GetString();
      REQUIRE(name.size() >= 2);
      const int s = std::stoi(name.substr(1));
      REQUIRE(s < stream_count);
      Seen& st = seen[s];
      CHECK_MESSAGE(!st.terminal, "message after the terminal status: " << line);
      const std::string type = d["type"].GetString();
      if (type != "TRACE" || std::string(d["trace"]["type"].GetString()) != "STREAM_STATUS") {
        CHECK_MESSAGE(!st.statuses.empty(), "message before STARTED: " << line);
      }
      if (type == "RECORD") {
        CHECK(!st.statuses.empty());
        CHECK(st.statuses.back() == "RUNNING");
        const std::string shard = d["record"]["data"]["shard"].GetString();
        const int seq_no = d["record"]["data"]["seq"].GetInt();
        CHECK(seq_no == st.last_seq[shard] + 1);  // per shard, in order, none lost or doubled
        st.last_seq[shard] = seq_no;
        ++st.records;
        ++st.since_state;
      } else if (type == "STATE") {
        const auto count = d["state"]["sourceStats"]["recordCount"].GetDouble();
        CHECK(count == static_cast<double>(st.since_state));
        st.state_sum += st.since_state;
        st.since_state = 0;
        const auto& shards = d["state"]["stream"]["stream_state"]["shards"];
        for (auto it = shards.MemberBegin(); it != shards.MemberEnd(); ++it) {
          const std::string shard = it->name.GetString();
          const auto decoded = base64_decode(it->value["cursor"].GetString());
          REQUIRE(decoded);
          const int covered = std::stoi(decoded->substr(decoded->find(':') + 1));
          // The cursor never names a record that is not written yet.
          CHECK(covered <= st.last_seq[shard]);
        }
      } else {
        const std::string tt = d["trace"]["type"].GetString();
        if (tt == "STREAM_STATUS") {
          const std::string status = d["trace"]["stream_status"]["status"].GetString();
          if (st.statuses.empty()) CHECK(status == "STARTED");
          if (status == "STARTED") CHECK(st.statuses.empty());
          if (status == "RUNNING") CHECK(st.statuses == std::vector<std::string>{"STARTED"});
          if (status == "COMPLETE") CHECK(st.statuses.back() == "RUNNING");
          if (status == "INCOMPLETE") CHECK(previous_error_stream == name);
          if (status == "COMPLETE" || status == "INCOMPLETE") st.terminal = true;
          st.statuses.push_back(status);
        }
        previous_error_stream = tt == "ERROR" ? name : "";
        if (tt == "ERROR") CHECK(std::string(d["trace"]["error"]["failure_type"].GetString()) == "transient_error");
      }
    }
    bool any_failed = false;
    for (int s = 0; s < stream_count; ++s) {
      CAPTURE(s);
      const Seen& st = seen[s];
      CHECK(st.terminal);
      CHECK(std::count(st.statuses.begin(), st.statuses.end(), "COMPLETE") +
                std::count(st.statuses.begin(), st.statuses.end(), "INCOMPLETE") ==
            1);
      CHECK(st.state_sum + st.since_state == st.records);
      CHECK(em.stats()[s].records == st.records);
      CHECK(em.stats()[s].records + em.stats()[s].dropped_records == world.produced[s]);
      if (world.failed[s]) {
        any_failed = true;
        CHECK(st.statuses.back() == "INCOMPLETE");
      } else {
        CHECK(st.statuses.back() == "COMPLETE");
        CHECK(st.records == world.produced[s]);  // nothing lost
        CHECK(st.since_state == 0);              // every record covered by a STATE
      }
    }
    CHECK(any_failed == inject_failure);
    CHECK(code == (inject_failure ? 1 : 0));
  }
}
