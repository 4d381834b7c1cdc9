// src/emulator/mysql: the emulator's MariaDB backend (emulator/backend.hpp): one MariaDB server
// per shard, the keyspace = one database of the same name on every shard. Copy = consistent
// snapshot in PK order (SnapshotReader); replication = the shard's binlog (BinlogReader);
// positions = MySQL56/<shard uuid>:1-<seq of the shard's gtid_domain_id>. Blocking libmariadb
// calls run on the backend's own thread pool and complete back on the caller's executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <string>
#include <vector>

#include "emulator/backend.hpp"
#include "emulator/mysql/mysql_client.hpp"
#include "emulator/mysql/schema.hpp"

namespace sv::emulator::mysql {

//! One shard: where its MariaDB is and which GTIDs it writes.
struct MariaDbShard {
  std::string name;        //!< Vitess shard name: "-80", "80-", "0", ...
  ConnParams conn;         //!< database field is ignored (the keyspace database is used)
  uint32_t domain_id = 1;  //!< the server's gtid_domain_id
  uint32_t server_id = 1;  //!< the server's server_id
};

struct MariaDbBackendOptions {
  std::string keyspace;                             //!< also the MariaDB database name on every shard
  std::vector<MariaDbShard> shards;                 //!< in key-range order
  std::size_t threads = 16;                         //!< pool for blocking calls (one per open cursor + spare)
  std::chrono::milliseconds heartbeat{100};         //!< binlog heartbeat: bounds ReplicationCursor::next
  std::chrono::milliseconds catalog_refresh{1000};  //!< period of the catalog refresh (0 = off)
};

class MariaDbBackend final : public Backend {
 public:
  //! `ex` is the server's io executor (completions come back there).
  MariaDbBackend(boost::asio::any_io_executor ex, MariaDbBackendOptions options);
  ~MariaDbBackend() override;

  //! Loads every shard's schemas (blocking; call before serving) and starts the periodic
  //! catalog refresh on `ex`, which picks up tables created or altered while no stream runs.
  Status start();
  //! Re-reads the schemas of every shard now.
  boost::asio::awaitable<Status> refresh();

  //! The uuid of a shard's MySQL56 positions.
  std::string uuid_of(const std::string& shard) const;

  std::string name() const override { return "mariadb"; }
  std::vector<KeyspaceInfo> catalog() const override;
  boost::asio::awaitable<Result<GtidSet>> current_position(const std::string& keyspace,
                                                           const std::string& shard) override;
  boost::asio::awaitable<Result<std::unique_ptr<CopyCursor>>> open_copy(const std::string& keyspace,
                                                                        const std::string& shard,
                                                                        const std::string& table,
                                                                        const query::Row* lastpk) override;
  boost::asio::awaitable<Result<std::unique_ptr<ReplicationCursor>>> open_replication(const std::string& keyspace,
                                                                                      const std::string& shard,
                                                                                      const GtidSet& from) override;

  //! Runs `job` on the pool and resumes the awaiting coroutine on its own executor.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&>> offload(F job);

 private:
  struct ShardState {
    MariaDbShard config;
    std::string uuid;
    std::shared_ptr<SchemaRegistry> schemas;
  };
  const ShardState* find(const std::string& keyspace, const std::string& shard) const;
  ConnParams params(const ShardState& s) const;
  boost::asio::awaitable<void> refresh_loop(std::shared_ptr<bool> alive);

  boost::asio::any_io_executor ex_;
  MariaDbBackendOptions options_;
  std::vector<ShardState> shards_;
  boost::asio::thread_pool pool_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<boost::asio::steady_timer> refresh_timer_;
};

}  // namespace sv::emulator::mysql

#include "emulator/mysql/mariadb_backend_impl.hpp"
