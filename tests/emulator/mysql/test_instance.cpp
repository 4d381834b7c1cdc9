// Integration: MariaDbInstance starts a real mariadbd quickly, with the replication settings the
// MariaDB backend relies on, and stops it cleanly.
#include <doctest/doctest.h>

#include <filesystem>

#include "emulator/mysql/mariadb_instance.hpp"

using namespace sv::emulator::mysql;

namespace {
InstanceOptions opts(uint32_t id, std::string password = {}) {
  InstanceOptions o;
  o.server_id = id;
  o.domain_id = id;
  o.password = std::move(password);
  return o;
}
}  // namespace

TEST_CASE("MariaDbInstance starts with binlog settings, answers, restarts and stops") {
  MariaDbInstance db(opts(7, "s3cret"));
  auto st = db.start();
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message + " " + st.error().internal));
  MESSAGE("mariadb start (install + launch + answer) took ", db.start_duration().count(), " ms");
  CHECK(db.start_duration().count() < 10000);
  CHECK(db.port() > 0);
  CHECK(std::filesystem::exists(db.socket()));

  auto c = db.connect();
  REQUIRE(c.ok());
  auto rs = c->query(
      "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@gtid_strict_mode, "
      "@@server_id, @@gtid_domain_id, @@performance_schema, @@innodb_buffer_pool_size, @@gtid_current_pos");
  REQUIRE(rs.ok());
  REQUIRE(rs->rows.size() == 1);
  const auto& r = rs->rows[0];
  CHECK(*r[0] == "1");
  CHECK(*r[1] == "ROW");
  CHECK(*r[2] == "FULL");
  CHECK(*r[3] == "FULL");
  CHECK(*r[4] == "1");
  CHECK(*r[5] == "7");
  CHECK(*r[6] == "7");
  CHECK(*r[7] == "0");
  CHECK(*r[8] == "16777216");
  CHECK(*r[9] == "");  // account bootstrap is not binlogged: positions start at the first user write

  // Wrong password is a config error.
  auto p = db.conn_params();
  p.password = "wrong";
  auto bad = Connection::open(p);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().type == sv::FailureType::config_error);

  REQUIRE(c->exec("CREATE DATABASE ks").ok());
  REQUIRE(c->exec("CREATE TABLE ks.t (id INT PRIMARY KEY)").ok());
  REQUIRE(c->exec("INSERT INTO ks.t VALUES (1),(2)").ok());
  c->close();

  // Restart on the same dir keeps data and the GTID sequence.
  const auto dir = db.dir();
  REQUIRE(db.stop().ok());
  CHECK_FALSE(db.running());
  REQUIRE(db.start().ok());
  auto c2 = db.connect();
  REQUIRE(c2.ok());
  auto n = c2->scalar("SELECT COUNT(*) FROM ks.t");
  REQUIRE(n.ok());
  CHECK(**n == "2");
  auto pos = c2->scalar("SELECT @@gtid_current_pos");
  REQUIRE(pos.ok());
  CHECK(**pos == "7-7-3");
  c2->close();
  REQUIRE(db.stop().ok());
  CHECK(std::filesystem::exists(dir));  // kept until the instance object goes away
}

TEST_CASE("two instances run side by side on different ports") {
  MariaDbInstance a(opts(1)), b(opts(2));
  REQUIRE(a.start().ok());
  REQUIRE(b.start().ok());
  CHECK(a.port() != b.port());
  auto ca = a.connect();
  auto cb = b.connect();
  REQUIRE(ca.ok());
  REQUIRE(cb.ok());
  CHECK(**ca->scalar("SELECT @@server_id") == "1");
  CHECK(**cb->scalar("SELECT @@server_id") == "2");
}
