// src/emulator/mysql: the emulator's MySQL side. This file: a small RAII wrapper over a
// libmariadb (Connector/C) connection, used by the MariaDB fixture, the binlog and snapshot
// readers and the MySQL-protocol front. Blocking calls: run them off the io thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"
#include "util/sql.hpp"

struct st_mysql;
struct st_mysql_res;

namespace sv::emulator::mysql {

//! Where and how to connect. An empty `socket` means TCP to host:port.
struct ConnParams {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string socket;
  std::string user = "root";
  std::string password;  //!< never logged
  std::string database;
  unsigned timeout_seconds = 10;  //!< connect/read/write timeout; 0 = library default
  bool operator==(const ConnParams&) const = default;
};

//! A nullable text value as the MySQL text protocol returns it.
using Value = std::optional<std::string>;

//! Result-set column metadata (the part of MYSQL_FIELD the project needs).
struct ColumnMeta {
  std::string name, org_name, table, org_table, database;
  unsigned type = 0;         //!< enum_field_types
  unsigned long length = 0;  //!< display length in bytes
  unsigned charsetnr = 0;    //!< collation id (63 = binary)
  unsigned decimals = 0;
  unsigned flags = 0;  //!< MySQL column flags (NOT_NULL_FLAG, ...)
};

//! A whole buffered result set (or an OK packet: no columns, affected rows).
struct ResultSet {
  std::vector<ColumnMeta> columns;
  std::vector<std::vector<Value>> rows;
  uint64_t affected_rows = 0;
  uint64_t insert_id = 0;
  unsigned warnings = 0;
  std::string info;
};

//! One libmariadb connection. Move-only; closes on destruction.
class Connection {
 public:
  Connection() = default;
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  //! Connects; errors are transient (server down) or config (access denied, unknown database).
  static Result<Connection> open(const ConnParams& params);

  //! Runs a statement and discards any result. Multi-statements are not enabled.
  Status exec(std::string_view sql);
  //! Runs a statement and buffers its whole result.
  Result<ResultSet> query(std::string_view sql);
  //! Runs a query expected to return exactly one value (first column of the first row).
  Result<Value> scalar(std::string_view sql);
  //! Escapes for use inside '...' with the connection's charset.
  std::string escape(std::string_view s);
  //! The server's last error number and SQLSTATE (for forwarding errors verbatim).
  unsigned last_errno() const;
  std::string last_sqlstate() const;

  st_mysql* raw() { return mysql_; }
  bool is_open() const { return mysql_ != nullptr; }
  void close();

 private:
  explicit Connection(st_mysql* m) : mysql_(m) {}
  Error error_from_server(std::string_view what) const;
  st_mysql* mysql_ = nullptr;
};

using sv::quote_identifier;  //!< util/sql.hpp

}  // namespace sv::emulator::mysql
