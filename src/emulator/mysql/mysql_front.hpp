// src/emulator/mysql: the emulator's MySQL-protocol front (what vtgate's MySQL port is to a
// client): handshake v10, mysql_native_password against one configured account, optional TLS,
// COM_QUERY (text result sets), COM_INIT_DB, COM_PING, COM_QUIT. It answers
// `SHOW VITESS_SHARDS [LIKE '...']` and `SHOW VITESS_TABLETS` itself from the shard list it is
// given and forwards every other query to shard 0's MariaDB (libmariadb, on a pool thread),
// re-encoding the result. A database `db@primary` / `db@replica` (Vitess target) is read as `db`.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "emulator/mysql/mysql_client.hpp"
#include "util/result.hpp"

namespace sv::emulator::mysql {

struct MySqlFrontOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                        //!< 0 = any free port (see MySqlFront::port())
  std::string user;                         //!< the one account clients must log in with
  std::string password;                     //!< never logged
  std::optional<std::string> tls_cert_pem;  //!< PEM certificate chain; with tls_key_pem: TLS on
  std::optional<std::string> tls_key_pem;
  std::string keyspace;
  std::vector<std::string> shards;  //!< for SHOW VITESS_SHARDS / SHOW VITESS_TABLETS
  std::string cell = "zone1";
  ConnParams backend;       //!< shard 0's MariaDB (its database field is ignored)
  std::size_t threads = 4;  //!< pool for the blocking forwarded queries
  //! Awaited after a forwarded DDL succeeds and before the client gets its OK: vttablet reloads
  //! its schema there (QueryExecutor.execDDL), so a table created through vtgate can be
  //! streamed at once. Empty = nothing to do.
  std::function<boost::asio::awaitable<void>()> after_ddl;
};

//! The server. Runs its accept loop and sessions as coroutines on `io`.
class MySqlFront {
 public:
  MySqlFront(boost::asio::io_context& io, MySqlFrontOptions options);
  ~MySqlFront();
  MySqlFront(const MySqlFront&) = delete;
  MySqlFront& operator=(const MySqlFront&) = delete;

  //! Binds and starts accepting; returns the bound port.
  Result<uint16_t> start();
  //! Stops accepting (open sessions end when their clients leave or the io_context stops).
  void stop();
  uint16_t port() const { return port_; }

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

//! mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))). Empty pw → empty.
std::string native_password_scramble(const std::string& password, const std::string& scramble);

//! SQL LIKE match with % and _ (case-sensitive, `\` escapes), for SHOW ... LIKE.
bool sql_like(std::string_view text, std::string_view pattern);

}  // namespace sv::emulator::mysql
