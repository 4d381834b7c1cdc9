// Integration: the MySQL-protocol front, with the real `mariadb` command-line client and with
// libmariadb: login (right and wrong password, Vitess target database names), SHOW VITESS_*,
// forwarded SHOW TABLES / information_schema queries and errors, COM_PING, COM_INIT_DB, TLS.
#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "emulator/mysql/mariadb_backend.hpp"
#include "emulator/mysql/mysql_front.hpp"
#include "test_util.hpp"

// Last: mysql.h defines macros (NOT_NULL_FLAG, ...) that clash with query.pb.h's enum names.
#include "vitess/mariadb_client.hpp"

using namespace sv::emulator::mysql;
namespace asio = boost::asio;

namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct FrontFixture {
  MariaDbInstance db{svtest::instance_opts(21)};
  asio::io_context io;
  std::unique_ptr<MySqlFront> front;
  std::thread thread;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};

  std::unique_ptr<MariaDbBackend> backend;  // with_backend: the schema the VStream server would use

  explicit FrontFixture(bool with_tls = false, std::string tmp = {}, bool with_backend = false) {
    SV_REQUIRE_OK(db.start());
    auto c = db.connect();
    SV_REQUIRE_OK(c);
    SV_REQUIRE_OK(c->exec("CREATE DATABASE commerce"));
    SV_REQUIRE_OK(c->exec("CREATE TABLE commerce.product (sku VARCHAR(16) PRIMARY KEY, price DECIMAL(8,2))"));
    SV_REQUIRE_OK(c->exec("CREATE TABLE commerce.orders (id BIGINT PRIMARY KEY, note TEXT)"));
    SV_REQUIRE_OK(c->exec("INSERT INTO commerce.product VALUES ('a',1.50),('b',NULL)"));
    MySqlFrontOptions o;
    o.user = "vt";
    o.password = "pa'ss";
    o.keyspace = "commerce";
    o.shards = {"-80", "80-"};
    o.backend = db.conn_params();
    if (with_tls) {
      o.tls_cert_pem = slurp(tmp + "/cert.pem");
      o.tls_key_pem = slurp(tmp + "/key.pem");
    }
    if (with_backend) {
      // As vtgate-emulator wires them: no periodic refresh here, so only the DDL hook can show
      // a new table.
      MariaDbBackendOptions bo;
      bo.keyspace = "commerce";
      bo.shards = {{"-", db.conn_params(), 21, 21}};
      bo.threads = 2;
      bo.catalog_refresh = std::chrono::milliseconds(0);
      backend = std::make_unique<MariaDbBackend>(io.get_executor(), bo);
      SV_REQUIRE_OK(backend->start());
      o.after_ddl = [b = backend.get()]() -> asio::awaitable<void> {
        auto st = co_await b->refresh();
        SV_REQUIRE_OK(st);
      };
    }
    front = std::make_unique<MySqlFront>(io, o);
    auto port = front->start();
    SV_REQUIRE_OK(port);
    thread = std::thread([this] { io.run(); });
  }
  ~FrontFixture() {
    asio::post(io, [this] { front->stop(); });
    work.reset();
    io.stop();
    thread.join();
  }
  std::string cli(const std::string& args) {
    return run(fmt::format("mariadb --no-defaults -h127.0.0.1 -P{} -uvt \"-ppa'ss\" {}", front->port(), args));
  }
};

MYSQL* connect_raw(uint16_t port, const char* user, const char* pass, const char* database, bool tls = false) {
  MYSQL* m = mysql_init(nullptr);
  if (tls) {
    my_bool on = 1, off = 0;
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
  }
  if (!mysql_real_connect(m, "127.0.0.1", user, pass, database, port, nullptr, 0)) return m;
  return m;
}

std::vector<std::vector<std::string>> rows_of(MYSQL* m, const char* sql) {
  std::vector<std::vector<std::string>> out;
  if (mysql_query(m, sql) != 0) return {{"ERROR", std::to_string(mysql_errno(m)), mysql_sqlstate(m), mysql_error(m)}};
  MYSQL_RES* r = mysql_store_result(m);
  if (!r) return out;
  unsigned n = mysql_num_fields(r);
  while (MYSQL_ROW row = mysql_fetch_row(r)) {
    std::vector<std::string> v;
    for (unsigned i = 0; i < n; ++i) v.push_back(row[i] ? row[i] : "NULL");
    out.push_back(v);
  }
  mysql_free_result(r);
  return out;
}

}  // namespace

TEST_CASE("MySQL front with libmariadb: login, SHOW VITESS_*, forwarded queries, errors") {
  FrontFixture fx;
  using Rows = std::vector<std::vector<std::string>>;

  MYSQL* m = connect_raw(fx.front->port(), "vt", "pa'ss", "commerce@primary");
  REQUIRE_MESSAGE(mysql_errno(m) == 0, mysql_error(m));
  CHECK(std::string(mysql_get_server_info(m)) == "8.0.30-Vitess");
  CHECK(rows_of(m, "SHOW VITESS_SHARDS") == Rows{{"commerce/-80"}, {"commerce/80-"}});
  CHECK(rows_of(m, "show vitess_shards like \"%commerce%\"") == Rows{{"commerce/-80"}, {"commerce/80-"}});
  CHECK(rows_of(m, "SHOW VITESS_SHARDS LIKE '%80-'") == Rows{{"commerce/80-"}});
  CHECK(rows_of(m, "SHOW VITESS_SHARDS LIKE 'other%'") == Rows{});
  {
    REQUIRE(mysql_query(m, "SHOW VITESS_SHARDS") == 0);
    MYSQL_RES* r = mysql_store_result(m);
    REQUIRE(r != nullptr);
    CHECK(std::string(mysql_fetch_field_direct(r, 0)->name) == "Shards");
    mysql_free_result(r);
  }
  auto tablets = rows_of(m, "SHOW VITESS_TABLETS");
  REQUIRE(tablets.size() == 2);
  CHECK(tablets[0][0] == "zone1");
  CHECK(tablets[0][1] == "commerce");
  CHECK(tablets[0][2] == "-80");
  CHECK(tablets[0][3] == "PRIMARY");
  CHECK(tablets[0][4] == "SERVING");
  CHECK(tablets[1][5] == "zone1-0000000101");

  CHECK(rows_of(m, "SHOW TABLES FROM `commerce`") == Rows{{"orders"}, {"product"}});
  CHECK(rows_of(m,
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE "
                "TABLE_SCHEMA='commerce' AND TABLE_NAME='product' ORDER BY ORDINAL_POSITION") ==
        Rows{{"sku", "varchar(16)", "NO"}, {"price", "decimal(8,2)", "YES"}});
  CHECK(rows_of(m, "SELECT 1") == Rows{{"1"}});
  CHECK(rows_of(m, "SELECT sku, price FROM product ORDER BY sku") == Rows{{"a", "1.50"}, {"b", "NULL"}});
  {
    REQUIRE(mysql_query(m, "SELECT price FROM product LIMIT 1") == 0);
    MYSQL_RES* r = mysql_store_result(m);
    REQUIRE(r != nullptr);
    MYSQL_FIELD* f = mysql_fetch_field_direct(r, 0);
    CHECK(f->type == MYSQL_TYPE_NEWDECIMAL);
    CHECK(f->decimals == 2);
    CHECK(std::string(f->table) == "product");
    CHECK(std::string(f->db) == "commerce");
    mysql_free_result(r);
  }
  CHECK(rows_of(m, "SELECT * FROM nope") == Rows{{"ERROR", "1146", "42S02", "Table 'commerce.nope' doesn't exist"}});
  CHECK(rows_of(m, "SELEC 1")[0][1] == "1064");
  // Writes are forwarded too (shard 0); an OK packet with the affected rows comes back.
  REQUIRE(mysql_query(m, "INSERT INTO product VALUES ('c', 3.00)") == 0);
  CHECK(mysql_affected_rows(m) == 1);
  CHECK(mysql_ping(m) == 0);
  CHECK(mysql_select_db(m, "information_schema@replica") == 0);
  CHECK(rows_of(m, "SELECT DATABASE()") == Rows{{"information_schema"}});
  CHECK(mysql_select_db(m, "missing") != 0);
  CHECK(mysql_errno(m) == 1049);
  mysql_close(m);

  // Wrong password, wrong user, unknown database.
  MYSQL* bad = connect_raw(fx.front->port(), "vt", "nope", nullptr);
  CHECK(mysql_errno(bad) == 1045);
  CHECK(std::string(mysql_error(bad)).find("Access denied for user 'vt'") != std::string::npos);
  mysql_close(bad);
  MYSQL* nouser = connect_raw(fx.front->port(), "root", "pa'ss", nullptr);
  CHECK(mysql_errno(nouser) == 1045);
  mysql_close(nouser);
  MYSQL* nodb = connect_raw(fx.front->port(), "vt", "pa'ss", "nodb@primary");
  CHECK(mysql_errno(nodb) == 1049);
  mysql_close(nodb);
}

TEST_CASE("MySQL front: a table created through it is in the schema when the DDL returns") {
  // vttablet reloads its schema engine before a DDL's answer (vitessio/vitess
  // go/vt/vttablet/tabletserver/query_executor.go, execDDL), so a VStream copy started right after
  // a CREATE TABLE through vtgate finds the table (uvstreamer.go buildTablePlan reads that cache).
  FrontFixture fx(false, {}, true);
  auto has = [&](const std::string& table) {
    // catalog() returns a copy: keep it alive for the loop (a range-for over a member of the
    // temporary would read freed memory).
    const auto catalog = fx.backend->catalog();
    std::vector<std::string> names;
    for (const auto& t : catalog[0].tables) names.push_back(t->name);
    return std::find(names.begin(), names.end(), table) != names.end();
  };
  CHECK_FALSE(has("lat"));
  MYSQL* m = connect_raw(fx.front->port(), "vt", "pa'ss", "commerce@primary");
  REQUIRE(mysql_errno(m) == 0);
  REQUIRE(mysql_query(m, "CREATE TABLE lat (id INT PRIMARY KEY, v VARCHAR(8))") == 0);
  CHECK(has("lat"));
  REQUIRE(mysql_query(m, "create table lat2 (id INT PRIMARY KEY)") == 0);
  CHECK(has("lat2"));
  REQUIRE(mysql_query(m, "DROP TABLE lat2") == 0);
  CHECK_FALSE(has("lat2"));
  mysql_close(m);
}

TEST_CASE("MySQL front with the mariadb command-line client") {
  FrontFixture fx;
  CHECK(fx.cli("-D commerce@primary -N -B -e 'SHOW VITESS_SHARDS'") == "commerce/-80\ncommerce/80-\n");
  CHECK(fx.cli("-N -B -e 'SHOW TABLES FROM `commerce`'") == "orders\nproduct\n");
  CHECK(fx.cli("-N -B -e \"SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE "
               "TABLE_SCHEMA='commerce' ORDER BY TABLE_NAME, ORDINAL_POSITION\"") ==
        "orders\tid\norders\tnote\nproduct\tsku\nproduct\tprice\n");
  CHECK(fx.cli("-N -B -e 'SELECT 1'") == "1\n");
  auto denied = run(fmt::format("mariadb --no-defaults -h127.0.0.1 -P{} -uvt -pwrong -e 'SELECT 1'", fx.front->port()));
  CHECK(denied.find("ERROR 1045 (28000): Access denied for user 'vt'") != std::string::npos);
}

TEST_CASE("MySQL front over TLS") {
  auto tmp = std::filesystem::temp_directory_path() / ("sv-front-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  auto gen =
      run(fmt::format("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 2 "
                      "-keyout {0}/key.pem -out {0}/cert.pem",
                      tmp.string()));
  REQUIRE_MESSAGE(std::filesystem::exists(tmp / "cert.pem"), gen);
  {
    FrontFixture fx(true, tmp.string());
    MYSQL* m = connect_raw(fx.front->port(), "vt", "pa'ss", "commerce", true);
    REQUIRE_MESSAGE(mysql_errno(m) == 0, mysql_error(m));
    const char* cipher = mysql_get_ssl_cipher(m);
    REQUIRE(cipher != nullptr);
    CHECK(std::string(cipher).size() > 0);
    CHECK(rows_of(m, "SHOW VITESS_SHARDS") ==
          std::vector<std::vector<std::string>>{{"commerce/-80"}, {"commerce/80-"}});
    mysql_close(m);
    // Plain (non-TLS) clients are still accepted.
    MYSQL* p = connect_raw(fx.front->port(), "vt", "pa'ss", "commerce");
    CHECK(mysql_errno(p) == 0);
    CHECK(mysql_get_ssl_cipher(p) == nullptr);
    mysql_close(p);
  }
  std::filesystem::remove_all(tmp);
}
