// src/emulator/mysql: reads one MariaDB server's binlog from a GTID position with libmariadb's
// replication API (COM_BINLOG_DUMP in GTID mode), groups events per transaction (GTID event →
// rows → XID/COMMIT, or GTID + standalone DDL), decodes row images into query::Row values
// (binlog_decode.hpp) and keeps table schemas current across DDL (schema.hpp). Also the mapping
// between MariaDB GTIDs `domain-server-seq` and the MySQL56 positions the emulator hands out.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "emulator/backend.hpp"
#include "emulator/mysql/binlog_decode.hpp"
#include "emulator/mysql/mysql_client.hpp"
#include "emulator/mysql/schema.hpp"

struct st_mariadb_rpl;
struct st_mariadb_rpl_event;

namespace sv::emulator::mysql {

//! A MariaDB GTID.
struct MariaGtid {
  uint32_t domain = 0;
  uint32_t server = 0;
  uint64_t seq = 0;
  std::string to_string() const;  //!< `domain-server-seq`
  //! Parses `domain-server-seq` (a single GTID; empty string → error).
  static Result<MariaGtid> parse(std::string_view s);
  bool operator==(const MariaGtid&) const = default;
};

//! The shard's uuid in MySQL56 positions: a name-based (v5-style) uuid of "keyspace/shard",
//! stable across restarts so saved positions stay valid.
std::string shard_uuid(std::string_view keyspace, std::string_view shard);
//! `MySQL56/<uuid>:1-<seq>` (empty set for seq 0).
GtidSet position_for(std::string_view uuid, uint64_t seq);
//! The shard sequence a position stands for: the set must be empty or exactly `uuid:1-N`.
//! Anything else (other uuids, gaps) is a position this shard cannot serve: system_error.
Result<uint64_t> seq_of_position(const GtidSet& position, std::string_view uuid);
//! The shard sequence in a GTID list (BINLOG_GTID_POS, @@gtid_current_pos) for `domain`
//! (a comma-separated list of GTIDs; a missing domain = 0).
Result<uint64_t> seq_in_gtid_list(std::string_view list, uint32_t domain);

//! One committed transaction of the shard's domain.
struct BinlogTransaction {
  MariaGtid gtid;
  int64_t timestamp = 0;        //!< commit time (event header), Unix seconds
  std::vector<TableRows> rows;  //!< rows of tables in the watched database, binlog order
  bool is_ddl = false;          //!< a standalone statement (DDL) of the shard's domain
  std::string statement;        //!< the DDL text
  std::string ddl_database;     //!< the DDL's target database ("" when not parsed)
  std::string ddl_table;        //!< the DDL's target table ("" when not parsed)
  TableSchemaPtr new_schema;    //!< watched table after the DDL (nullptr: dropped/other db)
};

//! Reads transactions of one domain after a start sequence.
class BinlogReader {
 public:
  struct Options {
    ConnParams conn;
    std::shared_ptr<SchemaRegistry> schemas;  //!< the watched database and its schemas
    uint32_t domain_id = 1;
    uint32_t server_id = 1;                    //!< the source server's id (the GTIDs it wrote)
    uint64_t start_seq = 0;                    //!< return transactions with seq > start_seq
    std::string uuid;                          //!< the shard's MySQL56 server uuid (for MySQL-style error texts)
    std::chrono::milliseconds heartbeat{100};  //!< server heartbeat while idle (bounds next())
  };

  ~BinlogReader();
  BinlogReader(const BinlogReader&) = delete;
  BinlogReader& operator=(const BinlogReader&) = delete;

  //! Connects and starts the binlog dump. Errors: transient (server down), system (the
  //! position is not in the server's binlog, e.g. ahead of it or purged).
  static Result<std::unique_ptr<BinlogReader>> open(Options options);

  //! Blocks until the next transaction of the domain committed, or returns nullopt once
  //! `max_wait` passed without one (checked at server heartbeats, so +heartbeat at most).
  Result<std::optional<BinlogTransaction>> next(std::chrono::milliseconds max_wait);

  //! Sequence of the last transaction returned (start_seq before the first).
  uint64_t last_seq() const { return last_seq_; }

 private:
  explicit BinlogReader(Options o) : options_(std::move(o)), last_seq_(options_.start_seq) {}
  Status start();
  Status handle_rows(uint8_t type, std::string_view body, BinlogTransaction& txn);
  Status finish_ddl(BinlogTransaction& txn, std::string_view default_db);
  Result<TableSchemaPtr> schema_for(const TableMap& map);

  Options options_;
  Connection conn_;
  Connection schema_conn_;  // separate: the dump connection is busy streaming
  st_mariadb_rpl* rpl_ = nullptr;
  st_mariadb_rpl_event* event_ = nullptr;
  bool checksum_ = false;
  uint64_t last_seq_ = 0;
  std::map<uint64_t, TableMap> table_maps_;
};

}  // namespace sv::emulator::mysql
