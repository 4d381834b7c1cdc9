// src/vitess: a MySQL-protocol session to vtgate (libmariadb), used by check and discover.
// TLS follows the connector's tls_mode; the database is addressed with Vitess' target syntax
// (`shop@primary`, `shop@replica`, `shop@rdonly`) so the tablet type matches what VStream reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"
#include "util/sql.hpp"
#include "util/tls_mode.hpp"
#include "vitess/vstream_request.hpp"

struct st_mysql;

namespace sv::vitess {

using sv::TlsMode;

struct MysqlOptions {
  std::string host;
  std::uint16_t port = 3306;
  std::string username;
  std::string password;
  std::string database;  //!< keyspace; empty = none
  TabletType tablet_type = TabletType::primary;
  TlsMode tls_mode = TlsMode::verify_identity;
  std::string ca_certificate;  //!< PEM; empty = the system's roots
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds read_timeout{30};
};

//! One text-protocol result set: rows of nullable cells.
struct QueryRows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

class MysqlSession {
 public:
  //! Connects and logs in. Errors name the cause in words a user can act on (unknown host,
  //! refused, TLS, credentials, unknown database, timeout) with the failure type set.
  static Result<MysqlSession> connect(const MysqlOptions& options);

  MysqlSession(MysqlSession&&) noexcept;
  MysqlSession& operator=(MysqlSession&&) noexcept;
  ~MysqlSession();

  Result<QueryRows> query(std::string_view sql);
  //! `text` quoted as a SQL string literal for this connection's character set.
  std::string quote(std::string_view text);

 private:
  MysqlSession(st_mysql* mysql, std::string ca_file);
  st_mysql* mysql_ = nullptr;
  std::string ca_file_;  //!< temporary file holding ca_certificate (libmariadb takes a path)
};

using sv::quote_identifier;  //!< util/sql.hpp

}  // namespace sv::vitess
