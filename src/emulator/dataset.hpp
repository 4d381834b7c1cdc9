//! src/emulator/dataset.hpp — the synthetic dataset: a pure, deterministic description of every
//! table, row, cell, write and shard of the emulator's synthetic backend.
//!
//! Tests of any subsystem can build the same Dataset from the same DatasetConfig and compute the
//! exact expected value of any cell at any point of the write history, without a server.
//!
//! Model
//!  * Tables (fixed shapes, pick any subset): `all_types` (every MySQL type family), `customers`
//!    (a typical narrow table), `order_items` (composite PK), and the benchmark's row shapes
//!    `bench_narrow` (3 columns), `bench_typical` (10 mixed columns, ~350 B per RECORD line) and
//!    `bench_wide` (50 columns: every type family, more sizes, precisions and charsets). Each row
//!    has an integer row key k >= 1; PK columns are monotonic in k, so PK order == k order.
//!      <table>.id = k, order_items (order_id, line) = ((k-1)/4+1, (k-1)%4+1).
//!  * Initially table t has rows k = 1..rows, all at generation 0. Cell values are a function of
//!    (table, column, k, generation) only.
//!  * Writes: a global op sequence g = 1, 2, ... Op g belongs to table index (g-1) % T (T = number
//!    of tables) and is that table's j-th op, j = (g-1)/T + 1. With m = (j-1)/3 and rows = R:
//!      j = 3m+1: INSERT k = R+m+1 (generation 0)
//!      j = 3m+2: UPDATE k = (m % R)+1 to generation m/R+1 (if R == 0: UPDATE k = m+1 to gen 1)
//!      j = 3m+3: m even: UPDATE k = R+m+1 to generation 1; m odd: DELETE k = R+m
//!    Every op is its own single-row transaction on the shard that owns the row.
//!  * Routing: a row's keyspace id is an 8-byte big-endian hash of its first PK column value
//!    (splitmix64 — Vitess' `hash` vindex uses 3DES instead, same range semantics); shard "-80"
//!    owns ids < 0x80.., "80-" the rest; "0" or "-" own everything.
//!  * History events (runtime faults, replayed by tests the same way): a DDL at global op count G
//!    adds a nullable column `note<N>` varchar(32) to a table (rows written after it get
//!    "n<N>-<k>-<gen>", older rows NULL); a reshard at G switches routing to a new shard set.
//!  * Each shard has a source server uuid derived from (keyspace, shard) and a binlog that starts
//!    at `uuid:1-kInitialSeq` (schema setup); its n-th logged entry has sequence kInitialSeq+n.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/backend.hpp"
#include "query.pb.h"

namespace sv::emulator {

//! What the synthetic backend serves.
//! The members of `enum('a','b')` / `set(...)` in declaration order (quotes doubled '' inside a
//! label allowed); empty for any other column type. Shared by the dataset and the VStream server.
std::vector<std::string> enum_labels(std::string_view column_type);

struct DatasetConfig {
  std::string keyspace = "commerce";
  std::vector<std::string> shards = {"-80", "80-"};  //!< initial serving shards
  std::vector<std::string> tables = {"all_types", "customers", "order_items"};
  std::uint64_t rows = 100;  //!< initial rows per table
};

//! Kind of a write op.
enum class OpKind { insert, update, remove };

//! One write op of the global sequence.
struct Op {
  std::uint64_t g = 0;    //!< global op number (1-based)
  std::size_t table = 0;  //!< index into the dataset's tables
  OpKind kind = OpKind::insert;
  std::uint64_t key = 0;         //!< row key k
  std::uint32_t gen_before = 0;  //!< generation before (update/delete)
  std::uint32_t gen_after = 0;   //!< generation after (insert/update)
};

//! Parsed key range of a shard name ("-80", "40-80", "80-", "0"/"-" = all).
struct KeyRange {
  std::uint64_t start = 0;  //!< inclusive
  std::uint64_t end = 0;    //!< exclusive; 0 with `unbounded_end` = no upper bound
  bool unbounded_end = true;
  bool contains(std::uint64_t keyspace_id) const {
    return keyspace_id >= start && (unbounded_end || keyspace_id < end);
  }
};

//! Deterministic dataset. Cheap to construct; all queries are pure functions of the config and
//! the recorded history (DDLs, reshards).
class Dataset {
 public:
  static constexpr std::uint64_t kInitialSeq = 10;  //!< binlog entries before any write

  explicit Dataset(DatasetConfig config);

  const DatasetConfig& config() const { return config_; }
  std::size_t table_count() const { return tables_.size(); }
  const std::string& table_name(std::size_t t) const { return tables_[t].name; }
  //! Index of a table by name, nullopt if the dataset has no such table.
  std::optional<std::size_t> table_index(std::string_view name) const;

  // ---- schema

  //! The table's schema after `g` global ops (DDLs at or before g applied).
  TableSchemaPtr schema(std::size_t t, std::uint64_t g) const;

  // ---- history

  //! Records a DDL on table t that takes effect after op g (i.e. at op count g). Returns the
  //! statement, e.g. "ALTER TABLE `customers` ADD COLUMN `note1` varchar(32) DEFAULT NULL".
  std::string add_ddl(std::size_t t, std::uint64_t g);
  //! Records a reshard to `shards` after op g. Returns false for invalid shard names.
  bool add_reshard(std::uint64_t g, std::vector<std::string> shards);
  //! Serving shards after g ops.
  const std::vector<std::string>& shards_at(std::uint64_t g) const;
  //! Every shard that has ever served (initial order, then reshard targets).
  std::vector<std::string> all_shards() const;

  struct DdlEvent {
    std::size_t table;
    std::uint64_t g;
    std::string column;  //!< added column name
    std::string statement;
  };
  struct ReshardEvent {
    std::uint64_t g;
    std::vector<std::string> from;
    std::vector<std::string> to;
  };
  const std::vector<DdlEvent>& ddls() const { return ddls_; }
  const std::vector<ReshardEvent>& reshards() const { return reshards_; }

  // ---- writes and rows

  //! The g-th op (g >= 1).
  Op op(std::uint64_t g) const;
  //! Number of ops of table t among the first g global ops.
  std::uint64_t table_ops(std::size_t t, std::uint64_t g) const;
  //! Generation of row k of table t after g global ops; nullopt if the row does not exist then.
  std::optional<std::uint32_t> generation(std::size_t t, std::uint64_t k, std::uint64_t g) const;
  //! Highest row key that may exist after g ops (rows + inserts so far).
  std::uint64_t max_key(std::size_t t, std::uint64_t g) const;
  //! The full row (schema at g, ENUM/SET as labels) after g ops; nullopt if absent.
  std::optional<query::Row> row(std::size_t t, std::uint64_t k, std::uint64_t g) const;
  //! The row at a given generation encoded with `schema` (for before/after images).
  query::Row row_at(std::size_t t, std::uint64_t k, std::uint32_t gen, const TableSchema& schema,
                    std::uint64_t last_write_g) const;
  //! One cell as text; nullopt = NULL. `column` is a name of the table's schema at g.
  std::optional<std::string> cell(std::size_t t, std::uint64_t k, std::string_view column, std::uint64_t g) const;
  //! The global op number of the last write to row k at or before g (0 = initial load).
  std::uint64_t last_write(std::size_t t, std::uint64_t k, std::uint64_t g) const;

  //! PK-only row for key k (lastpk encoding).
  query::Row pk_row(std::size_t t, std::uint64_t k) const;
  //! Row key of a PK-only row; nullopt if malformed.
  std::optional<std::uint64_t> key_of_pk(std::size_t t, const query::Row& pk) const;
  //! Row key of the largest k whose PK is <= the given PK row (for lastpks of deleted rows too).
  std::optional<std::uint64_t> floor_key_of_pk(std::size_t t, const query::Row& pk) const;

  //! Keyspace id (8 bytes as a big-endian integer) of row k.
  std::uint64_t keyspace_id(std::size_t t, std::uint64_t k) const;
  //! True when row k of table t lives on `shard` (by key range only).
  bool in_shard(std::size_t t, std::uint64_t k, std::string_view shard) const;
  //! The shard owning row k among the serving shards after g ops.
  std::string shard_of(std::size_t t, std::uint64_t k, std::uint64_t g) const;

  //! Source server uuid of a shard (lower-case 8-4-4-4-12).
  std::string shard_uuid(std::string_view shard) const;

  //! Parses a Vitess shard name into a key range; nullopt if malformed.
  static std::optional<KeyRange> parse_shard(std::string_view shard);
  //! Splits the keyspace into n equal ranges named like Vitess ("-80","80-"; n=1 → "0").
  static std::vector<std::string> shard_names(std::size_t n);

 private:
  struct TableDef {
    std::string name;
    TableSchemaPtr base;  // schema before any DDL
  };
  std::optional<std::string> base_cell(std::size_t t, std::size_t col, std::uint64_t k, std::uint32_t gen) const;

  DatasetConfig config_;
  std::vector<TableDef> tables_;
  std::vector<DdlEvent> ddls_;
  std::vector<ReshardEvent> reshards_;
  // schema cache: per table, versions after each DDL (index = number of DDLs applied)
  mutable std::vector<std::vector<TableSchemaPtr>> schema_cache_;
};

//! Helpers to build and read query::Row values (shared by backends, server and tests).
query::Row make_row(const std::vector<std::optional<std::string>>& cells);
std::vector<std::optional<std::string>> row_cells(const query::Row& row);

}  // namespace sv::emulator
