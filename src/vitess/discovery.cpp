#include "vitess/discovery.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <regex>

namespace sv::vitess {
namespace {

// Parses a non-negative decimal; information_schema gives table_rows as text.
std::optional<std::uint64_t> parse_count(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

std::string cell(const std::vector<std::optional<std::string>>& row, std::size_t i) {
  return i < row.size() && row[i] ? *row[i] : std::string();
}

}  // namespace

bool is_internal_table(std::string_view name) {
  // The same two patterns as the Go connector (unanchored search).
  static const std::regex gc(R"(_[0-9a-zA-Z]{8}_[0-9a-zA-Z]{4}_[0-9a-zA-Z]{4}_.*|_vt_.*)");
  static const std::regex vrepl(R"(\b_(\w+|\d+)_\d+_vrepl\b)");
  const std::string s(name);
  return std::regex_search(s, gc) || std::regex_search(s, vrepl);
}

Result<std::vector<TableInfo>> discover_tables(MysqlSession& session, const std::string& keyspace) {
  auto tables = session.query("SHOW TABLES FROM " + quote_identifier(keyspace));
  if (!tables) return tables.error();

  std::map<std::string, TableInfo> by_name;
  for (const auto& row : tables->rows) {
    const std::string name = cell(row, 0);
    if (name.empty() || is_internal_table(name)) continue;
    by_name[name].name = name;
  }
  if (by_name.empty()) return std::vector<TableInfo>{};

  const std::string schema = session.quote(keyspace);
  auto columns = session.query(
      "SELECT table_name, column_name, column_type, is_nullable FROM information_schema.columns "
      "WHERE table_schema = " +
      schema + " ORDER BY table_name, ordinal_position");
  if (!columns) return columns.error();
  for (const auto& row : columns->rows) {
    auto it = by_name.find(cell(row, 0));
    if (it == by_name.end()) continue;
    std::string nullable = cell(row, 3);
    std::transform(nullable.begin(), nullable.end(), nullable.begin(), ::tolower);
    it->second.columns.push_back({cell(row, 1), cell(row, 2), nullable == "yes"});
  }

  auto keys = session.query(
      "SELECT table_name, column_name FROM information_schema.key_column_usage "
      "WHERE table_schema = " +
      schema +
      " AND constraint_name = 'PRIMARY' "
      "ORDER BY table_name, ordinal_position");
  if (!keys) return keys.error();
  for (const auto& row : keys->rows) {
    auto it = by_name.find(cell(row, 0));
    if (it != by_name.end()) it->second.primary_key.push_back(cell(row, 1));
  }

  // Estimates only feed the ESTIMATE trace and progress; a vtgate that cannot answer is fine.
  if (auto estimates = session.query("SELECT table_name, table_rows FROM information_schema.tables "
                                     "WHERE table_schema = " +
                                     schema)) {
    for (const auto& row : estimates->rows) {
      auto it = by_name.find(cell(row, 0));
      if (it != by_name.end()) it->second.row_estimate = parse_count(row.size() > 1 ? row[1] : std::nullopt);
    }
  }

  std::vector<TableInfo> out;
  out.reserve(by_name.size());
  for (auto& [name, info] : by_name) {
    if (info.columns.empty())
      return system_error(fmt::format("Table '{}' of '{}' has no columns in information_schema", name, keyspace));
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::vector<std::string>> list_shards(MysqlSession& session, const std::string& keyspace) {
  auto rows = session.query("SHOW VITESS_SHARDS LIKE " + session.quote("%" + keyspace + "%"));
  if (!rows) return rows.error();
  // LIKE is a substring match: keep only this keyspace's rows (the Go connector also keeps
  // other keyspaces whose names contain it, which is wrong).
  const std::string prefix = keyspace + "/";
  std::vector<std::string> shards;
  for (const auto& row : rows->rows) {
    const std::string value = cell(row, 0);
    if (value.size() > prefix.size() && value.compare(0, prefix.size(), prefix) == 0)
      shards.push_back(value.substr(prefix.size()));
  }
  if (shards.empty())
    return config_error(fmt::format("vtgate lists no shards for keyspace '{}': check the database name", keyspace));
  return shards;
}

}  // namespace sv::vitess
