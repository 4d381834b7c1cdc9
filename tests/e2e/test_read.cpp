// tests/e2e: the built `source-vitess read` against `vtgate-emulator` (synthetic backend): exact
// records for several streams × 4 shards, a concurrent write load, every emulator fault, SIGKILL at
// seeded points then resume, the Go connector's state shapes, resharding and a DDL between syncs.
// Every output goes through the project's protocol validator.
#include <doctest/doctest.h>

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "e2e_support.hpp"
#include "protocol_validator.hpp"
#include "vitess/cursor.hpp"

using namespace sv;
using namespace sv::e2e;

namespace {

struct ReadResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  sv::testing::ReadReport report;
  const std::vector<std::string>& records(const std::string& table) const {
    static const std::vector<std::string> none;
    auto it = report.streams.find("commerce." + table);
    return it == report.streams.end() ? none : it->second.records;
  }
  //! The stream's last STREAM_STATUS ("" when it has none).
  std::string last_status(const std::string& table) const {
    auto it = report.streams.find("commerce." + table);
    return it == report.streams.end() || it->second.statuses.empty() ? std::string() : it->second.statuses.back();
  }
};

std::vector<std::string> read_args(const TempDir& dir, bool with_state) {
  std::vector<std::string> argv{env_or("SOURCE_VITESS", "source-vitess"),
                                "read",
                                "--config",
                                dir.file("config.json"),
                                "--catalog",
                                dir.file("catalog.json")};
  if (with_state) {
    argv.push_back("--state");
    argv.push_back(dir.file("state.json"));
  }
  return argv;
}

ReadResult finish(std::string out, std::string err, int code, const std::string& catalog) {
  ReadResult r;
  r.exit_code = code;
  r.out = std::move(out);
  r.err = std::move(err);
  r.report = sv::testing::validate_read_output(r.out, catalog);
  for (const auto& p : r.report.problems) MESSAGE("protocol problem: ", p);
  CHECK(r.report.ok());
  return r;
}

ReadResult read(const Emulator& emu, const std::string& catalog, const std::string& state = "",
                const std::string& config_extra = "") {
  TempDir dir;
  write_file(dir.file("config.json"), config_json(emu, config_extra));
  write_file(dir.file("catalog.json"), catalog);
  if (!state.empty()) write_file(dir.file("state.json"), state);
  Child c = Child::spawn(read_args(dir, !state.empty()), dir.file("out"), dir.file("err"));
  const int code = c.wait(std::chrono::seconds(60));
  auto err = read_file(dir.file("err"));
  if (code != 0) MESSAGE("source-vitess stderr:\n", err);
  return finish(read_file(dir.file("out")), err, code, catalog);
}

std::vector<std::string> normalized(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(normalize_json(s));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> values(const std::map<std::string, std::string>& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(v);
  std::sort(out.begin(), out.end());
  return out;
}

//! What a killed read printed, per stream: the records its last STATE covers, and whether the
//! stream reached COMPLETE.
struct Killed {
  std::string out;
  std::map<std::string, std::vector<std::string>> covered;
  std::map<std::string, bool> complete;
};

//! Runs a read and SIGKILLs it once `kill_at_bytes` bytes were printed or `kill_after` passed.
Killed run_and_kill(const Emulator& emu, const std::string& catalog, const std::string& config,
                    std::size_t kill_at_bytes, std::chrono::milliseconds kill_after) {
  TempDir dir;
  write_file(dir.file("config.json"), config_json(emu, config));
  write_file(dir.file("catalog.json"), catalog);
  Killed k;
  std::string& out = k.out;
  {
    Child c = Child::spawn(read_args(dir, false), "", dir.file("err"), true);
    char buf[4096];
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::seconds(30);
    while (out.size() < kill_at_bytes && std::chrono::steady_clock::now() < deadline &&
           std::chrono::steady_clock::now() - start < kill_after) {
      pollfd p{c.stdout_pipe, POLLIN, 0};
      if (::poll(&p, 1, 5) <= 0) continue;
      const ssize_t n = ::read(c.stdout_pipe, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    c.kill_now();
    ssize_t n;
    while ((n = ::read(c.stdout_pipe, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  }
  out.resize(out.rfind('\n') + 1);  // what the platform got: complete lines only
  std::map<std::string, std::vector<std::string>> seen;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    const std::string type = d["type"].GetString();
    if (type == "RECORD") {
      rapidjson::StringBuffer b;
      rapidjson::Writer<rapidjson::StringBuffer> w(b);
      d["record"]["data"].Accept(w);
      seen[d["record"]["stream"].GetString()].push_back(b.GetString());
    } else if (type == "STATE") {
      const std::string name = d["state"]["stream"]["stream_descriptor"]["name"].GetString();
      auto& s = seen[name];
      k.covered[name].insert(k.covered[name].end(), s.begin(), s.end());
      s.clear();
    } else if (type == "TRACE" && std::string(d["trace"]["type"].GetString()) == "STREAM_STATUS" &&
               std::string(d["trace"]["stream_status"]["status"].GetString()) == "COMPLETE") {
      k.complete[d["trace"]["stream_status"]["stream_descriptor"]["name"].GetString()] = true;
    }
  }
  return k;
}

}  // namespace

TEST_CASE("three streams × 4 shards: full refresh and incremental give exactly the table rows") {
  Emulator emu(dataset({"all_types", "customers", "order_items"}, 300));
  emulator::Dataset ds(emu.data);
  const auto catalog =
      catalog_json(ds, {{"all_types", "full_refresh"}, {"customers", "incremental"}, {"order_items", "incremental"}});
  auto r = read(emu, catalog, "", R"("checkpoint_interval_records":100)");
  CHECK(r.exit_code == 0);
  for (const char* t : {"all_types", "customers", "order_items"}) {
    INFO("table ", std::string(t));
    CHECK(normalized(r.records(t)) == sorted(expected_rows(ds, *ds.table_index(t), 0)));
    CHECK(r.last_status(t) == "COMPLETE");
    CHECK(r.report.streams.count(std::string("commerce.") + t) == 1);
    if (r.report.streams.count(std::string("commerce.") + t)) {
      CHECK(r.report.streams.at(std::string("commerce.") + t).states.size() >= 2);
    }
  }
}

TEST_CASE("incremental with a concurrent write load: the next sync catches up, every change once") {
  Emulator emu(dataset({"customers", "order_items"}, 300), {"--write-rate=2000", "--write-max=2000"});
  emulator::Dataset ds(emu.data);
  const std::vector<std::string> cdc{"_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
  const auto catalog = catalog_json(ds, {{"customers", "incremental", cdc}, {"order_items", "incremental", cdc}});
  auto first = read(emu, catalog, "", R"("checkpoint_interval_records":50)");
  CHECK(first.exit_code == 0);
  sv::testing::wait_until([&] { return emu.ops_done() >= 2000; }, std::chrono::seconds(10));
  REQUIRE(emu.ops_done() == 2000);
  auto second = read(emu, catalog, state_file(first.out));
  CHECK(second.exit_code == 0);
  for (const char* t : {"customers", "order_items"}) {
    INFO("table ", std::string(t));
    const auto ti = *ds.table_index(t);
    std::map<std::string, std::string> image;
    replay(ds, ti, first.records(t), image);
    replay(ds, ti, second.records(t), image);
    CHECK(values(image) == sorted(expected_rows(ds, ti, 2000)));
    // Every change arrives once: no record (image + change time) repeats across the two syncs.
    std::vector<std::string> all = first.records(t);
    all.insert(all.end(), second.records(t).begin(), second.records(t).end());
    std::set<std::string> unique(all.begin(), all.end());
    CHECK(unique.size() == all.size());
    CHECK(!second.records(t).empty());
  }
}

TEST_CASE("every emulator fault: retried from the last cursor, exactly the table rows") {
  struct Case {
    const char* name;
    std::vector<std::string> flags;
    std::string config;
    bool succeeds;
    std::string log_says = {};  //!< stderr must contain it (the fault was noticed the intended way)
  };
  const std::vector<Case> cases = {
      {"end-after-events unavailable", {"--end-after-events=60", "--end-mode=unavailable"}, "", true},
      {"end-after-events deadline_exceeded", {"--end-after-events=60", "--end-mode=deadline_exceeded"}, "", true},
      {"end-after-events drop (reset, no status)", {"--end-after-events=60", "--end-mode=drop"}, "", true},
      {"end-after-events eof (closed without error)", {"--end-after-events=60", "--end-mode=eof"}, "", true},
      {"fail-streams unavailable", {"--fail-streams=3", "--fail-mode=unavailable"}, "", true},
      {"fail-streams deadline_exceeded", {"--fail-streams=2", "--fail-mode=deadline_exceeded"}, "", true},
      {"stall (idle timeout)",
       {"--stall-after-events=40", "--stall-seconds=30"},
       R"("idle_timeout_seconds":1)",
       true,
       "no VStream message for 1000 ms; retrying"},
      {"slow shard", {"--slow-shard=-40:20", "--slow-shard=c0-:10"}, "", true},
      {"end-after-events internal (permanent)", {"--end-after-events=60", "--end-mode=internal"}, "", false},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto flags = c.flags;
      flags.push_back("--copy-packet-bytes=1500");
      Emulator emu(dataset({"customers", "order_items"}, 200), flags);
      emulator::Dataset ds(emu.data);
      const auto catalog = catalog_json(ds, {{"customers", "full_refresh"}, {"order_items", "incremental"}});
      std::string config = R"("max_retries":10)";
      if (!c.config.empty()) config += "," + c.config;
      auto r = read(emu, catalog, "", config);
      if (c.succeeds) {
        CHECK(r.exit_code == 0);
        for (const char* t : {"customers", "order_items"}) {
          INFO("table ", std::string(t));
          CHECK(normalized(r.records(t)) == sorted(expected_rows(ds, *ds.table_index(t), 0)));
        }
        CHECK(r.err.find(c.log_says) != std::string::npos);
      } else {
        CHECK(r.exit_code == 1);
        CHECK(r.last_status("customers") == "INCOMPLETE");
        CHECK(r.last_status("order_items") == "INCOMPLETE");
        CHECK(std::count(r.report.failure_types.begin(), r.report.failure_types.end(), "system_error") == 2);
      }
    }
  }
}

TEST_CASE("SIGKILL at seeded points, then resume from the last STATE: every row once") {
  Emulator emu(dataset({"customers", "order_items"}, 1500), {"--copy-packet-bytes=3000"});
  emulator::Dataset ds(emu.data);
  const auto catalog = catalog_json(ds, {{"customers", "incremental"}, {"order_items", "full_refresh"}});
  const std::string config = R"("checkpoint_interval_records":100)";
  const auto full = read(emu, catalog, "", config);
  REQUIRE(full.exit_code == 0);
  const std::size_t total = full.out.size();
  for (unsigned seed : {1u, 2u, 3u, 4u, 5u}) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    const std::size_t kill_at = total / 20 + rng() % (total * 9 / 10);
    Killed k = run_and_kill(emu, catalog, config, kill_at, std::chrono::seconds(30));
    auto& covered = k.covered;
    auto& complete = k.complete;
    const std::string& out = k.out;
    const std::string state = state_file(out);
    auto resumed = read(emu, catalog, state == "[]" ? "" : state, config);
    REQUIRE(resumed.exit_code == 0);
    for (const char* t : {"customers", "order_items"}) {
      INFO("table ", std::string(t), " killed at byte ", kill_at, " of ", total);
      const auto want = sorted(expected_rows(ds, *ds.table_index(t), 0));
      if (complete[t] && std::string(t) == "order_items") {
        // A finished full refresh ends with fresh cursors: the retry copies it again (documented).
        CHECK(normalized(covered[t]) == want);
        CHECK(normalized(resumed.records(t)) == want);
      } else {
        auto both = covered[t];
        both.insert(both.end(), resumed.records(t).begin(), resumed.records(t).end());
        const auto got = normalized(both);
        CHECK(got == want);
        if (got != want) {
          std::vector<std::string> missing, extra;
          std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(missing));
          std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
          MESSAGE("covered ", covered[t].size(), " resumed ", resumed.records(t).size(), " want ", want.size(),
                  " missing ", missing.size(), " extra ", extra.size(), " first extra ",
                  extra.empty() ? std::string() : extra[0], " first missing ",
                  missing.empty() ? std::string() : missing[0]);
          write_file("/tmp/sv_kill_out_" + std::string(t) + ".jsonl", out);
          write_file("/tmp/sv_kill_resumed_" + std::string(t) + ".jsonl", resumed.out);
        }
      }
    }
  }
}

TEST_CASE("the Go connector's state shapes resume the copy right after last_known_pk") {
  Emulator emu(dataset({"customers"}, 200));
  emulator::Dataset ds(emu.data);
  const auto t = *ds.table_index("customers");
  const auto catalog = catalog_json(ds, {{"customers", "incremental"}});
  const auto schema = ds.schema(t, 0);
  // Per shard: resume after its 10th row (by key).
  std::map<std::string, std::string> cursors;
  std::vector<std::string> want;
  for (const auto& shard : emu.data.shards) {
    std::vector<std::uint64_t> keys;
    for (std::uint64_t k = 1; k <= 200; ++k) {
      if (ds.in_shard(t, k, shard)) keys.push_back(k);
    }
    REQUIRE(keys.size() > 10);
    vitess::TableCursor c = vitess::make_cursor("commerce", shard, "");
    auto* pk = c.mutable_last_known_pk();
    auto* f = pk->add_fields();
    f->set_name(schema->fields[schema->pk_columns[0]].name());
    f->set_type(schema->fields[schema->pk_columns[0]].type());
    *pk->add_rows() = ds.pk_row(t, keys[9]);
    cursors[shard] = vitess::encode_cursor(c);
    for (std::size_t i = 10; i < keys.size(); ++i)
      want.push_back(expected_data(ds, t, *ds.row(t, keys[i], 0), *schema));
  }
  std::string shards_json = "{";
  for (const auto& [s, c] : cursors)
    shards_json += (shards_json.size() > 1 ? "," : "") + ("\"" + s + "\":{\"cursor\":\"" + c + "\"}");
  shards_json += "}";
  SUBCASE("legacy file {\"streams\":{\"commerce:customers\":…}}") {
    auto r = read(emu, catalog, R"({"streams":{"commerce:customers":{"shards":)" + shards_json + "}}}");
    CHECK(r.exit_code == 0);
    CHECK(normalized(r.records("customers")) == sorted(want));
  }
  SUBCASE("v2 array of STREAM states") {
    auto r = read(
        emu, catalog,
        R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"customers","namespace":"commerce"},"stream_state":{"shards":)" +
            shards_json + "}}}]");
    CHECK(r.exit_code == 0);
    CHECK(normalized(r.records("customers")) == sorted(want));
  }
}

TEST_CASE("a reshard between two syncs: the next sync follows the journal to the new shards") {
  Emulator emu(dataset({"customers"}, 200, 2));
  emulator::Dataset ds(emu.data);
  const auto t = *ds.table_index("customers");
  const std::vector<std::string> cdc{"_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
  const auto catalog = catalog_json(ds, {{"customers", "incremental", cdc}});
  auto first = read(emu, catalog);
  REQUIRE(first.exit_code == 0);
  emu.control("POST", "/writes?count=100");
  emu.control("POST", "/reshard?keyspace=commerce&shards=-40,40-80,80-c0,c0-");
  ds.add_reshard(100, {"-40", "40-80", "80-c0", "c0-"});
  emu.control("POST", "/writes?count=150");
  REQUIRE(emu.ops_done() == 250);
  auto second = read(emu, catalog, state_file(first.out));
  CHECK(second.exit_code == 0);
  std::map<std::string, std::string> image;
  replay(ds, t, first.records("customers"), image);
  replay(ds, t, second.records("customers"), image);
  CHECK(values(image) == sorted(expected_rows(ds, t, 250)));
  REQUIRE(second.report.streams.count("commerce.customers") == 1);
  REQUIRE(!second.report.streams.at("commerce.customers").states.empty());
  rapidjson::Document st;
  const auto last = second.report.streams.at("commerce.customers").states.back();
  st.Parse(last.c_str());
  std::vector<std::string> shards;
  for (const auto& m : st["shards"].GetObject()) shards.push_back(m.name.GetString());
  CHECK(shards == std::vector<std::string>{"-40", "40-80", "80-c0", "c0-"});
}

namespace {

//! A STREAM state of commerce.customers with one position-only cursor per shard.
std::string customers_state(const std::map<std::string, std::string>& positions) {
  std::string shards;
  for (const auto& [shard, pos] : positions) {
    if (!shards.empty()) shards += ",";
    shards +=
        "\"" + shard + R"(":{"cursor":")" + vitess::encode_cursor(vitess::make_cursor("commerce", shard, pos)) + "\"}";
  }
  return R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"customers","namespace":"commerce"},)"
         R"("stream_state":{"shards":{)" +
         shards + "}}}}]";
}

}  // namespace

TEST_CASE(
    "positions the server does not have: a config_error from vtgate's answer, never an empty "
    "COMPLETE") {
  Emulator emu(dataset({"customers"}, 50, 2));
  emulator::Dataset ds(emu.data);
  const auto catalog = catalog_json(ds, {{"customers", "incremental", {}}});
  const std::string u80 = ds.shard_uuid("-80");
  const std::string now80 = "MySQL56/" + u80 + ":1-10";  // no writes yet: the schema setup only
  const std::string now80_ = "MySQL56/" + ds.shard_uuid("80-") + ":1-10";
  auto check_failed = [](const ReadResult& r) {
    CHECK(r.exit_code == 1);
    CHECK(r.last_status("customers") == "INCOMPLETE");
    CHECK(r.records("customers").empty());
    CHECK(r.report.streams.at("commerce.customers").states.empty());  // nothing confirms the bad position
    CHECK(r.report.failure_types == std::vector<std::string>{"config_error"});
    REQUIRE(r.report.errors.size() == 1);
  };

  SUBCASE(
      "a saved position ahead of the shard (restore or failover to a server with fewer "
      "transactions)") {
    const std::string ahead = "MySQL56/" + u80 + ":1-99999999";
    auto r = read(emu, catalog, customers_state({{"-80", ahead}, {"80-", now80_}}));
    check_failed(r);
    CHECK(r.report.errors[0] ==
          "VStream failed: INVALID_ARGUMENT: GTIDSet Mismatch: requested source position:" + ahead +
              ", current target vrep position: " + now80 +
              ". The position names transactions this shard's server does not have: the server was "
              "restored from a "
              "backup or failed over to one with fewer transactions, or the position comes from "
              "another database. "
              "Reset the stream to copy it again (with use_replica or use_rdonly a lagging replica "
              "can answer this "
              "too: retry the sync first)");
  }
  SUBCASE("starting_gtids ahead of the shard") {
    const std::string ahead = "MySQL56/" + u80 + ":1-99999999";
    auto r = read(emu, catalog, "", R"("starting_gtids":{"commerce":{"-80":")" + ahead + R"(","80-":"current"}})");
    check_failed(r);
    CHECK(r.report.errors[0].rfind("VStream failed: INVALID_ARGUMENT: GTIDSet Mismatch: ", 0) == 0);
  }
  SUBCASE("a saved position whose binlogs were purged") {
    auto r = read(emu, catalog, customers_state({{"-80", "MySQL56/" + u80 + ":1-5"}, {"80-", now80_}}));
    check_failed(r);
    // vtgate's wrapping of the tablet's error (vstream_manager.go; see docs/emulator.md).
    CHECK(r.report.errors[0] ==
          "VStream failed: UNKNOWN: error starting stream from shard GTID "
          "keyspace:\"commerce\" shard:\"-80\" gtid:\"MySQL56/" +
              u80 +
              ":1-5\": persistent error in vstream for commerce/-80 on tablet "
              "zone1-0000000100; giving up: vttablet: rpc error: code = Unknown desc = "
              "stream (at source tablet) error @ " +
              u80 + ":1-5: " + std::string(emulator::kPurgedBinlogs) +
              " (errno 1236) (sqlstate HY000). The shard's server no longer "
              "has the binary logs this position needs "
              "(they were purged). Reset the stream to copy it again, and "
              "sync more often than the server keeps its "
              "binary logs");
  }
  SUBCASE("a saved state naming a shard the keyspace does not have") {
    auto r = read(emu, catalog, customers_state({{"-40", now80}, {"80-", now80_}}), R"("max_retries":5)");
    check_failed(r);
    const std::string& m = r.report.errors[0];
    CHECK(m.rfind("following the reshard of 'commerce': VStream failed: FAILED_PRECONDITION: ", 0) == 0);
    CHECK(m.find("shard provided in VGTID, -40, not found in the commerce keyspace") != std::string::npos);
    CHECK(m.find("(the saved state of stream 'customers' names shard(s) -40 that keyspace "
                 "'commerce' does not "
                 "serve; serving shards: -80,80-. If those shards were deleted after a reshard, or "
                 "the state belongs "
                 "to another keyspace, reset the stream 'customers')") != std::string::npos);
    CHECK(r.err.find("retrying") == std::string::npos);  // answered at once, not retried
  }
}

TEST_CASE("timeout_seconds bounds each shard per sync: COMPLETE with a LOG, the next syncs continue, every row once") {
  // 80- answers slowly: its copy takes several seconds, more than timeout_seconds.
  Emulator emu(dataset({"customers"}, 300, 2), {"--copy-packet-bytes=1500", "--slow-shard=80-:150"});
  emulator::Dataset ds(emu.data);
  const auto t = *ds.table_index("customers");
  const auto catalog = catalog_json(ds, {{"customers", "incremental"}});
  std::vector<std::string> all;
  std::string state;
  int limited = 0;
  for (int sync = 0; sync < 20; ++sync) {
    auto r = read(emu, catalog, state, R"("timeout_seconds":1)");
    REQUIRE(r.exit_code == 0);
    CHECK(r.last_status("customers") == "COMPLETE");
    all.insert(all.end(), r.records("customers").begin(), r.records("customers").end());
    state = state_file(r.out);
    // The slow shard runs into the limit at least once; on a busy machine the other may too.
    if (r.out.find(R"({"type":"LOG","log":{"level":"WARN","message":"stream customers: shard 80- was read for )"
                   R"(timeout_seconds (1 s) without reaching the end of this sync)") != std::string::npos) {
      ++limited;
    } else if (r.out.find("was read for timeout_seconds (1 s)") == std::string::npos) {
      break;
    }
  }
  CHECK(limited >= 1);
  CHECK(normalized(all) == sorted(expected_rows(ds, t, 0)));  // every row, none twice
}

TEST_CASE("a reshard in the middle of the copy: the copy starts again on the new shards, every row arrives") {
  // 80- copies slowly. Once it has committed rows, the keyspace is resharded and every VStream is
  // cut: 80- resumes its copy from its position (use_gtid_with_table_pks), whose catch-up meets
  // the journal while the copy is unfinished.
  Emulator emu(dataset({"customers"}, 600, 2), {"--copy-packet-bytes=1500", "--slow-shard=80-:250"});
  emulator::Dataset ds(emu.data);
  const auto t = *ds.table_index("customers");
  const auto catalog = catalog_json(ds, {{"customers", "incremental"}});
  TempDir dir;
  write_file(dir.file("config.json"), config_json(emu, R"("use_gtid_with_table_pks":true)"));
  write_file(dir.file("catalog.json"), catalog);
  const int port = free_port();
  auto argv = read_args(dir, false);
  argv.push_back("--metrics-address");
  argv.push_back("127.0.0.1:" + std::to_string(port));
  Child c = Child::spawn(argv, dir.file("out"), dir.file("err"));
  const std::string copied_80 = R"(source_vitess_records_total{stream="customers",namespace="commerce",shard="80-"} )";
  REQUIRE(sv::testing::wait_until(
      [&] {
        const auto [status, metrics] = http_get(port, "/metrics");
        const auto at = metrics.find(copied_80);
        return at != std::string::npos && metrics.compare(at + copied_80.size(), 2, "0\n") != 0;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(20)));
  emu.control("POST", "/reshard?keyspace=commerce&shards=-40,40-80,80-c0,c0-");
  emu.control("POST", "/fault/end-streams?mode=unavailable");
  const int code = c.wait(std::chrono::seconds(60));
  auto r = finish(read_file(dir.file("out")), read_file(dir.file("err")), code, catalog);
  if (code != 0) MESSAGE("source-vitess stderr:\n", r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.last_status("customers") == "COMPLETE");
  // Exactly the table's rows; those the old shards sent before the reshard come twice at most.
  auto got = normalized(r.records("customers"));
  CHECK(got.size() <= 2 * expected_rows(ds, t, 0).size());
  got.erase(std::unique(got.begin(), got.end()), got.end());
  CHECK(got == sorted(expected_rows(ds, t, 0)));
  CHECK(r.out.find("keyspace 'commerce' was resharded while table 'customers' was being copied; the copy starts again "
                   "on the new shards -40,40-80,80-c0,c0- (replacing -80,80-)") != std::string::npos);
  REQUIRE(!r.report.streams.at("commerce.customers").states.empty());
  rapidjson::Document st;
  st.Parse(r.report.streams.at("commerce.customers").states.back().c_str());
  std::vector<std::string> shards;
  for (const auto& m : st["shards"].GetObject()) shards.push_back(m.name.GetString());
  CHECK(shards == std::vector<std::string>{"-40", "40-80", "80-c0", "c0-"});
}

TEST_CASE("a DDL between syncs: selected columns go on, the new column is left out with a warning") {
  Emulator emu(dataset({"customers"}, 100));
  emulator::Dataset ds(emu.data);
  const auto t = *ds.table_index("customers");
  const std::vector<std::string> cdc{"_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
  const auto catalog = catalog_json(ds, {{"customers", "incremental", cdc}});
  auto first = read(emu, catalog);
  REQUIRE(first.exit_code == 0);
  emu.control("POST", "/ddl?keyspace=commerce&table=customers");
  ds.add_ddl(t, 0);
  emu.control("POST", "/writes?count=60");
  auto second = read(emu, catalog, state_file(first.out));
  CHECK(second.exit_code == 0);
  std::map<std::string, std::string> image;
  replay(ds, t, first.records("customers"), image);
  replay(ds, t, second.records("customers"), image);
  // The catalog predates the DDL: the expected rows without the new column.
  std::vector<std::string> want;
  for (const auto& row : expected_rows(ds, t, 60)) {
    rapidjson::Document d;
    d.Parse(row.c_str());
    d.RemoveMember("note1");
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    d.Accept(w);
    want.push_back(b.GetString());
  }
  std::sort(want.begin(), want.end());
  const auto got = values(image);
  CHECK(got == want);
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      MESSAGE("first difference:\n got  ", got[i], "\n want ", want[i]);
      break;
    }
  }
  CHECK(got.size() == want.size());
  CHECK(second.err.find("note1") != std::string::npos);
  CHECK(second.err.find("Refresh the source schema") != std::string::npos);
  // Also in the Airbyte UI: a LOG message on stdout.
  CHECK(second.out.find(R"({"type":"LOG","log":{"level":"WARN","message":"stream customers: table )"
                        R"('commerce.customers' has column(s) note1 that the configured catalog does not select)") !=
        std::string::npos);
}

TEST_CASE("SIGKILL during a write load, resume with use_gtid_with_table_pks: every change exactly once") {
  const std::vector<std::string> cdc{"_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
  for (unsigned seed : {11u, 12u, 13u}) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    Emulator emu(dataset({"customers", "order_items"}, 1500),
                 {"--copy-packet-bytes=3000", "--write-rate=3000", "--write-max=2400"});
    emulator::Dataset ds(emu.data);
    const auto catalog = catalog_json(ds, {{"customers", "incremental", cdc}, {"order_items", "incremental", cdc}});
    const std::string config = R"("checkpoint_interval_records":100,"use_gtid_with_table_pks":true)";
    const auto kill_after = std::chrono::milliseconds(30 + rng() % 500);
    Killed k = run_and_kill(emu, catalog, config, SIZE_MAX, kill_after);
    sv::testing::wait_until([&] { return emu.ops_done() >= 2400; }, std::chrono::seconds(10));
    REQUIRE(emu.ops_done() == 2400);
    const std::string state = state_file(k.out);
    auto resumed = read(emu, catalog, state == "[]" ? "" : state, config);
    REQUIRE(resumed.exit_code == 0);
    for (const char* t : {"customers", "order_items"}) {
      INFO("table ", std::string(t), " killed after ", kill_after.count(), " ms");
      const auto ti = *ds.table_index(t);
      std::map<std::string, std::string> image;
      replay(ds, ti, k.covered[t], image);
      replay(ds, ti, resumed.records(t), image);
      CHECK(values(image) == sorted(expected_rows(ds, ti, 2400)));
      std::vector<std::string> all = k.covered[t];
      all.insert(all.end(), resumed.records(t).begin(), resumed.records(t).end());
      std::set<std::string> unique(all.begin(), all.end());
      CHECK(unique.size() == all.size());
    }
  }
}

TEST_CASE(
    "SIGTERM mid-read: a last STATE covers every printed record, INCOMPLETE, and the resume gives every row once") {
  Emulator emu(dataset({"customers"}, 1500), {"--copy-packet-bytes=3000"});
  emulator::Dataset ds(emu.data);
  for (const char* shard : {"-40", "40-80", "80-c0", "c0-"}) {
    emu.control("POST", std::string("/fault/slow-shard?shard=") + shard + "&delay_ms=40");
  }
  const auto catalog = catalog_json(ds, {{"customers", "incremental"}});
  const std::string config = R"("checkpoint_interval_records":50)";
  TempDir dir;
  write_file(dir.file("config.json"), config_json(emu, config));
  write_file(dir.file("catalog.json"), catalog);
  const int port = free_port();
  auto argv = read_args(dir, false);
  argv.push_back("--metrics-address");
  argv.push_back("127.0.0.1:" + std::to_string(port));
  Child c = Child::spawn(argv, dir.file("out"), dir.file("err"));
  // Wait (bounded) for the first STATE, then look at the metrics endpoint while the copy runs.
  sv::testing::wait_until([&] { return read_file(dir.file("out")).find(R"({"type":"STATE")") != std::string::npos; },
                          std::chrono::seconds(20), std::chrono::milliseconds(20));
  const std::string metrics = http(port, "GET", "/metrics");
  CHECK(metrics.find(R"(source_vitess_stream_records_total{stream="customers",namespace="commerce"} )") !=
        std::string::npos);
  CHECK(metrics.find(R"(source_vitess_records_total{stream="customers",namespace="commerce",shard="-40"} )") !=
        std::string::npos);
  ::kill(c.pid, SIGTERM);
  const int code = c.wait(std::chrono::seconds(20));
  auto r = finish(read_file(dir.file("out")), read_file(dir.file("err")), code, catalog);
  CHECK(r.exit_code == 1);
  CHECK(r.last_status("customers") == "INCOMPLETE");
  CHECK(r.out.find(R"("failure_type":"transient_error")") != std::string::npos);
  CHECK(r.out.find("interrupted by SIGTERM") != std::string::npos);
  // Nothing printed after the last STATE but the TRACE lines that end the stream.
  const auto last_state = r.out.rfind(R"({"type":"STATE")");
  REQUIRE(last_state != std::string::npos);
  CHECK(r.out.find(R"({"type":"RECORD")", last_state) == std::string::npos);
  CHECK(r.records("customers").size() < 1500);

  emu.control("POST", "/fault/clear");
  auto resumed = read(emu, catalog, state_file(r.out), config);
  CHECK(resumed.exit_code == 0);
  auto both = r.records("customers");
  both.insert(both.end(), resumed.records("customers").begin(), resumed.records("customers").end());
  CHECK(normalized(both) == sorted(expected_rows(ds, *ds.table_index("customers"), 0)));
}

TEST_CASE(
    "stdout full (/dev/full) or closed by its reader: one line with the reason, no stream "
    "complete, exit 1") {
  Emulator emu(dataset({"customers", "order_items"}, 300));
  emulator::Dataset ds(emu.data);
  const auto catalog = catalog_json(ds, {{"customers", "full_refresh"}, {"order_items", "incremental"}});
  struct Case {
    const char* name;
    std::string reason;
  };
  for (const Case& k : {Case{"/dev/full", "writing to stdout failed: No space left on device"},
                        Case{"a closed pipe", "stdout was closed by its reader (EPIPE: Broken pipe)"}}) {
    INFO(k.name);
    TempDir dir;
    write_file(dir.file("config.json"), config_json(emu, ""));
    write_file(dir.file("catalog.json"), catalog);
    const bool pipe = std::string(k.name) == "a closed pipe";
    Child c = Child::spawn(read_args(dir, false), pipe ? "" : "/dev/full", dir.file("err"), pipe);
    if (pipe) {
      ::close(c.stdout_pipe);  // nobody reads: the first write gets EPIPE
      c.stdout_pipe = -1;
    }
    CHECK(c.wait(std::chrono::seconds(60)) == 1);
    const std::string err = read_file(dir.file("err"));
    const std::string line = k.reason + "; the sync stops here and no stream is complete";
    const auto at = err.find(line);
    CHECK_MESSAGE(at != std::string::npos, err);
    CHECK_MESSAGE(err.find(k.reason, at + line.size()) == std::string::npos, "the reason is logged once: " << err);
    // The final progress line of each table says it did not complete; no table "complete".
    CHECK_MESSAGE(err.find("progress customers: incomplete") != std::string::npos, err);
    CHECK_MESSAGE(err.find("progress order_items: incomplete") != std::string::npos, err);
    CHECK_MESSAGE(err.find(": complete") == std::string::npos, err);
  }
}

namespace {

//! ISO-8859-1 bytes as UTF-8 (every byte is its own code point): what the connector must print
//! for a latin1 column, computed here without the connector's charset code.
std::string latin1_to_utf8(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the bench tables (narrow, typical, wide) × 2 shards: full refresh gives every row byte for byte") {
  const std::vector<std::string> tables{"bench_narrow", "bench_typical", "bench_wide"};
  Emulator emu(dataset(tables, 400, 2));
  emulator::Dataset ds(emu.data);
  const auto catalog = catalog_json(
      ds, {{"bench_narrow", "full_refresh"}, {"bench_typical", "full_refresh"}, {"bench_wide", "full_refresh"}});
  auto r = read(emu, catalog, "", R"("checkpoint_interval_records":150)");
  CHECK(r.exit_code == 0);
  for (std::size_t t = 0; t < tables.size(); ++t) {
    INFO("table ", tables[t]);
    CHECK(r.last_status(tables[t]) == "COMPLETE");
    const auto& got = r.records(tables[t]);
    REQUIRE(got.size() == 400);
    // Each shard's rows arrive in key order; across shards they interleave.
    for (const auto& shard : ds.config().shards) {
      const auto want = expected_rows_raw(ds, t, 0, shard);
      std::vector<std::string> in_shard;
      for (const auto& rec : got) {
        if (std::find(want.begin(), want.end(), rec) != want.end()) in_shard.push_back(rec);
      }
      CHECK(in_shard == want);
    }
    CHECK(sorted(got) == sorted(expected_rows_raw(ds, t, 0)));
  }
  // Spot checks independent of the connector's value writer: text, numbers, booleans, charsets.
  const auto by_id = [&](const std::string& table) {
    std::map<std::uint64_t, rapidjson::Document> out;
    for (const auto& rec : r.records(table)) {
      rapidjson::Document d;
      d.Parse(rec.c_str());
      out[d["id"].GetUint64()] = std::move(d);
    }
    return out;
  };
  auto typical = by_id("bench_typical");
  auto wide = by_id("bench_wide");
  std::size_t latin1_seen = 0;
  for (std::uint64_t k = 1; k <= 400; ++k) {
    CAPTURE(k);
    REQUIRE(typical.count(k) == 1);
    REQUIRE(wide.count(k) == 1);
    const auto& d = typical[k];
    CHECK(std::string(d["email"].GetString()) == *ds.cell(1, k, "email", 0));
    CHECK(d["active"].GetBool() == (*ds.cell(1, k, "active", 0) == "1"));
    REQUIRE(d["amount"].IsNumber());
    CHECK(std::abs(d["amount"].GetDouble() - std::stod(*ds.cell(1, k, "amount", 0))) < 0.001);
    if (auto v = ds.cell(1, k, "ext_ref", 0)) {
      CHECK(d["ext_ref"].GetUint64() == std::stoull(*v));
    } else {
      CHECK(d["ext_ref"].IsNull());
    }
    if (auto v = ds.cell(1, k, "attrs", 0)) {
      CHECK(std::string(d["attrs"].GetString()) == *v);
    } else {
      CHECK(d["attrs"].IsNull());
    }
    const auto& w = wide[k];
    if (auto v = ds.cell(2, k, "c_varchar_latin1", 0)) {
      CHECK(std::string(w["c_varchar_latin1"].GetString()) == latin1_to_utf8(*v));
      if (*v != latin1_to_utf8(*v)) ++latin1_seen;
    } else {
      CHECK(w["c_varchar_latin1"].IsNull());
    }
    CHECK(std::string(w["c_uuid"].GetString()) == *ds.cell(2, k, "c_uuid", 0));
    if (auto v = ds.cell(2, k, "c_bit1", 0)) CHECK(w["c_bit1"].GetBool() == (*v == std::string(1, '\1')));
  }
  CHECK(latin1_seen > 50);  // the conversion was exercised
}

TEST_CASE("the bench tables under a write load: two incremental syncs replay to exactly the table rows") {
  const std::vector<std::string> tables{"bench_narrow", "bench_typical", "bench_wide"};
  Emulator emu(dataset(tables, 300, 2), {"--write-rate=1500", "--write-max=1800"});
  emulator::Dataset ds(emu.data);
  const std::vector<std::string> cdc{"_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
  const auto catalog = catalog_json(ds, {{"bench_narrow", "incremental", cdc},
                                         {"bench_typical", "incremental", cdc},
                                         {"bench_wide", "incremental", cdc}});
  auto first = read(emu, catalog, "", R"("checkpoint_interval_records":100)");
  CHECK(first.exit_code == 0);
  sv::testing::wait_until([&] { return emu.ops_done() >= 1800; }, std::chrono::seconds(10));
  REQUIRE(emu.ops_done() == 1800);
  auto second = read(emu, catalog, state_file(first.out));
  CHECK(second.exit_code == 0);
  for (std::size_t t = 0; t < tables.size(); ++t) {
    INFO("table ", tables[t]);
    std::map<std::string, std::string> image;
    replay(ds, t, first.records(tables[t]), image);
    replay(ds, t, second.records(tables[t]), image);
    CHECK(values(image) == sorted(expected_rows(ds, t, 1800)));
    std::vector<std::string> all = first.records(tables[t]);
    all.insert(all.end(), second.records(tables[t]).begin(), second.records(tables[t]).end());
    CHECK(std::set<std::string>(all.begin(), all.end()).size() == all.size());
    CHECK(!second.records(tables[t]).empty());
    // Deletes arrive as records with _ab_cdc_deleted_at set.
    CHECK(std::count_if(all.begin(), all.end(), [](const std::string& s) { return is_delete(s); }) > 0);
  }
}
