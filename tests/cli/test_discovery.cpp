// Discovery against a real MariaDB: the tables, columns, primary keys and row estimates that
// `discover` reads over the MySQL protocol, and the exact AirbyteStream JSON it builds.
#include <doctest/doctest.h>

#include "airbyte/config.hpp"
#include "cli/live_commands.hpp"
#include "emulator/mysql/mariadb_instance.hpp"
#include "vitess/discovery.hpp"
#include "vitess/mysql_session.hpp"

namespace {

using sv::emulator::mysql::MariaDbInstance;

MariaDbInstance& server() {
  static MariaDbInstance instance = [] {
    sv::emulator::mysql::InstanceOptions options;
    options.password = "pw";
    return MariaDbInstance(options);
  }();
  return instance;
}

sv::vitess::MysqlSession session() {
  auto& db = server();
  if (!db.running()) {
    auto started = db.start();
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message + db.error_log_tail()));
    auto c = db.connect();
    REQUIRE(c.ok());
    for (const char* sql : {
             "CREATE DATABASE shop",
             "CREATE TABLE shop.customers (id INT NOT NULL PRIMARY KEY, email VARCHAR(255), "
             "created_at DATETIME, active TINYINT(1) NOT NULL DEFAULT 1, balance DECIMAL(10,2))",
             "CREATE TABLE shop.order_items (order_id BIGINT UNSIGNED NOT NULL, line SMALLINT NOT NULL, "
             "sku CHAR(8) NOT NULL, PRIMARY KEY (order_id, line))",
             "CREATE TABLE shop.events (payload JSON, at TIMESTAMP NULL)",
             "CREATE TABLE shop._vt_hld_6ace8bcef73211ea87e9f875a4d24e90_20200915120410 (id INT PRIMARY KEY)",
             "CREATE TABLE shop._0e8a27c8_1d4d_11ed_a4e8_0a43f95f28a3_20220813_vrepl (id INT PRIMARY KEY)",
             "INSERT INTO shop.customers (id, email) VALUES (1, 'a@example.com'), (2, NULL)",
             "ANALYZE TABLE shop.customers",
         }) {
      auto st = c->exec(sql);
      REQUIRE_MESSAGE(st.ok(), sql);
    }
  }
  sv::vitess::MysqlOptions options;
  options.host = "127.0.0.1";
  options.port = db.port();
  options.username = "root";
  options.password = "pw";
  options.tls_mode = sv::vitess::TlsMode::disabled;
  auto s = sv::vitess::MysqlSession::connect(options);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
  return std::move(*s);
}

}  // namespace

TEST_CASE("Vitess internal tables are hidden as the Go connector hides them") {
  using sv::vitess::is_internal_table;
  CHECK(is_internal_table("_vt_hld_6ace8bcef73211ea87e9f875a4d24e90_20200915120410"));
  CHECK(is_internal_table("_0e8a27c8_1d4d_11ed_a4e8_0a43f95f28a3_20220813_vrepl"));
  CHECK(is_internal_table("_orders_1660_vrepl"));
  CHECK_FALSE(is_internal_table("customers"));
  CHECK_FALSE(is_internal_table("vt_orders"));
}

TEST_CASE("discover_tables reads tables, columns in order, primary keys in key order") {
  auto s = session();
  auto tables = sv::vitess::discover_tables(s, "shop");
  REQUIRE(tables.ok());
  REQUIRE(tables->size() == 3);
  const auto& customers = (*tables)[0];
  CHECK(customers.name == "customers");
  CHECK(customers.columns == std::vector<sv::vitess::ColumnInfo>{{"id", "int(11)", false},
                                                                 {"email", "varchar(255)", true},
                                                                 {"created_at", "datetime", true},
                                                                 {"active", "tinyint(1)", false},
                                                                 {"balance", "decimal(10,2)", true}});
  CHECK(customers.primary_key == std::vector<std::string>{"id"});
  CHECK(customers.row_estimate == std::optional<std::uint64_t>(2));
  CHECK((*tables)[1].name == "events");
  CHECK((*tables)[1].primary_key.empty());
  CHECK((*tables)[2].name == "order_items");
  CHECK((*tables)[2].primary_key == std::vector<std::string>{"order_id", "line"});
}

TEST_CASE("stream_json is the Go connector's stream plus is_resumable and the CDC columns") {
  auto s = session();
  auto tables = sv::vitess::discover_tables(s, "shop");
  REQUIRE(tables.ok());
  sv::airbyte::Config config;
  config.database = "shop";

  SUBCASE("defaults: capture_deletes on, no metadata") {
    config.capture_deletes = true;
    CHECK(
        sv::cli::stream_json((*tables)[0], config) ==
        R"({"name":"customers","json_schema":{"type":"object","properties":{)"
        R"("active":{"type":["boolean"]},)"
        R"("balance":{"type":["null","number"]},)"
        R"("created_at":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_without_timezone"},)"
        R"("email":{"type":["null","string"]},)"
        R"("id":{"type":["number"],"airbyte_type":"integer"},)"
        R"("_ab_cdc_deleted_at":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_with_timezone"},)"
        R"("_ab_cdc_updated_at":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_with_timezone"}}},)"
        R"("supported_sync_modes":["full_refresh","incremental"],"namespace":"shop",)"
        R"("source_defined_primary_key":[["id"]],"source_defined_cursor":true,"default_cursor_field":["id"],)"
        R"("is_resumable":true})");
  }
  SUBCASE("composite key, metadata, no CDC columns, tinyint option") {
    config.capture_deletes = false;
    config.include_metadata = true;
    config.do_not_treat_tiny_int_as_boolean = true;
    CHECK(sv::cli::stream_json((*tables)[2], config) ==
          R"({"name":"order_items","json_schema":{"type":"object","properties":{)"
          R"("line":{"type":["number"],"airbyte_type":"integer"},)"
          R"("order_id":{"type":["number"],"airbyte_type":"integer"},)"
          R"("sku":{"type":["string"]},)"
          R"("_planetscale_metadata":{"type":["object"],"airbyte_type":"object"}}},)"
          R"("supported_sync_modes":["full_refresh","incremental"],"namespace":"shop",)"
          R"("source_defined_primary_key":[["order_id"],["line"]],"source_defined_cursor":true,)"
          R"("default_cursor_field":["line"],"is_resumable":true})");
    CHECK(sv::cli::stream_json((*tables)[0], config).find(R"("active":{"type":["number"],"airbyte_type":"integer"})") !=
          std::string::npos);
  }
}

TEST_CASE("MySQL connection failures are named plainly") {
  auto& db = server();
  (void)session();  // started
  sv::vitess::MysqlOptions options;
  options.host = "127.0.0.1";
  options.port = db.port();
  options.username = "root";
  options.tls_mode = sv::vitess::TlsMode::disabled;

  SUBCASE("bad credentials") {
    options.password = "wrong";
    auto s = sv::vitess::MysqlSession::connect(options);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().type == sv::FailureType::config_error);
    CHECK(s.error().message == "Access denied for user 'root': check username and password");
  }
  SUBCASE("refused") {
    options.password = "pw";
    auto port = sv::emulator::mysql::free_loopback_port();
    REQUIRE(port.ok());
    options.port = *port;
    auto s = sv::vitess::MysqlSession::connect(options);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().type == sv::FailureType::transient_error);
    CHECK(s.error().message.find("was refused or failed") != std::string::npos);
  }
  SUBCASE("unknown host") {
    options.host = "no-such-host.invalid";
    auto s = sv::vitess::MysqlSession::connect(options);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().type == sv::FailureType::config_error);
    CHECK(s.error().message == "Unknown host 'no-such-host.invalid': check the host name");
  }
  SUBCASE("TLS required but the server has none") {
    options.password = "pw";
    options.tls_mode = sv::vitess::TlsMode::required;
    auto s = sv::vitess::MysqlSession::connect(options);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("TLS") != std::string::npos);
  }
}
