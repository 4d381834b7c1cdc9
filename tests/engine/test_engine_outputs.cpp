// tests/engine: the engine driven directly through engine::Engine and a capturing SyncOutput —
// the extract's row formats (JSONL, CSV), the checkpoint at the end of a table copy, --follow
// with stop(), and the live Metrics the progress display and /metrics read.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <set>
#include <string>
#include <vector>

#include "airbyte/catalog.hpp"
#include "airbyte/config.hpp"
#include "airbyte/state.hpp"
#include "engine/sync.hpp"
#include "extract/row_writers.hpp"
#include "fake_source.hpp"
#include "vitess/cursor.hpp"

using namespace sv;
using namespace sv::engine;
using namespace sv::engine::testing;
namespace asio = boost::asio;

namespace {

//! Remembers every call, in order, as one readable line each.
class CaptureOutput final : public SyncOutput {
 public:
  enum class Format { record, jsonl, csv };
  Format format = Format::record;  //!< the row writer it supplies
  std::vector<std::string> events;
  std::string rows;  //!< every pushed line, in push order
  std::uint64_t row_count = 0;
  std::vector<airbyte::StreamState> states;
  bool shut = false;

  asio::awaitable<bool> started(std::size_t i) override {
    events.push_back("started " + std::to_string(i));
    co_return true;
  }
  asio::awaitable<bool> estimate(std::size_t i, std::uint64_t rows_, std::uint64_t) override {
    events.push_back("estimate " + std::to_string(i) + " " + std::to_string(rows_));
    co_return true;
  }
  std::unique_ptr<RowWriter> row_writer(const airbyte::StreamDescriptor& stream,
                                        const std::vector<std::string>& columns) const override {
    switch (format) {
      case Format::jsonl: return extract::make_jsonl_writer();
      case Format::csv: return extract::make_csv_writer(columns);
      case Format::record: break;
    }
    return make_record_writer(stream);
  }
  asio::awaitable<bool> push(Batch b) override {
    rows += b.lines;
    row_count += b.count;
    std::string e = "push " + std::to_string(b.stream) + " " + b.shard + " " + std::to_string(b.count);
    if (b.state) {
      states.push_back(*b.state);
      e += " +state";
    }
    events.push_back(e);
    co_return true;
  }
  asio::awaitable<bool> complete(std::size_t i) override {
    events.push_back("complete " + std::to_string(i));
    co_return true;
  }
  asio::awaitable<bool> incomplete(std::size_t i, Error e) override {
    events.push_back("incomplete " + std::to_string(i) + " " + e.message);
    co_return true;
  }
  asio::awaitable<void> shutdown() override {
    shut = true;
    co_return;
  }
};

struct Setup {
  airbyte::Config config;
  airbyte::ConfiguredCatalog catalog;
  airbyte::InputState state;
};

Setup setup(const std::string& sync_mode, const std::string& config_extra, const std::string& columns_json) {
  const std::string cfg = R"({"host":"h","database":"ks","username":"u","password":"p")" +
                          (config_extra.empty() ? std::string() : "," + config_extra) + "}";
  auto config = airbyte::parse_config(cfg);
  REQUIRE(config.ok());
  auto catalog = airbyte::parse_configured_catalog(
      R"({"streams":[{"stream":{"name":"t","namespace":"ks","json_schema":{"type":"object","properties":{)" +
          columns_json + R"(}},"supported_sync_modes":["full_refresh","incremental"]},"sync_mode":")" + sync_mode +
          R"(","destination_sync_mode":"append"}]})",
      "ks");
  REQUIRE(catalog.ok());
  Setup s{*config, *catalog, {}};
  s.state.streams.resize(1);
  return s;
}

constexpr const char* kIdName = R"("id":{"type":"number"},"name":{"type":["null","string"]})";

EngineOptions test_options() {
  EngineOptions opt;
  opt.retry_base = std::chrono::milliseconds(1);
  opt.retry_max = std::chrono::milliseconds(5);
  opt.jitter_seed = 3;
  opt.inline_decode_bytes = inline_decode_bytes();
  opt.clock_ms = [] { return std::int64_t{1700000000000}; };
  opt.clock_ns = [] { return std::int64_t{1700000000000000000}; };
  return opt;
}

//! Runs the engine to its end (or until `until` says stop, polled every 5 ms, 10 s at most).
void run_engine(Setup& s, FakeSource& src, CaptureOutput& out, const EngineOptions& opt, Metrics* metrics = nullptr,
                std::function<bool()> until = {}) {
  asio::io_context io(1);
  ReadInputs in{s.config, s.catalog, s.state};
  Engine engine(io, in, src, out, opt, metrics);
  bool ended = false;
  asio::co_spawn(io, engine.run(), [&](std::exception_ptr) { ended = true; });
  if (until) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer t(io);
          for (int i = 0; i < 2000 && !ended; ++i) {
            if (until()) {
              engine.stop(transient_error("interrupted by SIGTERM"));
              co_return;
            }
            t.expires_after(std::chrono::milliseconds(5));
            co_await t.async_wait(asio::use_awaitable);
          }
        },
        asio::detached);
  }
  io.run_for(std::chrono::seconds(20));
  CHECK(ended);
}

}  // namespace

TEST_CASE("json_line rows are the RECORD data objects alone, one per line") {
  FakeSource src;
  src.add_shard("-", 1, 3);
  auto s = setup("full_refresh", "", kIdName);
  CaptureOutput out;
  auto opt = test_options();
  out.format = CaptureOutput::Format::jsonl;
  run_engine(s, src, out, opt);
  CHECK(out.rows == "{\"id\":1,\"name\":\"n1\"}\n{\"id\":2,\"name\":\"n2\"}\n{\"id\":3,\"name\":\"n3\"}\n");
  CHECK(out.row_count == 3);
  CHECK(out.events.front() == "started 0");
  CHECK(out.events.back() == "complete 0");
  CHECK(out.shut);
}

TEST_CASE("csv_line rows follow the catalog's columns, computed columns included") {
  FakeSource src;
  src.add_shard("-", 1, 2);
  auto s =
      setup("full_refresh", "",
            std::string(kIdName) +
                R"(,"_ab_cdc_updated_at":{"type":["null","string"]},"_ab_cdc_deleted_at":{"type":["null","string"]})");
  CaptureOutput out;
  auto opt = test_options();
  out.format = CaptureOutput::Format::csv;
  run_engine(s, src, out, opt);
  CHECK(out.rows == "1,\"n1\",,\r\n2,\"n2\",,\r\n");
}

TEST_CASE("checkpoint_at_copy_end puts a STATE right where a shard's copy ends, before its CDC") {
  // In follow mode a shard never finishes, so without the option nothing checkpoints the end of
  // the copy until the record interval (1000) or the stop.
  FakeSource src;
  src.add_shard("-80", 1, 3);
  src.add_shard("80-", 101, 2);
  auto s = setup("incremental", R"("max_concurrent_readers":2,"checkpoint_interval_records":1000)", kIdName);
  auto opt = test_options();
  opt.follow = true;
  SUBCASE("without it, the only STATE is the final one at the stop") {
    CaptureOutput out;
    run_engine(s, src, out, opt, nullptr, [&] { return out.row_count >= 5; });
    CHECK(out.states.size() == 1);
  }
  SUBCASE("with it, one STATE per finished copy (nothing changed after them, so no other at the stop)") {
    CaptureOutput out;
    opt.checkpoint_at_copy_end = true;
    run_engine(s, src, out, opt, nullptr, [&] { return out.states.size() >= 2; });
    REQUIRE(out.states.size() == 2);
    CHECK(out.events.back() == "incomplete 0 interrupted by SIGTERM");
    auto shard_cursor = [&](std::size_t i, const std::string& shard) {
      auto c = vitess::decode_cursor(out.states[i].shards.at(shard));
      REQUIRE(c.ok());
      return c->position() + (c->has_last_known_pk() && c->last_known_pk().rows_size() > 0 ? "|pk" : "");
    };
    // Each copy-end STATE: that shard past its copy; the other one whatever it reached.
    std::set<std::string> finished;
    for (std::size_t i = 0; i < 2; ++i) {
      for (const auto& shard : {"-80", "80-"}) {
        if (shard_cursor(i, shard) == position(src.shards[shard], 0)) finished.insert(shard);
      }
    }
    CHECK(finished == std::set<std::string>{"-80", "80-"});
    CHECK(shard_cursor(1, "-80") == position(src.shards["-80"], 0));
    CHECK(shard_cursor(1, "80-") == position(src.shards["80-"], 0));
  }
}

TEST_CASE("follow: the copy, then changes past the current position, until stop(); then a final STATE and INCOMPLETE") {
  FakeSource src;
  src.add_shard("-", 1, 2);
  auto& sh = src.shards["-"];
  sh.log.push_back(tx({Change{3, std::nullopt, "n3"}}, 1700000100));
  auto s =
      setup("incremental", R"("checkpoint_interval_records":1000)",
            std::string(kIdName) +
                R"(,"_ab_cdc_updated_at":{"type":["null","string"]},"_ab_cdc_deleted_at":{"type":["null","string"]})");
  s.state.streams[0] = airbyte::StreamState(std::map<std::string, std::string>{
      {"-", vitess::encode_cursor(vitess::make_cursor("ks", "-", position(sh, 0)))}});
  // A change the engine only sees because it does not stop at the position peeked at the start:
  // the fake's current position includes it, so a normal incremental sync would stop after it too;
  // follow keeps the stream open past it until stop().
  CaptureOutput out;
  auto opt = test_options();
  opt.follow = true;
  out.format = CaptureOutput::Format::jsonl;
  Metrics metrics;
  run_engine(s, src, out, opt, &metrics, [&] { return out.row_count >= 1; });
  CHECK(out.rows ==
        "{\"id\":3,\"name\":\"n3\",\"_ab_cdc_updated_at\":\"2023-11-14T22:15:00Z\",\"_ab_cdc_deleted_at\":null}\n");
  REQUIRE(out.events.size() >= 3);
  CHECK(out.events[out.events.size() - 1] == "incomplete 0 interrupted by SIGTERM");
  CHECK(out.events[out.events.size() - 2] == "push 0  0 +state");
  auto c = vitess::decode_cursor(out.states.back().shards.at("-"));
  REQUIRE(c.ok());
  CHECK(c->position() == position(sh, 1));
  CHECK(metrics.streams[0].phase == StreamPhase::incomplete);
  CHECK(metrics.streams[0].shards.at("-").last_event_time == 1700000100);
}

TEST_CASE("metrics count rows and bytes per stream and shard, checkpoints and phases") {
  FakeSource src;
  src.add_shard("-80", 1, 3);
  src.add_shard("80-", 101, 2);
  auto s = setup("full_refresh", R"("checkpoint_interval_records":2)", kIdName);
  s.catalog.streams[0].columns = {"id", "name"};
  CaptureOutput out;
  auto opt = test_options();
  out.format = CaptureOutput::Format::jsonl;
  Metrics m;
  run_engine(s, src, out, opt, &m);
  REQUIRE(m.streams.size() == 1);
  const auto& st = m.streams[0];
  CHECK(st.name == "t");
  CHECK(st.ns == "ks");
  CHECK(st.records == 5);
  CHECK(st.bytes == out.rows.size());
  CHECK(st.phase == StreamPhase::complete);
  CHECK(st.checkpoints == out.states.size());
  CHECK(st.shards.at("-80").records == 3);
  CHECK(st.shards.at("80-").records == 2);
  CHECK(st.shards.at("-80").bytes == 3 * std::string("{\"id\":1,\"name\":\"n1\"}\n").size());
  CHECK_FALSE(st.shards.at("-80").copying);
  CHECK(st.shards.at("-80").done);
  CHECK(m.readers_active == 0);
  CHECK(m.readers_waiting == 0);
}

TEST_CASE("follow: a quiet source still gets a checkpoint every checkpoint_interval_seconds") {
  FakeSource src;
  src.add_shard("-", 1, 2);
  auto s = setup("incremental", R"("checkpoint_interval_seconds":1)", kIdName);
  CaptureOutput out;
  auto opt = test_options();
  opt.follow = true;
  out.format = CaptureOutput::Format::jsonl;
  const auto start = std::chrono::steady_clock::now();
  run_engine(s, src, out, opt, nullptr, [&] { return out.states.size() >= 3; });
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(out.row_count == 2);
  REQUIRE(out.states.size() == 3);
  // Nothing new arrived: the same cursor each time (the copy's end), one per second.
  CHECK(out.states[1].shards == out.states[0].shards);
  CHECK(out.states[2].shards == out.states[0].shards);
  CHECK(took >= std::chrono::milliseconds(1900));
  CHECK(out.events.back() == "incomplete 0 interrupted by SIGTERM");
}

TEST_CASE("stop() cancels the start-up position peek in flight: the stream ends at once") {
  FakeSource src;
  src.add_shard("-", 1, 3);
  src.position_delay = std::chrono::seconds(30);  // a silent vtgate
  auto s = setup("incremental", "", kIdName);
  CaptureOutput out;
  const auto started = std::chrono::steady_clock::now();
  run_engine(s, src, out, test_options(), nullptr, [&] { return src.position_calls >= 1; });
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));  // the peek alone takes 30 s
  CHECK(src.position_calls == 1);
  CHECK(out.events == std::vector<std::string>{"started 0", "incomplete 0 interrupted by SIGTERM"});
}

TEST_CASE("stop() during the backoff between position peeks starts no further peek") {
  FakeSource src;
  src.add_shard("-", 1, 3);
  src.position_failures = 100;
  auto s = setup("incremental", R"("max_retries":5)", kIdName);
  auto opt = test_options();
  opt.retry_base = std::chrono::seconds(10);  // the stop comes while the engine waits to retry
  opt.retry_max = std::chrono::seconds(10);
  CaptureOutput out;
  const auto started = std::chrono::steady_clock::now();
  run_engine(s, src, out, opt, nullptr, [&] { return src.position_calls >= 1; });
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK(src.position_calls == 1);
  CHECK(out.events == std::vector<std::string>{"started 0", "incomplete 0 interrupted by SIGTERM"});
}
