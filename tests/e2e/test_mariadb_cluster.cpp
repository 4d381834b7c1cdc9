// End to end on real MariaDB shards: two mariadbd behind vtgate-emulator --backend=mariadb (its
// VStream server and MySQL-protocol front), driven by the built source-vitess exactly as Airbyte
// drives it: check, discover, a full read, SQL writes, an incremental read from the saved state.
// Plain and over TLS (test CA from tests/emulator/gen_test_certs.sh).
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <memory>

#include "e2e_support.hpp"
#include "emulator/mysql/mariadb_instance.hpp"
#include "protocol_validator.hpp"
#include "vitess/cursor.hpp"

using namespace sv::e2e;

namespace {

struct Run {
  int code = -1;
  std::string out, err;
};

Run run_connector(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), env_or("SOURCE_VITESS", "source-vitess"));
  Child c = Child::spawn(args, dir.file("out"), dir.file("err"));
  Run r;
  r.code = c.wait(std::chrono::seconds(60));
  r.out = read_file(dir.file("out"));
  r.err = read_file(dir.file("err"));
  return r;
}

// One row of every MySQL type family, with edge values, on shard -80 only.
const char* kTypesTable =
    "CREATE TABLE commerce.types (id INT PRIMARY KEY, i8 TINYINT, u16 SMALLINT UNSIGNED, i24 MEDIUMINT, "
    "i64 BIGINT, u64 BIGINT UNSIGNED, dec30 DECIMAL(30,10), f FLOAT, d DOUBLE, dt DATE, dtm DATETIME(6), "
    "ts TIMESTAMP(2) NULL, tm TIME(4), yr YEAR, c CHAR(4), vc VARCHAR(20), tx TEXT, bl BLOB, b1 BIT(1), "
    "b12 BIT(12), en ENUM('a,b','it''s','c'), st SET('x','y''z','w'), js JSON, nothing VARCHAR(3))";
const char* kTypesRow =
    "INSERT INTO commerce.types VALUES (1, -128, 65535, -8388608, -9223372036854775808, 18446744073709551615, "
    "'-12345678901234567890.0123456789', 1.5, -2.25e-7, '2024-02-29', '2024-12-31 23:59:59.999999', "
    "'2024-06-01 12:00:00.25', '-838:59:59.0000', 2024, 'ab', 'héllo wörld', '日本語', X'00FF80', b'1', "
    "b'101010101010', 'a,b', 'y''z,w', '{\\\"k\\\": [1, 2]}', NULL)";
const char* kTypesRecord =
    R"({"b1":true,"b12":2730,"bl":"AP+A","c":"ab","d":-0.000000225,"dec30":-12345678901234567890.0123456789,)"
    R"("dt":"2024-02-29","dtm":"2024-12-31T23:59:59.999999","en":"a,b","f":1.5,"i24":-8388608,)"
    R"("i64":-9223372036854775808,"i8":-128,"id":1,"js":"{\"k\": [1, 2]}","nothing":null,"st":"y'z,w",)"
    R"("tm":"-838:59:59.0000","ts":"2024-06-01T12:00:00.250000+00:00","tx":"日本語","u16":65535,)"
    R"("u64":18446744073709551615,"vc":"héllo wörld","yr":2024)";

// Two shards -80 / 80-: rows with an even id live on -80, odd on 80- (the emulator serves
// whatever each MariaDB holds; routing is the writer's business, as with Vitess).
struct Cluster : MariaDbCluster {
  bool tls = false;

  explicit Cluster(bool with_tls) : MariaDbCluster({"-80", "80-"}), tls(with_tls) {
    for (int i = 0; i < 2; ++i) {
      sql(i,
          "CREATE TABLE commerce.customers (id BIGINT UNSIGNED PRIMARY KEY, email VARCHAR(64) NOT NULL, "
          "tier ENUM('free','pro') NOT NULL, balance DECIMAL(10,2), active TINYINT(1) NOT NULL, "
          "avatar VARBINARY(8), created DATETIME(3) NOT NULL)");
    }
    for (int id = 1; id <= 6; ++id) insert(id);
    sql(0, kTypesTable);
    sql(1, kTypesTable);  // every shard of a keyspace has the same schema
    sql(0, kTypesRow);
    if (tls) {
      REQUIRE(std::system((env_or("GEN_TEST_CERTS", "gen_test_certs.sh") + " " + dir.file("certs")).c_str()) == 0);
      emulator_flags = {"--tls-cert=" + dir.file("certs/server.pem"), "--tls-key=" + dir.file("certs/server.key")};
    }
    start_emulator();
  }

  int shard_of(int id) const { return id % 2 == 0 ? 0 : 1; }
  void insert(int id) {
    sql(shard_of(id), "INSERT INTO commerce.customers VALUES (" + std::to_string(id) + ", 'c" + std::to_string(id) +
                          "@example.com', '" + (id % 3 ? "free" : "pro") + "', " + std::to_string(id) + ".25, " +
                          std::to_string(id % 2) + ", X'00FF" + std::to_string(10 + id) + "', '2024-05-0" +
                          std::to_string(id) + " 10:00:00.123')");
  }

  std::string config(const std::string& password = "vtpass", const std::string& database = "commerce") const {
    std::string c = R"({"host":"127.0.0.1","database":")" + database + R"(","username":"vt","password":")" + password +
                    R"(","grpc_port":)" + std::to_string(grpc_port) + R"(,"mysql_port":)" + std::to_string(mysql_port) +
                    ",\"max_retries\":1,";
    if (!tls) return c + R"("tls_mode":"disabled"})";
    std::string ca = read_file(dir.file("certs/ca.pem"));
    std::string escaped;
    for (char ch : ca) escaped += ch == '\n' ? std::string("\\n") : std::string(1, ch);
    return c + R"("tls_mode":"verify_identity","ca_certificate":")" + escaped + "\"}";
  }
};

const char* kCustomersStream =
    R"({"name":"customers","json_schema":{"type":"object","properties":{)"
    R"("active":{"type":["boolean"]},"avatar":{"type":["null","string"]},"balance":{"type":["null","number"]},)"
    R"("created":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_without_timezone"},)"
    R"("email":{"type":["string"]},"id":{"type":["number"],"airbyte_type":"integer"},"tier":{"type":["string"]},)"
    R"("_ab_cdc_deleted_at":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_with_timezone"},)"
    R"("_ab_cdc_updated_at":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_with_timezone"}}},)"
    R"("supported_sync_modes":["full_refresh","incremental"],"namespace":"commerce",)"
    R"("source_defined_primary_key":[["id"]],"source_defined_cursor":true,"default_cursor_field":["id"],)"
    R"("is_resumable":true})";

std::string base64(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 3; ++k) v = v << 8 | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    for (std::size_t k = 0; k < 4; ++k) out += k <= n ? alphabet[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

// The record `data` of the row Cluster::insert(id) wrote (copy phase, catalog column order).
std::string record_of(int id) {
  // avatar = X'00FF' followed by the byte whose hex digits are "1<id>"
  const std::string avatar{'\0', '\xff', static_cast<char>(0x10 + id)};
  return R"({"active":)" + std::string(id % 2 ? "true" : "false") + R"(,"avatar":")" + base64(avatar) +
         R"(","balance":)" + std::to_string(id) + R"(.25,"created":"2024-05-0)" + std::to_string(id) +
         R"(T10:00:00.123000","email":"c)" + std::to_string(id) + R"(@example.com","id":)" + std::to_string(id) +
         R"(,"tier":")" + (id % 3 ? "free" : "pro") + "\"";
}

void exercise(bool tls) {
  Cluster cluster(tls);
  TempDir dir;
  const std::string config = dir.file("config.json");
  write_file(config, cluster.config());

  // check
  Run check = run_connector(dir, {"check", "--config", config});
  CHECK(check.code == 0);
  CHECK(check.out.find(R"("status":"SUCCEEDED")") != std::string::npos);
  CHECK(check.out.find("2 shard(s)") != std::string::npos);

  // discover
  Run discover = run_connector(dir, {"discover", "--config", config});
  REQUIRE(discover.code == 0);
  CHECK(discover.out.rfind(std::string(R"({"type":"CATALOG","catalog":{"streams":[)") + kCustomersStream + ",", 0) ==
        0);

  // full read, incremental stream
  const std::string catalog = std::string(R"({"streams":[{"stream":)") + kCustomersStream +
                              R"(,"sync_mode":"incremental","destination_sync_mode":"append_dedup"}]})";
  write_file(dir.file("catalog.json"), catalog);
  Run first = run_connector(dir, {"read", "--config", config, "--catalog", dir.file("catalog.json")});
  REQUIRE_MESSAGE(first.code == 0, first.err);
  auto report = sv::testing::validate_read_output(first.out, catalog);
  CHECK_MESSAGE(report.ok(), (report.problems.empty() ? "" : report.problems.front()));
  auto records = report.streams["commerce.customers"].records;
  std::sort(records.begin(), records.end(), [](const std::string& a, const std::string& b) {
    return a.substr(a.find("\"id\":")) < b.substr(b.find("\"id\":"));
  });
  REQUIRE(records.size() == 6);
  for (int id = 1; id <= 6; ++id)
    CHECK(records[static_cast<std::size_t>(id - 1)] ==
          record_of(id) + R"(,"_ab_cdc_updated_at":null,"_ab_cdc_deleted_at":null})");

  // Every type family from a real MariaDB row, as docs/type-mapping.md says.
  {
    Run types_discover = run_connector(dir, {"discover", "--config", config});
    REQUIRE(types_discover.code == 0);
    rapidjson::Document d;
    d.Parse(types_discover.out.c_str());
    rapidjson::Value* types_stream = nullptr;
    for (auto& st : d["catalog"]["streams"].GetArray())
      if (std::string(st["name"].GetString()) == "types") types_stream = &st;
    REQUIRE(types_stream != nullptr);
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    types_stream->Accept(w);
    const std::string types_catalog = std::string(R"({"streams":[{"stream":)") + sb.GetString() +
                                      R"(,"sync_mode":"full_refresh","destination_sync_mode":"overwrite"}]})";
    write_file(dir.file("types.json"), types_catalog);
    Run types = run_connector(dir, {"read", "--config", config, "--catalog", dir.file("types.json")});
    REQUIRE_MESSAGE(types.code == 0, types.err);
    auto types_report = sv::testing::validate_read_output(types.out, types_catalog);
    CHECK_MESSAGE(types_report.ok(), (types_report.problems.empty() ? "" : types_report.problems.front()));
    const auto& rows = types_report.streams["commerce.types"].records;
    REQUIRE(rows.size() == 1);
    CHECK(rows[0] == std::string(kTypesRecord) + R"(,"_ab_cdc_updated_at":null,"_ab_cdc_deleted_at":null})");
  }

  // SQL changes, a restarted emulator, then an incremental read from the last STATE: the saved
  // positions resume on the new process with nothing lost or doubled.
  cluster.insert(7);
  cluster.sql(0, "UPDATE commerce.customers SET tier = 'pro' WHERE id = 2");
  cluster.sql(1, "DELETE FROM commerce.customers WHERE id = 5");
  cluster.restart_emulator();
  write_file(config, cluster.config());
  const auto& states = report.streams["commerce.customers"].states;
  REQUIRE_FALSE(states.empty());
  write_file(
      dir.file("state.json"),
      R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"customers","namespace":"commerce"},"stream_state":)" +
          states.back() + "}}]");
  Run second = run_connector(
      dir, {"read", "--config", config, "--catalog", dir.file("catalog.json"), "--state", dir.file("state.json")});
  REQUIRE_MESSAGE(second.code == 0, second.err);
  auto report2 = sv::testing::validate_read_output(second.out, catalog);
  CHECK(report2.ok());
  const auto& changes = report2.streams["commerce.customers"].records;
  REQUIRE(changes.size() == 3);
  std::vector<std::string> kinds;
  for (const auto& r : changes) {
    const bool deleted = r.find(R"("_ab_cdc_deleted_at":null)") == std::string::npos;
    kinds.push_back((deleted ? "delete " : "upsert ") + r.substr(r.find("\"id\":") + 5, 1));
    CHECK(r.find(R"("_ab_cdc_updated_at":")") != std::string::npos);  // CDC rows carry their change time
  }
  std::sort(kinds.begin(), kinds.end());
  CHECK(kinds == std::vector<std::string>{"delete 5", "upsert 2", "upsert 7"});

  // A saved position ahead of the shard (as after a restore from an older backup): the emulator
  // refuses it as vttablet does, and the read fails with a config_error instead of reading nothing.
  {
    REQUIRE_FALSE(report2.streams["commerce.customers"].states.empty());
    rapidjson::Document st;
    st.Parse(report2.streams["commerce.customers"].states.back().c_str());
    auto& cursor = st["shards"]["-80"]["cursor"];
    auto c = sv::vitess::decode_cursor(cursor.GetString());
    REQUIRE(c.ok());
    const std::string pos = c->position();
    const std::string ahead = pos.substr(0, pos.find(':') + 1) + "1-99999999";
    c->set_position(ahead);
    const std::string encoded = sv::vitess::encode_cursor(*c);
    cursor.SetString(encoded.c_str(), static_cast<rapidjson::SizeType>(encoded.size()), st.GetAllocator());
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    st.Accept(w);
    write_file(
        dir.file("ahead.json"),
        R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":"customers","namespace":"commerce"},"stream_state":)" +
            std::string(sb.GetString()) + "}}]");
    Run ahead_run = run_connector(
        dir, {"read", "--config", config, "--catalog", dir.file("catalog.json"), "--state", dir.file("ahead.json")});
    CHECK(ahead_run.code == 1);
    auto ahead_report = sv::testing::validate_read_output(ahead_run.out, catalog);
    CHECK(ahead_report.ok());
    CHECK(ahead_report.streams["commerce.customers"].statuses.back() == "INCOMPLETE");
    CHECK(ahead_report.streams["commerce.customers"].states.empty());
    CHECK(ahead_report.failure_types == std::vector<std::string>{"config_error"});
    REQUIRE(ahead_report.errors.size() == 1);
    CHECK(ahead_report.errors[0].rfind("VStream failed: INVALID_ARGUMENT: GTIDSet Mismatch: requested source "
                                       "position:" +
                                           ahead +
                                           ", current target vrep position: " + pos.substr(0, pos.find(':') + 1),
                                       0) == 0);
    CHECK(ahead_report.errors[0].find("Reset the stream to copy it again") != std::string::npos);
  }

  // failures named plainly
  write_file(dir.file("bad.json"), cluster.config("wrong"));
  Run denied = run_connector(dir, {"check", "--config", dir.file("bad.json")});
  CHECK(denied.code == 0);
  CHECK(denied.out.find(R"("status":"FAILED")") != std::string::npos);
  CHECK(denied.out.find("Access denied for user 'vt'") != std::string::npos);
  CHECK(denied.out.find("wrong") == std::string::npos);
  write_file(dir.file("nodb.json"), cluster.config("vtpass", "nosuchdb"));
  Run nodb = run_connector(dir, {"check", "--config", dir.file("nodb.json")});
  CHECK(nodb.out.find(R"("status":"FAILED")") != std::string::npos);

  // The other tls_mode than vtgate's: check says which tls_mode to set (issue 17).
  std::string mismatched = cluster.config();
  mismatched.resize(mismatched.find(R"("tls_mode")"));
  mismatched += tls ? R"("tls_mode":"disabled"})" : R"("tls_mode":"required"})";
  write_file(dir.file("tls.json"), mismatched);
  Run wrong_tls = run_connector(dir, {"check", "--config", dir.file("tls.json")});
  CHECK(wrong_tls.code == 0);
  INFO(wrong_tls.out);
  CHECK(wrong_tls.out.find(R"("status":"FAILED")") != std::string::npos);
  if (tls) {  // the MySQL front also takes plaintext logins; the gRPC port refuses them
    CHECK(wrong_tls.out.find("VStream is not usable: ") != std::string::npos);
    CHECK(wrong_tls.out.find(":" + std::to_string(cluster.grpc_port) +
                             " expects TLS but tls_mode is disabled: set tls_mode to verify_identity, "
                             "verify_ca or required") != std::string::npos);
  } else {
    CHECK(wrong_tls.out.find(":" + std::to_string(cluster.mysql_port) +
                             " failed (tls_mode required): the server does not offer TLS") != std::string::npos);
  }
}

// ---- text in every character set --------------------------------------------------------

// One column per character set MySQL users have; values only use characters of that set.
const char* kTextsTable =
    "CREATE TABLE commerce.texts (id INT PRIMARY KEY, l1 VARCHAR(40) CHARACTER SET latin1, "
    "w1250 VARCHAR(40) CHARACTER SET cp1250, l2 VARCHAR(40) CHARACTER SET latin2, "
    "w1251 TEXT CHARACTER SET cp1251, koi VARCHAR(40) CHARACTER SET koi8r, asc7 VARCHAR(40) CHARACTER SET ascii, "
    "u3 VARCHAR(40) CHARACTER SET utf8mb3, u4 VARCHAR(40) CHARACTER SET utf8mb4, gb VARCHAR(40) CHARACTER SET gbk, "
    "sj VARCHAR(40) CHARACTER SET cp932, en ENUM('café','thé') CHARACTER SET latin1, "
    "st SET('ä','ö') CHARACTER SET latin1)";
const char* kTextsColumns[] = {"l1", "w1250", "l2", "w1251", "koi", "asc7", "u3", "u4", "gb", "sj", "en", "st"};

std::string texts_row(int id) {
  const std::string n = std::to_string(id);
  return "INSERT INTO commerce.texts VALUES (" + n + ", 'café € ‰ Ÿ ÿ " + n + "', 'Łódź šđ € " + n + "', 'Łódź ťř " +
         n + "', 'Привет ёЁ № " + n + "', 'Жёлтый " + n + "', 'plain ~ ascii " + n + "', 'héllo ☃ " + n +
         "', 'emoji 😀 日本 " + n + "', '中文字符 " + n + "', 'ソース表示 ｶﾀｶﾅ " + n + "', 'thé', 'ä,ö')";
}

//! What MariaDB itself returns as UTF-8 for rows `ids`: id → column → text.
std::map<int, std::map<std::string, std::string>> texts_in_utf8(MariaDbCluster& cluster, const std::string& ids) {
  std::string select = "SELECT id";
  for (const char* c : kTextsColumns) select += std::string(", CONVERT(") + c + " USING utf8mb4)";
  auto conn = cluster.shards[0]->connect();
  REQUIRE(conn.ok());
  auto rs = conn->query(select + " FROM commerce.texts WHERE id IN (" + ids + ")");
  REQUIRE(rs.ok());
  std::map<int, std::map<std::string, std::string>> out;
  for (const auto& row : rs->rows) {
    auto& cols = out[std::stoi(*row[0])];
    for (std::size_t i = 0; i < std::size(kTextsColumns); ++i) cols[kTextsColumns[i]] = row[i + 1].value_or("<NULL>");
  }
  return out;
}

//! The same from RECORD data lines.
std::map<int, std::map<std::string, std::string>> texts_in_records(const std::vector<std::string>& records) {
  std::map<int, std::map<std::string, std::string>> out;
  for (const auto& r : records) {
    rapidjson::Document d;
    d.Parse(r.c_str());
    REQUIRE(d.IsObject());
    auto& cols = out[d["id"].GetInt()];
    for (const char* c : kTextsColumns) cols[c] = d[c].IsString() ? d[c].GetString() : "<not a string>";
  }
  return out;
}

//! The discovered stream of `table` as a configured catalog (incremental).
std::string catalog_for(const std::string& discover_out, const std::string& table) {
  rapidjson::Document d;
  d.Parse(discover_out.c_str());
  REQUIRE(!d.HasParseError());
  for (auto& st : d["catalog"]["streams"].GetArray()) {
    if (std::string(st["name"].GetString()) != table) continue;
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    st.Accept(w);
    return std::string(R"({"streams":[{"stream":)") + sb.GetString() +
           R"(,"sync_mode":"incremental","destination_sync_mode":"append_dedup"}]})";
  }
  FAIL("no stream " << table);
  return {};
}

//! Records sorted, one per line, so a failed comparison shows them.
std::string lines(std::vector<std::string> records) {
  std::sort(records.begin(), records.end());
  std::string out;
  for (const auto& r : records) out += r + "\n";
  return out;
}

//! The connector's state after a read, for the next incremental read.
std::string state_file_of(const std::string& state, const std::string& table) {
  return R"([{"type":"STREAM","stream":{"stream_descriptor":{"name":")" + table +
         R"(","namespace":"commerce"},"stream_state":)" + state + "}}]";
}

}  // namespace

TEST_CASE("MariaDB cluster: text in every character set, copy phase and replication phase, is what MariaDB converts") {
  MariaDbCluster cluster({"-"});
  cluster.sql(0, kTextsTable);
  cluster.sql(0, texts_row(1));
  cluster.sql(0, texts_row(2));
  cluster.start_emulator();
  TempDir dir;
  write_file(dir.file("config.json"), cluster.config());
  Run discover = run_connector(dir, {"discover", "--config", dir.file("config.json")});
  REQUIRE(discover.code == 0);
  const std::string catalog = catalog_for(discover.out, "texts");
  write_file(dir.file("catalog.json"), catalog);

  Run copy = run_connector(dir, {"read", "--config", dir.file("config.json"), "--catalog", dir.file("catalog.json")});
  REQUIRE_MESSAGE(copy.code == 0, copy.err);
  auto copied = sv::testing::validate_read_output(copy.out, catalog);
  CHECK_MESSAGE(copied.ok(), (copied.problems.empty() ? "" : copied.problems.front()));
  CHECK(texts_in_records(copied.streams["commerce.texts"].records) == texts_in_utf8(cluster, "1,2"));
  CHECK(texts_in_utf8(cluster, "1,2")[1]["l1"] == "café € ‰ Ÿ ÿ 1");  // the reference itself is right

  // Replication phase: the binlog carries each column's own bytes.
  cluster.sql(0, texts_row(3));
  cluster.sql(0, texts_row(4));
  cluster.sql(0, "UPDATE commerce.texts SET l1 = 'über € 2', w1251 = 'Ещё 2', gb = '汉字 2' WHERE id = 2");
  REQUIRE_FALSE(copied.streams["commerce.texts"].states.empty());
  write_file(dir.file("state.json"), state_file_of(copied.streams["commerce.texts"].states.back(), "texts"));
  Run changes = run_connector(dir, {"read", "--config", dir.file("config.json"), "--catalog", dir.file("catalog.json"),
                                    "--state", dir.file("state.json")});
  REQUIRE_MESSAGE(changes.code == 0, changes.err);
  auto changed = sv::testing::validate_read_output(changes.out, catalog);
  CHECK_MESSAGE(changed.ok(), (changed.problems.empty() ? "" : changed.problems.front()));
  const auto& change_records = changed.streams["commerce.texts"].records;
  CHECK(change_records.size() == 3);
  CHECK(texts_in_records(change_records) == texts_in_utf8(cluster, "2,3,4"));
  CHECK(texts_in_utf8(cluster, "2")[2]["l1"] == "über € 2");
}

TEST_CASE("MariaDB cluster: zero and invalid dates are null by default, the Go connector's values on request") {
  MariaDbCluster cluster({"-"});
  cluster.sql(0,
              "CREATE TABLE commerce.dates (id INT PRIMARY KEY, d DATE NOT NULL, dt DATETIME(3) NOT NULL, "
              "ts TIMESTAMP NULL)");
  // Zero and invalid values need a sql_mode without NO_ZERO_DATE / NO_ZERO_IN_DATE.
  auto insert = [&](int id, const std::string& d, const std::string& dt, const std::string& ts) {
    cluster.sql(0, "SET STATEMENT sql_mode='ALLOW_INVALID_DATES' FOR INSERT INTO commerce.dates VALUES (" +
                       std::to_string(id) + ", '" + d + "', '" + dt + "', " + ts + ")");
  };
  insert(1, "2024-02-29", "2024-02-29 23:59:59.500", "'2024-06-01 12:00:00'");
  insert(2, "0000-00-00", "0000-00-00 00:00:00.000", "'0000-00-00 00:00:00'");
  insert(3, "2024-00-10", "2024-05-00 10:00:00.000", "NULL");
  insert(4, "2021-02-30", "2021-02-30 08:00:00.000", "NULL");
  cluster.start_emulator();
  TempDir dir;
  auto read_dates = [&](const std::string& extra, const std::string& state = "") {
    write_file(dir.file("config.json"), cluster.config(extra));
    Run discover = run_connector(dir, {"discover", "--config", dir.file("config.json")});
    REQUIRE(discover.code == 0);
    const std::string catalog = catalog_for(discover.out, "dates");
    write_file(dir.file("catalog.json"), catalog);
    std::vector<std::string> args{"read", "--config", dir.file("config.json"), "--catalog", dir.file("catalog.json")};
    if (!state.empty()) {
      write_file(dir.file("state.json"), state_file_of(state, "dates"));
      args.insert(args.end(), {"--state", dir.file("state.json")});
    }
    Run read = run_connector(dir, args);
    REQUIRE_MESSAGE(read.code == 0, read.err);
    auto report = sv::testing::validate_read_output(read.out, catalog);
    CHECK_MESSAGE(report.ok(), (report.problems.empty() ? "" : report.problems.front()));  // nulls fit the schema
    return std::pair{catalog, report.streams["commerce.dates"]};
  };
  const std::string cdc = R"(,"_ab_cdc_updated_at":null,"_ab_cdc_deleted_at":null})";

  auto [catalog, by_default] = read_dates("");
  CHECK(catalog.find(R"("d":{"type":["null","string"],"format":"date","airbyte_type":"date"})") != std::string::npos);
  CHECK(lines(by_default.records) ==
        lines({R"({"d":"2024-02-29","dt":"2024-02-29T23:59:59.500000","id":1,"ts":"2024-06-01T12:00:00.000000+00:00")" +
                   cdc,
               R"({"d":null,"dt":null,"id":2,"ts":null)" + cdc, R"({"d":null,"dt":null,"id":3,"ts":null)" + cdc,
               R"({"d":null,"dt":null,"id":4,"ts":null)" + cdc}));

  auto [go_catalog, go] = read_dates(R"("invalid_dates":"go_connector")");
  CHECK(go_catalog.find(R"("d":{"type":["string"],"format":"date","airbyte_type":"date"})") != std::string::npos);
  CHECK(lines(go.records) ==
        lines({R"({"d":"2024-02-29","dt":"2024-02-29T23:59:59.500000","id":1,"ts":"2024-06-01T12:00:00.000000+00:00")" +
                   cdc,
               R"({"d":"1970-01-01","dt":"1970-01-01T00:00:00.000000","id":2,"ts":"1970-01-01T00:00:00.000000+00:00")" +
                   cdc,
               R"({"d":"2024-00-10","dt":"2024-05-00 10:00:00.000","id":3,"ts":null)" + cdc,
               R"({"d":"2021-02-30","dt":"2021-02-30 08:00:00.000","id":4,"ts":null)" + cdc}));

  // The replication phase follows the same rule.
  insert(5, "0000-00-00", "2024-00-00 00:00:00.000", "'0000-00-00 00:00:00'");
  auto [again, changes] = read_dates("", by_default.states.back());
  REQUIRE(changes.records.size() == 1);
  CHECK(changes.records[0].rfind(R"({"d":null,"dt":null,"id":5,"ts":null,"_ab_cdc_updated_at":")", 0) == 0);
}

TEST_CASE("MariaDB cluster: ALTER TABLE ... MODIFY between syncs: values follow the new type, with a refresh warning") {
  MariaDbCluster cluster({"-"});
  cluster.sql(0, "CREATE TABLE commerce.retyped (id INT PRIMARY KEY, v VARCHAR(10))");
  cluster.sql(0, "INSERT INTO commerce.retyped VALUES (1, '0042')");
  cluster.start_emulator();
  TempDir dir;
  write_file(dir.file("config.json"), cluster.config());
  Run discover = run_connector(dir, {"discover", "--config", dir.file("config.json")});
  REQUIRE(discover.code == 0);
  const std::string catalog = catalog_for(discover.out, "retyped");
  write_file(dir.file("catalog.json"), catalog);
  Run copy = run_connector(dir, {"read", "--config", dir.file("config.json"), "--catalog", dir.file("catalog.json")});
  REQUIRE_MESSAGE(copy.code == 0, copy.err);
  auto copied = sv::testing::validate_read_output(copy.out, catalog);
  CHECK(copied.streams["commerce.retyped"].records ==
        std::vector<std::string>{R"({"id":1,"v":"0042","_ab_cdc_updated_at":null,"_ab_cdc_deleted_at":null})"});
  CHECK(copy.err.find("no longer have the type") == std::string::npos);

  cluster.sql(0, "ALTER TABLE commerce.retyped MODIFY v BIGINT");
  cluster.sql(0, "INSERT INTO commerce.retyped VALUES (2, 42)");
  write_file(dir.file("state.json"), state_file_of(copied.streams["commerce.retyped"].states.back(), "retyped"));
  Run next = run_connector(dir, {"read", "--config", dir.file("config.json"), "--catalog", dir.file("catalog.json"),
                                 "--state", dir.file("state.json")});
  REQUIRE_MESSAGE(next.code == 0, next.err);
  auto changed = sv::testing::validate_read_output(next.out, catalog);  // v is a number now: not the old schema
  const auto& records = changed.streams["commerce.retyped"].records;
  REQUIRE(records.size() == 1);
  CHECK(records[0].rfind(R"({"id":2,"v":42,"_ab_cdc_updated_at":")", 0) == 0);
  CHECK(next.err.find("stream retyped: column(s) v (bigint(20)) of table 'commerce.retyped' no longer have the type "
                      "the configured catalog declares; their values follow the new type. Refresh the source schema "
                      "in Airbyte so the destination expects it.") != std::string::npos);
}

TEST_CASE("MariaDB cluster: check, discover, full and incremental read with SQL changes, plaintext") {
  exercise(false);
}

TEST_CASE("MariaDB cluster: the same over TLS with verify_identity and the test CA") { exercise(true); }

namespace {

//! The catalog of `table` with only `keep` (and the CDC columns) in its json_schema properties,
//! as Airbyte sends it after the user deselects the other columns.
std::string narrowed_catalog(const std::string& catalog, const std::vector<std::string>& keep) {
  rapidjson::Document d;
  d.Parse(catalog.c_str());
  auto& props = d["streams"][0]["stream"]["json_schema"]["properties"];
  std::vector<std::string> drop;
  for (const auto& m : props.GetObject()) {
    const std::string name = m.name.GetString();
    if (name.rfind("_ab_cdc_", 0) != 0 && std::find(keep.begin(), keep.end(), name) == keep.end()) drop.push_back(name);
  }
  for (const auto& name : drop) props.RemoveMember(name.c_str());
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  d.Accept(w);
  return sb.GetString();
}

std::uint64_t bytes_sent(const MariaDbCluster& cluster) {
  auto [code, body] = sv::testing::http_request(cluster.emulator->control_port(), "GET", "/status");
  REQUIRE(code == 200);
  rapidjson::Document d;
  d.Parse(body.c_str());
  return d["bytes_sent"].GetUint64();
}

}  // namespace

TEST_CASE("MariaDB cluster: a catalog with some columns: vtgate sends only those, the records are the same") {
  MariaDbCluster cluster({"-80", "80-"});
  for (int s = 0; s < 2; ++s) {
    cluster.sql(s,
                "CREATE TABLE commerce.wide (id BIGINT PRIMARY KEY, email VARCHAR(64) NOT NULL, balance "
                "DECIMAL(10,2), note TEXT, blob1 BLOB)");
  }
  for (int id = 1; id <= 40; ++id) {
    cluster.sql(id % 2, "INSERT INTO commerce.wide VALUES (" + std::to_string(id) + ", 'u" + std::to_string(id) +
                            "@x.io', " + std::to_string(id) + ".25, REPEAT('n', 200), REPEAT('b', 300))");
  }
  cluster.start_emulator();
  TempDir dir;
  // Pushed down: the connector reads the columns from information_schema (the emulator's MySQL
  // front). Not pushed down: a config whose MySQL port answers nothing, so the columns are unknown
  // and the stream reads `SELECT *`, as before this change.
  write_file(dir.file("config.json"), cluster.config());
  std::string blind = cluster.config();
  const std::string port_field = "\"mysql_port\":" + std::to_string(cluster.mysql_port);
  REQUIRE(blind.find(port_field) != std::string::npos);
  blind.replace(blind.find(port_field), port_field.size(), "\"mysql_port\":" + std::to_string(free_port()));
  write_file(dir.file("blind.json"), blind);
  Run discover = run_connector(dir, {"discover", "--config", dir.file("config.json")});
  REQUIRE(discover.code == 0);
  // Records follow the catalog's property order (discover sorts them: balance, email) either way;
  // the select list is balance, email, id.
  const std::string catalog = narrowed_catalog(catalog_for(discover.out, "wide"), {"balance", "email"});
  write_file(dir.file("catalog.json"), catalog);

  struct Sync {
    std::vector<std::string> records;
    std::string state;
    std::uint64_t bytes = 0;
    std::string out, err;
    int code = -1;
  };
  auto sync = [&](const std::string& config, const std::string& state) {
    std::vector<std::string> args{"read", "--config", dir.file(config), "--catalog", dir.file("catalog.json")};
    if (!state.empty()) {
      write_file(dir.file("state.json"), state_file_of(state, "wide"));
      args.insert(args.end(), {"--state", dir.file("state.json")});
    }
    const auto before = bytes_sent(cluster);
    Run r = run_connector(dir, args);
    Sync s;
    s.code = r.code;
    s.out = r.out;
    s.err = r.err;
    s.bytes = bytes_sent(cluster) - before;
    auto report = sv::testing::validate_read_output(r.out, catalog);
    CHECK_MESSAGE(report.ok(), (report.problems.empty() ? "" : report.problems.front()));
    s.records = report.streams["commerce.wide"].records;
    if (!report.streams["commerce.wide"].states.empty()) s.state = report.streams["commerce.wide"].states.back();
    return s;
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };

  // Copy.
  Sync narrow = sync("config.json", "");
  Sync full = sync("blind.json", "");
  REQUIRE_MESSAGE(narrow.code == 0, narrow.err);
  REQUIRE_MESSAGE(full.code == 0, full.err);
  REQUIRE(narrow.records.size() == 40);
  CHECK(sorted(narrow.records) == sorted(full.records));  // shards interleave in any order
  CHECK(std::find(narrow.records.begin(), narrow.records.end(),
                  R"({"balance":7.25,"email":"u7@x.io","_ab_cdc_updated_at":null,"_ab_cdc_deleted_at":null})") !=
        narrow.records.end());
  CHECK(narrow.bytes * 3 < full.bytes);  // note and blob1 (500 of ~560 bytes a row) stay on the server
  // The unselected columns are announced as with `SELECT *` (id is streamed, not selected).
  const std::string warning =
      R"({"type":"LOG","log":{"level":"WARN","message":"stream wide: table 'commerce.wide' has column(s) id, note, )"
      R"(blob1 that the configured catalog does not select; they are left out. Refresh the source schema in )"
      R"(Airbyte to sync them."}})";
  CHECK(narrow.out.find(warning) != std::string::npos);
  CHECK(full.out.find(warning) != std::string::npos);

  // CDC: an insert, an update and a delete, each shard.
  cluster.sql(1, "INSERT INTO commerce.wide VALUES (41, 'u41@x.io', 41.5, 'n', 'b')");
  cluster.sql(0, "UPDATE commerce.wide SET balance = 0.75, note = 'changed' WHERE id = 2");
  cluster.sql(1, "UPDATE commerce.wide SET note = 'only an unselected column' WHERE id = 3");
  cluster.sql(0, "DELETE FROM commerce.wide WHERE id = 4");
  Sync narrow_cdc = sync("config.json", narrow.state);
  Sync full_cdc = sync("blind.json", full.state);
  REQUIRE_MESSAGE(narrow_cdc.code == 0, narrow_cdc.err);
  REQUIRE_MESSAGE(full_cdc.code == 0, full_cdc.err);
  REQUIRE(narrow_cdc.records.size() == 4);
  CHECK(sorted(narrow_cdc.records) == sorted(full_cdc.records));  // byte for byte, commit times included
  const auto deleted = std::find_if(narrow_cdc.records.begin(), narrow_cdc.records.end(), [](const std::string& r) {
    return r.rfind(R"({"balance":4.25,"email":"u4@x.io","_ab_cdc_updated_at":")", 0) == 0;
  });
  REQUIRE(deleted != narrow_cdc.records.end());
  CHECK(deleted->find(R"("_ab_cdc_deleted_at":null)") == std::string::npos);
  CHECK(narrow_cdc.bytes < full_cdc.bytes);
  CHECK(std::any_of(narrow_cdc.records.begin(), narrow_cdc.records.end(), [](const std::string& r) {
    return r.rfind(R"({"balance":0.75,"email":"u2@x.io","_ab_cdc_updated_at":")", 0) == 0 &&
           r.find(R"("_ab_cdc_deleted_at":null})") != std::string::npos;
  }));

  // A selected column dropped before the sync: information_schema no longer lists it, so the read
  // asks `SELECT *` and the FIELD event without it gives the config_error naming it (not retried).
  // A DDL during a sync gets the same error from vttablet's refusal of the select list instead
  // (tests/engine/test_sync.cpp, tests/emulator).
  cluster.sql(0, "ALTER TABLE commerce.wide DROP COLUMN balance");
  cluster.sql(1, "ALTER TABLE commerce.wide DROP COLUMN balance");
  cluster.sql(0, "INSERT INTO commerce.wide VALUES (42, 'u42@x.io', 'n', 'b')");
  Sync dropped = sync("config.json", narrow_cdc.state);
  CHECK(dropped.code == 1);
  CHECK(dropped.records.empty());
  CHECK(dropped.out.find(R"("failure_type":"config_error")") != std::string::npos);
  CHECK(dropped.out.find("table 'commerce.wide' no longer has the column(s) balance selected in the catalog: refresh "
                         "the source schema in Airbyte and reset the stream 'wide'") != std::string::npos);
  CHECK(dropped.err.find("retrying") == std::string::npos);
}
