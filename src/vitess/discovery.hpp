// src/vitess: schema discovery over vtgate's MySQL protocol, as the Go connector does it:
// `SHOW TABLES`, information_schema for columns and primary keys, `SHOW VITESS_SHARDS`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"
#include "vitess/mysql_session.hpp"

namespace sv::vitess {

struct ColumnInfo {
  std::string name;
  std::string column_type;  //!< information_schema.columns.column_type, e.g. `int(11) unsigned`
  bool nullable = false;
  bool operator==(const ColumnInfo&) const = default;
};

struct TableInfo {
  std::string name;
  std::vector<ColumnInfo> columns;            //!< in ordinal order
  std::vector<std::string> primary_key;       //!< in key order; empty = no primary key
  std::optional<std::uint64_t> row_estimate;  //!< information_schema.tables.table_rows
  bool operator==(const TableInfo&) const = default;
};

//! Vitess' own tables that the Go connector hides: online-DDL/GC leftovers (`_vt_…`,
//! `_<uuid parts>_…`) and VReplication shadow tables (`_…_vrepl`).
bool is_internal_table(std::string_view name);

//! Every user table of `keyspace` with its columns, primary key and row estimate, sorted by name.
Result<std::vector<TableInfo>> discover_tables(MysqlSession& session, const std::string& keyspace);

//! The shards of `keyspace` (`SHOW VITESS_SHARDS`), exact keyspace match, in the order vtgate
//! lists them. An empty list is an error: the keyspace is unknown to vtgate.
Result<std::vector<std::string>> list_shards(MysqlSession& session, const std::string& keyspace);

}  // namespace sv::vitess
