// tests/emulator/test_mariadb_streams.cpp — vtgate-emulator --backend=mariadb releases a stream's
// MariaDB connections (its binlog dump and schema connections) when the stream ends while its
// shard waits to hand on events: the client cancels it, a fault ends it. Issue 19: the soak's
// shards answered "Too many connections" after ~100 syncs because such streams never let go.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "one_shard_mariadb.hpp"
#include "wait.hpp"

namespace {

constexpr int kStreams = 4;  // streams per scenario
constexpr int kRows = 200;   // transactions: far more than the server's 4-response channel holds

struct Shard : OneShardMariaDb {  // its `conn` is counted in the baseline of Threads_connected
  Shard() : OneShardMariaDb("sv-mariadb-streams") {
    exec("CREATE TABLE commerce.t (id BIGINT PRIMARY KEY, v VARCHAR(32))");
  }
  int threads_connected() {
    auto v = conn.query("SHOW STATUS LIKE 'Threads_connected'");
    REQUIRE(v.ok());
    REQUIRE(v->rows.size() == 1);
    return std::stoi(v->rows[0][1].value_or("-1"));
  }
  //! Waits (bounded) until Threads_connected satisfies `pred`; returns the last value seen.
  template <class P>
  int wait_threads(P pred, std::chrono::seconds limit) {
    int n = -1;
    sv::testing::wait_until(
        [&] {
          n = threads_connected();
          return pred(n);
        },
        limit, std::chrono::milliseconds(50));
    return n;
  }
  //! `kRows` inserts, each its own transaction, from id `first`.
  void insert_rows(int first) {
    for (int id = first; id < first + kRows; ++id)
      exec("INSERT INTO commerce.t VALUES (" + std::to_string(id) + ", 'row " + std::to_string(id) + "')");
  }
};

std::vector<std::unique_ptr<emu_test::Stream>> open_streams(const emu_test::Emulator& emu) {
  std::vector<std::unique_ptr<emu_test::Stream>> streams;
  for (int i = 0; i < kStreams; ++i)
    streams.push_back(std::make_unique<emu_test::Stream>(emu_test::channel(emu),
                                                         emu_test::request("commerce", "-", "current", {"t"}),
                                                         emu_test::ClientAuth{}, std::chrono::seconds(60)));
  return streams;
}

}  // namespace

TEST_CASE("mariadb backend: a stream ended while its shard waits to send closes its MariaDB connections") {
  Shard shard;
  // Nothing of the emulator yet: only the test's own connection.
  const int baseline = shard.threads_connected();
  emu_test::Emulator emu(
      {"--backend=mariadb", "--mariadb-shards=" + shard.shards_json, "--keyspace=commerce", "--log-level=warn"});
  int next_id = 1;

  // Each scenario: once the streams run, the writer of every stream is held (a stall) so its
  // shard fills the channel with the inserted transactions and waits in send; then the streams end
  // in one of the ways the soak ends them, and every connection they opened must be closed again.
  auto run = [&](const std::string& how, const std::string& stall, auto end_them) {
    CAPTURE(how);
    auto streams = open_streams(emu);
    // Each stream's shard reads the binlog through a dump connection and a schema connection.
    const int open = shard.wait_threads([&](int n) { return n >= baseline + 2 * kStreams; }, std::chrono::seconds(20));
    REQUIRE(open >= baseline + 2 * kStreams);
    emu.post(stall);
    shard.insert_rows(next_id);
    next_id += kRows;
    end_them(streams);
    const int after = shard.wait_threads([&](int n) { return n <= baseline; }, std::chrono::seconds(20));
    CHECK(after == baseline);
    emu.post("/fault/clear");
  };

  run("the client cancels", "/fault/stall?seconds=120", [&](auto& streams) {
    for (auto& s : streams) s->cancel();
    for (auto& s : streams) CHECK(s->drain().error_code() == grpc::StatusCode::CANCELLED);
  });
  run("the end-streams fault", "/fault/stall?seconds=120", [&](auto& streams) {
    emu.post("/fault/end-streams?mode=unavailable");
    for (auto& s : streams) CHECK(s->drain().error_code() == grpc::StatusCode::UNAVAILABLE);
  });
  // The first response (VGTID + OTHER: 2 events) went out before the stall; after it, one more
  // event and the stream ends, while its shard still has transactions to hand on.
  emu.post("/fault/end-after?events=3&mode=unavailable");
  run("the end-after fault once a stall is over", "/fault/stall?seconds=3", [&](auto& streams) {
    for (auto& s : streams) {
      std::size_t events = 0;
      CHECK(s->drain(&events).error_code() == grpc::StatusCode::UNAVAILABLE);
      CHECK(events == 3);
    }
  });
}

namespace {

//! A row image's cells as text ("NULL" for a null).
std::vector<std::string> cells(const query::Row& row) {
  std::vector<std::string> out;
  std::size_t off = 0;
  for (int i = 0; i < row.lengths_size(); ++i) {
    const auto len = row.lengths(i);
    out.push_back(len < 0 ? "NULL" : row.values().substr(off, static_cast<std::size_t>(len)));
    if (len > 0) off += static_cast<std::size_t>(len);
  }
  return out;
}

//! The next event of `type`, skipping others (bounded).
binlogdata::VEvent next_of(emu_test::Stream& s, binlogdata::VEventType type) {
  for (int i = 0; i < 200; ++i) {
    auto ev = s.must_next();
    if (ev.type() == type) return ev;
  }
  FAIL("no " << binlogdata::VEventType_Name(type) << " within 200 events");
  return {};
}

}  // namespace

TEST_CASE("mariadb backend: a select list streams those columns in copy and binlog; dropping one ends the stream") {
  Shard shard;
  shard.exec("ALTER TABLE commerce.t ADD COLUMN w INT");
  shard.exec("INSERT INTO commerce.t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', NULL)");
  emu_test::Emulator emu(
      {"--backend=mariadb", "--mariadb-shards=" + shard.shards_json, "--keyspace=commerce", "--log-level=warn"});
  auto req = emu_test::request("commerce", "-", "", {"t"});
  req.mutable_filter()->mutable_rules(0)->set_filter("SELECT `w`, `id` FROM `t`");
  emu_test::Stream s(emu_test::channel(emu), req, emu_test::ClientAuth{}, std::chrono::seconds(60));

  // Copy: FIELD in select order, ROWs of those columns, lastpk over the table's key.
  auto field = next_of(s, binlogdata::FIELD);
  REQUIRE(field.field_event().fields_size() == 2);
  CHECK(field.field_event().fields(0).name() == "w");
  CHECK(field.field_event().fields(1).name() == "id");
  std::vector<std::vector<std::string>> copied;
  for (int i = 0; i < 3; ++i) copied.push_back(cells(next_of(s, binlogdata::ROW).row_event().row_changes(0).after()));
  CHECK(copied == std::vector<std::vector<std::string>>{{"10", "1"}, {"20", "2"}, {"NULL", "3"}});
  auto vgtid = next_of(s, binlogdata::VGTID);
  REQUIRE(vgtid.vgtid().shard_gtids(0).table_p_ks_size() == 1);
  const auto& lastpk = vgtid.vgtid().shard_gtids(0).table_p_ks(0).lastpk();
  REQUIRE(lastpk.fields_size() == 1);
  CHECK(lastpk.fields(0).name() == "id");
  CHECK(cells(lastpk.rows(0)) == std::vector<std::string>{"3"});
  next_of(s, binlogdata::COPY_COMPLETED);

  // Binlog (the copy's FIELD still holds: same schema): the update's and the delete's images hold
  // the selected columns only.
  shard.exec("UPDATE commerce.t SET v = 'x', w = 11 WHERE id = 1");
  shard.exec("DELETE FROM commerce.t WHERE id = 2");
  auto update = next_of(s, binlogdata::ROW).row_event().row_changes(0);
  CHECK(cells(update.before()) == std::vector<std::string>{"10", "1"});
  CHECK(cells(update.after()) == std::vector<std::string>{"11", "1"});
  auto remove = next_of(s, binlogdata::ROW).row_event().row_changes(0);
  CHECK(cells(remove.before()) == std::vector<std::string>{"20", "2"});
  CHECK_FALSE(remove.has_after());

  // A DDL drops a selected column: the table's next rows cannot be planned.
  shard.exec("ALTER TABLE commerce.t DROP COLUMN w");
  shard.exec("INSERT INTO commerce.t VALUES (4, 'd')");
  const auto status = s.drain();
  CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(status.error_message().find("column w not found in table t") != std::string::npos);
}
