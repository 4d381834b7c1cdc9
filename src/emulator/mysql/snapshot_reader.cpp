// src/emulator/mysql: consistent-snapshot table copy (see snapshot_reader.hpp).
#include "emulator/mysql/snapshot_reader.hpp"

#include <fmt/format.h>

#include "emulator/mysql/binlog_decode.hpp"
#include "emulator/mysql/binlog_reader.hpp"

namespace sv::emulator::mysql {
namespace {

bool integral(query::Type t) { return (int(t) & int(query::Flag::ISINTEGRAL)) != 0; }
bool binaryish(query::Type t) {
  return t == query::BINARY || t == query::VARBINARY || t == query::BLOB || t == query::BIT;
}

}  // namespace

std::string sql_literal(Connection& conn, const query::Field& f, const std::string& value) {
  if (integral(f.type()) && !value.empty() && value.find_first_not_of("-0123456789") == std::string::npos) return value;
  if (binaryish(f.type())) {
    if (value.empty()) return "''";
    std::string hex = "X'";
    for (unsigned char c : value) hex += fmt::format("{:02x}", c);
    return hex + "'";
  }
  return "'" + conn.escape(value) + "'";
}

std::string SnapshotReader::where_after(const query::Row& pk) {
  // (a > x) OR (a = x AND b > y) OR ...: an index range MariaDB can use, unlike row compares.
  std::string out;
  const auto& cols = schema_->pk_columns;
  for (size_t k = 0; k < cols.size(); ++k) {
    std::string term;
    for (size_t j = 0; j <= k; ++j) {
      const auto& f = schema_->fields[cols[j]];
      auto v = row_value(pk, j);
      std::string lhs = quote_identifier(f.name());
      std::string cmp = j == k ? " > " : " = ";
      std::string t = v ? lhs + cmp + sql_literal(conn_, f, *v) : (j == k ? lhs + " IS NOT NULL" : lhs + " IS NULL");
      term += (j ? " AND " : "") + t;
    }
    out += (k ? " OR (" : "(") + term + ")";
  }
  return out;
}

Result<std::unique_ptr<SnapshotReader>> SnapshotReader::open(const ConnParams& conn,
                                                             std::shared_ptr<SchemaRegistry> schemas,
                                                             const std::string& table, uint32_t domain_id,
                                                             const query::Row* lastpk) {
  std::unique_ptr<SnapshotReader> r(new SnapshotReader());
  auto c = Connection::open(conn);
  if (!c) return c.error();
  r->conn_ = std::move(*c);
  r->database_ = schemas->database();
  for (const char* sql :
       {"SET SESSION time_zone='+00:00'",  // TIMESTAMP in UTC, as vstreamer does
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT"}) {
    if (auto s = r->conn_.exec(sql); !s) return s.error();
  }
  // MariaDB 10.11 reports the snapshot's binlog file/offset; BINLOG_GTID_POS maps that to GTIDs.
  auto pos = r->conn_.query("SHOW STATUS LIKE 'Binlog_snapshot_%'");
  if (!pos) return pos.error();
  std::string file, offset;
  for (auto& row : pos->rows) {
    if (row[0] && row[1] && *row[0] == "Binlog_snapshot_file") file = *row[1];
    if (row[0] && row[1] && *row[0] == "Binlog_snapshot_position") offset = *row[1];
  }
  if (file.empty() || offset.empty() || offset.find_first_not_of("0123456789") != std::string::npos)
    return system_error("server did not report the snapshot's binlog position (is log_bin on?)");
  auto gtid = r->conn_.scalar(fmt::format("SELECT BINLOG_GTID_POS('{}', {})", r->conn_.escape(file), offset));
  if (!gtid) return gtid.error();
  r->gtid_pos_ = gtid->value_or("");
  auto seq = seq_in_gtid_list(r->gtid_pos_, domain_id);
  if (!seq) return seq.error();
  r->seq_ = *seq;
  auto schema = schemas->reload(r->conn_, table);
  if (!schema) return schema.error();
  if (!*schema) return config_error(fmt::format("table {}.{} does not exist", r->database_, table));
  r->schema_ = *schema;
  // Rows as stored, in each column's own character set, as vttablet's rowstreamer reads them
  // (vitessio/vitess go/vt/vttablet/tabletserver/vstreamer/rowstreamer.go: `set names binary`).
  // After the schema: with binary results the metadata would call every text column binary.
  if (auto s = r->conn_.exec("SET NAMES binary"); !s) return s.error();
  if (lastpk != nullptr) {
    if (size_t(lastpk->lengths_size()) != r->schema_->pk_columns.size())
      return config_error(fmt::format("lastpk for {} has {} values, the primary key has {} columns", table,
                                      lastpk->lengths_size(), r->schema_->pk_columns.size()));
    r->lastpk_ = *lastpk;
  }
  return r;
}

Result<std::vector<query::Row>> SnapshotReader::next(size_t max_rows) {
  std::vector<query::Row> out;
  if (done_ || max_rows == 0) return out;
  std::string cols, order;
  // Appended piecewise: GCC 12 at -O3 warns (-Wrestrict, a false positive) on `"," + string`.
  for (size_t i = 0; i < schema_->fields.size(); ++i) {
    if (i) cols += ',';
    cols += quote_identifier(schema_->fields[i].name());
  }
  for (size_t k = 0; k < schema_->pk_columns.size(); ++k) {
    if (k) order += ',';
    order += quote_identifier(schema_->fields[schema_->pk_columns[k]].name());
  }
  std::string sql =
      fmt::format("SELECT {} FROM {}.{}", cols, quote_identifier(database_), quote_identifier(schema_->name));
  if (lastpk_) sql += " WHERE " + where_after(*lastpk_);
  sql += fmt::format(" ORDER BY {} LIMIT {}", order, max_rows);
  auto rs = conn_.query(sql);
  if (!rs) return rs.error();
  if (rs->columns.size() != schema_->fields.size())
    return system_error(fmt::format("table {} changed shape during its copy", schema_->name));
  for (auto& values : rs->rows) {
    query::Row row;
    for (auto& v : values) append_value(row, v ? std::optional<std::string_view>(*v) : std::nullopt);
    out.push_back(std::move(row));
  }
  if (out.size() < max_rows) done_ = true;
  if (!out.empty()) {
    query::Row pk;
    for (size_t idx : schema_->pk_columns) {
      auto v = row_value(out.back(), idx);
      append_value(pk, v ? std::optional<std::string_view>(*v) : std::nullopt);
    }
    lastpk_ = std::move(pk);
  }
  return out;
}

}  // namespace sv::emulator::mysql
