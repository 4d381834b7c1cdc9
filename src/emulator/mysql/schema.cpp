// src/emulator/mysql: table schemas (see schema.hpp).
#include "emulator/mysql/schema.hpp"

#include "vitess/mariadb_client.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sv::emulator::mysql {

query::Type field_type(const ColumnMeta& c) {
  const bool uns = (c.flags & UNSIGNED_FLAG) != 0;
  const bool binary = c.charsetnr == 63;
  switch (c.type) {
    case MYSQL_TYPE_TINY: return uns ? query::UINT8 : query::INT8;
    case MYSQL_TYPE_SHORT: return uns ? query::UINT16 : query::INT16;
    case MYSQL_TYPE_INT24: return uns ? query::UINT24 : query::INT24;
    case MYSQL_TYPE_LONG: return uns ? query::UINT32 : query::INT32;
    case MYSQL_TYPE_LONGLONG: return uns ? query::UINT64 : query::INT64;
    case MYSQL_TYPE_FLOAT: return query::FLOAT32;
    case MYSQL_TYPE_DOUBLE: return query::FLOAT64;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL: return query::DECIMAL;
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2: return query::TIMESTAMP;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE: return query::DATE;
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2: return query::TIME;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2: return query::DATETIME;
    case MYSQL_TYPE_YEAR: return query::YEAR;
    case MYSQL_TYPE_BIT: return query::BIT;
    case MYSQL_TYPE_JSON: return query::JSON;
    case MYSQL_TYPE_GEOMETRY: return query::GEOMETRY;
    case MYSQL_TYPE_ENUM: return query::ENUM;
    case MYSQL_TYPE_SET: return query::SET;
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB: return binary ? query::BLOB : query::TEXT;
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
      if (c.flags & ENUM_FLAG) return query::ENUM;
      if (c.flags & SET_FLAG) return query::SET;
      return binary ? query::VARBINARY : query::VARCHAR;
    case MYSQL_TYPE_STRING:
      if (c.flags & ENUM_FLAG) return query::ENUM;
      if (c.flags & SET_FLAG) return query::SET;
      return binary ? query::BINARY : query::CHAR;
    case MYSQL_TYPE_NULL: return query::NULL_TYPE;
    default: return query::NULL_TYPE;
  }
}

Result<TableSchemaPtr> load_table_schema(Connection& conn, const std::string& database, const std::string& table,
                                         uint64_t version) {
  auto meta =
      conn.query(fmt::format("SELECT * FROM {}.{} LIMIT 0", quote_identifier(database), quote_identifier(table)));
  if (!meta) return meta.error();
  // The collation id of each text column: result-set metadata reports the connection's charset
  // (utf8mb4) instead, while vttablet's FIELD events carry the column's own collation.
  auto cols =
      conn.query(fmt::format("SELECT c.COLUMN_NAME, c.COLUMN_TYPE, c.COLUMN_KEY, c.ORDINAL_POSITION, co.ID "
                             "FROM information_schema.COLUMNS c LEFT JOIN information_schema.COLLATIONS co "
                             "ON co.COLLATION_NAME = c.COLLATION_NAME "
                             "WHERE c.TABLE_SCHEMA='{}' AND c.TABLE_NAME='{}' ORDER BY c.ORDINAL_POSITION",
                             conn.escape(database), conn.escape(table)));
  if (!cols) return cols.error();
  auto pk =
      conn.query(fmt::format("SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA='{}' AND "
                             "TABLE_NAME='{}' AND CONSTRAINT_NAME='PRIMARY' ORDER BY ORDINAL_POSITION",
                             conn.escape(database), conn.escape(table)));
  if (!pk) return pk.error();
  // MariaDB's JSON is LONGTEXT plus CHECK (json_valid(`col`)); report it as MySQL's JSON.
  auto checks = conn.query(
      fmt::format("SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA='{}' "
                  "AND TABLE_NAME='{}'",
                  conn.escape(database), conn.escape(table)));
  if (!checks) return checks.error();
  if (cols->rows.size() != meta->columns.size())
    return system_error(fmt::format("schema of {}.{} changed while reading it", database, table));

  TableSchema s;
  s.name = table;
  s.version = version;
  for (size_t i = 0; i < meta->columns.size(); ++i) {
    const ColumnMeta& c = meta->columns[i];
    query::Field f;
    f.set_name(c.name);
    f.set_type(field_type(c));
    f.set_table(table);
    f.set_org_table(c.org_table.empty() ? table : c.org_table);
    f.set_database(database);
    f.set_org_name(c.org_name.empty() ? c.name : c.org_name);
    f.set_column_length(static_cast<uint32_t>(c.length));
    const auto& collation = cols->rows[i][4];
    f.set_charset(collation ? static_cast<uint32_t>(std::stoul(*collation)) : c.charsetnr);
    f.set_decimals(c.decimals);
    f.set_flags(c.flags);
    f.set_column_type(cols->rows[i][1].value_or(""));
    const std::string json_check = fmt::format("json_valid(`{}`)", c.name);
    for (const auto& row : checks->rows)
      if (row[0] && *row[0] == json_check && f.type() == query::TEXT) {
        f.set_type(query::JSON);
        f.set_column_type("json");
      }
    s.fields.push_back(std::move(f));
  }
  for (const auto& row : pk->rows)
    for (size_t i = 0; i < s.fields.size(); ++i)
      if (row[0] && s.fields[i].name() == *row[0]) s.pk_columns.push_back(i);
  if (s.pk_columns.empty())  // no PK: Vitess then uses all columns as the key
    for (size_t i = 0; i < s.fields.size(); ++i) s.pk_columns.push_back(i);
  return TableSchemaPtr(std::make_shared<const TableSchema>(std::move(s)));
}

Result<std::vector<std::string>> list_tables(Connection& conn, const std::string& database) {
  auto r =
      conn.query(fmt::format("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='{}' AND "
                             "TABLE_TYPE='BASE TABLE' ORDER BY TABLE_NAME",
                             conn.escape(database)));
  if (!r) return r.error();
  std::vector<std::string> out;
  for (auto& row : r->rows)
    if (row[0]) out.push_back(*row[0]);
  std::sort(out.begin(), out.end());
  return out;
}

bool same_fields(const std::vector<query::Field>& a, const std::vector<query::Field>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name() != b[i].name() || a[i].type() != b[i].type() || a[i].column_type() != b[i].column_type() ||
        a[i].charset() != b[i].charset() || a[i].flags() != b[i].flags() ||
        a[i].column_length() != b[i].column_length() || a[i].decimals() != b[i].decimals())
      return false;
  return true;
}

TableSchemaPtr SchemaRegistry::get(const std::string& table) const {
  std::lock_guard lock(mu_);
  auto it = tables_.find(table);
  return it == tables_.end() ? nullptr : it->second;
}

TableSchemaPtr SchemaRegistry::store_locked(const std::string& table, TableSchemaPtr fresh) {
  auto it = tables_.find(table);
  if (it != tables_.end() && same_fields(it->second->fields, fresh->fields) &&
      it->second->pk_columns == fresh->pk_columns)
    return it->second;
  TableSchema copy = *fresh;
  copy.version = ++versions_[table];
  auto ptr = std::make_shared<const TableSchema>(std::move(copy));
  tables_[table] = ptr;
  return ptr;
}

Result<TableSchemaPtr> SchemaRegistry::reload(Connection& conn, const std::string& table) {
  auto exists =
      conn.query(fmt::format("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA='{}' AND TABLE_NAME='{}' AND "
                             "TABLE_TYPE='BASE TABLE'",
                             conn.escape(database_), conn.escape(table)));
  if (!exists) return exists.error();
  if (exists->rows.empty()) {
    std::lock_guard lock(mu_);
    tables_.erase(table);
    return TableSchemaPtr{};
  }
  auto fresh = load_table_schema(conn, database_, table, 0);
  if (!fresh) return fresh.error();
  std::lock_guard lock(mu_);
  return store_locked(table, *fresh);
}

Result<std::vector<TableSchemaPtr>> SchemaRegistry::reload_all(Connection& conn) {
  auto names = list_tables(conn, database_);
  if (!names) return names.error();
  std::vector<TableSchemaPtr> out;
  std::map<std::string, TableSchemaPtr> loaded;
  for (const auto& t : *names) {
    auto fresh = load_table_schema(conn, database_, t, 0);
    if (!fresh) return fresh.error();
    loaded[t] = *fresh;
  }
  std::lock_guard lock(mu_);
  for (auto it = tables_.begin(); it != tables_.end();)
    it = loaded.count(it->first) ? std::next(it) : tables_.erase(it);
  for (auto& [t, s] : loaded) out.push_back(store_locked(t, s));
  return out;
}

TableSchemaPtr SchemaRegistry::publish(TableSchema schema) {
  std::lock_guard lock(mu_);
  const std::string table = schema.name;
  return store_locked(table, std::make_shared<const TableSchema>(std::move(schema)));
}

std::vector<TableSchemaPtr> SchemaRegistry::all() const {
  std::lock_guard lock(mu_);
  std::vector<TableSchemaPtr> out;
  for (auto& [t, s] : tables_) out.push_back(s);
  return out;
}

}  // namespace sv::emulator::mysql
