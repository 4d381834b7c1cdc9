// tests/emulator/test_vstream.cpp — vtgate-emulator end to end over gRPC: every event sequence,
// checked event by event against rows computed from the Dataset description (suite integration).
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include "harness.hpp"

using namespace emu_test;
using namespace sv::emulator;
using Clock = std::chrono::steady_clock;

namespace {

DatasetConfig config(std::vector<std::string> tables, std::uint64_t rows,
                     std::vector<std::string> shards = {"-80", "80-"}) {
  DatasetConfig c;
  c.tables = std::move(tables);
  c.rows = rows;
  c.shards = std::move(shards);
  return c;
}

std::vector<std::string> flags(const DatasetConfig& c, std::vector<std::string> extra = {}) {
  std::string tables, shards;
  for (const auto& t : c.tables) tables += (tables.empty() ? "" : ",") + t;
  for (const auto& s : c.shards) shards += (shards.empty() ? "" : ",") + s;
  std::vector<std::string> f = {"--tables=" + tables, "--rows=" + std::to_string(c.rows), "--shards=" + shards,
                                "--keyspace=" + c.keyspace};
  f.insert(f.end(), extra.begin(), extra.end());
  return f;
}

std::string pos(const Dataset& ds, const std::string& shard, std::uint64_t entries) {
  return GtidSet::single(ds.shard_uuid(shard), Dataset::kInitialSeq + entries).to_string();
}

void check_fields(const binlogdata::VEvent& ev, const Dataset& ds, std::size_t t, std::uint64_t g,
                  const std::string& shard, bool labels = true) {
  REQUIRE(type_name(ev) == "FIELD");
  const auto& fe = ev.field_event();
  CHECK(fe.table_name() == ds.config().keyspace + "." + ds.table_name(t));
  CHECK(fe.keyspace() == ds.config().keyspace);
  CHECK(fe.shard() == shard);
  CHECK(fe.enum_set_string_values() == labels);
  auto schema = ds.schema(t, g);
  REQUIRE(fe.fields_size() == static_cast<int>(schema->fields.size()));
  for (int i = 0; i < fe.fields_size(); ++i) {
    CHECK(fe.fields(i).SerializeAsString() == schema->fields[static_cast<std::size_t>(i)].SerializeAsString());
  }
}

binlogdata::ShardGtid only_shard(const binlogdata::VEvent& ev) {
  REQUIRE(type_name(ev) == "VGTID");
  REQUIRE(ev.vgtid().shard_gtids_size() == 1);
  return ev.vgtid().shard_gtids(0);
}

//! Expected rows of a copy: keys after `after` on `shard`, at op count g.
std::vector<std::uint64_t> copy_keys(const Dataset& ds, std::size_t t, const std::string& shard, std::uint64_t g,
                                     std::uint64_t after = 0) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t k = after + 1; k <= ds.max_key(t, g); ++k) {
    if (ds.in_shard(t, k, shard) && ds.generation(t, k, g)) out.push_back(k);
  }
  return out;
}

//! Reads one table's copy on a single-shard stream, event by event, from its BEGIN up to the
//! BEGIN/VGTID/COMMIT that closes it. Returns the number of row batches.
int expect_table_copy(Stream& s, const Dataset& ds, std::size_t t, const std::string& shard, std::uint64_t g,
                      const std::string& position, std::uint64_t after = 0) {
  const auto keys = copy_keys(ds, t, shard, g, after);
  CHECK(type_name(s.must_next()) == "BEGIN");
  check_fields(s.must_next(), ds, t, g, shard);
  {
    const auto sg = only_shard(s.must_next());
    CHECK(sg.keyspace() == ds.config().keyspace);
    CHECK(sg.shard() == shard);
    CHECK(sg.gtid() == position);
    if (after == 0) {
      CHECK(sg.table_p_ks_size() == 0);
    } else {
      REQUIRE(sg.table_p_ks_size() == 1);
      CHECK(sg.table_p_ks(0).lastpk().rows(0).SerializeAsString() == ds.pk_row(t, after).SerializeAsString());
    }
  }
  std::size_t next = 0;
  int batches = 0;
  for (;;) {
    auto ev = s.must_next();
    if (type_name(ev) == "VGTID") {
      // The table is complete: its entry leaves table_p_ks.
      CHECK(ev.vgtid().shard_gtids(0).table_p_ks_size() == 0);
      CHECK(ev.vgtid().shard_gtids(0).gtid() == position);
      CHECK(type_name(s.must_next()) == "COMMIT");
      break;
    }
    // A batch: ROW events (one row each), then VGTID with the lastpk, then COMMIT.
    ++batches;
    std::uint64_t last = 0;
    int rows_in_batch = 0;
    while (type_name(ev) == "ROW") {
      REQUIRE(next < keys.size());
      const auto& re = ev.row_event();
      CHECK(re.table_name() == ds.config().keyspace + "." + ds.table_name(t));
      CHECK(re.shard() == shard);
      REQUIRE(re.row_changes_size() == 1);
      CHECK_FALSE(re.row_changes(0).has_before());
      CHECK(re.row_changes(0).after().SerializeAsString() == ds.row(t, keys[next], g)->SerializeAsString());
      last = keys[next++];
      ++rows_in_batch;
      ev = s.must_next();
    }
    CHECK(rows_in_batch > 0);
    const auto sg = only_shard(ev);
    CHECK(sg.gtid() == position);
    REQUIRE(sg.table_p_ks_size() == 1);
    CHECK(sg.table_p_ks(0).table_name() == ds.table_name(t));
    const auto& lp = sg.table_p_ks(0).lastpk();
    auto schema = ds.schema(t, g);
    REQUIRE(lp.fields_size() == static_cast<int>(schema->pk_columns.size()));
    for (int i = 0; i < lp.fields_size(); ++i) {
      CHECK(lp.fields(i).name() == schema->fields[schema->pk_columns[static_cast<std::size_t>(i)]].name());
      CHECK(lp.fields(i).type() == schema->fields[schema->pk_columns[static_cast<std::size_t>(i)]].type());
    }
    REQUIRE(lp.rows_size() == 1);
    CHECK(lp.rows(0).SerializeAsString() == ds.pk_row(t, last).SerializeAsString());
    CHECK(type_name(s.must_next()) == "COMMIT");
    CHECK(type_name(s.must_next()) == "BEGIN");
  }
  CHECK(next == keys.size());
  return batches;
}

//! Shard binlog as the synthetic backend writes it: the ops of [1, g] that land on `shard`.
std::vector<std::uint64_t> shard_ops(const Dataset& ds, const std::string& shard, std::uint64_t g) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = 1; i <= g; ++i) {
    Op o = ds.op(i);
    if (ds.shard_of(o.table, o.key, i - 1) == shard) out.push_back(i);
  }
  return out;
}

//! One replicated single-row transaction: BEGIN, [FIELD], ROW, VGTID, COMMIT.
void expect_op(Stream& s, const Dataset& ds, const std::string& shard, std::uint64_t g, std::uint64_t entry,
               std::set<std::size_t>& fields_seen, const std::vector<std::string>& selected, bool labels = true) {
  const Op o = ds.op(g);
  const bool visible = std::find(selected.begin(), selected.end(), ds.table_name(o.table)) != selected.end();
  CHECK(type_name(s.must_next()) == "BEGIN");
  auto ev = s.must_next();
  if (visible) {
    if (!fields_seen.count(o.table)) {
      check_fields(ev, ds, o.table, g - 1, shard, labels);
      fields_seen.insert(o.table);
      ev = s.must_next();
    }
    REQUIRE(type_name(ev) == "ROW");
    CHECK(ev.timestamp() > 0);
    const auto& rc = ev.row_event().row_changes(0);
    auto schema = ds.schema(o.table, g - 1);
    if (o.kind == OpKind::insert) {
      CHECK_FALSE(rc.has_before());
    } else {
      REQUIRE(rc.has_before());
      if (labels) {
        CHECK(
            rc.before().SerializeAsString() ==
            ds.row_at(o.table, o.key, o.gen_before, *schema, ds.last_write(o.table, o.key, g - 1)).SerializeAsString());
      }
    }
    if (o.kind == OpKind::remove) {
      CHECK_FALSE(rc.has_after());
    } else {
      REQUIRE(rc.has_after());
      if (labels) CHECK(rc.after().SerializeAsString() == ds.row(o.table, o.key, g)->SerializeAsString());
    }
    ev = s.must_next();
  }
  CHECK(only_shard(ev).gtid() == pos(ds, shard, entry));
  CHECK(type_name(s.must_next()) == "COMMIT");
}

}  // namespace

TEST_CASE("starts well under a second and reports its ports") {
  Emulator emu(flags(config({"customers"}, 10)));
  CHECK(emu.startup_time() < std::chrono::milliseconds(1000));
  CHECK(emu.grpc_port() > 0);
  CHECK(emu.control_port() > 0);
  auto [code, body] = emu.control("GET", "/status");
  CHECK(code == 200);
  CHECK(body.find("\"streams_active\":0") != std::string::npos);
}

TEST_CASE("fresh copy of one table on one shard, in several batches") {
  auto c = config({"customers"}, 60);
  Dataset ds(c);
  Emulator emu(flags(c, {"--copy-packet-bytes=700"}));
  Stream s(channel(emu), request(c.keyspace, "-80", "", {"customers"}));
  const int batches = expect_table_copy(s, ds, 0, "-80", 0, pos(ds, "-80", 0));
  CHECK(batches >= 3);
  auto done = s.must_next();
  CHECK(type_name(done) == "COPY_COMPLETED");
  CHECK(done.keyspace() == c.keyspace);
  CHECK(done.shard() == "-80");
  auto all = s.must_next();
  CHECK(type_name(all) == "COPY_COMPLETED");
  CHECK(all.keyspace().empty());
  CHECK(all.shard().empty());
}

TEST_CASE("copy of every MySQL type family matches the dataset byte for byte") {
  auto c = config({"all_types", "order_items"}, 40);
  Dataset ds(c);
  Emulator emu(flags(c));
  Stream s(channel(emu), request(c.keyspace, "80-", "", {"all_types", "order_items"}));
  // Tables are copied in name order.
  expect_table_copy(s, ds, 0, "80-", 0, pos(ds, "80-", 0));
  expect_table_copy(s, ds, 1, "80-", 0, pos(ds, "80-", 0));
  CHECK(type_name(s.must_next()) == "COPY_COMPLETED");
  CHECK(type_name(s.must_next()) == "COPY_COMPLETED");
}

TEST_CASE("empty shard copies every shard; one COPY_COMPLETED per shard, then the final one") {
  auto c = config({"customers"}, 80, Dataset::shard_names(4));
  Dataset ds(c);
  Emulator emu(flags(c));
  Stream s(channel(emu), request(c.keyspace, "", "", {"customers"}));
  std::map<std::string, std::vector<std::string>> rows_by_shard;
  std::set<std::string> completed;
  bool final_seen = false;
  for (int i = 0; i < 2000 && !final_seen; ++i) {
    auto ev = s.must_next();
    if (type_name(ev) == "ROW")
      rows_by_shard[ev.shard()].push_back(ev.row_event().row_changes(0).after().SerializeAsString());
    if (type_name(ev) == "VGTID") CHECK(ev.vgtid().shard_gtids_size() == 4);  // every shard of the stream
    if (type_name(ev) == "COPY_COMPLETED") {
      if (ev.shard().empty()) {
        final_seen = true;
        CHECK(completed.size() == 4);
      } else {
        completed.insert(ev.shard());
      }
    }
  }
  CHECK(final_seen);
  for (const auto& sh : c.shards) {
    std::vector<std::string> want;
    for (auto k : copy_keys(ds, 0, sh, 0)) want.push_back(ds.row(0, k, 0)->SerializeAsString());
    CHECK(rows_by_shard[sh] == want);
  }
}

TEST_CASE("a stream mixing a copying shard and one from a position gets no final COPY_COMPLETED") {
  // vtgate sends its final marker only once every shard of the VGTID sent COPY_COMPLETED
  // (vitessio/vitess go/vt/vtgate/vstream_manager.go, isCopyFullyCompleted); a shard started
  // from a position does not copy and never sends one.
  auto c = config({"customers"}, 20);
  Dataset ds(c);
  Emulator emu(flags(c));
  auto req = request(c.keyspace, "-80", "", {"customers"});
  auto* other = req.mutable_vgtid()->add_shard_gtids();
  other->set_keyspace(c.keyspace);
  other->set_shard("80-");
  other->set_gtid(pos(ds, "80-", 0));
  Stream s(channel(emu), req);
  bool completed = false;
  for (int i = 0; i < 500 && !completed; ++i) {
    auto ev = s.must_next();
    if (type_name(ev) != "COPY_COMPLETED") continue;
    CHECK(ev.shard() == "-80");
    completed = true;
  }
  REQUIRE(completed);
  emu.post("/writes?count=10");
  // The final marker would be the next event of the same response.
  CHECK(type_name(s.must_next()) != "COPY_COMPLETED");
}

TEST_CASE("resume a copy from lastpk with an empty gtid") {
  auto c = config({"order_items"}, 40);
  Dataset ds(c);
  Emulator emu(flags(c));
  auto req = request(c.keyspace, "-80", "", {"order_items"});
  auto* pk = req.mutable_vgtid()->mutable_shard_gtids(0)->add_table_p_ks();
  pk->set_table_name("order_items");
  auto* f1 = pk->mutable_lastpk()->add_fields();
  f1->set_name("order_id");
  f1->set_type(query::INT64);
  auto* f2 = pk->mutable_lastpk()->add_fields();
  f2->set_name("line");
  f2->set_type(query::INT32);
  *pk->mutable_lastpk()->add_rows() = ds.pk_row(0, 18);  // order 5, line 2
  Stream s(channel(emu), req);
  expect_table_copy(s, ds, 0, "-80", 0, pos(ds, "-80", 0), 18);
  CHECK(type_name(s.must_next()) == "COPY_COMPLETED");
}

TEST_CASE("resume a copy from gtid + lastpk: catch-up of copied rows first, then the rest") {
  auto c = config({"customers"}, 30);
  Dataset ds(c);
  Emulator emu(flags(c));
  const std::string shard = "-80";
  const std::string p0 = pos(ds, shard, 0);
  emu.post("/writes?count=40");
  const std::uint64_t lastk = 12;
  auto req = request(c.keyspace, shard, p0, {"customers"});
  auto* pk = req.mutable_vgtid()->mutable_shard_gtids(0)->add_table_p_ks();
  pk->set_table_name("customers");
  auto* f = pk->mutable_lastpk()->add_fields();
  f->set_name("id");
  f->set_type(query::INT64);
  *pk->mutable_lastpk()->add_rows() = ds.pk_row(0, lastk);
  Stream s(channel(emu), req);
  // Catch-up: every transaction of the shard since p0; rows only for ids <= lastpk.
  auto ops = shard_ops(ds, shard, 40);
  bool fields_sent = false;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Op o = ds.op(ops[i]);
    CHECK(type_name(s.must_next()) == "BEGIN");
    auto ev = s.must_next();
    if (o.key <= lastk) {
      if (!fields_sent) {
        check_fields(ev, ds, 0, ops[i] - 1, shard);
        fields_sent = true;
        ev = s.must_next();
      }
      REQUIRE(type_name(ev) == "ROW");
      CHECK(ev.row_event().row_changes(0).after().SerializeAsString() == ds.row(0, o.key, ops[i])->SerializeAsString());
      ev = s.must_next();
    }
    CHECK(only_shard(ev).gtid() == pos(ds, shard, i + 1));
    CHECK(type_name(s.must_next()) == "COMMIT");
  }
  // Then the copy continues after lastpk from a snapshot at the current position.
  expect_table_copy(s, ds, 0, shard, 40, pos(ds, shard, ops.size()), lastk);
  CHECK(type_name(s.must_next()) == "COPY_COMPLETED");
}

TEST_CASE("replication from a GTID: inserts, updates and deletes with before/after images") {
  auto c = config({"customers", "order_items"}, 10);
  Dataset ds(c);
  Emulator emu(flags(c));
  const std::string shard = "80-";
  Stream s(channel(emu), request(c.keyspace, shard, pos(ds, shard, 0), {"customers", "order_items"}));
  emu.post("/writes?count=30");
  auto ops = shard_ops(ds, shard, 30);
  REQUIRE(ops.size() >= 5);
  std::set<std::size_t> seen;
  std::set<OpKind> kinds;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    kinds.insert(ds.op(ops[i]).kind);
    expect_op(s, ds, shard, ops[i], i + 1, seen, {"customers", "order_items"});
  }
  CHECK(kinds.size() == 3);
}

TEST_CASE("replication filters tables but keeps every transaction's position") {
  auto c = config({"customers", "order_items"}, 10);
  Dataset ds(c);
  Emulator emu(flags(c, {"--writes=20"}));
  const std::string shard = "-80";
  Stream s(channel(emu), request(c.keyspace, shard, pos(ds, shard, 0), {"order_items"}));
  auto ops = shard_ops(ds, shard, 20);
  std::set<std::size_t> seen;
  for (std::size_t i = 0; i < ops.size(); ++i) expect_op(s, ds, shard, ops[i], i + 1, seen, {"order_items"});
}

TEST_CASE("gtid 'current': VGTID and OTHER right away, then new changes") {
  auto c = config({"customers"}, 10);
  Dataset ds(c);
  Emulator emu(flags(c, {"--writes=7"}));
  const std::string shard = "-80";
  auto before = shard_ops(ds, shard, 7).size();
  Stream s(channel(emu), request(c.keyspace, shard, "current", {"customers"}));
  auto v = s.must_next();
  CHECK(only_shard(v).gtid() == pos(ds, shard, before));
  CHECK(type_name(s.must_next()) == "OTHER");
  emu.post("/writes?count=9");
  auto ops = shard_ops(ds, shard, 16);
  std::set<std::size_t> seen;
  for (std::size_t i = before; i < ops.size(); ++i) expect_op(s, ds, shard, ops[i], i + 1, seen, {"customers"});
}

TEST_CASE("HEARTBEAT when idle for heartbeat_interval") {
  auto c = config({"customers"}, 5);
  Emulator emu(flags(c));
  auto req = request(c.keyspace, "-80", "current", {"customers"});
  req.mutable_flags()->set_heartbeat_interval(1);
  Stream s(channel(emu), req);
  CHECK(type_name(s.must_next()) == "VGTID");
  CHECK(type_name(s.must_next()) == "OTHER");
  const auto t0 = Clock::now();
  auto hb = s.must_next();
  const auto waited = Clock::now() - t0;
  CHECK(type_name(hb) == "HEARTBEAT");
  CHECK(hb.keyspace().empty());
  CHECK(hb.timestamp() == hb.current_time() / 1000000000);
  CHECK(waited > std::chrono::milliseconds(700));
  CHECK(waited < std::chrono::milliseconds(2500));
  CHECK(type_name(s.must_next()) == "HEARTBEAT");
}

TEST_CASE("ENUM and SET as indexes / bitmasks with --enum-set-mode=index") {
  auto c = config({"all_types"}, 6, {"-"});
  Dataset ds(c);
  Emulator emu(flags(c, {"--enum-set-mode=index", "--writes=3"}));
  Stream s(channel(emu), request(c.keyspace, "-", pos(ds, "-", 0), {"all_types"}));
  CHECK(type_name(s.must_next()) == "BEGIN");
  auto fe = s.must_next();
  check_fields(fe, ds, 0, 0, "-", false);
  auto row = s.must_next();
  REQUIRE(type_name(row) == "ROW");
  auto got = row_cells(row.row_event().row_changes(0).after());
  auto want = row_cells(*ds.row(0, 7, 1));  // op 1 inserts k = rows + 1
  const std::vector<std::string> enum_labels = {"small", "medium", "large", "x,y", "it's"};
  const std::vector<std::string> set_labels = {"a", "b c", "it's", "d"};
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (i == 27 && want[i]) {
      auto idx = std::find(enum_labels.begin(), enum_labels.end(), *want[i]) - enum_labels.begin() + 1;
      CHECK(got[i] == std::optional<std::string>(std::to_string(idx)));
    } else if (i == 28 && want[i]) {
      std::uint64_t mask = 0;
      std::string v = *want[i] + ",";
      for (std::size_t b = 0; b < set_labels.size(); ++b) {
        if (("," + v).find("," + set_labels[b] + ",") != std::string::npos) mask |= 1ULL << b;
      }
      CHECK(got[i] == std::optional<std::string>(std::to_string(mask)));
    } else {
      CHECK(got[i] == want[i]);
    }
  }
}

TEST_CASE("DDL mid-stream: VGTID, DDL, then a new FIELD before the next ROW") {
  auto c = config({"customers"}, 10, {"-"});
  Dataset ds(c);
  Emulator emu(flags(c));
  Stream s(channel(emu), request(c.keyspace, "-", pos(ds, "-", 0), {"customers"}));
  emu.post("/writes?count=2");
  auto body = emu.post("/ddl?table=customers");
  CHECK(body.find("ALTER TABLE `customers` ADD COLUMN `note1` varchar(32) DEFAULT NULL") != std::string::npos);
  emu.post("/writes?count=2");
  std::set<std::size_t> seen;
  expect_op(s, ds, "-", 1, 1, seen, {"customers"});
  expect_op(s, ds, "-", 2, 2, seen, {"customers"});
  const std::string stmt = ds.add_ddl(0, 2);
  CHECK(only_shard(s.must_next()).gtid() == pos(ds, "-", 3));
  auto ddl = s.must_next();
  CHECK(type_name(ddl) == "DDL");
  CHECK(ddl.statement() == stmt);
  seen.clear();  // a new FIELD is due
  expect_op(s, ds, "-", 3, 4, seen, {"customers"});
  expect_op(s, ds, "-", 4, 5, seen, {"customers"});
  CHECK(ds.cell(0, ds.op(3).key, "note1", 3) == std::optional<std::string>("n1-11-1"));
}

TEST_CASE("reshard with stop_on_reshard: BEGIN, JOURNAL, VGTID, COMMIT per participant, then the stream ends") {
  // vtgate passes each participant's JOURNAL on with the events up to its COMMIT, and ends the
  // stream once every participant has reached it (vitessio/vitess go/vt/vtgate/vstream_manager.go,
  // streamFromTablet, getJournalEvent).
  auto c = config({"customers"}, 10);
  Dataset ds(c);
  Emulator emu(flags(c));
  auto req = request(c.keyspace, "", "current", {"customers"});
  req.mutable_flags()->set_stop_on_reshard(true);
  Stream s(channel(emu), req);
  for (int i = 0; i < 4; ++i) s.must_next();  // VGTID + OTHER per shard
  auto body = emu.post("/reshard?shards=-40,40-80,80-c0,c0-");
  const std::vector<std::string> news = {"-40", "40-80", "80-c0", "c0-"};
  std::set<std::string> journaled;
  for (int n = 0; n < 2; ++n) {
    auto begin = s.must_next();
    REQUIRE(type_name(begin) == "BEGIN");
    const std::string shard = begin.shard();
    auto j = s.must_next();
    REQUIRE(type_name(j) == "JOURNAL");
    CHECK(j.shard() == shard);
    CHECK(j.journal().migration_type() == binlogdata::SHARDS);
    CHECK(j.journal().local_position() == pos(ds, shard, 0));
    REQUIRE(j.journal().shard_gtids_size() == 4);
    for (int i = 0; i < 4; ++i) {
      CHECK(j.journal().shard_gtids(i).shard() == news[static_cast<std::size_t>(i)]);
      CHECK(j.journal().shard_gtids(i).gtid() == pos(ds, news[static_cast<std::size_t>(i)], 0));
      CHECK(body.find(pos(ds, news[static_cast<std::size_t>(i)], 0)) != std::string::npos);
    }
    REQUIRE(j.journal().participants_size() == 2);
    CHECK(j.journal().participants(0).shard() == "-80");
    CHECK(j.journal().participants(1).shard() == "80-");
    // The VGTID moves this shard past the journal row's transaction.
    auto v = s.must_next();
    REQUIRE(type_name(v) == "VGTID");
    for (const auto& sg : v.vgtid().shard_gtids()) {
      if (sg.shard() == shard) CHECK(sg.gtid() == pos(ds, shard, 1));
    }
    CHECK(type_name(s.must_next()) == "COMMIT");
    journaled.insert(shard);
  }
  CHECK(journaled == std::set<std::string>{"-80", "80-"});
  CHECK_FALSE(s.next().has_value());
  CHECK(s.status().ok());
}

TEST_CASE("reshard without stop: vtgate moves the stream to the new shards") {
  auto c = config({"customers"}, 10);
  Emulator emu(flags(c));
  auto req = request(c.keyspace, "", "current", {"customers"});
  req.mutable_flags()->set_include_reshard_journal_events(true);
  Stream s(channel(emu), req);
  for (int i = 0; i < 4; ++i) s.must_next();
  emu.post("/reshard?shards=-40,40-80,80-c0,c0-");
  // include_reshard_journal_events: each participant's BEGIN, JOURNAL, VGTID, COMMIT, then vtgate
  // switches the stream to the new shards itself.
  std::set<std::string> journaled;
  for (int n = 0; n < 2; ++n) {
    CHECK(type_name(s.must_next()) == "BEGIN");
    auto j = s.must_next();
    CHECK(type_name(j) == "JOURNAL");
    journaled.insert(j.shard());
    CHECK(type_name(s.must_next()) == "VGTID");
    CHECK(type_name(s.must_next()) == "COMMIT");
  }
  CHECK(journaled == std::set<std::string>{"-80", "80-"});
  emu.post("/writes?count=6");
  std::set<std::string> shards_with_rows;
  for (int i = 0; i < 30 && shards_with_rows.size() < 2; ++i) {
    auto ev = s.must_next();
    if (type_name(ev) == "ROW") shards_with_rows.insert(ev.shard());
    if (type_name(ev) == "VGTID") {
      std::set<std::string> in;
      for (const auto& sg : ev.vgtid().shard_gtids()) in.insert(sg.shard());
      CHECK(in == std::set<std::string>{"-40", "40-80", "80-c0", "c0-"});
    }
  }
  CHECK(shards_with_rows.size() >= 2);
  for (const auto& sh : shards_with_rows) CHECK((sh == "-40" || sh == "40-80" || sh == "80-c0" || sh == "c0-"));
}

TEST_CASE("reshard under a single-shard stream: INTERNAL as vtgate") {
  // getJournalEvent: INTERNAL, which shouldRetry does not retry (vstream_manager.go).
  auto c = config({"customers"}, 10);
  Dataset ds(c);
  Emulator emu(flags(c));
  Stream s(channel(emu), request(c.keyspace, "-80", "current", {"customers"}));
  s.must_next();
  s.must_next();
  emu.post("/reshard?shards=-40,40-80,80-c0,c0-");
  CHECK(s.drain().error_code() == grpc::StatusCode::INTERNAL);
  const std::string at = "keyspace:\"" + c.keyspace + "\" shard:\"-80\" gtid:\"" + pos(ds, "-80", 0) + "\"";
  CHECK(s.status().error_message() ==
        "error starting stream from shard GTID " + at + ": error in vstream for " + c.keyspace +
            "/-80 on tablet zone1-0000000100: error getting journal event for shard GTID " + at +
            " on tablet zone1-0000000100: not all journaling participants are in the stream: journal: [keyspace:\"" +
            c.keyspace + "\" shard:\"-80\" keyspace:\"" + c.keyspace + "\" shard:\"80-\"], stream: [" + at + "]");
}

TEST_CASE("reshard during a copy: the copy resumed on an old shard from its position meets the journal") {
  auto c = config({"customers"}, 30);
  Dataset ds(c);
  Emulator emu(flags(c));
  const std::string p0 = pos(ds, "-80", 0);
  emu.post("/reshard?shards=-40,40-80,80-c0,c0-");
  // The copy of -80 stopped after id 12 before the reshard; it resumes with its position.
  auto req = request(c.keyspace, "-80", p0, {"customers"});
  auto* pk = req.mutable_vgtid()->mutable_shard_gtids(0)->add_table_p_ks();
  pk->set_table_name("customers");
  auto* f = pk->mutable_lastpk()->add_fields();
  f->set_name("id");
  f->set_type(query::INT64);
  *pk->mutable_lastpk()->add_rows() = ds.pk_row(0, 12);
  Stream s(channel(emu), req);
  CHECK(s.drain().error_code() == grpc::StatusCode::INTERNAL);
  CHECK(s.status().error_message().find("not all journaling participants are in the stream") != std::string::npos);
  // Without a position there is no catch-up, and a retired shard has no snapshot to copy from.
  auto fresh = request(c.keyspace, "-80", "", {"customers"});
  Stream f2(channel(emu), fresh);
  CHECK(f2.drain().error_code() == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("faults: end after N events with each end mode") {
  auto c = config({"customers"}, 30);
  struct Case {
    std::string mode;
    grpc::StatusCode code;
  };
  for (const Case& k :
       {Case{"eof", grpc::StatusCode::OK}, Case{"unavailable", grpc::StatusCode::UNAVAILABLE},
        Case{"deadline_exceeded", grpc::StatusCode::DEADLINE_EXCEEDED}, Case{"drop", grpc::StatusCode::CANCELLED}}) {
    CAPTURE(k.mode);
    Emulator emu(flags(c, {"--end-after-events=5", "--end-mode=" + k.mode}));
    Stream s(channel(emu), request(c.keyspace, "-80", "", {"customers"}));
    std::size_t n = 0;
    auto st = s.drain(&n);
    CHECK(n == 5);
    CHECK(st.error_code() == k.code);
  }
}

TEST_CASE("faults: drop the TCP connection without a status (--tcp-proxy)") {
  auto c = config({"customers"}, 30);
  Dataset ds(c);
  Emulator emu(flags(c, {"--tcp-proxy", "--end-after-events=4", "--end-mode=drop"}));
  Stream s(channel(emu), request(c.keyspace, "-80", "", {"customers"}));
  std::size_t n = 0;
  auto st = s.drain(&n);
  CHECK(n == 4);
  CHECK(st.error_code() == grpc::StatusCode::UNAVAILABLE);  // connection reset, not a server status
  // Through the proxy everything else works as usual.
  emu.post("/fault/clear");
  Stream ok(channel(emu), request(c.keyspace, "-80", "", {"customers"}));
  expect_table_copy(ok, ds, 0, "-80", 0, pos(ds, "-80", 0));
}

TEST_CASE("faults: failing stream starts, then recovery (control API)") {
  auto c = config({"customers"}, 5);
  Emulator emu(flags(c));
  emu.post("/fault/fail-streams?count=2&mode=unavailable");
  for (int i = 0; i < 2; ++i) {
    Stream s(channel(emu), request(c.keyspace, "-80", "", {"customers"}));
    CHECK_FALSE(s.next().has_value());
    CHECK(s.status().error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  Stream ok(channel(emu), request(c.keyspace, "-80", "", {"customers"}));
  CHECK(type_name(ok.must_next()) == "BEGIN");
  // An active stream ended on demand.
  emu.post("/fault/end-streams?mode=deadline_exceeded");
  CHECK(ok.drain().error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_CASE("faults: stall and slow shard delay delivery") {
  auto c = config({"customers"}, 40);
  Emulator emu(flags(c, {"--copy-packet-bytes=400", "--slow-shard=80-:150"}));
  emu.post("/fault/stall?seconds=1.2");
  auto t0 = Clock::now();
  {
    Stream s(channel(emu), request(c.keyspace, "-80", "", {"customers"}));
    s.must_next();
    CHECK(Clock::now() - t0 > std::chrono::milliseconds(1000));
  }
  emu.post("/fault/clear");
  emu.post("/fault/slow-shard?shard=80-&delay_ms=150");
  auto timed_copy = [&](const std::string& shard) {
    auto start = Clock::now();
    Stream s(channel(emu), request(c.keyspace, shard, "", {"customers"}));
    std::size_t responses = 0;
    for (int i = 0; i < 1000; ++i) {
      auto ev = s.must_next();
      if (type_name(ev) == "COPY_COMPLETED") break;
    }
    responses = s.responses();
    return std::make_pair(Clock::now() - start, responses);
  };
  auto [fast, fast_n] = timed_copy("-80");
  auto [slow, slow_n] = timed_copy("80-");
  CHECK(slow_n >= 4);
  CHECK(slow > std::chrono::milliseconds(150) * static_cast<int>(slow_n - 1));
  CHECK(fast < slow);
  (void)fast_n;
  // Stall once after N events (per stream).
  emu.post("/fault/clear");
  emu.post("/fault/stall-after?events=3&seconds=1");
  Stream s(channel(emu), request(c.keyspace, "-80", "", {"customers"}));
  for (int i = 0; i < 3; ++i) s.must_next();
  auto t1 = Clock::now();
  s.must_next();  // the second response comes after the stall
  CHECK(Clock::now() - t1 > std::chrono::milliseconds(800));
}

TEST_CASE("request validation answers as vtgate") {
  // Codes and texts of vitessio/vitess go/vt/vtgate/vstream_manager.go (resolveParams,
  // startOneStream, streamFromTablet, keyspaceHasBeenResharded), srvtopo's GetKeyspaceShards,
  // vttablet's uvstreamer (setStreamStartPosition, buildTablePlan) and replication.ParsePosition.
  auto c = config({"customers"}, 5);
  Dataset ds(c);
  Emulator emu(flags(c));
  auto status_of = [&](const vtgate::VStreamRequest& req) {
    Stream s(channel(emu), req);
    s.drain();
    return s.status();
  };
  const std::string ks = c.keyspace;
  auto at = [&](const std::string& shard, const std::string& gtid) {
    return "error starting stream from shard GTID keyspace:\"" + ks + "\" shard:\"" + shard + "\"" +
           (gtid.empty() ? std::string() : " gtid:\"" + gtid + "\"") + ": ";
  };
  vtgate::VStreamRequest empty;
  auto none = status_of(empty);
  CHECK(none.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(none.error_message() ==
        "failed to resolve vstream parameters: vgtid must have at least one value with a starting position in "
        "ShardGtids");
  // An unknown keyspace: resolved with every shard (shard "") or checked for a reshard (a shard).
  auto no_ks_all = status_of(request("nosuch", "", "", {"customers"}));
  CHECK(no_ks_all.error_code() == grpc::StatusCode::UNKNOWN);
  CHECK(no_ks_all.error_message() ==
        "failed to resolve vstream parameters: failed to get shards in keyspace nosuch: keyspace nosuch fetch error: "
        "node doesn't exist: keyspaces/nosuch/SrvKeyspace");
  auto no_ks = status_of(request("nosuch", "-80", "", {"customers"}));
  CHECK(no_ks.error_code() == grpc::StatusCode::UNKNOWN);
  CHECK(no_ks.error_message() ==
        "error starting stream from shard GTID keyspace:\"nosuch\" shard:\"-80\": failed to "
        "determine if keyspace nosuch has been resharded: FindAllShardsInKeyspace(nosuch): "
        "List: node doesn't exist: keyspaces/nosuch/shards");
  // A shard the keyspace does not have.
  auto bad_shard = status_of(request(ks, "-40", "", {"customers"}));
  CHECK(bad_shard.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(bad_shard.error_message() == at("-40", "") + "failed to determine if keyspace " + ks +
                                         " has been resharded: shard provided in VGTID, -40, not found in the " + ks +
                                         " keyspace");
  // Malformed positions: INTERNAL from the tablet, not retried.
  const std::string tablet = "error in vstream for " + ks +
                             "/-80 on tablet zone1-0000000100: vttablet: rpc error: "
                             "code = Internal desc = could not decode position: ";
  auto bad_set = status_of(request(ks, "-80", "MySQL56/not-a-gtid", {"customers"}));
  CHECK(bad_set.error_code() == grpc::StatusCode::INTERNAL);
  CHECK(bad_set.error_message() == at("-80", "MySQL56/not-a-gtid") + tablet +
                                       "invalid MySQL 5.6 GTID set (\"not-a-gtid\"): expected uuid:interval");
  auto no_flavor = status_of(request(ks, "-80", "12345", {"customers"}));
  CHECK(no_flavor.error_code() == grpc::StatusCode::INTERNAL);
  CHECK(no_flavor.error_message() == at("-80", "12345") + tablet + "parse error: unknown GTIDSet flavor \"\"");
  auto bad_flavor = status_of(request(ks, "-80", "Oracle/1-2", {"customers"}));
  CHECK(bad_flavor.error_code() == grpc::StatusCode::INTERNAL);
  CHECK(bad_flavor.error_message() ==
        at("-80", "Oracle/1-2") + tablet + "parse error: unknown GTIDSet flavor \"Oracle\"");
  // MariaDB is a flavor Vitess parses; a MySQL56 server never contains such a position.
  auto mariadb = status_of(request(ks, "-80", "MariaDB/0-1-5", {"customers"}));
  CHECK(mariadb.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(mariadb.error_message() ==
        "GTIDSet Mismatch: requested source position:MariaDB/0-1-5, current target vrep "
        "position: " +
            pos(ds, "-80", 0));
  // A copy of a table the tablet's schema does not have: retried three times, then given up.
  auto no_table = status_of(request(ks, "-80", "", {"nosuch"}));
  CHECK(no_table.error_code() == grpc::StatusCode::UNKNOWN);
  CHECK(no_table.error_message() == at("-80", "") + "persistent error in vstream for " + ks +
                                        "/-80 on tablet zone1-0000000100; giving up: vttablet: rpc error: code = "
                                        "Unknown desc = table nosuch is not present in the database");
  auto any_shard = status_of(request(ks, "", pos(ds, "-80", 0), {"customers"}));
  CHECK(any_shard.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(any_shard.error_message() ==
        "failed to resolve vstream parameters: if shards are unspecified, the Gtid value must be 'current' or empty; "
        "got: shard_gtids:{keyspace:\"" +
            ks + "\" gtid:\"" + pos(ds, "-80", 0) + "\"}");
}

TEST_CASE("positions the shard does not have answer as vttablet and MySQL do") {
  auto c = config({"customers"}, 5);
  Dataset ds(c);
  Emulator emu(flags(c));
  auto status_of = [&](const std::string& gtid) {
    Stream s(channel(emu), request(c.keyspace, "-80", gtid, {"customers"}));
    s.drain();
    return s.status();
  };
  // Ahead of the shard (a restore or failover to a server with fewer transactions): vttablet's
  // uvstreamer refuses it before reading any binlog, as INVALID_ARGUMENT.
  const std::string ahead = pos(ds, "-80", 5);
  auto refused = status_of(ahead);
  CHECK(refused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(refused.error_message() == "GTIDSet Mismatch: requested source position:" + ahead +
                                       ", current target vrep position: " + pos(ds, "-80", 0));
  // Another server's GTIDs: the same refusal.
  const std::string foreign = "MySQL56/3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3";
  CHECK(status_of(foreign).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // Older than the binlog (which starts after the schema setup): MySQL's errno 1236 through
  // vstreamer, as UNKNOWN.
  const std::string uuid = ds.shard_uuid("-80");
  // vtgate retries it (not an SQL error once it crossed gRPC: shouldRetry) and gives up.
  auto purged = status_of("MySQL56/" + uuid + ":1-5");
  CHECK(purged.error_code() == grpc::StatusCode::UNKNOWN);
  CHECK(purged.error_message() ==
        "error starting stream from shard GTID keyspace:\"" + c.keyspace + "\" shard:\"-80\" gtid:\"MySQL56/" + uuid +
            ":1-5\": persistent error in vstream for " + c.keyspace +
            "/-80 on tablet zone1-0000000100; giving up: vttablet: rpc error: code = Unknown "
            "desc = stream (at source tablet) error @ " +
            uuid + ":1-5: " + std::string(sv::emulator::kPurgedBinlogs) + " (errno 1236) (sqlstate HY000)");
}

TEST_CASE("basic auth: wrong or missing credentials are UNAUTHENTICATED") {
  auto c = config({"customers"}, 5);
  Emulator emu(flags(c, {"--user=reader", "--password=s3cret"}));
  auto req = request(c.keyspace, "-80", "", {"customers"});
  {
    Stream s(channel(emu), req);
    CHECK(s.drain().error_code() == grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    Stream s(channel(emu), req, ClientAuth{"reader", "wrong", std::nullopt});
    CHECK(s.drain().error_code() == grpc::StatusCode::UNAUTHENTICATED);
  }
  Stream s(channel(emu), req, ClientAuth{"reader", "s3cret", std::nullopt});
  CHECK(type_name(s.must_next()) == "BEGIN");
}

TEST_CASE("TLS with a test CA") {
  const char* script = std::getenv("EMU_CERT_SCRIPT");
  REQUIRE(script != nullptr);
  const sv::testing::TempDir certs("emu-certs");
  const std::string& dir = certs.path;
  REQUIRE(std::system((std::string(script) + " " + dir).c_str()) == 0);
  auto c = config({"customers"}, 5);
  Dataset ds(c);
  Emulator emu(
      flags(c, {"--tls-cert=" + dir + "/server.pem", "--tls-key=" + dir + "/server.key", "--user=u", "--password=p"}));
  std::ifstream ca_in(dir + "/ca.pem");
  std::stringstream ca;
  ca << ca_in.rdbuf();
  ClientAuth auth{"u", "p", ca.str()};
  Stream s(channel(emu, auth), request(c.keyspace, "-80", "", {"customers"}), auth);
  expect_table_copy(s, ds, 0, "-80", 0, pos(ds, "-80", 0));
  Stream plain(channel(emu), request(c.keyspace, "-80", "", {"customers"}), ClientAuth{"u", "p", std::nullopt},
               std::chrono::seconds(3));
  CHECK_FALSE(plain.next().has_value());
  CHECK(plain.status().error_code() == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("several concurrent streams, with the pre-encoded cache") {
  auto c = config({"customers", "order_items"}, 1500, Dataset::shard_names(4));
  Dataset ds(c);
  Emulator emu(flags(c, {"--pre-encoded"}));
  auto run = [&](const std::string& shard, std::string* digest) {
    Stream s(channel(emu), request(c.keyspace, shard, "", {"customers", "order_items"}));
    std::size_t rows = 0;
    for (int i = 0; i < 100000; ++i) {
      auto ev = s.must_next();
      if (type_name(ev) == "ROW") {
        ++rows;
        *digest += ev.row_event().row_changes(0).after().values();
      }
      if (type_name(ev) == "COPY_COMPLETED") break;
    }
    return rows;
  };
  std::vector<std::thread> threads;
  std::vector<std::size_t> counts(c.shards.size());
  std::vector<std::string> digests(c.shards.size()), again(c.shards.size());
  for (std::size_t i = 0; i < c.shards.size(); ++i) {
    threads.emplace_back([&, i] { counts[i] = run(c.shards[i], &digests[i]); });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < c.shards.size(); ++i) {
    CHECK(counts[i] == copy_keys(ds, 0, c.shards[i], 0).size() + copy_keys(ds, 1, c.shards[i], 0).size());
    run(c.shards[i], &again[i]);  // replayed from the cache
    CHECK(again[i] == digests[i]);
  }
  auto [code, body] = emu.control("GET", "/status");
  CHECK(json_field(body, "cache_hits") == std::to_string(2 * c.shards.size()));
}

TEST_CASE("copy under a timed write load: applying the stream reproduces the dataset exactly") {
  // Writes run while tables are copied, so catch-up and fast-forward events are interleaved with
  // the copy; whatever the timing, applying everything must give the state at the final position.
  auto c = config({"customers", "order_items"}, 300);
  Dataset ds(c);
  const std::uint64_t total = 600;
  Emulator emu(flags(c, {"--write-rate=400", "--write-max=" + std::to_string(total), "--copy-packet-bytes=1500",
                         "--slow-shard=-80:5"}));
  const std::string shard = "-80";
  Stream s(channel(emu), request(c.keyspace, shard, "", {"customers", "order_items"}), {}, std::chrono::seconds(30));
  const std::string final_pos = pos(ds, shard, shard_ops(ds, shard, total).size());
  std::map<std::string, std::map<std::string, std::string>> state;  // table → pk bytes → row bytes
  auto pk_of = [](const std::string& table, const query::Row& row) {
    auto cells = row_cells(row);
    return table == "order_items" ? *cells[0] + "/" + *cells[1] : *cells[0];
  };
  bool copied = false;
  std::string at;
  for (int i = 0; i < 100000 && !(copied && at == final_pos); ++i) {
    auto ev = s.must_next();
    if (type_name(ev) == "COPY_COMPLETED" && ev.shard().empty()) copied = true;
    if (type_name(ev) == "VGTID") at = ev.vgtid().shard_gtids(0).gtid();
    if (type_name(ev) != "ROW") continue;
    const std::string table = ev.row_event().table_name().substr(c.keyspace.size() + 1);
    for (const auto& rc : ev.row_event().row_changes()) {
      if (rc.has_before()) state[table].erase(pk_of(table, rc.before()));
      if (rc.has_after()) state[table][pk_of(table, rc.after())] = rc.after().SerializeAsString();
    }
  }
  REQUIRE(copied);
  REQUIRE(at == final_pos);
  for (std::size_t t = 0; t < ds.table_count(); ++t) {
    std::map<std::string, std::string> want;
    for (auto k : copy_keys(ds, t, shard, total)) {
      auto row = *ds.row(t, k, total);
      want[pk_of(ds.table_name(t), row)] = row.SerializeAsString();
    }
    CHECK(state[ds.table_name(t)].size() == want.size());
    CHECK(state[ds.table_name(t)] == want);
  }
}

namespace {

//! The events of a stream until `last` says the sequence ended (bounded: `limit` events), with
//! current_time cleared (the only field that differs between two streams of the same data).
std::vector<binlogdata::VEvent> events_until(Stream& s, const std::function<bool(const binlogdata::VEvent&)>& last,
                                             std::size_t limit = 5000) {
  std::vector<binlogdata::VEvent> out;
  for (std::size_t i = 0; i < limit; ++i) {
    auto ev = s.must_next();
    ev.clear_current_time();
    out.push_back(ev);
    if (last(ev)) break;
  }
  return out;
}

//! What vstreamer sends for a select list, derived from the `SELECT *` stream: FIELD events with
//! the selected fields in select order, ROW images with only their values; the rest (VGTID with
//! lastpk over the table's full primary key, BEGIN/COMMIT, COPY_COMPLETED) unchanged.
binlogdata::VEvent projected(binlogdata::VEvent ev, const std::vector<int>& cols) {
  if (ev.type() == binlogdata::FIELD) {
    auto all = ev.field_event().fields();
    ev.mutable_field_event()->clear_fields();
    for (int c : cols) *ev.mutable_field_event()->add_fields() = all[c];
  }
  if (ev.type() == binlogdata::ROW) {
    auto project = [&](query::Row* row) {
      std::vector<std::string> values;
      std::vector<std::int64_t> lengths;
      std::size_t off = 0;
      for (int i = 0; i < row->lengths_size(); ++i) {
        const auto len = row->lengths(i);
        lengths.push_back(len);
        values.push_back(len > 0 ? row->values().substr(off, static_cast<std::size_t>(len)) : std::string());
        if (len > 0) off += static_cast<std::size_t>(len);
      }
      row->Clear();
      for (int c : cols) {
        row->add_lengths(lengths[static_cast<std::size_t>(c)]);
        row->mutable_values()->append(values[static_cast<std::size_t>(c)]);
      }
    };
    for (auto& rc : *ev.mutable_row_event()->mutable_row_changes()) {
      if (rc.has_before()) project(rc.mutable_before());
      if (rc.has_after()) project(rc.mutable_after());
    }
  }
  return ev;
}

vtgate::VStreamRequest with_filter(vtgate::VStreamRequest req, const std::string& filter) {
  req.mutable_filter()->mutable_rules(0)->set_filter(filter);
  return req;
}

}  // namespace

TEST_CASE("a select list in the rule: FIELD and ROW carry the selected columns in select order, copy and CDC") {
  auto c = config({"customers"}, 40);
  Dataset ds(c);
  Emulator emu(flags(c, {"--copy-packet-bytes=600", "--writes=40"}));
  const std::string shard = "80-";
  // customers: id, email, name, balance, created_at. Names match case-insensitively; the FIELD
  // names are the table's.
  const std::string filter = "select `balance`, name,ID from `customers`";
  const std::vector<int> cols{3, 2, 0};
  const auto ops = shard_ops(ds, shard, 40);
  REQUIRE(!ops.empty());
  std::set<OpKind> kinds;
  for (auto g : ops) kinds.insert(ds.op(g).kind);
  CHECK(kinds.size() == 3);  // inserts, updates and deletes
  auto copy_done = [](const binlogdata::VEvent& ev) {
    return ev.type() == binlogdata::COPY_COMPLETED && ev.shard().empty();
  };
  const std::string end = pos(ds, shard, ops.size());
  auto replicated = [&](const binlogdata::VEvent& ev) {
    return ev.type() == binlogdata::VGTID && ev.vgtid().shard_gtids(0).gtid() == end;
  };
  for (const auto& [gtid, done] : std::vector<std::pair<std::string, std::function<bool(const binlogdata::VEvent&)>>>{
           {"", copy_done}, {pos(ds, shard, 0), replicated}}) {
    CAPTURE(gtid);
    const auto base = request(c.keyspace, shard, gtid, {"customers"});
    Stream all(channel(emu), base);
    auto full = events_until(all, done);
    Stream narrow(channel(emu), with_filter(base, filter));
    auto got = events_until(narrow, done);
    if (gtid.empty()) {
      // The copy's batches fill --copy-packet-bytes with the projected rows (as the rowstreamer
      // counts the bytes it sends), so narrower rows make fewer batches: compare the FIELD, ROW
      // and COPY_COMPLETED events, and check that each batch's lastpk is the table key of its
      // last row.
      std::string last_id;
      std::size_t lastpks = 0;
      for (const auto& ev : got) {
        if (ev.type() == binlogdata::ROW) {
          const auto& after = ev.row_event().row_changes(0).after();
          const auto n = after.lengths_size();
          last_id = after.values().substr(after.values().size() - static_cast<std::size_t>(after.lengths(n - 1)));
        }
        if (ev.type() != binlogdata::VGTID || ev.vgtid().shard_gtids(0).table_p_ks_size() == 0) continue;
        const auto& lp = ev.vgtid().shard_gtids(0).table_p_ks(0).lastpk();
        REQUIRE(lp.fields_size() == 1);
        CHECK(lp.fields(0).name() == "id");
        CHECK(lp.rows(0).values() == last_id);
        ++lastpks;
      }
      CHECK(lastpks >= 2);
      auto keep = [](std::vector<binlogdata::VEvent> evs) {
        std::erase_if(evs, [](const binlogdata::VEvent& ev) {
          return ev.type() != binlogdata::ROW && ev.type() != binlogdata::FIELD &&
                 ev.type() != binlogdata::COPY_COMPLETED;
        });
        return evs;
      };
      got = keep(got);
      full = keep(full);
    }
    REQUIRE(got.size() == full.size());
    std::size_t rows = 0, fields = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      rows += got[i].type() == binlogdata::ROW;
      fields += got[i].type() == binlogdata::FIELD;
      CHECK(got[i].SerializeAsString() == projected(full[i], cols).SerializeAsString());
    }
    CHECK(rows > 10);
    CHECK(fields >= 1);
    const auto field =
        std::find_if(got.begin(), got.end(), [](const auto& ev) { return ev.type() == binlogdata::FIELD; });
    REQUIRE(field != got.end());
    REQUIRE(field->field_event().fields_size() == 3);
    CHECK(field->field_event().fields(0).name() == "balance");
    CHECK(field->field_event().fields(1).name() == "name");
    CHECK(field->field_event().fields(2).name() == "id");
  }
  // `SELECT *` in any spelling, and a filter the emulator does not plan (a WHERE clause), stream
  // every column, as before.
  {
    Stream star(channel(emu), with_filter(request(c.keyspace, shard, "", {"customers"}), "Select  *  From customers"));
    CHECK(type_name(star.must_next()) == "BEGIN");
    check_fields(star.must_next(), ds, 0, 40, shard);
  }
}

TEST_CASE("a select list naming a column the table lacks: FAILED_PRECONDITION as vstreamer's findColumn") {
  auto c = config({"customers"}, 10);
  Dataset ds(c);
  Emulator emu(flags(c));
  for (const auto& gtid : {std::string(), pos(ds, "-80", 0)}) {
    CAPTURE(gtid);
    Stream s(channel(emu), with_filter(request(c.keyspace, "-80", gtid, {"customers"}),
                                       "SELECT `id`, `nope`, `we``ird` FROM `customers`"));
    if (!gtid.empty()) emu.post("/writes?count=20");  // replication plans the table at its first rows
    std::size_t events = 0;
    const auto status = s.drain(&events);
    CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(status.error_message().find("column nope not found in table customers") != std::string::npos);
    CHECK(status.error_message().find("error starting stream from shard GTID") == 0);
    // Planned before anything of the table is sent (the copy's FIELD, the transaction's BEGIN).
    CHECK(events == 0);
  }
}

TEST_CASE("the bench tables: copy byte for byte (twice: from the pre-encoded cache), writes, a DDL, a reshard") {
  const std::vector<std::string> tables{"bench_narrow", "bench_typical", "bench_wide"};
  auto c = config(tables, 80);
  Dataset ds(c);
  REQUIRE(ds.schema(0, 0)->fields.size() == 3);
  REQUIRE(ds.schema(1, 0)->fields.size() == 10);
  REQUIRE(ds.schema(2, 0)->fields.size() == 50);
  Emulator emu(flags(c, {"--pre-encoded"}));
  const std::string shard = "80-";
  // The first copy fills the cache, the second replays it: both give the dataset's rows exactly.
  for (int pass = 0; pass < 2; ++pass) {
    CAPTURE(pass);
    Stream s(channel(emu), request(c.keyspace, shard, "", tables));
    for (std::size_t t = 0; t < tables.size(); ++t) expect_table_copy(s, ds, t, shard, 0, pos(ds, shard, 0));
    CHECK(type_name(s.must_next()) == "COPY_COMPLETED");
    CHECK(type_name(s.must_next()) == "COPY_COMPLETED");
  }
  CHECK(json_field(emu.control("GET", "/status").second, "cache_hits") == "3");  // one per table

  // Replication: 30 ops (each table's inserts, updates and deletes), a DDL on the wide table,
  // 30 more ops whose rows fill the new column.
  Stream s(channel(emu), request(c.keyspace, shard, pos(ds, shard, 0), tables));
  emu.post("/writes?count=30");
  const auto body = emu.post("/ddl?table=bench_wide");
  emu.post("/writes?count=30");
  std::set<std::size_t> seen;
  std::set<std::pair<std::size_t, OpKind>> kinds;
  std::uint64_t entry = 0;
  for (auto g : shard_ops(ds, shard, 30)) {
    kinds.insert({ds.op(g).table, ds.op(g).kind});
    expect_op(s, ds, shard, g, ++entry, seen, tables);
  }
  const std::string stmt = ds.add_ddl(2, 30);  // recorded after the ops before it were checked
  CHECK(body.find(stmt) != std::string::npos);
  CHECK(only_shard(s.must_next()).gtid() == pos(ds, shard, ++entry));
  auto ddl = s.must_next();
  CHECK(type_name(ddl) == "DDL");
  CHECK(ddl.statement() == stmt);
  seen.erase(2);  // a new FIELD is due for the wide table
  bool note_filled = false;
  for (auto g : shard_ops(ds, shard, 60)) {
    if (g <= 30) continue;
    kinds.insert({ds.op(g).table, ds.op(g).kind});
    expect_op(s, ds, shard, g, ++entry, seen, tables);
    const Op o = ds.op(g);
    if (o.table == 2 && o.kind != OpKind::remove && ds.cell(2, o.key, "note1", g)) note_filled = true;
  }
  CHECK(note_filled);
  CHECK(kinds.size() == 9);  // every table saw inserts, updates and deletes on this shard

  // A reshard: the bench tables route like the others (every row on exactly one new shard).
  auto r = emu.post("/reshard?shards=-40,40-80,80-c0,c0-");
  CHECK(r.find("-40") != std::string::npos);
  ds.add_reshard(60, {"-40", "40-80", "80-c0", "c0-"});
  for (const std::string sh : {"40-80", "c0-"}) {
    Stream cs(channel(emu), request(c.keyspace, sh, "", tables));
    for (std::size_t t = 0; t < tables.size(); ++t) {
      expect_table_copy(cs, ds, t, sh, 60, pos(ds, sh, 0));
    }
  }
}
