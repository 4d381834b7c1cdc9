// tests/emulator/one_shard_mariadb.hpp — one MariaDB server on a temporary directory as the
// emulator's only shard "-": database `commerce`, server id 1, GTID domain 1; the shards.json that
// `vtgate-emulator --backend=mariadb --mariadb-shards=` reads, and the test's own connection.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <string>

#include "emulator/mysql/mariadb_instance.hpp"
#include "temp_dir.hpp"

struct OneShardMariaDb {
  sv::testing::TempDir dir;  // shards.json
  std::unique_ptr<sv::emulator::mysql::MariaDbInstance> db;
  sv::emulator::mysql::Connection conn;  // the test's own connection (one of the server's threads)
  std::string shards_json;

  explicit OneShardMariaDb(const std::string& dir_prefix) : dir(dir_prefix) {
    sv::emulator::mysql::InstanceOptions o;
    o.server_id = 1;
    o.domain_id = 1;
    db = std::make_unique<sv::emulator::mysql::MariaDbInstance>(o);
    auto st = db->start();
    REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error().message));
    auto c = db->connect();
    REQUIRE(c.ok());
    conn = std::move(*c);
    exec("CREATE DATABASE commerce");
    shards_json = dir / "shards.json";
    std::ofstream(shards_json) << R"([{"shard":"-","host":"127.0.0.1","port":)" << db->port() << R"(,"user":")"
                               << db->conn_params().user << R"(","password":")" << db->conn_params().password
                               << R"(","server_id":1,"gtid_domain_id":1}])";
  }

  void exec(const std::string& sql) {
    auto st = conn.exec(sql);
    REQUIRE_MESSAGE(st.ok(), sql << ": " << (st.ok() ? std::string() : st.error().message));
  }
};
