// src/emulator/mysql: the copy side of the MariaDB backend: one table's rows in primary-key
// order from a consistent snapshot (START TRANSACTION WITH CONSISTENT SNAPSHOT), in batches
// after a lastpk, together with the binlog GTID position of that snapshot
// (Binlog_snapshot_file/position mapped with BINLOG_GTID_POS), so copy + binlog from that
// position lose and double nothing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "emulator/backend.hpp"
#include "emulator/mysql/mysql_client.hpp"
#include "emulator/mysql/schema.hpp"

namespace sv::emulator::mysql {

//! An open snapshot of one table (holds its own connection and transaction).
class SnapshotReader {
 public:
  //! Opens a snapshot. `lastpk` holds the PK columns only (schema pk order) or is nullptr.
  static Result<std::unique_ptr<SnapshotReader>> open(const ConnParams& conn, std::shared_ptr<SchemaRegistry> schemas,
                                                      const std::string& table, uint32_t domain_id,
                                                      const query::Row* lastpk);

  //! The snapshot's sequence in the shard's GTID domain (0 = no transaction yet).
  uint64_t snapshot_seq() const { return seq_; }
  //! The MariaDB GTID list of the snapshot (BINLOG_GTID_POS of its binlog file/offset).
  const std::string& snapshot_gtid_pos() const { return gtid_pos_; }
  const TableSchemaPtr& schema() const { return schema_; }
  //! Up to max_rows rows after the last returned (or lastpk); empty = done.
  Result<std::vector<query::Row>> next(size_t max_rows);
  //! The PK columns of the last returned row (what a VGTID's lastpk carries), or nullopt.
  const std::optional<query::Row>& lastpk() const { return lastpk_; }

 private:
  SnapshotReader() = default;
  std::string where_after(const query::Row& pk);

  Connection conn_;
  std::string database_;
  TableSchemaPtr schema_;
  uint64_t seq_ = 0;
  std::string gtid_pos_;
  std::optional<query::Row> lastpk_;
  bool done_ = false;
};

//! SQL literal for a value of field `f` (ints bare, binary as X'..', others quoted+escaped).
std::string sql_literal(Connection& conn, const query::Field& f, const std::string& value);

}  // namespace sv::emulator::mysql
