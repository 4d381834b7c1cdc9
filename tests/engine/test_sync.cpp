// tests/engine: the sync engine against the in-memory FakeSource: exact records, exact STATE
// sequences, checkpoint intervals, deletes, retries without loss or duplicates, failures, schema
// changes, resuming from Go-format state and resharding. Every output also passes the project's
// protocol validator.
#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include "airbyte/catalog.hpp"
#include "airbyte/config.hpp"
#include "airbyte/state.hpp"
#include "cli/read_command.hpp"
#include "engine/sync.hpp"
#include "engine/vstream_source.hpp"
#include "fake_source.hpp"
#include "protocol_validator.hpp"
#include "vitess/cursor.hpp"

using namespace sv;
using namespace sv::engine;
using namespace sv::engine::testing;

namespace {

std::string catalog_json(const std::string& sync_mode, const std::vector<std::string>& extra_columns = {},
                         const std::string& name = "t") {
  std::string props = R"("id":{"type":["number"],"airbyte_type":"integer"},"name":{"type":["null","string"]})";
  for (const auto& c : extra_columns) {
    props +=
        ",\"" + c + "\":" + (c == "_planetscale_metadata" ? R"({"type":["object"]})" : R"({"type":["null","string"]})");
  }
  return R"({"streams":[{"stream":{"name":")" + name +
         R"(","namespace":"ks","json_schema":{"type":"object","properties":{)" + props +
         R"(}},"supported_sync_modes":["full_refresh","incremental"]},"sync_mode":")" + sync_mode +
         R"(","destination_sync_mode":"append"}]})";
}

struct Output {
  int exit_code = -1;
  std::string text;
  sv::testing::ReadReport report;
  const sv::testing::StreamSummary& stream(const std::string& key = "ks.t") const { return report.streams.at(key); }
};

Output run(FakeSource& src, const std::string& config_extra, const std::string& catalog_text,
           const std::string& state_text = "", std::size_t emitter_queue = 16,
           std::map<std::size_t, std::uint64_t> estimates = {}, std::chrono::milliseconds shard_time_limit = {},
           std::map<std::size_t, vitess::TableInfo> tables = {}) {
  const std::string cfg_text = R"({"host":"h","database":"ks","username":"u","password":"p")" +
                               (config_extra.empty() ? std::string() : "," + config_extra) + "}";
  auto config = airbyte::parse_config(cfg_text);
  REQUIRE(config.ok());
  auto catalog = airbyte::parse_configured_catalog(catalog_text, "ks");
  REQUIRE(catalog.ok());
  airbyte::InputState state;
  state.streams.resize(catalog->streams.size());
  if (!state_text.empty()) {
    auto parsed = airbyte::parse_state(state_text, *catalog);
    REQUIRE(parsed.ok());
    state = *parsed;
  }
  char path[] = "/tmp/engine_test_XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  Output o;
  {
    airbyte::MessageWriter out(fd);
    EngineOptions opt;
    opt.retry_base = std::chrono::milliseconds(1);
    opt.retry_max = std::chrono::milliseconds(5);
    opt.jitter_seed = 7;
    opt.inline_decode_bytes = inline_decode_bytes();
    opt.emitter_queue = emitter_queue;
    opt.shard_time_limit = shard_time_limit;
    opt.clock_ms = [] { return std::int64_t{1700000000000}; };
    opt.clock_ns = [] { return std::int64_t{1700000000000000000}; };
    ReadInputs in{*config, *catalog, state, estimates, tables};
    o.exit_code = sv::cli::run_sync(in, src, out, opt);
  }
  FILE* f = std::fopen(path, "rb");
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) o.text.append(buf, n);
  std::fclose(f);
  ::close(fd);
  ::unlink(path);
  o.report = sv::testing::validate_read_output(o.text, catalog_text);
  for (const auto& p : o.report.problems) MESSAGE("protocol problem: ", p);
  CHECK(o.report.ok());
  return o;
}

//! A shard's cursor in a state, as "position|lastpk" (lastpk = id, or "-").
std::map<std::string, std::string> cursors_of(const std::string& stream_state) {
  rapidjson::Document d;
  d.Parse(stream_state.c_str());
  std::map<std::string, std::string> out;
  for (const auto& m : d["shards"].GetObject()) {
    auto c = vitess::decode_cursor(m.value["cursor"].GetString());
    REQUIRE(c.ok());
    std::string pk = "-";
    if (c->has_last_known_pk() && c->last_known_pk().rows_size() > 0) pk = c->last_known_pk().rows(0).values();
    out[m.name.GetString()] = c->position() + "|" + pk;
  }
  return out;
}

std::string rec(std::int64_t id, const std::string& name) {
  return R"({"id":)" + std::to_string(id) + R"(,"name":")" + name + "\"}";
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

//! RECORD ids and LOG lines ("WARN <message>") in stdout order.
std::vector<std::string> records_and_logs(const std::string& text) {
  std::vector<std::string> seen;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    const std::string type = d["type"].GetString();
    if (type == "RECORD") seen.push_back("RECORD " + std::to_string(d["record"]["data"]["id"].GetInt64()));
    if (type == "LOG") {
      seen.push_back(std::string(d["log"]["level"].GetString()) + " " + d["log"]["message"].GetString());
    }
  }
  return seen;
}

//! The state file a previous read leaves: its last STATE message as a one-element array.
std::string last_state_file(const Output& o) {
  std::string last;
  std::size_t start = 0;
  while (start < o.text.size()) {
    auto end = o.text.find('\n', start);
    std::string line = o.text.substr(start, end - start);
    if (line.rfind(R"({"type":"STATE")", 0) == 0) last = line;
    start = end + 1;
  }
  rapidjson::Document d;
  d.Parse(last.c_str());
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  d["state"].Accept(w);
  return std::string("[") + b.GetString() + "]";
}

}  // namespace

TEST_CASE("full refresh copies every shard with lastpk checkpoints and ends with fresh cursors") {
  FakeSource src;
  src.add_shard("-80", 1, 5);
  src.add_shard("80-", 101, 3);
  auto o = run(src, R"("max_concurrent_readers":1,"checkpoint_interval_records":2)", catalog_json("full_refresh"));
  CHECK(o.exit_code == 0);
  const auto& s = o.stream();
  CHECK(s.records == std::vector<std::string>{rec(1, "n1"), rec(2, "n2"), rec(3, "n3"), rec(4, "n4"), rec(5, "n5"),
                                              rec(101, "n101"), rec(102, "n102"), rec(103, "n103")});
  const std::string p1 = position(src.shards["-80"], 0), p2 = position(src.shards["80-"], 0);
  std::vector<std::map<std::string, std::string>> states;
  for (const auto& st : s.states) states.push_back(cursors_of(st));
  // Readers run one at a time (max_concurrent_readers 1), so the sequence is exact: a STATE every
  // 2 records at the batch's lastpk; a finished shard shows its snapshot position (so a resumed
  // attempt skips it), and the final STATE has fresh cursors (the next sync copies again).
  std::vector<std::map<std::string, std::string>> want = {
      {{"-80", p1 + "|2"}, {"80-", "|-"}},      {{"-80", p1 + "|4"}, {"80-", "|-"}},
      {{"-80", p1 + "|-"}, {"80-", "|-"}},      {{"-80", p1 + "|-"}, {"80-", p2 + "|102"}},
      {{"-80", p1 + "|-"}, {"80-", p2 + "|-"}}, {{"-80", "|-"}, {"80-", "|-"}},
  };
  CHECK(states == want);
  CHECK(s.statuses.back() == "COMPLETE");
}

TEST_CASE("incremental: copy, then CDC from the saved position with updates and deletes") {
  FakeSource src;
  src.add_shard("-80", 1, 3);
  src.add_shard("80-", 101, 2);
  auto first = run(src, R"("max_concurrent_readers":1)", catalog_json("incremental"));
  CHECK(first.exit_code == 0);
  CHECK(sorted(first.stream().records) ==
        sorted({rec(1, "n1"), rec(2, "n2"), rec(3, "n3"), rec(101, "n101"), rec(102, "n102")}));
  auto final1 = cursors_of(first.stream().states.back());
  CHECK(final1 == std::map<std::string, std::string>{{"-80", position(src.shards["-80"], 0) + "|-"},
                                                     {"80-", position(src.shards["80-"], 0) + "|-"}});

  // Changes after the first sync: insert, update, delete on -80; an insert on 80-.
  auto& a = src.shards["-80"];
  a.log.push_back(tx({Change{4, std::nullopt, "n4"}}, 1700000100));
  a.log.push_back(tx({Change{2, "n2", "n2b"}}, 1700000200));
  a.log.push_back(tx({Change{1, "n1", std::nullopt}}, 1700000300));
  src.shards["80-"].log.push_back(tx({Change{103, std::nullopt, "n103"}}, 1700000400));

  auto second = run(src, R"("max_concurrent_readers":1)",
                    catalog_json("incremental", {"_ab_cdc_updated_at", "_ab_cdc_deleted_at"}), last_state_file(first));
  CHECK(second.exit_code == 0);
  CHECK(
      second.stream().records ==
      std::vector<std::string>{
          R"({"id":4,"name":"n4","_ab_cdc_updated_at":"2023-11-14T22:15:00Z","_ab_cdc_deleted_at":null})",
          R"({"id":2,"name":"n2b","_ab_cdc_updated_at":"2023-11-14T22:16:40Z","_ab_cdc_deleted_at":null})",
          R"({"id":1,"name":"n1","_ab_cdc_updated_at":"2023-11-14T22:18:20Z","_ab_cdc_deleted_at":"2023-11-14T22:18:20Z"})",
          R"({"id":103,"name":"n103","_ab_cdc_updated_at":"2023-11-14T22:20:00Z","_ab_cdc_deleted_at":null})"});
  CHECK(cursors_of(second.stream().states.back()) ==
        std::map<std::string, std::string>{{"-80", position(src.shards["-80"], 3) + "|-"},
                                           {"80-", position(src.shards["80-"], 1) + "|-"}});
  // Both requests started CDC from the saved positions.
  REQUIRE(src.requests.size() >= 2);
  CHECK(src.requests[src.requests.size() - 2].shards[0].gtid == position(src.shards["-80"], 0));

  // A third sync with nothing new opens no stream and re-emits the same state.
  const std::size_t before = src.requests.size();
  auto third = run(src, "", catalog_json("incremental"), last_state_file(second));
  CHECK(third.stream().records.empty());
  CHECK(src.requests.size() == before);
  CHECK(cursors_of(third.stream().states.back()) == cursors_of(second.stream().states.back()));
}

TEST_CASE("capture_deletes false drops deletes") {
  FakeSource src;
  src.add_shard("-", 1, 2);
  src.shards["-"].log.push_back(tx({Change{1, "n1", std::nullopt}}));
  src.shards["-"].log.push_back(tx({Change{3, std::nullopt, "n3"}}));
  auto state =
      R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{"-":{"cursor":")" +
      vitess::encode_cursor(vitess::make_cursor("ks", "-", position(src.shards["-"], 0))) + R"("}}}}}])";
  auto o = run(src, R"("capture_deletes":false)", catalog_json("incremental"), state);
  CHECK(o.stream().records == std::vector<std::string>{rec(3, "n3")});
}

TEST_CASE("checkpoints every N records and only at VGTID boundaries") {
  FakeSource src;
  src.add_shard("-", 1, 0);
  auto& s = src.shards["-"];
  for (int i = 1; i <= 7; ++i) s.log.push_back(tx({Change{i, std::nullopt, "n" + std::to_string(i)}}));
  auto state =
      R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{"-":{"cursor":")" +
      vitess::encode_cursor(vitess::make_cursor("ks", "-", position(s, 0))) + R"("}}}}}])";
  auto o = run(src, R"("checkpoint_interval_records":3)", catalog_json("incremental"), state);
  CHECK(o.stream().records.size() == 7);
  std::vector<std::string> got;
  for (const auto& st : o.stream().states) got.push_back(cursors_of(st).at("-"));
  CHECK(got == std::vector<std::string>{position(s, 3) + "|-", position(s, 6) + "|-", position(s, 7) + "|-"});
  CHECK(o.stream().record_count_sum == 7);
}

TEST_CASE("a transient failure mid-batch retries from the last cursor: nothing lost, nothing doubled") {
  FakeSource src;
  src.batch_rows = 3;
  src.add_shard("-80", 1, 10);
  src.add_shard("80-", 101, 10);
  // -80: cut right after its 1st copy batch (lastpk 3), then inside the next batch (3 rows of it
  // received without their VGTID: dropped, so the retry starts from lastpk 3 again).
  // 80-: a stream closed without status after 5 events.
  src.shards["-80"].faults.push_back(Fault{8, SourceError{transient_error("UNAVAILABLE")}});
  src.shards["-80"].faults.push_back(Fault{6, SourceError{transient_error("DEADLINE_EXCEEDED")}});
  src.shards["80-"].faults.push_back(Fault{5, SourceEof{}});
  auto o = run(src, R"("max_retries":2)", catalog_json("incremental"));
  CHECK(o.exit_code == 0);
  std::vector<std::string> want;
  for (int i = 1; i <= 10; ++i) want.push_back(rec(i, "n" + std::to_string(i)));
  for (int i = 101; i <= 110; ++i) want.push_back(rec(i, "n" + std::to_string(i)));
  CHECK(sorted(o.stream().records) == sorted(want));
  // The retries resumed the copy after the last lastpk handed to the emitter.
  std::vector<std::string> resumed;
  for (const auto& r : src.requests) {
    if (r.shards[0].shard == "-80") resumed.push_back(r.shards[0].lastpk ? r.shards[0].lastpk->rows(0).values() : "-");
  }
  CHECK(resumed == std::vector<std::string>{"-", "3", "3"});
}

TEST_CASE("retries give up after max_retries failures without progress: INCOMPLETE transient_error") {
  FakeSource src;
  src.add_shard("-", 1, 4);
  for (int i = 0; i < 5; ++i)
    src.shards["-"].faults.push_back(Fault{0, SourceError{transient_error("UNAVAILABLE: down")}});
  auto o = run(src, R"("max_retries":3)", catalog_json("incremental"));
  CHECK(o.exit_code == 1);
  CHECK(o.stream().statuses.back() == "INCOMPLETE");
  CHECK(o.report.failure_types == std::vector<std::string>{"transient_error"});
  CHECK(src.requests.size() == 3);
}

TEST_CASE("a permanent failure ends only its stream; the other stream completes") {
  FakeSource src;
  src.add_shard("-", 1, 3);
  const std::string catalog =
      R"({"streams":[)" + catalog_json("incremental").substr(12, catalog_json("incremental").size() - 14) + "," +
      catalog_json("full_refresh", {}, "u").substr(12, catalog_json("full_refresh", {}, "u").size() - 14) + "]}";
  src.script = [&](const StreamRequest& r) -> std::optional<std::deque<SourceItem>> {
    if (r.table != "t") return std::nullopt;
    std::deque<SourceItem> items;
    items.push_back(SourceError{config_error("PERMISSION_DENIED: no access to t")});
    return items;
  };
  auto o = run(src, "", catalog);
  CHECK(o.exit_code == 1);
  CHECK(o.stream("ks.t").statuses.back() == "INCOMPLETE");
  CHECK(o.stream("ks.u").statuses.back() == "COMPLETE");
  CHECK(o.stream("ks.u").records == std::vector<std::string>{rec(1, "n1"), rec(2, "n2"), rec(3, "n3")});
  CHECK(o.report.failure_types == std::vector<std::string>{"config_error"});
}

TEST_CASE("schema change: a new column is left out, a dropped selected column stops the stream") {
  FakeSource src;
  src.add_shard("-", 1, 1);
  auto& s = src.shards["-"];
  auto state =
      R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{"-":{"cursor":")" +
      vitess::encode_cursor(vitess::make_cursor("ks", "-", position(s, 0))) + R"("}}}}}])";
  s.log.push_back(tx({Change{2, std::nullopt, "n2"}}));
  s.log.push_back(ddl({"id", "name", "extra"}));
  s.log.push_back(tx({Change{3, std::nullopt, "n3"}}));
  auto o = run(src, "", catalog_json("incremental"), state);
  CHECK(o.exit_code == 0);
  CHECK(o.stream().records == std::vector<std::string>{rec(2, "n2"), rec(3, "n3")});

  s.log.push_back(ddl({"id", "extra"}));
  s.log.push_back(tx({Change{4, std::nullopt, "n4"}}));
  auto o2 = run(src, "", catalog_json("incremental"), last_state_file(o));
  CHECK(o2.exit_code == 1);
  CHECK(o2.stream().records.empty());
  CHECK(o2.stream().statuses.back() == "INCOMPLETE");
  CHECK(o2.report.failure_types == std::vector<std::string>{"config_error"});
  REQUIRE(o2.report.errors.size() == 1);
  CHECK(o2.report.errors[0].find("no longer has the column(s) name") != std::string::npos);
  // The last STATE still points at the DDL: fixing the catalog and resuming loses nothing.
  CHECK(cursors_of(o2.stream().states.back()).at("-") == position(s, 4) + "|-");
}

TEST_CASE("schema change: a column whose type changes decodes by its new type and warns to refresh the schema") {
  FakeSource src;
  src.add_shard("-", 1, 1);
  auto& s = src.shards["-"];
  auto state =
      R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{"-":{"cursor":")" +
      vitess::encode_cursor(vitess::make_cursor("ks", "-", position(s, 0))) + R"("}}}}}])";
  s.log.push_back(tx({Change{2, std::nullopt, "n2"}}));
  s.log.push_back(ddl({"id", "name bigint"}));  // ALTER TABLE t MODIFY name BIGINT, mid-sync
  s.log.push_back(tx({Change{3, std::nullopt, "0042"}, Change{4, std::nullopt, "7"}}));
  s.log.push_back(ddl({"id", "name decimal(10,2)"}));
  s.log.push_back(tx({Change{5, std::nullopt, ".50"}}));
  s.log.push_back(ddl({"id", "name bigint"}));  // the same type again: warned once already
  s.log.push_back(tx({Change{6, std::nullopt, "6"}}));
  // The catalog allows numbers too (so every record stays valid for the protocol validator), but
  // not airbyte_type integer: bigint is a change, decimal is not.
  std::string catalog = catalog_json("incremental");
  const std::string name_string = R"("name":{"type":["null","string"]})";
  catalog.replace(catalog.find(name_string), name_string.size(), R"("name":{"type":["null","string","number"]})");
  std::ostringstream logs;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(logs);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  auto o = run(src, "", catalog, state);
  spdlog::set_default_logger(previous);
  CHECK(o.exit_code == 0);
  CHECK(o.stream().records == std::vector<std::string>{rec(2, "n2"), R"({"id":3,"name":42})", R"({"id":4,"name":7})",
                                                       R"({"id":5,"name":0.50})", R"({"id":6,"name":6})"});
  const std::string text = logs.str();
  const std::string warning =
      "stream t: column(s) name (bigint) of table 'ks.t' no longer have the type the configured catalog declares; "
      "their values follow the new type. Refresh the source schema in Airbyte so the destination expects it.";
  CHECK(text.find(warning) != std::string::npos);
  CHECK(text.find(warning) == text.rfind(warning));  // once per column and type
  CHECK(text.find("decimal") == std::string::npos);  // number is declared
  CHECK(text.find("varchar") == std::string::npos);  // the catalog's own type is no change
}

TEST_CASE("a new column is announced once as a LOG WARN on stdout, before the rows that leave it out") {
  FakeSource src;
  src.add_shard("-", 1, 1);
  auto& s = src.shards["-"];
  auto state =
      R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{"-":{"cursor":")" +
      vitess::encode_cursor(vitess::make_cursor("ks", "-", position(s, 0))) + R"("}}}}}])";
  s.log.push_back(tx({Change{2, std::nullopt, "n2"}}));
  s.log.push_back(ddl({"id", "name", "extra"}));
  s.log.push_back(tx({Change{3, std::nullopt, "n3"}}));
  s.log.push_back(tx({Change{4, std::nullopt, "n4"}}));
  auto o = run(src, "", catalog_json("incremental"), state);
  CHECK(o.exit_code == 0);
  // RECORD and LOG lines in stdout order (the validator checked the per-stream order around them).
  const auto seen = records_and_logs(o.text);
  CHECK(seen == std::vector<std::string>{
                    "RECORD 2",
                    "WARN stream t: table 'ks.t' has column(s) extra that the configured catalog does not select; they "
                    "are left out. Refresh the source schema in Airbyte to sync them.",
                    "RECORD 3", "RECORD 4"});
  CHECK(o.stream().statuses == std::vector<std::string>{"STARTED", "RUNNING", "COMPLETE"});
}

namespace {

//! A shard of ids 1..6 whose first VStream delivers the copy up to id 4 (committed at a VGTID),
//! then row 5 without its VGTID, then nothing: a copy that cannot finish within a time limit.
void first_stream_stalls_after_id_4(FakeSource& src) {
  src.add_shard("-", 1, 6);
  src.script = [&src, opened = 0](const StreamRequest& r) mutable -> std::optional<std::deque<SourceItem>> {
    if (opened++ > 0) return std::nullopt;
    auto items = src.generate("-", src.shards["-"], r.shards[0]);
    // [BEGIN FIELD VGTID] [ROW 1 ROW 2 VGTID COMMIT] [BEGIN ROW 3 ROW 4 VGTID COMMIT] [BEGIN ROW 5 …]
    items.erase(items.begin() + 4, items.end());
    auto& partial = std::get<vtgate::VStreamResponse>(items.back());
    partial.mutable_events()->DeleteSubrange(2, partial.events_size() - 2);
    return items;
  };
}

}  // namespace

TEST_CASE("timeout_seconds: an incremental shard stops at its last committed cursor; COMPLETE; the next sync goes on") {
  FakeSource src;
  first_stream_stalls_after_id_4(src);
  auto o = run(src, "", catalog_json("incremental"), "", 16, {}, std::chrono::milliseconds(300));
  CHECK(o.exit_code == 0);
  CHECK(records_and_logs(o.text) ==
        std::vector<std::string>{"RECORD 1", "RECORD 2", "RECORD 3", "RECORD 4",
                                 "WARN stream t: shard - was read for timeout_seconds (0.3 s) without reaching the end "
                                 "of this sync; it stops at its last saved position and the next sync continues from "
                                 "there. Raise timeout_seconds to read more per sync."});
  CHECK(o.stream().statuses == std::vector<std::string>{"STARTED", "RUNNING", "COMPLETE"});
  CHECK(cursors_of(o.stream().states.back()) ==
        std::map<std::string, std::string>{{"-", position(src.shards["-"], 0) + "|4"}});
  CHECK(src.requests.size() == 1);  // not retried: the shard is done for this sync

  auto next = run(src, "", catalog_json("incremental"), last_state_file(o), 16, {}, std::chrono::milliseconds(300));
  CHECK(next.exit_code == 0);
  CHECK(next.stream().records == std::vector<std::string>{rec(5, "n5"), rec(6, "n6")});
  CHECK(cursors_of(next.stream().states.back()) ==
        std::map<std::string, std::string>{{"-", position(src.shards["-"], 0) + "|-"}});
}

TEST_CASE("timeout_seconds: a full_refresh copy cut short ends INCOMPLETE (transient) with a STATE to resume from") {
  FakeSource src;
  first_stream_stalls_after_id_4(src);
  auto o = run(src, "", catalog_json("full_refresh"), "", 16, {}, std::chrono::milliseconds(300));
  CHECK(o.exit_code == 1);
  CHECK(o.stream().records == std::vector<std::string>{rec(1, "n1"), rec(2, "n2"), rec(3, "n3"), rec(4, "n4")});
  CHECK(o.stream().statuses.back() == "INCOMPLETE");
  CHECK(o.report.failure_types == std::vector<std::string>{"transient_error"});
  CHECK(o.report.errors ==
        std::vector<std::string>{"stream t: the copy of shard(s) - did not finish within timeout_seconds (0.3 s); its "
                                 "progress is saved and the next attempt continues the copy from there. Raise "
                                 "timeout_seconds to copy the table in one attempt."});
  CHECK(cursors_of(o.stream().states.back()) ==
        std::map<std::string, std::string>{{"-", position(src.shards["-"], 0) + "|4"}});

  auto retry = run(src, "", catalog_json("full_refresh"), last_state_file(o), 16, {}, std::chrono::milliseconds(300));
  CHECK(retry.exit_code == 0);
  CHECK(retry.stream().records == std::vector<std::string>{rec(5, "n5"), rec(6, "n6")});
  CHECK(retry.stream().statuses.back() == "COMPLETE");
}

TEST_CASE("a Go connector state with lastpk resumes the copy after it") {
  FakeSource src;
  src.add_shard("-80", 40, 5);  // ids 40..44
  // The reference vector: {shard:"-80",keyspace:"shop", last_known_pk id=42} but in keyspace ks.
  vitess::TableCursor c = vitess::make_cursor("ks", "-80", "");
  *c.mutable_last_known_pk() = FakeSource::lastpk(42);
  auto state = R"({"streams":{"ks:t":{"shards":{"-80":{"cursor":")" + vitess::encode_cursor(c) + R"("}}}}})";
  auto o = run(src, "", catalog_json("incremental"), state);
  CHECK(o.exit_code == 0);
  CHECK(o.stream().records == std::vector<std::string>{rec(43, "n43"), rec(44, "n44")});
  REQUIRE(src.requests.size() == 1);
  CHECK(src.requests[0].shards[0].gtid == "");
  CHECK(src.requests[0].shards[0].lastpk->rows(0).values() == "42");
}

TEST_CASE("use_gtid_with_table_pks keeps the position when resuming a copy") {
  FakeSource src;
  src.add_shard("-", 1, 4);
  auto& s = src.shards["-"];
  vitess::TableCursor c = vitess::make_cursor("ks", "-", position(s, 0));
  *c.mutable_last_known_pk() = FakeSource::lastpk(2);
  s.log.push_back(tx({Change{1, "n1", "n1b"}}));  // a change to an already-copied row
  auto state =
      R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{"-":{"cursor":")" +
      vitess::encode_cursor(c) + R"("}}}}}])";
  auto o = run(src, R"("use_gtid_with_table_pks":true)", catalog_json("incremental"), state);
  CHECK(o.stream().records == std::vector<std::string>{rec(1, "n1b"), rec(3, "n3"), rec(4, "n4")});
  CHECK(src.requests[0].shards[0].gtid == position(s, 0));
}

TEST_CASE(
    "a copy resumed from gtid + lastpk: a delete of a copied row in its catch-up is emitted once, before the STATE "
    "that covers it") {
  // Issue 19's open finding: a delete of a row a first sync had copied never arrived. Here the
  // copy was saved at lastpk 3; row 2 (copied) is deleted, row 1 updated, row 5 (not copied yet)
  // deleted; the stream breaks right after the delete's transaction and the retry resumes from the
  // cursor that transaction's VGTID gave (its position, lastpk 3): the delete is neither lost nor
  // repeated, and the first STATE, which names that position, comes after it.
  FakeSource src;
  src.add_shard("-", 1, 6);
  auto& s = src.shards["-"];
  vitess::TableCursor c = vitess::make_cursor("ks", "-", position(s, 0));
  *c.mutable_last_known_pk() = FakeSource::lastpk(3);
  s.log.push_back(tx({Change{2, "n2", std::nullopt}}, 1700000100));
  s.log.push_back(tx({Change{1, "n1", "n1b"}}, 1700000200));
  s.log.push_back(tx({Change{5, "n5", std::nullopt}}, 1700000300));
  // The first catch-up response: BEGIN, FIELD, ROW, VGTID, COMMIT; then UNAVAILABLE.
  s.faults.push_back(Fault{5, SourceError{transient_error("UNAVAILABLE")}});
  auto state =
      R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{"-":{"cursor":")" +
      vitess::encode_cursor(c) + R"("}}}}}])";
  auto o = run(src, R"("use_gtid_with_table_pks":true,"checkpoint_interval_records":1)",
               catalog_json("incremental", {"_ab_cdc_deleted_at"}), state);
  CHECK(o.exit_code == 0);
  CHECK(o.stream().records ==
        std::vector<std::string>{R"({"id":2,"name":"n2","_ab_cdc_deleted_at":"2023-11-14T22:15:00Z"})",
                                 R"({"id":1,"name":"n1b","_ab_cdc_deleted_at":null})",
                                 R"({"id":4,"name":"n4","_ab_cdc_deleted_at":null})",
                                 R"({"id":6,"name":"n6","_ab_cdc_deleted_at":null})"});
  // The delete's RECORD is the first line of the stream's output that is a RECORD or a STATE.
  const auto first_record = o.text.find(R"({"type":"RECORD")");
  const auto first_state = o.text.find(R"({"type":"STATE")");
  REQUIRE(first_record != std::string::npos);
  REQUIRE(first_state != std::string::npos);
  CHECK(first_record < first_state);
  CHECK(cursors_of(o.stream().states.front()) == std::map<std::string, std::string>{{"-", position(s, 1) + "|3"}});
  // The retry resumed from the delete's transaction with the saved lastpk.
  REQUIRE(src.requests.size() == 2);
  CHECK(src.requests[0].shards[0].gtid == position(s, 0));
  CHECK(src.requests[1].shards[0].gtid == position(s, 1));
  REQUIRE(src.requests[1].shards[0].lastpk);
  CHECK(src.requests[1].shards[0].lastpk->rows(0).values() == "3");
  CHECK(cursors_of(o.stream().states.back()) == std::map<std::string, std::string>{{"-", position(s, 3) + "|-"}});
}

TEST_CASE("metadata carries the position, a sequence number and the extraction time") {
  FakeSource src;
  src.add_shard("-", 1, 2);
  auto o = run(src, R"("include_metadata":true)", catalog_json("full_refresh", {"_planetscale_metadata"}));
  // The validator allows the declared property; metadata is an object.
  REQUIRE(o.stream().records.size() == 2);
  CHECK(
      o.stream().records[0] ==
      R"({"id":1,"name":"n1","_planetscale_metadata":{"extracted_at":1700000000000000000,"sequence_number":1,"vgtid_position":")" +
          position(src.shards["-"], 0) + "\"}}");
}

TEST_CASE("positions that cannot be read at first are retried") {
  FakeSource src;
  src.add_shard("-", 1, 1);
  src.position_failures = 2;
  auto o = run(src, R"("max_retries":3)", catalog_json("full_refresh"));
  CHECK(o.exit_code == 0);
  CHECK(o.stream().records == std::vector<std::string>{rec(1, "n1")});
}

TEST_CASE("config shards restrict a fresh stream; an unknown shard is a config_error") {
  FakeSource src;
  src.add_shard("-80", 1, 1);
  src.add_shard("80-", 101, 1);
  auto o = run(src, R"("shards":"80-")", catalog_json("full_refresh"));
  CHECK(o.stream().records == std::vector<std::string>{rec(101, "n101")});
  auto bad = run(src, R"("shards":"c0-")", catalog_json("full_refresh"));
  CHECK(bad.exit_code == 1);
  CHECK(bad.report.failure_types == std::vector<std::string>{"config_error"});
}

namespace {

//! A STREAM state of stream ks.t with one cursor (position only) per shard.
std::string state_with(const std::map<std::string, std::string>& positions) {
  std::string shards;
  for (const auto& [shard, pos] : positions) {
    if (!shards.empty()) shards += ",";
    shards += "\"" + shard + R"(":{"cursor":")" + vitess::encode_cursor(vitess::make_cursor("ks", shard, pos)) + "\"}";
  }
  return R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{)" +
         shards + "}}}}]";
}

const std::string kAhead = "MySQL56/00000000-0000-0000-0000-000000000001:1-99999999";

}  // namespace

TEST_CASE(
    "a saved position ahead of the server goes to vtgate and fails with a config_error, not "
    "COMPLETE") {
  FakeSource src;
  src.add_shard("-", 1, 1);
  src.shards["-"].log.push_back(tx({Change{2, std::nullopt, "n2"}}));
  // The state saved before a restore to a backup with fewer transactions.
  auto o = run(src, "", catalog_json("incremental"), state_with({{"-", kAhead}}));
  CHECK(o.exit_code == 1);
  CHECK(o.stream().statuses.back() == "INCOMPLETE");
  CHECK(o.stream().records.empty());
  CHECK(o.stream().states.empty());  // the ahead position is never confirmed as a checkpoint
  REQUIRE(src.requests.size() == 1);
  CHECK(src.requests[0].shards[0].gtid == kAhead);
  CHECK(o.report.failure_types == std::vector<std::string>{"config_error"});
  REQUIRE(o.report.errors.size() == 1);
  CHECK(o.report.errors[0] == "VStream failed: INVALID_ARGUMENT: GTIDSet Mismatch: requested source position:" +
                                  kAhead + ", current target vrep position: " + position(src.shards["-"], 1) +
                                  ". The position names transactions this shard's server does not have: the server was "
                                  "restored from a "
                                  "backup or failed over to one with fewer transactions, or the position comes from "
                                  "another database. "
                                  "Reset the stream to copy it again (with use_replica or use_rdonly a lagging replica "
                                  "can answer this "
                                  "too: retry the sync first)");
}

TEST_CASE("starting_gtids ahead of the server fails the same way") {
  FakeSource src;
  src.add_shard("-", 1, 1);
  auto o = run(src, R"("starting_gtids":"{\"ks\":{\"-\":\")" + kAhead + R"(\"}}")", catalog_json("incremental"));
  CHECK(o.exit_code == 1);
  CHECK(o.stream().records.empty());
  CHECK(o.stream().states.empty());
  CHECK(o.report.failure_types == std::vector<std::string>{"config_error"});
  REQUIRE(src.requests.size() == 1);
  CHECK(src.requests[0].shards[0].gtid == kAhead);
}

TEST_CASE("invalid saved positions are config errors naming the stream and the shard") {
  FakeSource src;
  src.add_shard("-80", 1, 1);
  src.add_shard("80-", 101, 1);
  const std::pair<std::string, std::string> cases[] = {
      {"MariaDB/0-1-5", "unsupported GTID flavor 'MariaDB' in position 'MariaDB/0-1-5' (only MySQL56 is supported)"},
      {"current", "'current' is a VStream request keyword, not a GTID set"},
      {"MySQL56/3e11fa47-71ca-11e1-9e33-c80aa942956:1-5",
       "invalid server UUID '3e11fa47-71ca-11e1-9e33-c80aa942956' in GTID set (expected 8-4-4-4-12 "
       "hex digits) in "
       "'MySQL56/3e11fa47-71ca-11e1-9e33-c80aa942956:1-5'"},
      {"MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:9-5",
       "GTID interval '9-5' is reversed in 'MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:9-5'"},
      {"MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:0-5",
       "GTID interval '0-5' starts at 0 in 'MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:0-5' "
       "(numbers start at 1)"},
  };
  for (const auto& c : cases) {
    // .first/.second, not a structured binding: doctest's CAPTURE/INFO capture in a lambda, which clang 14 rejects.
    const auto& pos = c.first;
    const auto& reason = c.second;
    CAPTURE(pos);
    src.requests.clear();
    auto o =
        run(src, "", catalog_json("incremental"), state_with({{"-80", position(src.shards["-80"], 0)}, {"80-", pos}}));
    CHECK(o.exit_code == 1);
    CHECK(o.stream().states.empty());
    CHECK(src.requests.empty());  // nothing goes to vtgate
    CHECK(o.report.failure_types == std::vector<std::string>{"config_error"});
    REQUIRE(o.report.errors.size() == 1);
    CHECK(o.report.errors[0] == "the saved state of stream 't' has an invalid position for shard '80-': " + reason +
                                    "; reset the stream 't'");
  }
}

TEST_CASE("invalid starting_gtids are config errors naming the shard") {
  FakeSource src;
  src.add_shard("-80", 1, 1);
  src.add_shard("80-", 101, 1);
  auto gtids = [](const std::string& shard, const std::string& pos) {
    return R"("starting_gtids":{"ks":{")" + shard + R"(":")" + pos + R"("}})";
  };
  auto bad = run(src, gtids("80-", "MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:7-3"), catalog_json("incremental"));
  CHECK(bad.exit_code == 1);
  CHECK(src.requests.empty());
  CHECK(bad.report.failure_types == std::vector<std::string>{"config_error"});
  REQUIRE(bad.report.errors.size() == 1);
  CHECK(bad.report.errors[0] ==
        "config field 'starting_gtids' has an invalid position for shard 80- of keyspace 'ks': "
        "GTID interval '7-3' is "
        "reversed in 'MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:7-3'");

  // A shard vtgate does not serve is no longer ignored.
  auto unknown = run(src, gtids("c0-", position(src.shards["80-"], 0)), catalog_json("incremental"));
  CHECK(unknown.exit_code == 1);
  CHECK(src.requests.empty());
  CHECK(unknown.report.failure_types == std::vector<std::string>{"config_error"});
  REQUIRE(unknown.report.errors.size() == 1);
  CHECK(unknown.report.errors[0] ==
        "config field 'starting_gtids' names shard c0- of keyspace 'ks', which vtgate does not "
        "serve (serving shards: "
        "-80,80-)");
}

TEST_CASE("starting_gtids 'current' starts from the peeked position, and no STATE carries 'current'") {
  FakeSource src;
  src.add_shard("-80", 1, 2);
  src.add_shard("80-", 101, 1);
  src.shards["80-"].log.push_back(tx({Change{102, std::nullopt, "n102"}}));
  // -80 is copied first, with a STATE after every record, while 80- has not started yet.
  auto o = run(src,
               R"("starting_gtids":{"ks":{"80-":"current"}},"max_concurrent_readers":1,)"
               R"("checkpoint_interval_records":1)",
               catalog_json("incremental"));
  CHECK(o.exit_code == 0);
  CHECK(o.stream().records == std::vector<std::string>{rec(1, "n1"), rec(2, "n2")});
  REQUIRE(o.stream().states.size() >= 2);
  for (const auto& st : o.stream().states) {
    for (const auto& sc : cursors_of(st)) {
      const auto& shard = sc.first;
      const auto& cursor = sc.second;
      CAPTURE(shard);
      CHECK(cursor.rfind("current", 0) != 0);
    }
  }
  CHECK(cursors_of(o.stream().states.back()) ==
        std::map<std::string, std::string>{{"-80", position(src.shards["-80"], 0) + "|-"},
                                           {"80-", position(src.shards["80-"], 1) + "|-"}});
  for (const auto& r : src.requests) CHECK(r.shards[0].gtid != "current");

  // The next sync resumes from the real position: a change made in between is read.
  src.shards["80-"].log.push_back(tx({Change{103, std::nullopt, "n103"}}));
  auto next = run(src, "", catalog_json("incremental"), last_state_file(o));
  CHECK(next.exit_code == 0);
  CHECK(next.stream().records == std::vector<std::string>{rec(103, "n103")});
}

namespace {

//! Two shards -80/80- whose binlogs end in a reshard journal to -40/40-, each with its own rows.
struct ReshardFixture {
  FakeSource src;
  binlogdata::Journal journal;
  ReshardFixture() {
    src.add_shard("-80", 1, 0);
    src.add_shard("80-", 101, 0);
    src.add_shard("-40", 1, 0);
    src.add_shard("40-", 1, 0);
    src.shards["-40"].serving = false;
    src.shards["40-"].serving = false;
    src.shards["-80"].log.push_back(tx({Change{1, std::nullopt, "a1"}}));
    src.shards["-80"].log.push_back(tx({Change{2, std::nullopt, "a2"}}));
    src.shards["80-"].log.push_back(tx({Change{101, std::nullopt, "b101"}}));
    journal.set_id(7);
    journal.set_migration_type(binlogdata::SHARDS);
    for (const char* p : {"-80", "80-"}) {
      auto* ks = journal.add_participants();
      ks->set_keyspace("ks");
      ks->set_shard(p);
    }
    for (const char* n : {"-40", "40-"}) {
      auto* sg = journal.add_shard_gtids();
      sg->set_keyspace("ks");
      sg->set_shard(n);
      sg->set_gtid(position(src.shards[n], 0));
    }
    Tx j;
    j.journal = journal;
    src.shards["-80"].log.push_back(j);
    src.shards["80-"].log.push_back(j);
    src.shards["-40"].log.push_back(tx({Change{3, std::nullopt, "c3"}}));
    src.shards["40-"].log.push_back(tx({Change{150, std::nullopt, "d150"}}));
    src.script = [this](const StreamRequest& r) -> std::optional<std::deque<SourceItem>> {
      auto is_journal = [](const SourceItem& it) {
        const auto* resp = std::get_if<vtgate::VStreamResponse>(&it);
        return resp && resp->events_size() > 0 && resp->events(0).type() == binlogdata::JOURNAL;
      };
      std::deque<SourceItem> items;
      if (r.shards.size() == 1 && (r.shards[0].shard == "-80" || r.shards[0].shard == "80-")) {
        // A single-shard stream meets the journal: vtgate refuses (not every participant is in it).
        for (auto& it : src.generate(r.shards[0].shard, src.shards[r.shards[0].shard], r.shards[0])) {
          if (is_journal(it)) {
            items.push_back(SourceError{
                config_error(
                    "VStream failed: INVALID_ARGUMENT: not all journaling participants are in the stream: journal: "
                    "[ks/-80,ks/80-], stream: [ks/" +
                    r.shards[0].shard + "]"),
                SourceCause::reshard_journal});
            return items;
          }
          items.push_back(std::move(it));
        }
        return items;
      }
      if (r.shards.size() == 2) {
        CHECK(r.stop_on_reshard);
        // As vtgate with stop_on_reshard: each participant's JOURNAL as that shard reaches it.
        // 80- gets there first while -80 still has its rows to send (vstream_manager.go).
        for (auto sp = r.shards.rbegin(); sp != r.shards.rend(); ++sp) {
          for (auto& it : src.generate(sp->shard, src.shards[sp->shard], *sp)) {
            if (!is_journal(it)) items.push_back(std::move(it));
          }
          vtgate::VStreamResponse resp;
          auto* ev = resp.add_events();
          ev->set_type(binlogdata::JOURNAL);
          ev->set_keyspace("ks");
          ev->set_shard(sp->shard);
          *ev->mutable_journal() = journal;
          items.push_back(std::move(resp));
        }
        items.push_back(SourceEof{});
        // The reshard switched traffic: the new shards serve now.
        src.shards["-80"].serving = false;
        src.shards["80-"].serving = false;
        src.shards["-40"].serving = true;
        src.shards["40-"].serving = true;
        return items;
      }
      return std::nullopt;
    };
  }
  std::string state_at_start() {
    return R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{"-80":{"cursor":")" +
           vitess::encode_cursor(vitess::make_cursor("ks", "-80", position(src.shards["-80"], 0))) +
           R"("},"80-":{"cursor":")" +
           vitess::encode_cursor(vitess::make_cursor("ks", "80-", position(src.shards["80-"], 0))) + R"("}}}}}])";
  }
};

}  // namespace

TEST_CASE("reshard met mid-sync: the journal's new shards carry on, nothing lost") {
  ReshardFixture f;
  auto o = run(f.src, "", catalog_json("incremental"), f.state_at_start());
  CHECK(o.exit_code == 0);
  CHECK(sorted(o.stream().records) ==
        sorted({rec(1, "a1"), rec(2, "a2"), rec(101, "b101"), rec(3, "c3"), rec(150, "d150")}));
  CHECK(cursors_of(o.stream().states.back()) ==
        std::map<std::string, std::string>{{"-40", position(f.src.shards["-40"], 1) + "|-"},
                                           {"40-", position(f.src.shards["40-"], 1) + "|-"}});
}

TEST_CASE("a state whose shards are no longer served follows the journal first") {
  ReshardFixture f;
  // The previous sync read the old shards up to (not including) the journal.
  auto state =
      R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{"-80":{"cursor":")" +
      vitess::encode_cursor(vitess::make_cursor("ks", "-80", position(f.src.shards["-80"], 2))) +
      R"("},"80-":{"cursor":")" +
      vitess::encode_cursor(vitess::make_cursor("ks", "80-", position(f.src.shards["80-"], 1))) + R"("}}}}}])";
  f.src.shards["-80"].serving = false;
  f.src.shards["80-"].serving = false;
  f.src.shards["-40"].serving = true;
  f.src.shards["40-"].serving = true;
  auto o = run(f.src, "", catalog_json("incremental"), state);
  CHECK(o.exit_code == 0);
  CHECK(sorted(o.stream().records) == sorted({rec(3, "c3"), rec(150, "d150")}));
  CHECK(cursors_of(o.stream().states.back()) ==
        std::map<std::string, std::string>{{"-40", position(f.src.shards["-40"], 1) + "|-"},
                                           {"40-", position(f.src.shards["40-"], 1) + "|-"}});
}

TEST_CASE("a state naming shards that do not exist: a config_error that says to reset the stream") {
  FakeSource src;
  src.add_shard("-80", 1, 0);
  src.add_shard("80-", 101, 0);
  // vtgate's answer for a shard the keyspace does not have (vstream_manager.go,
  // keyspaceHasBeenResharded), classified as the gRPC client classifies it.
  src.script = [](const StreamRequest& r) -> std::optional<std::deque<SourceItem>> {
    for (const auto& sp : r.shards) {
      if (sp.shard != "-40") continue;
      grpc::Status st(grpc::StatusCode::FAILED_PRECONDITION,
                      "error starting stream from shard GTID keyspace:\"ks\" shard:\"-40\": failed "
                      "to determine if "
                      "keyspace ks has been resharded: shard provided in VGTID, -40, not found in "
                      "the ks keyspace");
      return std::deque<SourceItem>{SourceError{vitess::classify_status(st).to_error()}};
    }
    return std::nullopt;
  };
  auto o = run(src, R"("max_retries":5)", catalog_json("incremental"),
               state_with({{"-40", "MySQL56/00000000-0000-0000-0000-000000000009:1-12"},
                           {"-80", position(src.shards["-80"], 0)}}));
  CHECK(o.exit_code == 1);
  CHECK(src.requests.size() == 1);  // not retried: retrying cannot make the shard exist
  CHECK(o.report.failure_types == std::vector<std::string>{"config_error"});
  REQUIRE(o.report.errors.size() == 1);
  const std::string& m = o.report.errors[0];
  CHECK(m.rfind("following the reshard of 'ks': VStream failed: FAILED_PRECONDITION: ", 0) == 0);
  CHECK(m.find("vtgate does not know this shard of the keyspace") != std::string::npos);
  CHECK(m.find(" (the saved state of stream 't' names shard(s) -40 that keyspace 'ks' does not "
               "serve; serving "
               "shards: -80,80-. If those shards were deleted after a reshard, or the state "
               "belongs to another "
               "keyspace, reset the stream 't')") != std::string::npos);
}

namespace {

//! A reshard of -80,80- into -40,40- while the table is being copied: the old shards hold ids
//! 1..4 and 101..104; after the reshard -40 holds 1,2 and 40- the rest.
struct CopyReshardFixture {
  FakeSource src;
  CopyReshardFixture() {
    src.add_shard("-80", 1, 4);
    src.add_shard("80-", 101, 4);
    src.add_shard("-40", 1, 2);
    src.add_shard("40-", 3, 2);
    for (std::int64_t id = 101; id <= 104; ++id) src.shards["40-"].initial[id] = "n" + std::to_string(id);
    src.shards["-40"].serving = false;
    src.shards["40-"].serving = false;
  }
  void switch_traffic() {
    src.shards["-80"].serving = false;
    src.shards["80-"].serving = false;
    src.shards["-40"].serving = true;
    src.shards["40-"].serving = true;
  }
  //! -80 copies ids 1 and 2, then meets the journal (vtgate refuses a single-shard stream there);
  //! 80- copies its rows and waits.
  void reshard_after_first_batch() {
    src.script = [this](const StreamRequest& r) -> std::optional<std::deque<SourceItem>> {
      const std::string shard = r.shards[0].shard;
      if (shard != "-80" && shard != "80-") return std::nullopt;
      auto items = src.generate(shard, src.shards[shard], r.shards[0]);
      if (shard == "80-") return items;
      items.erase(items.begin() + 2, items.end());  // [BEGIN FIELD VGTID] [ROW 1 ROW 2 VGTID COMMIT]
      items.push_back(SourceError{
          config_error("VStream failed: INVALID_ARGUMENT: not all journaling participants are in the stream: journal: "
                       "[ks/-80,ks/80-], stream: [ks/-80]"),
          SourceCause::reshard_journal});
      switch_traffic();
      return items;
    };
  }
  std::vector<std::string> all_rows() const {
    std::vector<std::string> out;
    for (std::int64_t id : {1, 2, 3, 4, 101, 102, 103, 104}) out.push_back(rec(id, "n" + std::to_string(id)));
    return out;
  }
};

std::vector<std::string> unique_sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

TEST_CASE("reshard during the copy: the copy starts again on the new shards, every row arrives") {
  for (const char* mode : {"incremental", "full_refresh"}) {
    CAPTURE(mode);
    CopyReshardFixture f;
    f.reshard_after_first_batch();
    auto o = run(f.src, "", catalog_json(mode));
    CHECK(o.exit_code == 0);
    CHECK(o.stream().statuses.back() == "COMPLETE");
    CHECK(unique_sorted(o.stream().records) == sorted(f.all_rows()));
    // Rows of the old shards come again from the new ones: at most once more each.
    CHECK(o.stream().records.size() <= 2 * f.all_rows().size());
    const auto logs = records_and_logs(o.text);
    CHECK(std::count(logs.begin(), logs.end(),
                     "WARN stream t: keyspace 'ks' was resharded while table 't' was being copied; the copy starts "
                     "again on the new shards -40,40- (replacing -80,80-), so rows already sent from the old shards "
                     "are sent again") == 1);
    std::set<std::string> shards;
    for (const auto& [shard, cursor] : cursors_of(o.stream().states.back())) shards.insert(shard);
    CHECK(shards == std::set<std::string>{"-40", "40-"});
    if (std::string(mode) == "incremental") {
      CHECK(cursors_of(o.stream().states.back()) ==
            std::map<std::string, std::string>{{"-40", position(f.src.shards["-40"], 0) + "|-"},
                                               {"40-", position(f.src.shards["40-"], 0) + "|-"}});
    }
  }
}

TEST_CASE("a saved copy position on shards no longer served: the copy starts again on the new shards") {
  CopyReshardFixture f;
  f.switch_traffic();
  vitess::TableCursor copying = vitess::make_cursor("ks", "-80", position(f.src.shards["-80"], 0));
  *copying.mutable_last_known_pk() = FakeSource::lastpk(2);
  auto state =
      R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"t","namespace":"ks"},"stream_state":{"shards":{"-80":{"cursor":")" +
      vitess::encode_cursor(copying) + R"("},"80-":{"cursor":")" +
      vitess::encode_cursor(vitess::make_cursor("ks", "80-")) + R"("}}}}}])";
  auto o = run(f.src, "", catalog_json("incremental"), state);
  CHECK(o.exit_code == 0);
  CHECK(sorted(o.stream().records) == sorted(f.all_rows()));
  CHECK(o.stream().statuses.back() == "COMPLETE");
}

TEST_CASE("every STATE covers every record printed before it, even with a full emitter queue") {
  FakeSource src;
  src.batch_rows = 2;
  const std::vector<std::pair<std::string, std::int64_t>> shards = {
      {"-40", 1000}, {"40-80", 2000}, {"80-c0", 3000}, {"c0-", 4000}};
  for (const auto& [name, base] : shards) src.add_shard(name, base, 40);
  auto o = run(src, R"("checkpoint_interval_records":3)", catalog_json("full_refresh"), "", 1);
  CHECK(o.exit_code == 0);
  CHECK(o.stream().records.size() == 160);
  // Walk the output: at each STATE, every shard's cursor must be at or past its printed rows.
  std::map<std::string, std::int64_t> printed;  // shard → highest id printed
  std::size_t states = 0;
  std::istringstream in(o.text);
  std::string line;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    const std::string type = d["type"].GetString();
    if (type == "RECORD") {
      const std::int64_t id = d["record"]["data"]["id"].GetInt64();
      printed[shards[static_cast<std::size_t>(id / 1000 - 1)].first] = id;
    } else if (type == "STATE") {
      rapidjson::StringBuffer b;
      rapidjson::Writer<rapidjson::StringBuffer> w(b);
      d["state"]["stream"]["stream_state"].Accept(w);
      auto cursors = cursors_of(b.GetString());
      ++states;
      if (states == o.stream().states.size()) break;  // the final full-refresh STATE is fresh cursors
      for (const auto& entry : printed) {
        const auto& shard = entry.first;
        const auto& id = entry.second;
        const std::string& c = cursors.at(shard);
        const std::string pk = c.substr(c.find('|') + 1);
        const bool done = pk == "-" && c[0] != '|';
        INFO("state ", states, " shard ", shard, " cursor ", c, " printed up to ", id);
        CHECK((done || (pk != "-" && std::stoll(pk) >= id)));
      }
    }
  }
  CHECK(states > 20);
}

TEST_CASE("an ESTIMATE comes before a copy, not before CDC") {
  FakeSource src;
  src.add_shard("-", 1, 2);
  auto copy = run(src, "", catalog_json("incremental"), "", 16, {{0, 42}});
  CHECK(copy.text.find(R"("estimate":{"name":"t","type":"STREAM","namespace":"ks","row_estimate":42)") !=
        std::string::npos);
  SUBCASE("information_schema's count is one shard's: the estimate scales with the shards read") {
    FakeSource two;
    two.add_shard("-80", 1, 2);
    two.add_shard("80-", 101, 2);
    auto both = run(two, "", catalog_json("incremental"), "", 16, {{0, 42}});
    CHECK(both.text.find(R"("row_estimate":84)") != std::string::npos);
    auto one = run(two, R"("shards":"80-")", catalog_json("incremental"), "", 16, {{0, 42}});
    CHECK(one.text.find(R"("row_estimate":42)") != std::string::npos);
  }
  auto cdc = run(src, "", catalog_json("incremental"), last_state_file(copy), 16, {{0, 42}});
  CHECK(cdc.text.find("ESTIMATE") == std::string::npos);
}

namespace {

//! The fake's table as information_schema would describe it: id (the key), name, and `extra`.
std::map<std::size_t, vitess::TableInfo> table_with_extra() {
  vitess::TableInfo t;
  t.name = "t";
  t.columns = {{"id", "bigint", false}, {"name", "varchar(32)", true}, {"extra", "varchar(32)", true}};
  t.primary_key = {"id"};
  return {{0, t}};
}

}  // namespace

TEST_CASE("a catalog selecting some columns asks for them in the request; the others are announced once") {
  FakeSource src;
  src.add_shard("-", 1, 3);
  auto o = run(src, "", catalog_json("full_refresh"), "", 16, {}, {}, table_with_extra());
  CHECK(o.exit_code == 0);
  REQUIRE(!src.requests.empty());
  for (const auto& r : src.requests) CHECK(r.columns == std::vector<std::string>{"id", "name"});
  // The same records and the same warning, at the same place, as `SELECT *` gives.
  CHECK(records_and_logs(o.text) ==
        std::vector<std::string>{"WARN stream t: table 'ks.t' has column(s) extra that the configured catalog does not "
                                 "select; they are left out. Refresh the source schema in Airbyte to sync them.",
                                 "RECORD 1", "RECORD 2", "RECORD 3"});
  // Every column selected, or columns unknown: `SELECT *` (no list).
  FakeSource all;
  all.add_shard("-", 1, 1);
  auto every = table_with_extra();
  every[0].columns.pop_back();
  CHECK(run(all, "", catalog_json("full_refresh"), "", 16, {}, {}, every).exit_code == 0);
  CHECK(all.requests.at(0).columns.empty());
  FakeSource unknown;
  unknown.add_shard("-", 1, 1);
  CHECK(run(unknown, "", catalog_json("full_refresh")).exit_code == 0);
  CHECK(unknown.requests.at(0).columns.empty());
}

TEST_CASE("a selected column dropped under a select list: one config_error naming it, no retry") {
  FakeSource src;
  src.add_shard("-", 1, 3);
  src.script = [](const StreamRequest&) -> std::optional<std::deque<SourceItem>> {
    // What vtgate passes on after vstreamer's findColumn refused the select list.
    grpc::Status status(grpc::StatusCode::FAILED_PRECONDITION,
                        "error starting stream from shard GTID keyspace:\"ks\" shard:\"-\": persistent error in "
                        "vstream for ks/- on tablet zone1-0000000100; giving up: vttablet: rpc error: code = "
                        "FailedPrecondition desc = column name not found in table t");
    std::deque<SourceItem> items;
    items.push_back(to_source_error(vitess::classify_status(status)));
    return items;
  };
  auto o = run(src, "", catalog_json("full_refresh"), "", 16, {}, {}, table_with_extra());
  CHECK(o.exit_code != 0);
  CHECK(src.requests.size() == 1);
  REQUIRE(!o.stream().statuses.empty());
  CHECK(o.stream().statuses.back() == "INCOMPLETE");
  CHECK(o.text.find(R"("failure_type":"config_error")") != std::string::npos);
  CHECK(o.text.find("table 'ks.t' no longer has the column(s) name selected in the catalog: refresh the source "
                    "schema in Airbyte and reset the stream 't' (VStream failed: FAILED_PRECONDITION: ") !=
        std::string::npos);
}
