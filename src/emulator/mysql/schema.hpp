// src/emulator/mysql: table schemas of a MariaDB database as vtgate sends them in FIELD events
// (query.Field from the result-set metadata of `SELECT * ... LIMIT 0` plus information_schema's
// COLUMN_TYPE, as Vitess' vstreamer does), and a per-shard registry that versions them.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "emulator/backend.hpp"
#include "emulator/mysql/mysql_client.hpp"

namespace sv::emulator::mysql {

//! query.Type for a result-set column (MySQL type + flags + charset), as Vitess maps it.
query::Type field_type(const ColumnMeta& c);

//! Loads one table's schema now. `version` is stored in the result. MariaDB's JSON alias
//! (LONGTEXT with a json_valid check) is reported as type JSON, column_type `json`.
Result<TableSchemaPtr> load_table_schema(Connection& conn, const std::string& database, const std::string& table,
                                         uint64_t version);

//! Base tables of `database`, sorted by name.
Result<std::vector<std::string>> list_tables(Connection& conn, const std::string& database);

//! Current schemas of one shard's database, shared by its copy and replication cursors
//! (thread-safe: cursors work on pool threads). Versions only grow; a reload that finds the
//! same fields keeps the same pointer.
class SchemaRegistry {
 public:
  explicit SchemaRegistry(std::string database) : database_(std::move(database)) {}
  const std::string& database() const { return database_; }

  //! The cached schema, or nullptr.
  TableSchemaPtr get(const std::string& table) const;
  //! Reads the table's schema from the server; returns the cached pointer when unchanged.
  //! A table that no longer exists yields nullptr (and is forgotten).
  Result<TableSchemaPtr> reload(Connection& conn, const std::string& table);
  //! Reloads every table (drops vanished ones); returns the schemas sorted by name.
  Result<std::vector<TableSchemaPtr>> reload_all(Connection& conn);
  //! Registers a schema built elsewhere (e.g. from binlog metadata) as the next version.
  TableSchemaPtr publish(TableSchema schema);
  //! Every cached schema, sorted by name.
  std::vector<TableSchemaPtr> all() const;

 private:
  TableSchemaPtr store_locked(const std::string& table, TableSchemaPtr fresh);
  std::string database_;
  mutable std::mutex mu_;
  std::map<std::string, TableSchemaPtr> tables_;
  std::map<std::string, uint64_t> versions_;  // survives drops, so versions never repeat
};

//! True when two field lists describe the same columns (name, type, column_type, charset, flags).
bool same_fields(const std::vector<query::Field>& a, const std::vector<query::Field>& b);

}  // namespace sv::emulator::mysql
