// src/emulator/mysql: libmariadb connection wrapper (see mysql_client.hpp).
#include "emulator/mysql/mysql_client.hpp"

#include "vitess/mariadb_client.hpp"

#include <fmt/format.h>

#include <mutex>

namespace sv::emulator::mysql {
namespace {

// mysql_library_init is not thread-safe; mysql_init calls it implicitly, so do it once here.
void library_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

bool is_config_errno(unsigned e) {
  return e == ER_ACCESS_DENIED_ERROR || e == ER_DBACCESS_DENIED_ERROR || e == ER_BAD_DB_ERROR ||
         e == ER_NO_SUCH_TABLE || e == ER_TABLEACCESS_DENIED_ERROR || e == ER_PARSE_ERROR || e == ER_BAD_FIELD_ERROR ||
         e == ER_SPECIFIC_ACCESS_DENIED_ERROR;
}

}  // namespace

Connection::Connection(Connection&& o) noexcept : mysql_(o.mysql_) { o.mysql_ = nullptr; }

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    close();
    mysql_ = o.mysql_;
    o.mysql_ = nullptr;
  }
  return *this;
}

Connection::~Connection() { close(); }

void Connection::close() {
  if (mysql_ != nullptr) {
    mysql_close(mysql_);
    mysql_ = nullptr;
  }
}

Result<Connection> Connection::open(const ConnParams& p) {
  library_init_once();
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return system_error("out of memory creating a MySQL connection");
  if (p.timeout_seconds > 0) {
    unsigned t = p.timeout_seconds;
    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
    mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &t);
    mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &t);
  }
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // Never read ~/.my.cnf or /etc/mysql: tests must not depend on the machine's config.
  const char* host = p.socket.empty() ? p.host.c_str() : "localhost";
  const char* sock = p.socket.empty() ? nullptr : p.socket.c_str();
  if (mysql_real_connect(m, host, p.user.c_str(), p.password.c_str(), p.database.empty() ? nullptr : p.database.c_str(),
                         p.port, sock, CLIENT_FOUND_ROWS) == nullptr) {
    unsigned e = mysql_errno(m);
    std::string msg = mysql_error(m);
    mysql_close(m);
    std::string where = p.socket.empty() ? fmt::format("{}:{}", p.host, p.port) : p.socket;
    if (is_config_errno(e)) return config_error(fmt::format("MySQL connection to {} refused: {}", where, msg));
    return transient_error(fmt::format("cannot connect to MySQL at {}: {}", where, msg));
  }
  return Connection(m);
}

Error Connection::error_from_server(std::string_view what) const {
  unsigned e = mysql_errno(mysql_);
  std::string msg = fmt::format("{}: {} ({})", what, mysql_error(mysql_), e);
  if (e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR)
    return transient_error(std::move(msg));
  if (is_config_errno(e)) return config_error(std::move(msg));
  return system_error(std::move(msg));
}

Status Connection::exec(std::string_view sql) {
  auto r = query(sql);
  if (!r) return r.error();
  return Ok{};
}

Result<ResultSet> Connection::query(std::string_view sql) {
  if (mysql_ == nullptr) return system_error("query on a closed MySQL connection");
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return error_from_server("query failed");
  ResultSet rs;
  MYSQL_RES* res = mysql_store_result(mysql_);
  if (res == nullptr) {
    if (mysql_field_count(mysql_) != 0) return error_from_server("reading result failed");
    rs.affected_rows = mysql_affected_rows(mysql_);
    rs.insert_id = mysql_insert_id(mysql_);
    rs.warnings = mysql_warning_count(mysql_);
    if (const char* info = mysql_info(mysql_)) rs.info = info;
    return rs;
  }
  unsigned n = mysql_num_fields(res);
  MYSQL_FIELD* f = mysql_fetch_fields(res);
  rs.columns.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    ColumnMeta c;
    c.name.assign(f[i].name, f[i].name_length);
    c.org_name.assign(f[i].org_name, f[i].org_name_length);
    c.table.assign(f[i].table, f[i].table_length);
    c.org_table.assign(f[i].org_table, f[i].org_table_length);
    c.database.assign(f[i].db, f[i].db_length);
    c.type = f[i].type;
    c.length = f[i].length;
    c.charsetnr = f[i].charsetnr;
    c.decimals = f[i].decimals;
    c.flags = f[i].flags;
    rs.columns.push_back(std::move(c));
  }
  rs.rows.reserve(mysql_num_rows(res));
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    unsigned long* len = mysql_fetch_lengths(res);
    std::vector<Value> out(n);
    for (unsigned i = 0; i < n; ++i)
      if (row[i] != nullptr) out[i].emplace(row[i], len[i]);
    rs.rows.push_back(std::move(out));
  }
  rs.warnings = mysql_warning_count(mysql_);
  mysql_free_result(res);
  return rs;
}

Result<Value> Connection::scalar(std::string_view sql) {
  auto r = query(sql);
  if (!r) return r.error();
  if (r->rows.empty() || r->rows[0].empty()) return system_error(fmt::format("query returned no value: {}", sql));
  return r->rows[0][0];
}

std::string Connection::escape(std::string_view s) {
  std::string out(s.size() * 2 + 1, '\0');
  unsigned long n = mysql_real_escape_string(mysql_, out.data(), s.data(), s.size());
  out.resize(n);
  return out;
}

unsigned Connection::last_errno() const { return mysql_ ? mysql_errno(mysql_) : 0; }

std::string Connection::last_sqlstate() const { return mysql_ ? mysql_sqlstate(mysql_) : "HY000"; }

}  // namespace sv::emulator::mysql
