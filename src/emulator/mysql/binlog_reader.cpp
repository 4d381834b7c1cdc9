// src/emulator/mysql: MariaDB binlog reader (see binlog_reader.hpp).
#include "emulator/mysql/binlog_reader.hpp"

// mariadb_rpl.h uses mysql.h's types without including it: mysql.h first.
#include "vitess/mariadb_client.hpp"

#include <mariadb/mariadb_rpl.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <charconv>

namespace sv::emulator::mysql {
namespace {

constexpr size_t kHeaderLen = 19;

uint64_t mix64(uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

bool parse_u64(std::string_view s, uint64_t& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

std::string upper(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = char(std::toupper(static_cast<unsigned char>(c)));
  return o;
}

// Tokenizes the head of a DDL statement: identifiers (backticks stripped), dots, words.
std::vector<std::string> ddl_tokens(std::string_view sql, size_t max_tokens) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < sql.size() && out.size() < max_tokens) {
    char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t e = sql.find("*/", i + 2);
      i = e == std::string_view::npos ? sql.size() : e + 2;
    } else if (c == '`') {
      std::string id;
      ++i;
      while (i < sql.size()) {
        if (sql[i] == '`') {
          if (i + 1 < sql.size() && sql[i + 1] == '`') {
            id += '`';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        id += sql[i++];
      }
      out.push_back("`" + id);  // leading ` marks a quoted identifier
    } else if (c == '.' || c == ',' || c == '(' || c == ';') {
      out.emplace_back(1, c);
      ++i;
    } else {
      size_t s = i;
      while (i < sql.size() && !std::isspace(static_cast<unsigned char>(sql[i])) && sql[i] != '.' && sql[i] != ',' &&
             sql[i] != '(' && sql[i] != '`' && sql[i] != ';')
        ++i;
      out.emplace_back(sql.substr(s, i - s));
    }
  }
  return out;
}

std::string ident(const std::string& tok) { return !tok.empty() && tok[0] == '`' ? tok.substr(1) : tok; }

// The table a DDL statement changes: {database or "", table}; empty table when not a table DDL.
std::pair<std::string, std::string> ddl_target(std::string_view sql) {
  auto t = ddl_tokens(sql, 40);
  size_t i = 0;
  auto kw = [&](const char* w) { return i < t.size() && t[i][0] != '`' && upper(t[i]) == w; };
  if (!(kw("ALTER") || kw("CREATE") || kw("DROP") || kw("RENAME") || kw("TRUNCATE"))) return {};
  const bool rename = kw("RENAME");
  ++i;
  while (kw("OR") || kw("REPLACE") || kw("TEMPORARY") || kw("ONLINE") || kw("IGNORE")) ++i;
  if (kw("TABLE")) {
    ++i;
  } else if (!rename) {
    return {};  // CREATE DATABASE / INDEX / VIEW ...: no table schema change we track
  }
  while (kw("IF") || kw("NOT") || kw("EXISTS")) ++i;
  auto read_name = [&]() -> std::pair<std::string, std::string> {
    if (i >= t.size()) return {};
    std::string a = ident(t[i++]);
    if (i + 1 < t.size() && t[i] == ".") {
      std::string b = ident(t[i + 1]);
      i += 2;
      return {a, b};
    }
    return {"", a};
  };
  auto name = read_name();
  if (rename) {  // RENAME TABLE a TO b: the new name is what now exists
    if (kw("TO")) {
      ++i;
      name = read_name();
    }
  }
  return name;
}

std::atomic<uint32_t> g_replica_id{0x53560000};  // fake replica server ids, unique per process

}  // namespace

std::string MariaGtid::to_string() const { return fmt::format("{}-{}-{}", domain, server, seq); }

Result<MariaGtid> MariaGtid::parse(std::string_view s) {
  auto d1 = s.find('-');
  auto d2 = d1 == std::string_view::npos ? d1 : s.find('-', d1 + 1);
  uint64_t a = 0, b = 0, c = 0;
  if (d2 == std::string_view::npos || !parse_u64(s.substr(0, d1), a) || !parse_u64(s.substr(d1 + 1, d2 - d1 - 1), b) ||
      !parse_u64(s.substr(d2 + 1), c) || a > UINT32_MAX || b > UINT32_MAX)
    return system_error(fmt::format("malformed MariaDB GTID '{}'", s));
  return MariaGtid{uint32_t(a), uint32_t(b), c};
}

std::string shard_uuid(std::string_view keyspace, std::string_view shard) {
  std::string name = fmt::format("{}/{}", keyspace, shard);
  uint64_t hi = fnv1a(name, 0x5eed0001), lo = fnv1a(name, 0x5eed0002);
  hi = (hi & ~0xF000ULL) | 0x5000ULL;                         // version 5 (name-based)
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", uint32_t(hi >> 32), uint32_t(hi >> 16) & 0xFFFF,
                     uint32_t(hi) & 0xFFFF, uint32_t(lo >> 48), lo & 0xFFFFFFFFFFFFULL);
}

GtidSet position_for(std::string_view uuid, uint64_t seq) { return GtidSet::single(uuid, seq); }

Result<uint64_t> seq_of_position(const GtidSet& position, std::string_view uuid) {
  if (position.empty()) return uint64_t{0};
  const auto& sets = position.sets();
  auto it = sets.find(std::string(uuid));
  if (sets.size() != 1 || it == sets.end())
    return system_error(fmt::format("position {} names a server this shard does not have (its uuid is {})",
                                    position.to_string(), uuid));
  if (it->second.size() != 1 || it->second[0].first != 1)
    return system_error(fmt::format("position {} has gaps this shard never produced", position.to_string()));
  return it->second[0].last;
}

Result<uint64_t> seq_in_gtid_list(std::string_view list, uint32_t domain) {
  uint64_t seq = 0;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
    if (!item.empty()) {
      auto g = MariaGtid::parse(item);
      if (!g) return g.error();
      if (g->domain == domain) seq = g->seq;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return seq;
}

BinlogReader::~BinlogReader() {
  if (event_ != nullptr) mariadb_free_rpl_event(event_);
  if (rpl_ != nullptr) mariadb_rpl_close(rpl_);
}

Result<std::unique_ptr<BinlogReader>> BinlogReader::open(Options options) {
  std::unique_ptr<BinlogReader> r(new BinlogReader(std::move(options)));
  if (auto s = r->start(); !s) return s.error();
  return r;
}

Status BinlogReader::start() {
  ConnParams p = options_.conn;
  // The dump connection waits for events; heartbeats keep it well under this read timeout.
  p.timeout_seconds = 60;
  auto c = Connection::open(p);
  if (!c) return c.error();
  conn_ = std::move(*c);
  auto sc = Connection::open(options_.conn);
  if (!sc) return sc.error();
  schema_conn_ = std::move(*sc);

  const std::string state = options_.start_seq == 0
                                ? std::string()
                                : MariaGtid{options_.domain_id, options_.server_id, options_.start_seq}.to_string();
  const uint64_t heartbeat_ns = uint64_t(options_.heartbeat.count()) * 1000000ULL;
  for (const std::string& sql :
       {std::string("SET @master_binlog_checksum=@@global.binlog_checksum"),
        std::string("SET @mariadb_slave_capability=4"),  // GTID-aware replica: GTID events as such
        fmt::format("SET @slave_connect_state='{}'", state), std::string("SET @slave_gtid_strict_mode=1"),
        std::string("SET @slave_gtid_ignore_duplicates=0"),
        fmt::format("SET @master_heartbeat_period={}", heartbeat_ns)}) {
    if (auto s = conn_.exec(sql); !s) return s;
  }
  rpl_ = mariadb_rpl_init(conn_.raw());
  if (rpl_ == nullptr) return system_error("mariadb_rpl_init failed", mysql_error(conn_.raw()));
  const uint32_t replica_id = g_replica_id.fetch_add(1);
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FILENAME, "", size_t{0});
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_START, 4UL);
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_SERVER_ID, replica_id);
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FLAGS, 0U);
  if (mariadb_rpl_open(rpl_) != 0)
    return transient_error("cannot start the MariaDB binlog dump", mysql_error(conn_.raw()));
  return Ok{};
}

Result<TableSchemaPtr> BinlogReader::schema_for(const TableMap& map) {
  auto matches = [&](const TableSchemaPtr& s) {
    if (!s || s->fields.size() != map.types.size()) return false;
    if (!map.column_names.empty())
      for (size_t i = 0; i < map.column_names.size(); ++i)
        if (s->fields[i].name() != map.column_names[i]) return false;
    auto from_map = schema_from_table_map(map, 0);
    for (size_t i = 0; i < from_map.fields.size(); ++i) {
      auto a = from_map.fields[i].type(), b = s->fields[i].type();
      if (b == query::JSON) b = query::TEXT;  // MariaDB JSON is LONGTEXT in the binlog
      if (a == b) continue;
      // Without charset metadata, text and binary flavours cannot be told apart.
      auto cls = [](query::Type t) {
        if (t == query::BLOB) return query::TEXT;
        if (t == query::BINARY) return query::CHAR;
        if (t == query::VARBINARY) return query::VARCHAR;
        return t;
      };
      if (map.charsets[i] != 0 || cls(a) != cls(b)) return false;
    }
    return true;
  };
  auto& reg = *options_.schemas;
  auto cached = reg.get(map.table);
  if (matches(cached)) return cached;
  auto fresh = reg.reload(schema_conn_, map.table);
  if (!fresh) return fresh.error();
  if (matches(*fresh)) return *fresh;
  // The binlog is behind a later DDL: describe the table as this event has it.
  return reg.publish(schema_from_table_map(map, 0));
}

Status BinlogReader::handle_rows(uint8_t type, std::string_view body, BinlogTransaction& txn) {
  if (body.size() < 6) return system_error("malformed ROWS event");
  uint64_t table_id = 0;
  for (int i = 0; i < 6; ++i) table_id |= uint64_t(uint8_t(body[size_t(i)])) << (8 * i);
  auto it = table_maps_.find(table_id);
  if (it == table_maps_.end()) return system_error(fmt::format("ROWS event for unknown table id {}", table_id));
  const TableMap& map = it->second;
  if (map.database != options_.schemas->database()) return Ok{};
  auto schema = schema_for(map);
  if (!schema) return schema.error();
  auto hints = render_hints(map, schema->get());
  auto rows = parse_rows(type, body, map, hints);
  if (!rows) return rows.error();
  if (!txn.rows.empty() && txn.rows.back().schema == *schema) {
    for (auto& ch : rows->changes) txn.rows.back().changes.push_back(std::move(ch));
  } else {
    txn.rows.push_back(TableRows{*schema, std::move(rows->changes)});
  }
  return Ok{};
}

Status BinlogReader::finish_ddl(BinlogTransaction& txn, std::string_view default_db) {
  auto [db, table] = ddl_target(txn.statement);
  if (db.empty()) db = std::string(default_db);
  txn.ddl_database = db;
  txn.ddl_table = table;
  if (table.empty() || db != options_.schemas->database()) return Ok{};
  auto s = options_.schemas->reload(schema_conn_, table);
  if (!s) return s.error();
  txn.new_schema = *s;
  return Ok{};
}

Result<std::optional<BinlogTransaction>> BinlogReader::next(std::chrono::milliseconds max_wait) {
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  std::optional<BinlogTransaction> txn;
  bool standalone = false;
  // Bounded: every iteration reads one event; idle periods end at the first heartbeat past the
  // deadline, and a transaction's events arrive back to back.
  for (;;) {
    event_ = mariadb_rpl_fetch(rpl_, event_);
    if (event_ == nullptr) {
      unsigned e = mysql_errno(conn_.raw());
      std::string msg = mysql_error(conn_.raw());
      // ER_MASTER_FATAL_ERROR_READING_BINLOG: position unknown/purged/ahead. The emulator serves
      // MySQL56 positions, so a purge is reported in MySQL's words, as vtgate would pass it on.
      if (e == 1236 && msg.find("purged") != std::string::npos)
        return system_error(mysql_binlog_error(position_for(options_.uuid, last_seq_), kPurgedBinlogs),
                            fmt::format("MariaDB: {}", msg));
      if (e == 1236)
        return system_error(fmt::format("MariaDB cannot serve binlog position {}-{}-{}: {}", options_.domain_id,
                                        options_.server_id, last_seq_, msg));
      return transient_error("MariaDB binlog stream ended", fmt::format("{} ({})", msg, e));
    }
    const auto* raw = reinterpret_cast<const char*>(event_->raw_data) + event_->raw_data_ofs;
    size_t size = event_->raw_data_size - event_->raw_data_ofs;
    if (size < kHeaderLen) return system_error("short binlog event");
    const uint8_t type = uint8_t(raw[4]);
    const uint32_t server_id = uint32_t(uint8_t(raw[5])) | uint32_t(uint8_t(raw[6])) << 8 |
                               uint32_t(uint8_t(raw[7])) << 16 | uint32_t(uint8_t(raw[8])) << 24;
    const uint32_t timestamp = uint32_t(uint8_t(raw[0])) | uint32_t(uint8_t(raw[1])) << 8 |
                               uint32_t(uint8_t(raw[2])) << 16 | uint32_t(uint8_t(raw[3])) << 24;
    if (type == FORMAT_DESCRIPTION_EVENT) {
      // Trailer: checksum algorithm byte, then the (4-byte) checksum of this event itself.
      checksum_ = size >= 5 && uint8_t(raw[size - 5]) == 1;
      continue;
    }
    if (checksum_ && size >= kHeaderLen + 4) size -= 4;
    std::string_view body(raw + kHeaderLen, size - kHeaderLen);

    switch (type) {
      case HEARTBEAT_LOG_EVENT:
        if (!txn && std::chrono::steady_clock::now() >= deadline) return std::optional<BinlogTransaction>{};
        break;
      case GTID_EVENT: {
        if (body.size() < 13) return system_error("malformed GTID event");
        uint64_t seq = 0;
        for (int i = 0; i < 8; ++i) seq |= uint64_t(uint8_t(body[size_t(i)])) << (8 * i);
        uint32_t domain = 0;
        for (int i = 0; i < 4; ++i) domain |= uint32_t(uint8_t(body[size_t(8 + i)])) << (8 * i);
        const uint8_t flags = uint8_t(body[12]);
        txn.emplace();
        txn->gtid = MariaGtid{domain, server_id, seq};
        txn->timestamp = timestamp;
        standalone = (flags & FL_STANDALONE) != 0;
        table_maps_.clear();
        break;
      }
      case TABLE_MAP_EVENT: {
        auto m = parse_table_map(body);
        if (!m) return m.error();
        table_maps_[m->table_id] = std::move(*m);
        break;
      }
      case WRITE_ROWS_EVENT_V1:
      case UPDATE_ROWS_EVENT_V1:
      case DELETE_ROWS_EVENT_V1:
      case WRITE_ROWS_EVENT:
      case UPDATE_ROWS_EVENT:
      case DELETE_ROWS_EVENT:
        if (!txn) break;  // rows outside a GTID group: not produced by MariaDB 10.x
        if (auto s = handle_rows(type, body, *txn); !s) return s.error();
        break;
      case WRITE_ROWS_COMPRESSED_EVENT:
      case UPDATE_ROWS_COMPRESSED_EVENT:
      case DELETE_ROWS_COMPRESSED_EVENT:
      case WRITE_ROWS_COMPRESSED_EVENT_V1:
      case UPDATE_ROWS_COMPRESSED_EVENT_V1:
      case DELETE_ROWS_COMPRESSED_EVENT_V1:
        return system_error("compressed binlog row events are not supported (log_bin_compress=OFF)");
      case XID_EVENT:
        if (txn) {
          if (txn->gtid.domain != options_.domain_id) {
            txn.reset();
            break;
          }
          last_seq_ = txn->gtid.seq;
          return txn;
        }
        break;
      case QUERY_EVENT: {
        if (!txn) break;
        if (body.size() < 13) return system_error("malformed QUERY event");
        const size_t db_len = uint8_t(body[8]);
        const size_t status_len = size_t(uint8_t(body[11])) | size_t(uint8_t(body[12])) << 8;
        const size_t db_at = 13 + status_len;
        if (body.size() < db_at + db_len + 1) return system_error("malformed QUERY event");
        std::string_view db = body.substr(db_at, db_len);
        std::string_view sql = body.substr(db_at + db_len + 1);
        const std::string head = upper(sql.substr(0, 8));
        if (!standalone) {
          if (head.rfind("COMMIT", 0) == 0 || head.rfind("ROLLBACK", 0) == 0) {
            if (txn->gtid.domain != options_.domain_id) {
              txn.reset();
              break;
            }
            last_seq_ = txn->gtid.seq;
            return txn;
          }
          break;  // BEGIN or a statement inside the group (e.g. SAVEPOINT)
        }
        if (txn->gtid.domain != options_.domain_id) {
          txn.reset();
          break;
        }
        txn->is_ddl = true;
        txn->statement = std::string(sql);
        if (auto s = finish_ddl(*txn, db); !s) return s.error();
        last_seq_ = txn->gtid.seq;
        return txn;
      }
      default: break;  // ROTATE, GTID_LIST, BINLOG_CHECKPOINT, ANNOTATE_ROWS, INTVAR, ...: no data
    }
  }
}

}  // namespace sv::emulator::mysql
