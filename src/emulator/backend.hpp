//! src/emulator/backend.hpp — the seam between the emulator's VStream server and a data backend.
//!
//! The server (src/emulator/vstream_server.*) owns everything vtgate-specific: request validation,
//! filter rules, the exact VStream event sequences (BEGIN/FIELD/VGTID/ROW/VGTID-with-lastpk/COMMIT,
//! COPY_COMPLETED per shard and the final empty one, catch-up, HEARTBEAT, JOURNAL, DDL), the merged
//! VGTID of all shards of a stream, ENUM/SET label↔index conversion, table-name prefixes, response
//! packing and faults. A backend only says what data exists and how it changes:
//!
//!  * a catalog: keyspaces, their serving shards, table schemas (query.Field lists exactly as
//!    vtgate would send them in a FIELD event, plus the PK column indexes);
//!  * per (keyspace, shard, table): a copy cursor = a consistent snapshot at one GTID position,
//!    read in PK order after an optional lastpk, in batches;
//!  * per (keyspace, shard): a replication cursor = the committed transactions after a GTID
//!    position, one at a time (rows with before/after images, DDL with the new schema, OTHER,
//!    JOURNAL on resharding), each with the position reached after it;
//!  * the current position of a shard.
//!
//! Contract (every backend must keep it; the server relies on it and never re-checks):
//!  1. Threading: every call is made on the server's single io_context thread, and every coroutine
//!     is awaited there. A backend needs no locks for state touched only from these calls; blocking
//!     work (a MySQL query, a binlog read) must be moved off that thread (e.g. asio::post to a
//!     pool and back) so one slow shard never stalls the others. Calls never block for long.
//!  2. Values: a row is a query::Row in the table's column order, values in MySQL text-protocol form
//!     (vstream-reference.md §4): ints as ASCII decimal, DECIMAL with exactly `scale` digits,
//!     DATETIME/TIMESTAMP(fsp) with exactly fsp fraction digits, TIMESTAMP in UTC, BIT as raw
//!     big-endian bytes, JSON as text. ENUM and SET are ALWAYS labels (SET comma-joined in
//!     definition order) in both copy and replication; the server converts to 1-based index /
//!     bitmask when it emulates a pre-v20 vtgate. NULL = length -1.
//!  3. Keys: lastpk rows hold only the PK columns, in TableSchema::pk_columns order, same encoding.
//!     Copy cursors return rows with PK strictly greater than lastpk, ascending in MySQL order
//!     (numeric for ints, bytewise for binary, collation order for text — synthetic data only uses
//!     ASCII PKs where this is bytewise).
//!  4. Positions: GtidSet values in the MySQL56 flavor (one uuid per shard source server is
//!     typical). A copy snapshot sees exactly the transactions contained in its position. A
//!     replication cursor opened at P returns every transaction not contained in P, in commit
//!     order, each with `position` = P plus all transactions returned so far (so a client resuming
//!     from any returned position misses nothing and repeats nothing).
//!  5. Schemas: TableSchema objects are immutable and shared; a DDL produces a NEW TableSchema
//!     with a higher `version`. Every TableRows names the schema its rows are encoded with, so the
//!     server knows when a FIELD event must be (re)sent.
//!  6. Errors are values (sv::Error). The server maps them to gRPC statuses the way vtgate surfaces
//!     tablet errors: config_error → INVALID_ARGUMENT, transient_error → UNAVAILABLE,
//!     system_error → UNKNOWN. Unknown keyspace/shard/table and malformed positions are rejected by
//!     the server before the backend is called, using catalog(); a backend returns system_error
//!     for a position it cannot serve (purged, unknown server uuid, ahead of the source) — MySQL's
//!     own binlog-dump errors, which vtgate reports as UNKNOWN.
//!  7. Cursors are destroyed by the server on the io_context thread, never while one of their
//!     coroutines is still running; destruction must release any snapshot/connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "emulator/gtid.hpp"
#include "query.pb.h"
#include "util/result.hpp"

namespace sv::emulator {

//! One table's shape. Immutable once published (share through TableSchemaPtr).
struct TableSchema {
  std::string name;                     //!< table name without keyspace
  std::vector<query::Field> fields;     //!< column order = row value order; name, type, table,
                                        //!< org_table, database, org_name, column_length, charset,
                                        //!< decimals, flags (MySqlFlag bits), column_type all set
  std::vector<std::size_t> pk_columns;  //!< indexes into fields, in PK order (never empty)
  std::uint64_t version = 1;            //!< increases with every DDL on this table
};
using TableSchemaPtr = std::shared_ptr<const TableSchema>;

//! One keyspace as the backend serves it now.
struct KeyspaceInfo {
  std::string name;
  std::vector<std::string> shards;     //!< serving shards in key-range order: "-80","80-" or "0"
  std::vector<TableSchemaPtr> tables;  //!< current schemas, sorted by name
};

//! A shard and the position a client should start it from (reshard targets).
struct ShardStart {
  std::string keyspace;
  std::string shard;
  GtidSet position;
};

//! One row change in a replication transaction (binlog ROWS event entry).
struct RowChange {
  std::optional<query::Row> before;  //!< set for update and delete
  std::optional<query::Row> after;   //!< set for insert and update
};

//! Consecutive row changes of one table inside a transaction (one binlog ROWS event).
struct TableRows {
  TableSchemaPtr schema;  //!< the schema these rows are encoded with
  std::vector<RowChange> changes;
};

//! A reshard/migration marker seen in the source's binlog (Vitess writes it to the journal table).
struct JournalInfo {
  std::int64_t id = 0;
  bool shards_migration = true;               //!< SHARDS (Reshard) vs TABLES (MoveTables)
  std::vector<std::string> tables;            //!< TABLES migration only
  std::vector<ShardStart> targets;            //!< new shards and their start positions
  std::vector<std::string> participants;      //!< old shards of the keyspace that take part
  std::vector<std::string> source_workflows;  //!< informational
};

//! One committed transaction (or DDL / OTHER / journal) of one shard.
struct Transaction {
  enum class Kind {
    rows,     //!< DML: `rows` non-empty
    ddl,      //!< schema change: `statement`, and `new_schema` of the changed table
    other,    //!< position advance without data the stream cares about
    journal,  //!< resharding marker: `journal`; the shard emits nothing after it
  };
  Kind kind = Kind::rows;
  GtidSet position;                    //!< source position after this transaction
  std::int64_t timestamp = 0;          //!< commit time, Unix seconds
  std::vector<TableRows> rows;         //!< Kind::rows, in binlog order
  std::string statement;               //!< Kind::ddl: the SQL text
  TableSchemaPtr new_schema;           //!< Kind::ddl: the changed table after the DDL
  std::optional<JournalInfo> journal;  //!< Kind::journal
};

//! A consistent snapshot of one table on one shard, read in PK order in batches.
class CopyCursor {
 public:
  virtual ~CopyCursor() = default;
  //! The position the snapshot was taken at (contains exactly the transactions it reflects).
  virtual const GtidSet& position() const = 0;
  //! The table's schema at the snapshot; rows from next() use it.
  virtual const TableSchemaPtr& schema() const = 0;
  //! Up to max_rows next rows in PK order; an empty vector means the table is done (and stays
  //! done). Never returns a row twice.
  virtual boost::asio::awaitable<sv::Result<std::vector<query::Row>>> next(std::size_t max_rows) = 0;
};

//! The transactions of one shard after a start position, in commit order.
class ReplicationCursor {
 public:
  virtual ~ReplicationCursor() = default;
  //! The next transaction, or std::nullopt when none committed within `max_wait` (the server
  //! then sends heartbeats, checks faults and cancellation, and calls again). After a
  //! Kind::journal transaction the cursor only ever returns nullopt.
  virtual boost::asio::awaitable<sv::Result<std::optional<Transaction>>> next(std::chrono::milliseconds max_wait) = 0;
};

//! A data source behind the emulated vtgate. See the contract at the top of this file.
class Backend {
 public:
  virtual ~Backend() = default;

  //! Short name for logs ("synthetic", "mariadb").
  virtual std::string name() const = 0;

  //! The catalog now. Cheap; the server calls it for every request it validates.
  virtual std::vector<KeyspaceInfo> catalog() const = 0;

  //! The shard's position now (what gtid "current" starts from).
  virtual boost::asio::awaitable<sv::Result<GtidSet>> current_position(const std::string& keyspace,
                                                                       const std::string& shard) = 0;

  //! Takes a snapshot of `table` on `shard` now and positions it after `lastpk` (PK columns only;
  //! nullptr = from the first row).
  virtual boost::asio::awaitable<sv::Result<std::unique_ptr<CopyCursor>>> open_copy(const std::string& keyspace,
                                                                                    const std::string& shard,
                                                                                    const std::string& table,
                                                                                    const query::Row* lastpk) = 0;

  //! Opens the shard's change stream after `from` (every transaction not contained in it).
  virtual boost::asio::awaitable<sv::Result<std::unique_ptr<ReplicationCursor>>> open_replication(
      const std::string& keyspace, const std::string& shard, const GtidSet& from) = 0;

  //! True when open_copy at the same (shard, table, position, lastpk) always yields the same rows,
  //! so the server may cache encoded ROW events (pre-encoded mode). Synthetic: true.
  virtual bool deterministic_copy() const { return false; }

  // ---- fault hooks (optional; the control API reports "unsupported" when a backend lacks them)

  //! Splits or merges `keyspace` into `new_shards`: each old shard's replication cursor ends with
  //! a Kind::journal transaction naming the targets and start positions; catalog() then lists
  //! the new shards. Returns the targets.
  virtual sv::Result<std::vector<ShardStart>> reshard(const std::string& keyspace,
                                                      const std::vector<std::string>& new_shards) {
    (void)keyspace;
    (void)new_shards;
    return sv::config_error("reshard is not supported by the " + name() + " backend");
  }

  //! Applies a schema change to `table` on every shard (each shard logs a Kind::ddl
  //! transaction; later rows use the new schema). Returns the statement.
  virtual sv::Result<std::string> alter_table(const std::string& keyspace, const std::string& table) {
    (void)keyspace;
    (void)table;
    return sv::config_error("DDL is not supported by the " + name() + " backend");
  }
};

}  // namespace sv::emulator
