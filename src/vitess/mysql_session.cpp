#include "vitess/mysql_session.hpp"

#include <netdb.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>
#include "vitess/mariadb_client.hpp"

#include <fmt/format.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace sv::vitess {
namespace {

const char* target_suffix(TabletType t) {
  switch (t) {
    case TabletType::primary: return "@primary";
    case TabletType::replica: return "@replica";
    case TabletType::rdonly: return "@rdonly";
  }
  return "@primary";
}

// libmariadb reads a CA only from a file, so a PEM from the config goes to a private temp file
// that lives as long as the session.
Result<std::string> write_ca_file(const std::string& pem) {
  char path[] = "/tmp/source-vitess-ca-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return system_error("cannot create a temporary file for ca_certificate");
  std::size_t done = 0;
  while (done < pem.size()) {
    ssize_t n = ::write(fd, pem.data() + done, pem.size() - done);
    if (n <= 0) {
      ::close(fd);
      ::unlink(path);
      return system_error("cannot write ca_certificate to a temporary file");
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return std::string(path);
}

// Whether host:port answers an HTTP request (vtgate's web port, a load balancer's HTTP listener):
// such a server waits for the client to speak first, exactly like a port where nothing answers,
// so only asking tells them apart. One HEAD request, each step bounded by `limit`.
bool speaks_http(const std::string& host, std::uint16_t port, std::chrono::milliseconds limit) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found) return false;
  const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, found->ai_protocol);
  bool http = false;
  auto wait_for = [&](short events) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, static_cast<int>(limit.count())) == 1 && (p.revents & events);
  };
  if (fd >= 0) {
    int rc = ::connect(fd, found->ai_addr, found->ai_addrlen);
    if (rc == 0 || (errno == EINPROGRESS && wait_for(POLLOUT))) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      static constexpr std::string_view kRequest = "HEAD / HTTP/1.0\r\n\r\n";
      if (err == 0 &&
          ::send(fd, kRequest.data(), kRequest.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(kRequest.size()) &&
          wait_for(POLLIN)) {
        char reply[5] = {};
        http = ::recv(fd, reply, sizeof reply, 0) == static_cast<ssize_t>(sizeof reply) &&
               std::string_view(reply, sizeof reply) == "HTTP/";
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return http;
}

// Before its greeting a MySQL server says nothing, and libmariadb reports a port where nothing
// answers and a port that answered in another protocol (or closed) alike: "Lost connection to
// server at 'handshake: reading initial communication packet', system error: N". N tells them
// apart: ETIMEDOUT means nothing came within connect_timeout.
Error no_greeting(const std::string& server_text, const MysqlOptions& o) {
  const std::string where = fmt::format("{}:{}", o.host, o.port);
  if (server_text.find(fmt::format("system error: {}", ETIMEDOUT)) != std::string::npos) {
    if (speaks_http(o.host, o.port, std::chrono::seconds(2))) {
      return config_error(fmt::format("{} answers HTTP, not the MySQL protocol: set mysql_port to vtgate's MySQL port "
                                      "(its -mysql_server_port, often 3306 or 15306), not a web port",
                                      where),
                          server_text);
    }
    return transient_error(fmt::format("Nothing answered on {} within {} s (MySQL protocol): a MySQL server greets at "
                                       "once; check host "
                                       "and mysql_port",
                                       where, o.connect_timeout.count()),
                           server_text);
  }
  return config_error(fmt::format("{} closed the connection without a MySQL greeting: the port does not speak the "
                                  "MySQL protocol; check mysql_port (vtgate's -mysql_server_port)",
                                  where),
                      server_text);
}

// Turns a failed mysql_real_connect into a message that says what to fix.
Error connect_error(MYSQL* mysql, const MysqlOptions& o) {
  const unsigned code = mysql_errno(mysql);
  const std::string server_text = mysql_error(mysql);
  const std::string where = fmt::format("{}:{}", o.host, o.port);
  switch (code) {
    case CR_UNKNOWN_HOST:
      return config_error(fmt::format("Unknown host '{}': check the host name", o.host), server_text);
    case CR_CONN_HOST_ERROR:
    case CR_CONNECTION_ERROR:
      if (server_text.find("timed out") != std::string::npos || server_text.find("Timeout") != std::string::npos)
        return transient_error(fmt::format("Timed out connecting to {} (MySQL protocol)", where), server_text);
      return transient_error(
          fmt::format("Connection to {} (MySQL protocol) was refused or failed: check host and mysql_port", where),
          server_text);
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
      return config_error(fmt::format("Access denied for user '{}': check username and password", o.username),
                          server_text);
    case ER_BAD_DB_ERROR:
      return config_error(fmt::format("Unknown database '{}': check the database (keyspace) name", o.database),
                          server_text);
    case CR_SERVER_LOST:
    case CR_SERVER_GONE_ERROR:
      if (server_text.find("initial communication packet") != std::string::npos) return no_greeting(server_text, o);
      if (o.tls_mode != TlsMode::disabled)
        return transient_error(fmt::format("Connection to {} was lost during the TLS handshake or login", where),
                               server_text);
      return transient_error(fmt::format("Connection to {} was lost during login", where), server_text);
    default: break;
  }
  if (server_text.find("SSL") != std::string::npos || server_text.find("TLS") != std::string::npos ||
      server_text.find("certificate") != std::string::npos)
    return config_error(
        fmt::format("TLS connection to {} failed (tls_mode {}): {}", where, to_string(o.tls_mode), server_text),
        server_text);
  return transient_error(fmt::format("Cannot connect to {} (MySQL protocol): {}", where, server_text), server_text);
}

}  // namespace

Result<MysqlSession> MysqlSession::connect(const MysqlOptions& o) {
  MYSQL* mysql = mysql_init(nullptr);
  if (!mysql) return system_error("out of memory creating a MySQL connection");

  unsigned connect_timeout = static_cast<unsigned>(o.connect_timeout.count());
  unsigned read_timeout = static_cast<unsigned>(o.read_timeout.count());
  mysql_optionsv(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_optionsv(mysql, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  mysql_optionsv(mysql, MYSQL_OPT_WRITE_TIMEOUT, &read_timeout);
  mysql_optionsv(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");

  std::string ca_file;
  if (o.tls_mode != TlsMode::disabled) {
    my_bool enforce = 1;
    // verify_ca and verify_identity: libmariadb 3.3 verifies chain and host name together, so
    // verify_ca is as strict as verify_identity over MySQL (docs/configuration.md).
    my_bool verify = (o.tls_mode == TlsMode::verify_ca || o.tls_mode == TlsMode::verify_identity) ? 1 : 0;
    mysql_optionsv(mysql, MYSQL_OPT_SSL_ENFORCE, &enforce);
    mysql_optionsv(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    // `required` verifies nothing, so it does not load the CA either (as the gRPC channel).
    if (verify && !o.ca_certificate.empty()) {
      auto file = write_ca_file(o.ca_certificate);
      if (!file) {
        mysql_close(mysql);
        return file.error();
      }
      ca_file = *file;
      mysql_optionsv(mysql, MYSQL_OPT_SSL_CA, ca_file.c_str());
    }
  }

  const std::string database = o.database.empty() ? std::string() : o.database + target_suffix(o.tablet_type);
  if (!mysql_real_connect(mysql, o.host.c_str(), o.username.c_str(), o.password.c_str(),
                          database.empty() ? nullptr : database.c_str(), o.port, nullptr, 0)) {
    Error error = connect_error(mysql, o);
    spdlog::debug("MySQL connect to {}:{} failed: {}", o.host, o.port, error.internal);
    mysql_close(mysql);
    if (!ca_file.empty()) ::unlink(ca_file.c_str());
    return error;
  }
  // libmariadb 3.3 enforces TLS only together with certificate verification: with tls_mode
  // `required` a server without TLS is accepted. Refuse the session here (the password went as
  // a mysql_native_password scramble, never in clear text).
  if (o.tls_mode != TlsMode::disabled && mysql_get_ssl_cipher(mysql) == nullptr) {
    mysql_close(mysql);
    if (!ca_file.empty()) ::unlink(ca_file.c_str());
    return config_error(
        fmt::format("TLS connection to {}:{} failed (tls_mode {}): the server does not offer TLS; "
                    "set tls_mode to disabled only if the network path is trusted",
                    o.host, o.port, to_string(o.tls_mode)));
  }
  return MysqlSession(mysql, std::move(ca_file));
}

MysqlSession::MysqlSession(st_mysql* mysql, std::string ca_file) : mysql_(mysql), ca_file_(std::move(ca_file)) {}

MysqlSession::MysqlSession(MysqlSession&& other) noexcept
    : mysql_(std::exchange(other.mysql_, nullptr)), ca_file_(std::move(other.ca_file_)) {
  other.ca_file_.clear();
}

MysqlSession& MysqlSession::operator=(MysqlSession&& other) noexcept {
  if (this != &other) {
    this->~MysqlSession();
    mysql_ = std::exchange(other.mysql_, nullptr);
    ca_file_ = std::move(other.ca_file_);
    other.ca_file_.clear();
  }
  return *this;
}

MysqlSession::~MysqlSession() {
  if (mysql_) mysql_close(mysql_);
  mysql_ = nullptr;
  if (!ca_file_.empty()) ::unlink(ca_file_.c_str());
  ca_file_.clear();
}

Result<QueryRows> MysqlSession::query(std::string_view sql) {
  if (mysql_real_query(mysql_, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    const unsigned code = mysql_errno(mysql_);
    std::string text = mysql_error(mysql_);
    if (code == CR_SERVER_LOST || code == CR_SERVER_GONE_ERROR)
      return transient_error("The MySQL connection to vtgate was lost: " + text);
    return system_error(fmt::format("Query failed: {} ({})", text, code), std::string(sql));
  }
  MYSQL_RES* res = mysql_store_result(mysql_);
  QueryRows out;
  if (!res) {
    if (mysql_field_count(mysql_) == 0) return out;  // a statement without a result set
    return transient_error(std::string("Reading a result from vtgate failed: ") + mysql_error(mysql_));
  }
  const unsigned n = mysql_num_fields(res);
  MYSQL_FIELD* fields = mysql_fetch_fields(res);
  for (unsigned i = 0; i < n; ++i) out.columns.emplace_back(fields[i].name);
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    unsigned long* lengths = mysql_fetch_lengths(res);
    auto& cells = out.rows.emplace_back();
    cells.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
      if (row[i])
        cells.emplace_back(std::string(row[i], lengths[i]));
      else
        cells.emplace_back(std::nullopt);
    }
  }
  mysql_free_result(res);
  return out;
}

std::string MysqlSession::quote(std::string_view text) {
  std::string out(text.size() * 2 + 3, '\0');
  out[0] = '\'';
  unsigned long n =
      mysql_real_escape_string(mysql_, out.data() + 1, text.data(), static_cast<unsigned long>(text.size()));
  out.resize(n + 1);
  out += '\'';
  return out;
}

}  // namespace sv::vitess
