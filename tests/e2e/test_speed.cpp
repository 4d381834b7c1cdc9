// tests/e2e: `source-vitess read` in Airbyte's socket mode (docs/speed-mode.md) against
// `vtgate-emulator` (synthetic backend), with tests/e2e/speed_destination.py as the destination:
// it connects to every socket, decodes every message and checks framing, value order and members,
// STATE ids and per-partition counts. Here: the rows it received equal the emulator's dataset
// exactly, STATE on stdout equals STATE on the sockets, the environment errors, no destination,
// and a socket the destination closes mid-sync.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "e2e_support.hpp"

using namespace sv;
using namespace sv::e2e;

namespace {

//! Renders a JSON value with object members sorted by name (recursively), so records compare
//! whatever order their members came in (positional protobuf values arrive in name order).
void write_sorted(const rapidjson::Value& v, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  if (v.IsObject()) {
    std::vector<const rapidjson::Value::Member*> members;
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) members.push_back(&*it);
    std::sort(members.begin(), members.end(),
              [](auto* a, auto* b) { return std::string(a->name.GetString()) < std::string(b->name.GetString()); });
    w.StartObject();
    for (auto* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      write_sorted(m->value, w);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) write_sorted(e, w);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

//! MySQL TIME is a duration; PROTOBUF carries only a time of day (docs/speed-mode.md).
bool time_of_day(const std::string& t) { return !t.empty() && t[0] != '-' && t.size() >= 3 && std::stoi(t) < 24; }

//! A record's data in a comparable form. `protobuf`: the expected JSON of a TIME column outside
//! one day becomes null, as the PROTOBUF mapping nulls it (with a meta change the destination checks).
std::string canonical(const std::string& json, bool protobuf) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE_FALSE(d.HasParseError());
  if (protobuf && d.IsObject() && d.HasMember("c_time") && d["c_time"].IsString() &&
      !time_of_day(d["c_time"].GetString())) {
    d["c_time"].SetNull();
  }
  // A FLOAT/DOUBLE holding a whole number is `-18765` in JSON and the double -18765.0 in PROTOBUF:
  // the same number, compared as one.
  if (d.IsObject()) {
    for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) {
      auto& v = it->value;
      if (v.IsDouble() && std::abs(v.GetDouble()) < 9007199254740992.0 && v.GetDouble() == std::trunc(v.GetDouble())) {
        v.SetInt64(static_cast<std::int64_t>(v.GetDouble()));
      }
    }
  }
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  write_sorted(d, w);
  return b.GetString();
}

//! Every row of `table` after `ops` writes, canonical.
std::vector<std::string> expected(const emulator::Dataset& ds, const std::string& table, bool protobuf,
                                  std::uint64_t ops = 0) {
  std::vector<std::string> out;
  for (const auto& r : expected_rows(ds, *ds.table_index(table), ops)) out.push_back(canonical(r, protobuf));
  std::sort(out.begin(), out.end());
  return out;
}

//! On a mismatch, the first differing record of each side (the lists are sorted).
void first_difference(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  if (got == want) return;
  MESSAGE("received ", got.size(), " records, expected ", want.size());
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      MESSAGE("first difference:\n  received ", got[i], "\n  expected ", want[i]);
      return;
    }
  }
}

struct SpeedRun {
  int exit_code = -1;
  int destination_code = -1;
  std::string out, err, summary, destination_err;
  std::vector<std::string> paths;
  std::map<std::string, std::vector<std::string>> records;  //!< "commerce.<table>" → canonical data, sorted
  std::map<std::string, std::vector<std::string>> ordered;  //!< the same data as received, socket by socket
  std::map<std::string, std::set<std::string>> nulled;      //!< stream → properties listed as nulled
  std::set<std::string> socket_states;                      //!< STATE lines received on the sockets
  std::map<std::string, bool> state_complete;               //!< STATE line → all its partition's records arrived
  //! stream → (partition_id, canonical data) of every record received
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> with_partition;
  std::map<std::pair<int, std::string>, std::vector<std::string>> statuses;  //!< (socket, stream) → statuses
  std::map<int, std::size_t> records_per_socket;                             //!< socket index → records received

  //! stdout lines of one message type.
  std::vector<std::string> lines(const std::string& type) const {
    std::vector<std::string> v;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      rapidjson::Document d;
      d.Parse(line.c_str());
      if (!d.HasParseError() && d.IsObject() && d.HasMember("type") && type == d["type"].GetString()) {
        v.push_back(line);
      }
    }
    return v;
  }
  //! The last STREAM_STATUS of a stream on stdout.
  std::string last_status(const std::string& table) const {
    std::string last;
    for (const auto& l : lines("TRACE")) {
      rapidjson::Document d;
      d.Parse(l.c_str());
      const auto& t = d["trace"];
      if (std::string(t["type"].GetString()) != "STREAM_STATUS") continue;
      if (table == t["stream_status"]["stream_descriptor"]["name"].GetString()) {
        last = t["stream_status"]["status"].GetString();
      }
    }
    return last;
  }
};

SpeedRun speed_read(const Emulator& emu, const std::string& catalog, const std::string& format, std::size_t sockets,
                    const std::string& config_extra, const std::vector<std::string>& destination_extra = {},
                    const std::string& state = "", const std::function<void(Child&, const std::string&)>& during = {}) {
  TempDir dir;
  SpeedRun r;
  write_file(dir.file("config.json"), config_json(emu, config_extra));
  write_file(dir.file("catalog.json"), catalog);
  std::vector<std::string> argv{env_or("SOURCE_VITESS", "source-vitess"),
                                "read",
                                "--config",
                                dir.file("config.json"),
                                "--catalog",
                                dir.file("catalog.json")};
  if (!state.empty()) {
    write_file(dir.file("state.json"), state);
    argv.push_back("--state");
    argv.push_back(dir.file("state.json"));
  }
  std::string joined;
  for (std::size_t i = 0; i < sockets; ++i) {
    r.paths.push_back(dir.file("airbyte_socket_" + std::to_string(i + 1) + ".sock"));
    joined += (i ? "," : "") + r.paths.back();
  }
  const std::vector<std::string> env{"DATA_CHANNEL_MEDIUM=SOCKET", "DATA_CHANNEL_FORMAT=" + format,
                                     "DATA_CHANNEL_SOCKET_PATHS=" + joined,
                                     "SOURCE_VITESS_SOCKET_ACCEPT_TIMEOUT_SECONDS=30"};
  Child connector = Child::spawn(argv, dir.file("out"), dir.file("err"), false, env);
  std::vector<std::string> dargv{env_or("PYTHON3", "python3"),
                                 env_or("SPEED_DESTINATION", "speed_destination.py"),
                                 "--format",
                                 format,
                                 "--paths",
                                 joined,
                                 "--catalog",
                                 dir.file("catalog.json"),
                                 "--out",
                                 dir.file("decoded.jsonl"),
                                 "--read-timeout",
                                 "90"};
  dargv.insert(dargv.end(), destination_extra.begin(), destination_extra.end());
  Child destination = Child::spawn(dargv, dir.file("dest.out"), dir.file("dest.err"));
  if (during) during(connector, dir.file("out"));
  r.exit_code = connector.wait(std::chrono::seconds(120));
  r.destination_code = destination.wait(std::chrono::seconds(120));
  r.out = read_file(dir.file("out"));
  r.err = read_file(dir.file("err"));
  r.summary = read_file(dir.file("dest.out"));
  r.destination_err = read_file(dir.file("dest.err"));
  MESSAGE("destination: ", r.summary, r.destination_err);
  if (r.exit_code != 0) MESSAGE("source-vitess stderr:\n", r.err);
  std::istringstream in(read_file(dir.file("decoded.jsonl")));
  std::string line;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    REQUIRE_FALSE(d.HasParseError());
    const std::string kind = d["kind"].GetString();
    if (kind == "record") {
      rapidjson::StringBuffer b;
      rapidjson::Writer<rapidjson::StringBuffer> w(b);
      d["data"].Accept(w);
      r.records[d["stream"].GetString()].push_back(canonical(b.GetString(), false));
      r.ordered[d["stream"].GetString()].push_back(b.GetString());
      ++r.records_per_socket[d["socket"].GetInt()];
      r.with_partition[d["stream"].GetString()].emplace_back(d["partition_id"].GetString(),
                                                             canonical(b.GetString(), false));
      for (const auto& n : d["nulled"].GetArray()) r.nulled[d["stream"].GetString()].insert(n.GetString());
    } else if (kind == "state") {
      r.socket_states.insert(d["line"].GetString());
      r.state_complete[d["line"].GetString()] = d["complete"].GetBool();
    } else if (kind == "status") {
      r.statuses[{d["socket"].GetInt(), d["stream"].GetString()}].push_back(d["status"].GetString());
    }
  }
  for (auto& [stream, v] : r.records) std::sort(v.begin(), v.end());
  return r;
}

//! What a destination commits of a run: per stream, the STATEs in id order from 1 while every
//! record of their partition arrived (StateStore.kt). Returns the --state of the last of them per
//! stream and the committed partitions.
std::pair<std::string, std::set<std::string>> committed_states(SpeedRun& r) {
  struct Seen {
    int id;
    std::string partition, state;
    bool complete;
  };
  std::map<std::string, std::vector<Seen>> per_stream;
  for (const auto& line : r.socket_states) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    d["state"].Accept(w);
    per_stream[d["state"]["stream"]["stream_descriptor"]["name"].GetString()].push_back(
        Seen{d["state"]["id"].GetInt(), d["state"]["partition_id"].GetString(), b.GetString(), r.state_complete[line]});
  }
  std::string state = "[";
  std::set<std::string> committed;
  for (auto& [stream, seen] : per_stream) {
    std::sort(seen.begin(), seen.end(), [](const Seen& a, const Seen& b) { return a.id < b.id; });
    const Seen* last = nullptr;
    for (const auto& s : seen) {
      if (s.id != (last ? last->id : 0) + 1 || !s.complete) break;
      committed.insert(s.partition);
      last = &s;
    }
    if (last) state += (state.size() > 1 ? "," : "") + last->state;
  }
  state += "]";
  MESSAGE("committed partitions: ", committed.size(), ", resume state: ", state.substr(0, 300));
  return {state, committed};
}

//! The committed records of `first` plus every record of `resumed`, canonical and sorted.
std::vector<std::string> committed_plus(SpeedRun& first, const std::set<std::string>& committed, SpeedRun& resumed,
                                        const std::string& stream) {
  std::vector<std::string> both = resumed.records[stream];
  for (const auto& [partition, data] : first.with_partition[stream]) {
    if (committed.count(partition)) both.push_back(data);
  }
  std::sort(both.begin(), both.end());
  return both;
}

//! `read` with the data channel variables and nothing else: the answer to a bad environment.
std::pair<int, std::string> read_with_env(const std::vector<std::string>& env) {
  TempDir dir;
  Child c = Child::spawn({env_or("SOURCE_VITESS", "source-vitess"), "read", "--config", dir.file("config.json"),
                          "--catalog", dir.file("catalog.json")},
                         dir.file("out"), dir.file("err"), false, env);
  const int code = c.wait(std::chrono::seconds(30));
  return {code, read_file(dir.file("out"))};
}

std::string trace_error(const std::string& message, const std::string& failure_type) {
  rapidjson::Document d;
  d.Parse(message.c_str());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["type"].GetString()) == "TRACE");
  CHECK(std::string(d["trace"]["error"]["failure_type"].GetString()) == failure_type);
  return d["trace"]["error"]["message"].GetString();
}

// Slows every shard of the 4-shard datasets by `delay_ms` per response, so a sync lasts long
// enough to be interrupted mid-read.
void slow_every_shard(Emulator& emu, int delay_ms) {
  for (const char* shard : {"-40", "40-80", "80-c0", "c0-"}) {
    emu.control("POST", std::string("/fault/slow-shard?shard=") + shard + "&delay_ms=" + std::to_string(delay_ms));
  }
}

// A speed_read hook: a bounded wait for the `states`-th STATE on the connector's stdout, then
// `signal` to the connector (SIGKILL: no last word; SIGTERM: its final STATE and INCOMPLETE).
std::function<void(Child&, const std::string&)> signal_after_states(int signal, std::size_t states) {
  return [signal, states](Child& c, const std::string& out) {
    sv::testing::wait_until(
        [&] {
          const auto text = read_file(out);
          std::size_t n = 0;
          for (auto p = text.find(R"({"type":"STATE")"); p != std::string::npos;
               p = text.find(R"({"type":"STATE")", p + 1)) {
            ++n;
          }
          return n >= states;
        },
        std::chrono::seconds(20), std::chrono::milliseconds(20));
    ::kill(c.pid, signal);
  };
}

}  // namespace

TEST_CASE("socket mode, 3 streams × 4 shards: JSONL and PROTOBUF on 1, 2 and 8 sockets give exactly the table rows") {
  Emulator emu(dataset({"all_types", "customers", "order_items"}, 200));
  emulator::Dataset ds(emu.data);
  const auto catalog =
      catalog_json(ds, {{"all_types", "full_refresh"}, {"customers", "full_refresh"}, {"order_items", "incremental"}});
  for (const std::string format : {"JSONL", "PROTOBUF"}) {
    for (std::size_t sockets : {1u, 2u, 8u}) {
      INFO(format, " on ", sockets, " socket(s)");
      auto r = speed_read(emu, catalog, format, sockets, R"("checkpoint_interval_records":60)", {"--strict-counts"});
      CHECK(r.exit_code == 0);
      CHECK(r.destination_code == 0);
      CHECK(r.lines("RECORD").empty());  // records only on the sockets
      // Every STATE is on stdout and on a socket, the same line (with id and partition_id).
      const auto stdout_states = r.lines("STATE");
      CHECK(std::set<std::string>(stdout_states.begin(), stdout_states.end()) == r.socket_states);
      CHECK(stdout_states.size() >= 6);
      for (const char* t : {"all_types", "customers", "order_items"}) {
        INFO("table ", std::string(t));
        const std::string stream = std::string("commerce.") + t;
        const auto want = expected(ds, t, format == "PROTOBUF");
        CHECK(r.records[stream] == want);
        first_difference(r.records[stream], want);
        CHECK(r.last_status(t) == "COMPLETE");
        for (std::size_t s = 0; s < sockets; ++s) {
          CHECK(r.statuses[{static_cast<int>(s), stream}] ==
                std::vector<std::string>{"STARTED", "RUNNING", "COMPLETE"});
        }
      }
      // The TIME column outside one day is the only value PROTOBUF nulls (docs/speed-mode.md).
      if (format == "PROTOBUF") {
        CHECK(r.nulled["commerce.all_types"] == std::set<std::string>{"c_time"});
      } else {
        CHECK(r.nulled.empty());
      }
    }
  }
}

TEST_CASE("socket mode: a bad data channel environment is a config_error before anything is read") {
  TempDir dir;
  write_file(dir.file("regular"), "not a socket");
  const std::string missing = dir.file("no-such-dir/airbyte_socket_1.sock");
  struct Case {
    std::vector<std::string> env;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"DATA_CHANNEL_MEDIUM=PIPE"}, "DATA_CHANNEL_MEDIUM 'PIPE' is not supported: expected STDIO or SOCKET"},
      {{"DATA_CHANNEL_MEDIUM=SOCKET", "DATA_CHANNEL_FORMAT=AVRO", "DATA_CHANNEL_SOCKET_PATHS=" + dir.file("a.sock")},
       "DATA_CHANNEL_FORMAT 'AVRO' is not supported: expected JSONL or PROTOBUF"},
      {{"DATA_CHANNEL_MEDIUM=SOCKET", "DATA_CHANNEL_FORMAT=PROTOBUF"},
       "DATA_CHANNEL_MEDIUM is SOCKET but DATA_CHANNEL_SOCKET_PATHS names no socket path"},
      {{"DATA_CHANNEL_MEDIUM=SOCKET", "DATA_CHANNEL_FORMAT=PROTOBUF", "DATA_CHANNEL_SOCKET_PATHS="},
       "DATA_CHANNEL_MEDIUM is SOCKET but DATA_CHANNEL_SOCKET_PATHS names no socket path"},
      {{"DATA_CHANNEL_MEDIUM=SOCKET", "DATA_CHANNEL_FORMAT=JSONL", "DATA_CHANNEL_SOCKET_PATHS=" + dir.file("regular")},
       "DATA_CHANNEL_SOCKET_PATHS: '" + dir.file("regular") +
           "' exists and is not a socket; the connector only replaces a stale socket file"},
      {{"DATA_CHANNEL_MEDIUM=SOCKET", "DATA_CHANNEL_FORMAT=JSONL", "DATA_CHANNEL_SOCKET_PATHS=" + missing},
       "DATA_CHANNEL_SOCKET_PATHS: the directory of the socket path '" + missing + "' does not exist ('" +
           dir.file("no-such-dir") + "')"},
  };
  for (const auto& c : cases) {
    INFO(c.message);
    auto [code, out] = read_with_env(c.env);
    CHECK(code == 1);
    // One line: the TRACE ERROR (the missing --config file would be the next error).
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK(trace_error(out, "config_error") == c.message);
  }
}

TEST_CASE("socket mode: no destination connects within the timeout: a transient_error naming the socket") {
  Emulator emu(dataset({"customers"}, 10, 2));
  emulator::Dataset ds(emu.data);
  TempDir dir;
  write_file(dir.file("config.json"), config_json(emu, ""));
  write_file(dir.file("catalog.json"), catalog_json(ds, {{"customers", "full_refresh"}}));
  const std::string path = dir.file("airbyte_socket_1.sock");
  Child c = Child::spawn({env_or("SOURCE_VITESS", "source-vitess"), "read", "--config", dir.file("config.json"),
                          "--catalog", dir.file("catalog.json")},
                         dir.file("out"), dir.file("err"), false,
                         {"DATA_CHANNEL_MEDIUM=SOCKET", "DATA_CHANNEL_FORMAT=PROTOBUF",
                          "DATA_CHANNEL_SOCKET_PATHS=" + path, "SOURCE_VITESS_SOCKET_ACCEPT_TIMEOUT_SECONDS=1"});
  CHECK(c.wait(std::chrono::seconds(30)) == 1);
  const auto out = read_file(dir.file("out"));
  REQUIRE(!out.empty());
  const std::string last =
      out.substr(out.rfind('\n', out.size() - 2) == std::string::npos ? 0 : out.rfind('\n', out.size() - 2) + 1);
  CHECK(trace_error(last, "transient_error") ==
        "no destination connected to the data channel socket '" + path +
            "' within 1 s (DATA_CHANNEL_MEDIUM=SOCKET); the destination did not start or does not support socket mode");
  CHECK(out.find("\"RECORD\"") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path));  // no socket file left behind
}

TEST_CASE(
    "socket mode: the destination closes a socket mid-sync: INCOMPLETE with a transient_error, no STATE after, "
    "the resume from the committed STATEs gives every row once") {
  Emulator emu(dataset({"customers", "order_items"}, 4000));
  emulator::Dataset ds(emu.data);
  const auto catalog = catalog_json(ds, {{"customers", "incremental"}, {"order_items", "incremental"}});
  const std::string config = R"("checkpoint_interval_records":100)";
  auto r = speed_read(emu, catalog, "PROTOBUF", 2, config, {"--close-socket", "1", "--close-after", "300"});
  CHECK(r.exit_code == 1);
  CHECK(r.destination_code == 0);  // what it received is consistent (ids and counts not strict here)
  // The streams that had not finished end INCOMPLETE with the socket's transient error.
  std::size_t incomplete = 0;
  for (const char* t : {"customers", "order_items"}) {
    if (r.last_status(t) == "INCOMPLETE") ++incomplete;
  }
  CHECK(incomplete >= 1);
  std::size_t first_error = std::string::npos, last_state = 0;
  std::size_t index = 0;
  std::istringstream in(r.out);
  std::string line;
  bool named = false;
  while (std::getline(in, line)) {
    if (line.find("\"type\":\"STATE\"") != std::string::npos) last_state = index;
    if (line.find("\"type\":\"ERROR\"") != std::string::npos) {
      if (first_error == std::string::npos) first_error = index;
      const auto message = trace_error(line, "transient_error");
      named = named || message.find("'" + r.paths[1] + "'") != std::string::npos;
    }
    ++index;
  }
  CHECK(named);
  REQUIRE(first_error != std::string::npos);
  CHECK(last_state < first_error);  // no STATE once the failure was seen
  // Every STATE the destination received is on stdout too (a STATE written to the closed socket's
  // buffer and never read is on stdout only: the destination's count check keeps it uncommitted).
  const auto stdout_states = r.lines("STATE");
  for (const auto& s : r.socket_states) CHECK(std::count(stdout_states.begin(), stdout_states.end(), s) == 1);

  const auto [state, committed] = committed_states(r);
  auto resumed = speed_read(emu, catalog, "PROTOBUF", 2, config, {"--strict-counts"}, state);
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.destination_code == 0);
  for (const char* t : {"customers", "order_items"}) {
    INFO("table ", std::string(t));
    const std::string stream = std::string("commerce.") + t;
    const auto both = committed_plus(r, committed, resumed, stream);
    const auto want = expected(ds, t, true);
    CHECK(both == want);
    first_difference(both, want);
  }
}

TEST_CASE("socket mode, incremental with CDC and a write load: the next sync catches up, every change once") {
  for (const std::string format : {"JSONL", "PROTOBUF"}) {
    INFO(format);
    // 2000 writes over about 5 s: the first sync (which waits for the destination to connect)
    // stops at the position of its start, the second one catches up with the rest.
    Emulator emu(dataset({"customers", "order_items"}, 300), {"--write-rate=400", "--write-max=2000"});
    emulator::Dataset ds(emu.data);
    const std::vector<std::string> cdc{"_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
    const auto catalog = catalog_json(ds, {{"customers", "incremental", cdc}, {"order_items", "incremental", cdc}});
    auto first = speed_read(emu, catalog, format, 2, R"("checkpoint_interval_records":50)", {"--strict-counts"});
    CHECK(first.exit_code == 0);
    CHECK(first.destination_code == 0);
    sv::testing::wait_until([&] { return emu.ops_done() >= 2000; }, std::chrono::seconds(30));
    REQUIRE(emu.ops_done() == 2000);
    auto second = speed_read(emu, catalog, format, 2, "", {"--strict-counts"}, state_file(first.out));
    CHECK(second.exit_code == 0);
    CHECK(second.destination_code == 0);
    for (const char* t : {"customers", "order_items"}) {
      INFO("table ", std::string(t));
      const std::string stream = std::string("commerce.") + t;
      const auto ti = *ds.table_index(t);
      std::map<std::string, std::string> image;
      replay(ds, ti, first.ordered[stream], image);
      replay(ds, ti, second.ordered[stream], image);
      std::vector<std::string> image_rows;
      for (const auto& [k, v] : image) image_rows.push_back(canonical(v, false));
      std::sort(image_rows.begin(), image_rows.end());
      CHECK(image_rows == expected(ds, t, format == "PROTOBUF", 2000));
      // Every change arrives once: no record (image + change time) repeats across the two syncs.
      std::vector<std::string> all = first.records[stream];
      all.insert(all.end(), second.records[stream].begin(), second.records[stream].end());
      CHECK(std::set<std::string>(all.begin(), all.end()).size() == all.size());
      CHECK(!second.records[stream].empty());
    }
  }
}

TEST_CASE(
    "socket mode, SIGTERM mid-read: a last STATE covers every record sent, INCOMPLETE, the resume gives every row "
    "once") {
  Emulator emu(dataset({"customers"}, 1500), {"--copy-packet-bytes=3000"});
  emulator::Dataset ds(emu.data);
  slow_every_shard(emu, 40);
  const auto catalog = catalog_json(ds, {{"customers", "incremental"}});
  const std::string config = R"("checkpoint_interval_records":50)";
  auto r = speed_read(emu, catalog, "PROTOBUF", 2, config, {"--strict-counts"}, "", signal_after_states(SIGTERM, 1));
  CHECK(r.exit_code == 1);
  CHECK(r.destination_code == 0);  // strict: every record it got is covered by a STATE it got
  CHECK(r.last_status("customers") == "INCOMPLETE");
  CHECK(r.out.find("interrupted by SIGTERM") != std::string::npos);
  CHECK(r.records["commerce.customers"].size() < 1500);
  const auto stdout_states = r.lines("STATE");
  CHECK(std::set<std::string>(stdout_states.begin(), stdout_states.end()) == r.socket_states);

  emu.control("POST", "/fault/clear");
  auto resumed = speed_read(emu, catalog, "PROTOBUF", 2, config, {"--strict-counts"}, state_file(r.out));
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.destination_code == 0);
  auto both = r.records["commerce.customers"];
  both.insert(both.end(), resumed.records["commerce.customers"].begin(), resumed.records["commerce.customers"].end());
  std::sort(both.begin(), both.end());
  CHECK(both == expected(ds, "customers", true));
}

TEST_CASE("socket mode, SIGKILL mid-read, then resume from the committed STATEs: every row once") {
  Emulator emu(dataset({"customers", "order_items"}, 1500), {"--copy-packet-bytes=3000"});
  emulator::Dataset ds(emu.data);
  slow_every_shard(emu, 20);
  const auto catalog = catalog_json(ds, {{"customers", "incremental"}, {"order_items", "incremental"}});
  const std::string config = R"("checkpoint_interval_records":50)";
  auto r = speed_read(emu, catalog, "PROTOBUF", 2, config, {"--allow-truncated"}, "", signal_after_states(SIGKILL, 3));
  CHECK(r.exit_code == 128 + SIGKILL);
  CHECK(r.destination_code == 0);
  const auto [state, committed] = committed_states(r);
  CHECK(!committed.empty());
  emu.control("POST", "/fault/clear");
  auto resumed = speed_read(emu, catalog, "PROTOBUF", 2, config, {"--strict-counts"}, state);
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.destination_code == 0);
  for (const char* t : {"customers", "order_items"}) {
    INFO("table ", std::string(t));
    const std::string stream = std::string("commerce.") + t;
    const auto both = committed_plus(r, committed, resumed, stream);
    const auto want = expected(ds, t, true);
    CHECK(both == want);
    first_difference(both, want);
  }
}

TEST_CASE(
    "socket mode, 1 stream × 4 shards on 4 sockets: every socket carries records; SIGKILL, resume: every row once") {
  Emulator emu(dataset({"customers"}, 1500), {"--copy-packet-bytes=3000"});
  emulator::Dataset ds(emu.data);
  const auto catalog = catalog_json(ds, {{"customers", "incremental"}});
  const std::string config = R"("checkpoint_interval_records":50)";
  const std::string stream = "commerce.customers";
  // A whole sync: each shard has its own socket (placement per stream and shard), so all four
  // sockets carry records of the one stream; the destination's checks (framing, STATE ids,
  // per-partition counts, no record after its STATE on a socket) hold.
  for (const std::string format : {"JSONL", "PROTOBUF"}) {
    INFO(format);
    auto r = speed_read(emu, catalog, format, 4, config, {"--strict-counts"});
    CHECK(r.exit_code == 0);
    CHECK(r.destination_code == 0);
    CHECK(r.records_per_socket.size() == 4);
    std::size_t total = 0;
    for (const auto& entry : r.records_per_socket) {
      const auto& socket = entry.first;  // named, not bound: INFO captures it in a lambda (clang 14)
      const auto n = entry.second;
      INFO("socket ", socket);
      CHECK(n > 0);
      total += n;
    }
    CHECK(total == 1500);
    CHECK(r.records[stream] == expected(ds, "customers", format == "PROTOBUF"));
    const auto stdout_states = r.lines("STATE");
    CHECK(std::set<std::string>(stdout_states.begin(), stdout_states.end()) == r.socket_states);
  }
  // Slow shards, SIGKILL after the third STATE, then a resume from what a destination committed.
  slow_every_shard(emu, 20);
  auto r = speed_read(emu, catalog, "PROTOBUF", 4, config, {"--allow-truncated"}, "", signal_after_states(SIGKILL, 3));
  CHECK(r.exit_code == 128 + SIGKILL);
  CHECK(r.destination_code == 0);
  const auto [state, committed] = committed_states(r);
  CHECK(!committed.empty());
  emu.control("POST", "/fault/clear");
  auto resumed = speed_read(emu, catalog, "PROTOBUF", 4, config, {"--strict-counts"}, state);
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.destination_code == 0);
  const auto both = committed_plus(r, committed, resumed, stream);
  const auto want = expected(ds, "customers", true);
  CHECK(both == want);
  first_difference(both, want);
}
