// src/emulator/mysql: MySQL-protocol front (see mysql_front.hpp). Packet layouts follow the
// MySQL client/server protocol (protocol 4.1, text result sets with EOF packets).
#include "emulator/mysql/mysql_front.hpp"

#include <openssl/evp.h>
#include "vitess/mariadb_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <random>
#include <regex>

#include "emulator/mysql/offload.hpp"

namespace sv::emulator::mysql {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr uint32_t kLongPassword = 0x1, kFoundRows = 0x2, kLongFlag = 0x4, kConnectWithDb = 0x8, kProtocol41 = 0x200,
                   kSsl = 0x800, kTransactions = 0x2000, kSecureConnection = 0x8000, kMultiResults = 0x20000,
                   kPluginAuth = 0x80000, kPluginAuthLenenc = 0x200000;
constexpr uint16_t kStatusAutocommit = 0x2;
constexpr uint8_t kCharsetUtf8mb4 = 45;
constexpr const char* kNativePlugin = "mysql_native_password";
constexpr const char* kServerVersion = "8.0.30-Vitess";  // vtgate announces a MySQL 8 version

std::string sha1(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

void put_int(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out += char((v >> (8 * i)) & 0xff);
}

void put_lenenc(std::string& out, uint64_t v) {
  if (v < 251) {
    out += char(v);
  } else if (v < (1 << 16)) {
    out += char(0xfc);
    put_int(out, v, 2);
  } else if (v < (1 << 24)) {
    out += char(0xfd);
    put_int(out, v, 3);
  } else {
    out += char(0xfe);
    put_int(out, v, 8);
  }
}

void put_lenenc_str(std::string& out, std::string_view s) {
  put_lenenc(out, s.size());
  out += s;
}

std::string ok_packet(uint64_t affected = 0, uint64_t insert_id = 0, uint16_t warnings = 0) {
  std::string p(1, '\0');
  put_lenenc(p, affected);
  put_lenenc(p, insert_id);
  put_int(p, kStatusAutocommit, 2);
  put_int(p, warnings, 2);
  return p;
}

std::string err_packet(uint16_t code, std::string_view sqlstate, std::string_view msg) {
  std::string p(1, char(0xff));
  put_int(p, code, 2);
  p += '#';
  std::string st(sqlstate.substr(0, 5));
  st.resize(5, '0');
  p += st;
  p += msg;
  return p;
}

std::string eof_packet() {
  std::string p(1, char(0xfe));
  put_int(p, 0, 2);
  put_int(p, kStatusAutocommit, 2);
  return p;
}

std::string column_def(const ColumnMeta& c) {
  std::string p;
  put_lenenc_str(p, "def");
  put_lenenc_str(p, c.database);
  put_lenenc_str(p, c.table);
  put_lenenc_str(p, c.org_table);
  put_lenenc_str(p, c.name);
  put_lenenc_str(p, c.org_name);
  p += char(0x0c);
  put_int(p, c.charsetnr, 2);
  put_int(p, c.length, 4);
  p += char(c.type);
  put_int(p, c.flags, 2);
  p += char(c.decimals);
  put_int(p, 0, 2);
  return p;
}

ColumnMeta string_column(std::string name) {
  ColumnMeta c;
  c.name = c.org_name = std::move(name);
  c.type = MYSQL_TYPE_VAR_STRING;
  c.charsetnr = kCharsetUtf8mb4;
  c.length = 1024;
  return c;
}

// Strips a Vitess target suffix: "db@primary" → "db", "db:-80@replica" → "db".
std::string strip_target(std::string db) {
  auto at = db.find('@');
  if (at != std::string::npos) db.resize(at);
  auto colon = db.find(':');
  if (colon != std::string::npos) db.resize(colon);
  return db;
}

std::string random_scramble() {
  std::random_device rd;
  std::string s(20, '\0');
  for (auto& c : s) c = char(33 + rd() % 94);  // printable, never NUL
  return s;
}

std::string rfc3339_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string native_password_scramble(const std::string& password, const std::string& scramble) {
  if (password.empty()) return {};
  const std::string h1 = sha1(password);
  const std::string h2 = sha1(h1);
  const std::string h3 = sha1(scramble + h2);
  std::string out(h1.size(), '\0');
  for (size_t i = 0; i < h1.size(); ++i) out[i] = char(h1[i] ^ h3[i]);
  return out;
}

bool sql_like(std::string_view t, std::string_view p) {
  // Iterative wildcard match with backtracking on the last '%'.
  size_t ti = 0, pi = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '\\' && pi + 1 < p.size() && p[pi + 1] == t[ti]) {
      pi += 2;
      ++ti;
    } else if (pi < p.size() && (p[pi] == '_' || (p[pi] == t[ti] && p[pi] != '%' && p[pi] != '\\'))) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '%') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

struct MySqlFront::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, MySqlFrontOptions o)
      : io(io), opt(std::move(o)), acceptor(io), pool(opt.threads == 0 ? 4 : opt.threads), started(rfc3339_now()) {}

  asio::io_context& io;
  MySqlFrontOptions opt;
  tcp::acceptor acceptor;
  asio::thread_pool pool;
  std::optional<asio::ssl::context> tls;
  std::string started;
  uint32_t next_id = 1;

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(tcp::socket sock, uint32_t id);
  std::vector<std::string> tablet_rows_shards() const { return opt.shards; }
};

namespace {

// One client connection: packet I/O over plain TCP or TLS.
class Wire {
 public:
  explicit Wire(tcp::socket s) : sock_(std::move(s)) {}
  asio::awaitable<std::string> read_packet() {
    unsigned char h[4];
    co_await read(asio::buffer(h, 4));
    size_t len = size_t(h[0]) | size_t(h[1]) << 8 | size_t(h[2]) << 16;
    seq_ = uint8_t(h[3] + 1);
    std::string payload(len, '\0');
    if (len > 0) co_await read(asio::buffer(payload.data(), len));
    co_return payload;
  }
  // Queues a packet; flush() sends everything queued (one write per response).
  void queue(std::string_view payload) {
    put_int(out_, payload.size(), 3);
    out_ += char(seq_++);
    out_ += payload;
  }
  asio::awaitable<void> flush() {
    std::string data;
    data.swap(out_);
    if (tls_)
      co_await asio::async_write(*tls_, asio::buffer(data), asio::use_awaitable);
    else
      co_await asio::async_write(sock_, asio::buffer(data), asio::use_awaitable);
  }
  asio::awaitable<void> start_tls(asio::ssl::context& ctx) {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, ctx);
    co_await tls_->async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
  }
  void reset_seq() { seq_ = 0; }
  std::string peer() const {
    boost::system::error_code ec;
    auto ep = sock_.remote_endpoint(ec);
    return ec ? "?" : ep.address().to_string();
  }

 private:
  asio::awaitable<void> read(asio::mutable_buffer b) {
    if (tls_)
      co_await asio::async_read(*tls_, b, asio::use_awaitable);
    else
      co_await asio::async_read(sock_, b, asio::use_awaitable);
  }
  tcp::socket sock_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  uint8_t seq_ = 0;
  std::string out_;
};

struct Forwarded {
  std::optional<ResultSet> rs;
  unsigned err = 0;
  std::string sqlstate, message;
};

void queue_result(Wire& w, const ResultSet& rs) {
  if (rs.columns.empty()) {
    w.queue(ok_packet(rs.affected_rows, rs.insert_id, uint16_t(rs.warnings)));
    return;
  }
  std::string n;
  put_lenenc(n, rs.columns.size());
  w.queue(n);
  for (const auto& c : rs.columns) w.queue(column_def(c));
  w.queue(eof_packet());
  for (const auto& row : rs.rows) {
    std::string r;
    for (const auto& v : row) {
      if (v)
        put_lenenc_str(r, *v);
      else
        r += char(0xfb);
    }
    w.queue(r);
  }
  w.queue(eof_packet());
}

}  // namespace

asio::awaitable<void> MySqlFront::Impl::accept_loop() {
  auto self = shared_from_this();
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // closed by stop()
    const uint32_t id = next_id++;
    asio::co_spawn(io, session(std::move(s), id), [id](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const boost::system::system_error& se) {
        if (se.code() != asio::error::eof && se.code() != asio::error::operation_aborted &&
            se.code() != asio::error::connection_reset)
          spdlog::debug("mysql front: session {} ended: {}", id, se.what());
      } catch (const std::exception& ex) {
        spdlog::warn("mysql front: session {} failed: {}", id, ex.what());
      }
    });
  }
}

asio::awaitable<void> MySqlFront::Impl::session(tcp::socket sock, uint32_t id) {
  auto self = shared_from_this();
  Wire w(std::move(sock));
  const std::string scramble = random_scramble();

  // Handshake v10.
  uint32_t caps = kLongPassword | kFoundRows | kLongFlag | kConnectWithDb | kProtocol41 | kTransactions |
                  kSecureConnection | kMultiResults | kPluginAuth | kPluginAuthLenenc;
  if (tls) caps |= kSsl;
  std::string hs(1, char(10));
  hs += kServerVersion;
  hs += '\0';
  put_int(hs, id, 4);
  hs += scramble.substr(0, 8);
  hs += '\0';
  put_int(hs, caps & 0xffff, 2);
  hs += char(kCharsetUtf8mb4);
  put_int(hs, kStatusAutocommit, 2);
  put_int(hs, caps >> 16, 2);
  hs += char(21);
  hs += std::string(10, '\0');
  hs += scramble.substr(8);
  hs += '\0';
  hs += kNativePlugin;
  hs += '\0';
  w.queue(hs);
  co_await w.flush();

  std::string resp = co_await w.read_packet();
  if (resp.size() < 32) co_return;
  auto u32 = [&](size_t at) {
    return uint32_t(uint8_t(resp[at])) | uint32_t(uint8_t(resp[at + 1])) << 8 | uint32_t(uint8_t(resp[at + 2])) << 16 |
           uint32_t(uint8_t(resp[at + 3])) << 24;
  };
  uint32_t client_caps = u32(0);
  if ((client_caps & kSsl) && resp.size() == 32) {
    if (!tls) co_return;
    co_await w.start_tls(*tls);
    resp = co_await w.read_packet();
    if (resp.size() < 32) co_return;
    client_caps = u32(0);
  } else if (tls && !(client_caps & kSsl)) {
    // TLS is optional for clients: a plain login is accepted as vtgate does by default.
  }
  size_t pos = 32;
  auto cstr = [&]() {
    size_t e = resp.find('\0', pos);
    if (e == std::string::npos) e = resp.size();
    std::string s = resp.substr(pos, e - pos);
    pos = std::min(resp.size(), e + 1);
    return s;
  };
  std::string user = cstr();
  std::string auth;
  if (client_caps & kPluginAuthLenenc) {
    size_t n = pos < resp.size() ? uint8_t(resp[pos]) : 0;  // < 251 for a 20-byte scramble
    auth = resp.substr(std::min(resp.size(), pos + 1), n);
    pos = std::min(resp.size(), pos + 1 + n);
  } else if (client_caps & kSecureConnection) {
    size_t n = pos < resp.size() ? uint8_t(resp[pos]) : 0;
    auth = resp.substr(std::min(resp.size(), pos + 1), n);
    pos = std::min(resp.size(), pos + 1 + n);
  } else {
    auth = cstr();
  }
  std::string db = (client_caps & kConnectWithDb) && pos < resp.size() ? cstr() : std::string();
  std::string plugin = (client_caps & kPluginAuth) && pos < resp.size() ? cstr() : std::string(kNativePlugin);
  if (plugin != kNativePlugin) {  // ask the client to switch to mysql_native_password
    std::string sw(1, char(0xfe));
    sw += kNativePlugin;
    sw += '\0';
    sw += scramble;
    sw += '\0';
    w.queue(sw);
    co_await w.flush();
    auth = co_await w.read_packet();
  }
  if (user != opt.user || auth != native_password_scramble(opt.password, scramble)) {
    w.queue(err_packet(1045, "28000",
                       fmt::format("Access denied for user '{}'@'{}' (using password: {})", user, w.peer(),
                                   auth.empty() ? "NO" : "YES")));
    co_await w.flush();
    co_return;
  }
  db = strip_target(db);

  // Shard 0's MariaDB for everything the front does not answer itself; opened lazily.
  auto backend = std::make_shared<Connection>();
  auto open_backend = [this, backend](std::string database) -> Forwarded {
    Forwarded f;
    ConnParams p = opt.backend;
    p.database = std::move(database);
    auto c = Connection::open(p);
    if (!c) {
      f.err = 2003;
      f.sqlstate = "HY000";
      f.message = c.error().message;
      return f;
    }
    *backend = std::move(*c);
    f.rs = ResultSet{};
    return f;
  };
  if (!db.empty()) {  // validate the database now, like a real server does at login
    auto job = [open_backend, db]() { return open_backend(db); };
    Forwarded f = co_await offload(pool, std::move(job));
    if (!f.rs) {
      w.queue(err_packet(1049, "42000", fmt::format("Unknown database '{}'", db)));
      co_await w.flush();
      co_return;
    }
  }
  w.queue(ok_packet());
  co_await w.flush();

  static const std::regex shards_re(R"(^\s*show\s+vitess_shards(?:\s+like\s+(['"])(.*)\1)?\s*;?\s*$)",
                                    std::regex::icase);
  static const std::regex tablets_re(R"(^\s*show\s+vitess_tablets\s*;?\s*$)", std::regex::icase);
  static const std::regex ddl_re(R"(^\s*(create|alter|drop|rename|truncate)\s)", std::regex::icase);

  for (;;) {
    w.reset_seq();
    std::string cmd = co_await w.read_packet();
    if (cmd.empty()) co_return;
    const uint8_t code = uint8_t(cmd[0]);
    std::string arg = cmd.substr(1);
    if (code == 0x01) co_return;  // COM_QUIT
    if (code == 0x0e) {           // COM_PING
      w.queue(ok_packet());
      co_await w.flush();
      continue;
    }
    if (code == 0x02) {  // COM_INIT_DB
      std::string target = strip_target(arg);
      auto job = [open_backend, target]() { return open_backend(target); };
      Forwarded f = co_await offload(pool, std::move(job));
      if (f.rs) {
        db = target;
        w.queue(ok_packet());
      } else {
        w.queue(err_packet(1049, "42000", fmt::format("Unknown database '{}'", target)));
      }
      co_await w.flush();
      continue;
    }
    if (code != 0x03) {
      w.queue(err_packet(1047, "08S01", "Unknown command"));
      co_await w.flush();
      continue;
    }
    std::smatch m;
    if (std::regex_match(arg, m, shards_re)) {
      ResultSet rs;
      rs.columns.push_back(string_column("Shards"));
      for (const auto& s : opt.shards) {
        std::string name = opt.keyspace + "/" + s;
        if (m[2].matched && !sql_like(name, m[2].str())) continue;
        rs.rows.push_back({name});
      }
      queue_result(w, rs);
      co_await w.flush();
      continue;
    }
    if (std::regex_match(arg, m, tablets_re)) {
      ResultSet rs;
      for (const char* c :
           {"Cell", "Keyspace", "Shard", "TabletType", "State", "Alias", "Hostname", "PrimaryTermStartTime"})
        rs.columns.push_back(string_column(c));
      for (size_t i = 0; i < opt.shards.size(); ++i)
        rs.rows.push_back({opt.cell, opt.keyspace, opt.shards[i], std::string("PRIMARY"), std::string("SERVING"),
                           fmt::format("{}-{:010d}", opt.cell, 100 + i), opt.backend.host, started});
      queue_result(w, rs);
      co_await w.flush();
      continue;
    }
    // Forward to shard 0's MariaDB.
    auto job = [open_backend, backend, db, arg]() {
      if (!backend->is_open()) {
        Forwarded f = open_backend(db);
        if (!f.rs) return f;
      }
      Forwarded f;
      auto r = backend->query(arg);
      if (r) {
        f.rs = std::move(*r);
      } else {
        f.err = backend->last_errno() ? backend->last_errno() : 2013;
        f.sqlstate = backend->last_sqlstate();
        f.message = backend->raw() ? mysql_error(backend->raw()) : r.error().message;
        if (f.err == 2006 || f.err == 2013) backend->close();  // reopen on the next query
      }
      return f;
    };
    Forwarded f = co_await offload(pool, std::move(job));
    if (f.rs && opt.after_ddl && std::regex_search(arg, ddl_re)) co_await opt.after_ddl();
    if (f.rs)
      queue_result(w, *f.rs);
    else
      w.queue(err_packet(uint16_t(f.err), f.sqlstate, f.message));
    co_await w.flush();
  }
}

MySqlFront::MySqlFront(asio::io_context& io, MySqlFrontOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

MySqlFront::~MySqlFront() {
  stop();
  impl_->pool.join();
}

Result<uint16_t> MySqlFront::start() {
  auto& o = impl_->opt;
  if (o.tls_cert_pem.has_value() != o.tls_key_pem.has_value())
    return config_error("the MySQL front needs both a TLS certificate and key, or neither");
  try {
    if (o.tls_cert_pem) {
      impl_->tls.emplace(asio::ssl::context::tls_server);
      impl_->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                              asio::ssl::context::no_sslv3);
      impl_->tls->use_certificate_chain(asio::buffer(*o.tls_cert_pem));
      impl_->tls->use_private_key(asio::buffer(*o.tls_key_pem), asio::ssl::context::pem);
    }
    tcp::endpoint ep(asio::ip::make_address(o.host), o.port);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    port_ = impl_->acceptor.local_endpoint().port();
  } catch (const boost::system::system_error& e) {
    return config_error(fmt::format("cannot start the MySQL front on {}:{}: {}", o.host, o.port, e.what()));
  }
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return port_;
}

void MySqlFront::stop() {
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace sv::emulator::mysql
