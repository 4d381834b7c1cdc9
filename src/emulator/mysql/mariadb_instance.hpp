// src/emulator/mysql: one throwaway MariaDB server (mariadbd) for tests, the demo and the
// emulator's MariaDB backend: a fresh data dir from mariadb-install-db, loopback TCP on a free
// port plus a unix socket, small memory settings, binlog ON in ROW format with full images and
// full metadata, GTID strict mode, one server_id / gtid_domain_id per instance.
// scripts/mariadb does the same from the shell.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "emulator/mysql/mysql_client.hpp"
#include "util/result.hpp"

namespace sv::emulator::mysql {

//! How to start one instance.
struct InstanceOptions {
  std::string dir;                      //!< holds data/, mysqld.sock, error.log; empty = a new temp dir
  uint16_t port = 0;                    //!< 0 = pick a free loopback port
  uint32_t server_id = 1;               //!< also the GTID server id of every transaction it writes
  uint32_t domain_id = 1;               //!< gtid_domain_id: one per shard keeps sequences separate
  std::string user = "root";            //!< account usable over TCP from 127.0.0.1 and the socket
  std::string password;                 //!< its password (empty = none); never logged
  bool remove_dir_on_stop = false;      //!< removed by the destructor; forced true for a temp dir
  std::vector<std::string> extra_args;  //!< appended to the mariadbd command line
};

//! A running (or stopped) mariadbd child process. Not copyable; stops in the destructor.
class MariaDbInstance {
 public:
  explicit MariaDbInstance(InstanceOptions options = {});
  ~MariaDbInstance();
  MariaDbInstance(const MariaDbInstance&) = delete;
  MariaDbInstance& operator=(const MariaDbInstance&) = delete;

  //! Installs the data dir if it has none, starts mariadbd and waits until it answers
  //! (bounded: 30 s). Reusing a dir keeps its data and binlogs (restart).
  Status start();
  //! Clean shutdown (SIGTERM, wait up to 30 s, then SIGKILL). Idempotent; keeps the dir,
  //! so start() again restarts on the same data.
  Status stop();
  bool running() const { return pid_ > 0; }

  uint16_t port() const { return port_; }
  const std::string& socket() const { return socket_; }
  const std::string& dir() const { return options_.dir; }
  uint32_t server_id() const { return options_.server_id; }
  uint32_t domain_id() const { return options_.domain_id; }
  pid_t pid() const { return pid_; }
  //! Wall time of the last start() (install + launch + first answer).
  std::chrono::milliseconds start_duration() const { return start_duration_; }

  //! The last `max_bytes` of the server's error log (for test failure messages).
  std::string error_log_tail(size_t max_bytes = 2000) const;

  //! TCP parameters for the configured account (what a client outside the process uses).
  ConnParams conn_params(std::string database = {}) const;
  //! Opens a new TCP connection as the configured account.
  Result<Connection> connect(std::string database = {}) const;

 private:
  Status install();
  Status launch();
  Status bootstrap_accounts();

  InstanceOptions options_;
  uint16_t port_ = 0;
  std::string socket_;
  pid_t pid_ = -1;
  std::chrono::milliseconds start_duration_{0};
};

//! A free TCP port on 127.0.0.1 (bound and released; a small race remains, start() retries).
Result<uint16_t> free_loopback_port();

}  // namespace sv::emulator::mysql
