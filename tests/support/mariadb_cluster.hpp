// tests/support: real MariaDB shards behind `vtgate-emulator --backend=mariadb` (its VStream
// server and MySQL front): one mariadbd per shard (emulator/mysql's MariaDbInstance, a private
// data directory, stopped with the object), each with the `commerce` database and the account
// vt/vtpass. Routing rows to shards is the test's business (as with Vitess). Tests that use it
// link emulator_mysql. Failures throw std::runtime_error.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "emulator.hpp"
#include "emulator/mysql/mariadb_instance.hpp"
#include "files.hpp"
#include "temp_dir.hpp"

namespace sv::testing {

class MariaDbCluster {
 public:
  //! Starts the shards and creates the `commerce` database on each; then create the schema with
  //! sql() and call start_emulator().
  explicit MariaDbCluster(std::vector<std::string> shard_names = {"-80", "80-"})
      : dir("sv-mariadb"), names(std::move(shard_names)) {
    std::string json = "[";
    for (std::size_t i = 1; i <= names.size(); ++i) {
      sv::emulator::mysql::InstanceOptions o;
      o.server_id = static_cast<std::uint32_t>(i);
      o.domain_id = static_cast<std::uint32_t>(i);
      o.user = "vt";
      o.password = "vtpass";
      auto& db = *shards.emplace_back(std::make_unique<sv::emulator::mysql::MariaDbInstance>(o));
      if (auto st = db.start(); !st.ok()) throw std::runtime_error("mariadbd did not start: " + st.error().message);
      sql(static_cast<int>(i - 1), "CREATE DATABASE commerce");
      json += std::string(i == 1 ? "" : ",") + R"({"shard":")" + names[i - 1] + R"(","host":"127.0.0.1","port":)" +
              std::to_string(db.port()) + R"(,"user":"vt","password":"vtpass","server_id":)" + std::to_string(i) +
              R"(,"gtid_domain_id":)" + std::to_string(i) + "}";
    }
    write_file(dir.file("shards.json"), json + "]");
  }

  //! Starts the emulator on the shards (new ports) and waits until it serves.
  void start_emulator() {
    emulator.reset();
    std::vector<std::string> flags{"--backend=mariadb",   "--mariadb-shards=" + dir.file("shards.json"),
                                   "--keyspace=commerce", "--user=vt",
                                   "--password=vtpass",   "--log-level=warn"};
    flags.insert(flags.end(), emulator_flags.begin(), emulator_flags.end());
    emulator.emplace(flags);
    grpc_port = emulator->grpc_port();
    mysql_port = emulator->mysql_port();
  }
  //! A new emulator process on the same shards (new ports): nothing of the old one survives.
  void restart_emulator() {
    if (emulator) emulator->kill_now();
    start_emulator();
  }
  //! Runs one statement on a shard (index into names).
  void sql(int shard, const std::string& statement) {
    auto c = shards[static_cast<std::size_t>(shard)]->connect();
    if (!c.ok()) throw std::runtime_error("cannot connect to shard " + names[static_cast<std::size_t>(shard)]);
    if (auto st = c->exec(statement); !st.ok()) throw std::runtime_error(statement + ": " + st.error().message);
  }
  //! The connector config for the emulator; `extra` = more members ("k":v,...), may be empty.
  std::string config(const std::string& extra = "") const {
    return R"({"host":"127.0.0.1","database":"commerce","username":"vt","password":"vtpass","grpc_port":)" +
           std::to_string(grpc_port) + R"(,"mysql_port":)" + std::to_string(mysql_port) + R"(,"tls_mode":"disabled")" +
           (extra.empty() ? "" : "," + extra) + "}";
  }

  TempDir dir;
  std::vector<std::string> names;  //!< shard names in key-range order
  std::vector<std::unique_ptr<sv::emulator::mysql::MariaDbInstance>> shards;
  std::optional<EmulatorProcess> emulator;
  int grpc_port = 0, mysql_port = 0;
  std::vector<std::string> emulator_flags;  //!< extra flags for every emulator start (e.g. TLS)
};

}  // namespace sv::testing
