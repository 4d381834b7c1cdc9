// tests/emulator/test_mariadb_copy.cpp — vtgate-emulator --backend=mariadb at the copy/catch-up
// boundary: a delete of a row the copy already sent reaches the client exactly once, whether it
// commits while the copy runs, or while a copy is interrupted and resumed from gtid + lastpk, also
// when the resumed stream copies another table first (issue 19's open finding: a delete of a
// copied row that never arrived).
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "one_shard_mariadb.hpp"

namespace {

//! One MariaDB shard "-" with tables commerce.<name> (id BIGINT PRIMARY KEY, v VARCHAR) holding
//! ids 1..10, and an emulator in front of it whose copy batches hold at most 4 rows.
struct Cluster : OneShardMariaDb {
  std::unique_ptr<emu_test::Emulator> emu;

  explicit Cluster(const std::vector<std::string>& tables) : OneShardMariaDb("sv-mariadb-copy") {
    for (const auto& t : tables) {
      exec("CREATE TABLE commerce." + t + " (id BIGINT PRIMARY KEY, v VARCHAR(32))");
      std::string rows;
      for (int id = 1; id <= 10; ++id) rows += (id > 1 ? "," : "") + ("(" + std::to_string(id) + ", 'r')");
      exec("INSERT INTO commerce." + t + " VALUES " + rows);
    }
    // A packet of 1 byte: every copy batch is one read of 4 rows (vstream_copy.cpp asks for 4
    // rows while it knows no row size).
    emu = std::make_unique<emu_test::Emulator>(
        std::vector<std::string>{"--backend=mariadb", "--mariadb-shards=" + shards_json, "--keyspace=commerce",
                                 "--log-level=warn", "--copy-packet-bytes=1"});
  }
  std::unique_ptr<emu_test::Stream> stream(const vtgate::VStreamRequest& req) const {
    return std::make_unique<emu_test::Stream>(emu_test::channel(*emu), req, emu_test::ClientAuth{},
                                              std::chrono::seconds(60));
  }
};

std::string first_value(const query::Row& r) {
  REQUIRE(r.lengths_size() > 0);
  REQUIRE(r.lengths(0) >= 0);
  return r.values().substr(0, static_cast<std::size_t>(r.lengths(0)));
}

std::string bare(const std::string& table) {
  const auto dot = table.find('.');
  return dot == std::string::npos ? table : table.substr(dot + 1);
}

//! What a client makes of a stream's ROW events, per "table/id": copied rows (no before image,
//! no timestamp: the copy phase), inserts/updates and deletes of the replication phases.
struct Seen {
  std::map<std::string, int> copied, changed, deleted;
  std::string last_gtid;
  binlogdata::ShardGtid last_vgtid;
  void take(const binlogdata::VEvent& ev) {
    if (ev.type() == binlogdata::VGTID) {
      REQUIRE(ev.vgtid().shard_gtids_size() == 1);
      last_vgtid = ev.vgtid().shard_gtids(0);
      last_gtid = last_vgtid.gtid();
    }
    if (ev.type() != binlogdata::ROW) return;
    const std::string table = bare(ev.row_event().table_name());
    for (const auto& rc : ev.row_event().row_changes()) {
      if (!rc.has_after()) {
        ++deleted[table + "/" + first_value(rc.before())];
      } else if (!rc.has_before() && ev.timestamp() == 0) {
        ++copied[table + "/" + first_value(rc.after())];
      } else {
        ++changed[table + "/" + first_value(rc.after())];
      }
    }
  }
};

//! Reads up to the stream's last COPY_COMPLETED (the one without keyspace and shard).
void read_copy(emu_test::Stream& s, Seen& seen) {
  for (int i = 0; i < 500; ++i) {
    auto ev = s.must_next();
    seen.take(ev);
    if (ev.type() == binlogdata::COPY_COMPLETED && ev.shard().empty()) return;
  }
  FAIL("no final COPY_COMPLETED within 500 events");
}

//! Commits a marker insert into `table` and reads until its ROW: whatever the stream sends before
//! it (after what was read so far) is taken into `seen`, so a late or repeated event shows.
void read_until_marker(Cluster& c, emu_test::Stream& s, Seen& seen, const std::string& table) {
  c.exec("INSERT INTO commerce." + table + " VALUES (1000, 'marker')");
  for (int i = 0; i < 500; ++i) {
    auto ev = s.must_next();
    seen.take(ev);
    if (seen.changed.count(table + "/1000")) return;
  }
  FAIL("the marker row did not arrive within 500 events");
}

std::map<std::string, int> ids(const std::string& table, std::vector<int> list) {
  std::map<std::string, int> out;
  for (int id : list) out[table + "/" + std::to_string(id)] = 1;
  return out;
}

//! Reads a first copy up to the VGTID of its first batch (lastpk 4) and returns that VGTID.
binlogdata::ShardGtid first_batch_vgtid(emu_test::Stream& s, const std::string& table) {
  for (int i = 0; i < 100; ++i) {
    auto ev = s.must_next();
    if (ev.type() != binlogdata::VGTID) continue;
    const auto& sg = ev.vgtid().shard_gtids(0);
    for (const auto& pk : sg.table_p_ks()) {
      if (pk.table_name() == table) {
        REQUIRE(pk.lastpk().rows_size() == 1);
        CHECK(first_value(pk.lastpk().rows(0)) == "4");
        return sg;
      }
    }
  }
  FAIL("no VGTID with a lastpk of " << table);
  return {};
}

}  // namespace

TEST_CASE("mariadb backend: a delete of a copied row committed during the copy arrives once, after COPY_COMPLETED") {
  Cluster c({"t"});
  auto s = c.stream(emu_test::request("commerce", "-", "", {"t"}));
  (void)first_batch_vgtid(*s, "t");               // the snapshot is open and rows 1-4 reached the client
  c.exec("DELETE FROM commerce.t WHERE id = 2");  // copied in the first batch
  c.exec("DELETE FROM commerce.t WHERE id = 9");  // in the snapshot, not sent yet
  c.exec("BEGIN");
  c.exec("DELETE FROM commerce.t WHERE id = 3");
  c.exec("UPDATE commerce.t SET v = 'u' WHERE id = 5");
  c.exec("COMMIT");
  Seen seen;
  read_copy(*s, seen);
  // The rest of the snapshot (rows 5-10, 9 included): the deletes came after it.
  CHECK(seen.copied == ids("t", {5, 6, 7, 8, 9, 10}));
  CHECK(seen.deleted.empty());
  read_until_marker(c, *s, seen, "t");
  CHECK(seen.deleted == ids("t", {2, 3, 9}));
  CHECK(seen.changed == ids("t", {5, 1000}));
}

TEST_CASE("mariadb backend: a copy resumed from gtid + lastpk streams the deletes of copied rows once") {
  Cluster c({"t"});
  binlogdata::ShardGtid saved;
  {
    auto first = c.stream(emu_test::request("commerce", "-", "", {"t"}));
    saved = first_batch_vgtid(*first, "t");
    first->cancel();
  }
  c.exec("DELETE FROM commerce.t WHERE id = 2");  // copied (<= lastpk 4)
  c.exec("DELETE FROM commerce.t WHERE id = 7");  // not copied yet: the resumed copy leaves it out
  c.exec("BEGIN");
  c.exec("DELETE FROM commerce.t WHERE id = 1");
  c.exec("INSERT INTO commerce.t VALUES (11, 'n')");
  c.exec("UPDATE commerce.t SET v = 'u' WHERE id = 3");
  c.exec("COMMIT");
  auto req = emu_test::request("commerce", "-", saved.gtid(), {"t"});
  *req.mutable_vgtid()->mutable_shard_gtids(0)->mutable_table_p_ks() = saved.table_p_ks();
  auto s = c.stream(req);
  Seen seen;
  read_copy(*s, seen);
  // Catch-up: the changes of rows 1-4 since the saved position; then rows after 4 as they are now.
  CHECK(seen.deleted == ids("t", {1, 2}));
  CHECK(seen.changed == ids("t", {3}));
  CHECK(seen.copied == ids("t", {5, 6, 8, 9, 10, 11}));
  read_until_marker(c, *s, seen, "t");
  CHECK(seen.deleted == ids("t", {1, 2}));
  CHECK(seen.changed == ids("t", {3, 1000}));
}

TEST_CASE("mariadb backend: a resumed copy streams the deletes of its copied rows while it copies an earlier table") {
  // Two tables in one stream: a copied whole, b interrupted after its first batch. The resumed
  // stream copies a again first (vttablet copies every selected table in name order) and b's
  // changes since the saved position must pass during a's catch-up: b has a lastpk. Before the
  // fix the emulator passed only the current table's, so b's delete of row 2 never arrived.
  Cluster c({"a", "b"});
  binlogdata::ShardGtid saved;
  {
    auto first = c.stream(emu_test::request("commerce", "-", "", {"a", "b"}));
    saved = first_batch_vgtid(*first, "b");
    first->cancel();
  }
  REQUIRE(saved.table_p_ks_size() == 1);          // a is complete: only b's lastpk
  c.exec("DELETE FROM commerce.b WHERE id = 2");  // copied (<= lastpk 4)
  c.exec("DELETE FROM commerce.b WHERE id = 6");  // not copied yet
  c.exec("UPDATE commerce.a SET v = 'u' WHERE id = 1");
  auto req = emu_test::request("commerce", "-", saved.gtid(), {"a", "b"});
  *req.mutable_vgtid()->mutable_shard_gtids(0)->mutable_table_p_ks() = saved.table_p_ks();
  auto s = c.stream(req);
  Seen seen;
  read_copy(*s, seen);
  CHECK(seen.deleted == ids("b", {2}));
  // a is copied again from a new snapshot (its update is in it), b after its lastpk.
  std::map<std::string, int> copied = ids("a", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  for (const auto& [k, n] : ids("b", {5, 7, 8, 9, 10})) copied[k] = n;
  CHECK(seen.copied == copied);
  CHECK(seen.changed.empty());
  read_until_marker(c, *s, seen, "b");
  CHECK(seen.deleted == ids("b", {2}));
  CHECK(seen.changed == ids("b", {1000}));
}
