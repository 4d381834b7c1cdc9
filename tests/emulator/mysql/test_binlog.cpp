// Integration: rows written with SQL to a real MariaDB come out of the binlog reader and the
// snapshot reader with exact query.Field metadata and MySQL text encodings (vstream-reference §4).
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <thread>

#include "emulator/mysql/binlog_reader.hpp"
#include "emulator/mysql/snapshot_reader.hpp"
#include "test_util.hpp"

using namespace sv::emulator::mysql;
using namespace std::chrono_literals;
using sv::emulator::TableSchema;
using svtest::values;

namespace {

const char* kTypesTable = R"(CREATE TABLE ks.types (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, b1 TINYINT(1), si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec1 DECIMAL(10,2), dec2 DECIMAL(30,10), dec3 DECIMAL(5,0),
  f FLOAT, d DOUBLE, fd FLOAT(7,3),
  dt DATE, dtm DATETIME, dtm3 DATETIME(3), dtm6 DATETIME(6), ts TIMESTAMP NULL DEFAULT NULL,
  ts2 TIMESTAMP(2) NULL DEFAULT NULL, tm TIME, tm4 TIME(4), yr YEAR,
  c CHAR(10), vc VARCHAR(300), tx TEXT, ttx TINYTEXT, bn BINARY(4), vb VARBINARY(20), bl BLOB,
  bt BIT(12), bt1 BIT(1), en ENUM('a,b','it''s','x'), st SET('p','q','s''t'), js JSON
))";

const std::vector<std::string> kColumns = {"id",   "ti",   "tiu",  "b1",   "si",   "siu", "mi", "miu", "i",  "iu",
                                           "bi",   "biu",  "dec1", "dec2", "dec3", "f",   "d",  "fd",  "dt", "dtm",
                                           "dtm3", "dtm6", "ts",   "ts2",  "tm",   "tm4", "yr", "c",   "vc", "tx",
                                           "ttx",  "bn",   "vb",   "bl",   "bt",   "bt1", "en", "st",  "js"};

// Expected text values per row id (binary ones given as hex with an "0x" prefix).
std::map<int, std::vector<std::string>> expected_rows() {
  std::map<int, std::vector<std::string>> m;
  m[1] = {"1"};
  m[1].resize(kColumns.size(), "NULL");
  m[2] = {"2",
          "-128",
          "0",
          "0",
          "-32768",
          "0",
          "-8388608",
          "0",
          "-2147483648",
          "0",
          "-9223372036854775808",
          "0",
          "-99999999.99",
          "-12345678901234567890.0123456789",
          "-99999",
          "-3.40282e38",
          "-1.7976931348623157e308",
          "-9999.999",
          "1000-01-01",
          "1000-01-01 00:00:00",
          "1000-01-01 00:00:00.000",
          "1000-01-01 00:00:00.000000",
          "1970-01-01 00:00:01",
          "1970-01-01 00:00:01.00",
          "-838:59:59",
          "-838:59:59.0000",
          "1901",
          "",
          "",
          "",
          "",
          "0x00000000",
          "0x",
          "0x",
          "0x0000",
          "0x00",
          "a,b",
          "",
          "[]"};
  m[3] = {"3",
          "127",
          "255",
          "1",
          "32767",
          "65535",
          "8388607",
          "16777215",
          "2147483647",
          "4294967295",
          "9223372036854775807",
          "18446744073709551615",
          "99999999.99",
          "99999999999999999999.9999999999",
          "99999",
          "3.40282e38",
          "1.7976931348623157e308",
          "9999.999",
          "9999-12-31",
          "9999-12-31 23:59:59",
          "9999-12-31 23:59:59.999",
          "9999-12-31 23:59:59.999999",
          "2038-01-19 03:14:07",
          "2038-01-19 03:14:07.99",
          "838:59:59",
          "838:59:59.0000",
          "2155",
          "abcdefghij",
          std::string(300, 'z'),
          "t",
          "tt",
          "0xFFFFFFFF",
          "0xFF",
          "0xFF",
          "0x0FFF",
          "0x01",
          "x",
          "p,q,s't",
          "{\"k\": 1}"};
  m[4] = {"4",
          "0",
          "0",
          "0",
          "0",
          "0",
          "0",
          "0",
          "0",
          "0",
          "0",
          "0",
          "0.00",
          "0.0000000000",
          "0",
          "0",
          "0",
          "0.000",
          "0000-00-00",
          "0000-00-00 00:00:00",
          "0000-00-00 00:00:00.000",
          "0000-00-00 00:00:00.000000",
          "0000-00-00 00:00:00",
          "0000-00-00 00:00:00.00",
          "00:00:00",
          "00:00:00.0000",
          "0000",
          "",
          "",
          "",
          "",
          "0x00000000",
          "0x",
          "0x",
          "0x0000",
          "0x00",
          "it's",
          "",
          "null"};
  m[5] = {"5",
          "-1",
          "1",
          "2",
          "-2",
          "2",
          "-3",
          "3",
          "-4",
          "4",
          "-5",
          "5",
          "-0.50",
          "0.0000000001",
          "-1",
          "1.1",
          "0.1",
          "3.142",
          "2024-02-29",
          "2024-02-29 13:14:15",
          "2024-02-29 13:14:15.123",
          "2024-02-29 13:14:15.000001",
          "2024-02-29 13:14:15",
          "2024-02-29 13:14:15.50",
          "-01:02:03",
          "12:34:56.7891",
          "2024",
          "héllo",
          "日本語テキスト😀",
          "ünïcødé\ntext\t\"q\"",
          "ok",
          "0x00FF0000",
          "0xC328FF00",
          "0xFFFE00",
          "0x0AAA",
          "0x01",
          "a,b",
          "p,s't",
          "{\"a\": [1, \"x\", null], \"b\": {\"c\": true}}"};
  return m;
}

const char* kInsertRows = R"(INSERT INTO ks.types VALUES
 (1, NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,
     NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL),
 (2, -128,0,0,-32768,0,-8388608,0,-2147483648,0,-9223372036854775808,0,-99999999.99,
     -12345678901234567890.0123456789,-99999,-3.40282e38,-1.7976931348623157e308,-9999.999,'1000-01-01',
     '1000-01-01 00:00:00','1000-01-01 00:00:00.000','1000-01-01 00:00:00.000000','1970-01-01 00:00:01',
     '1970-01-01 00:00:01.00','-838:59:59','-838:59:59.0000',1901,'','','','',X'',X'',X'',b'0',b'0','a,b','','[]'),
 (3, 127,255,1,32767,65535,8388607,16777215,2147483647,4294967295,9223372036854775807,18446744073709551615,
     99999999.99,99999999999999999999.9999999999,99999,3.40282e38,1.7976931348623157e308,9999.999,'9999-12-31',
     '9999-12-31 23:59:59','9999-12-31 23:59:59.999','9999-12-31 23:59:59.999999','2038-01-19 03:14:07',
     '2038-01-19 03:14:07.99','838:59:59','838:59:59.0000',2155,'abcdefghij',REPEAT('z',300),'t','tt',
     X'FFFFFFFF',X'FF',X'FF',b'111111111111',b'1','x','p,q,s''t','{"k": 1}'),
 (4, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,'0000-00-00','0000-00-00 00:00:00','0000-00-00 00:00:00',
     '0000-00-00 00:00:00','0000-00-00 00:00:00','0000-00-00 00:00:00','00:00:00','00:00:00',0,'','','','',
     X'00000000','','',b'0',b'0','it''s','','null'),
 (5, -1,1,2,-2,2,-3,3,-4,4,-5,5,-0.5,0.0000000001,-1,1.1,0.1,3.1416,'2024-02-29','2024-02-29 13:14:15',
     '2024-02-29 13:14:15.123','2024-02-29 13:14:15.000001','2024-02-29 13:14:15','2024-02-29 13:14:15.5',
     '-01:02:03','12:34:56.7891',2024,'héllo','日本語テキスト😀','ünïcødé\ntext\t"q"','ok',X'00FF',X'C328FF00',
     X'FFFE00',b'101010101010',b'1','a,b','s''t,p','{"a": [1, "x", null], "b": {"c": true}}'))";

std::vector<std::string> printable(const query::Row& r, const TableSchema& s) {
  auto v = values(r);
  for (size_t i = 0; i < v.size(); ++i) {
    auto t = s.fields[i].type();
    bool bin = t == query::BINARY || t == query::VARBINARY || t == query::BLOB || t == query::BIT;
    if (bin && v[i] != "NULL") v[i] = "0x" + svtest::hex(v[i]);
  }
  return v;
}

struct Shard {
  MariaDbInstance db{svtest::instance_opts(5)};
  std::shared_ptr<SchemaRegistry> schemas = std::make_shared<SchemaRegistry>("ks");
  sv::emulator::mysql::Connection conn;

  Shard() {
    SV_REQUIRE_OK(db.start());
    auto c = db.connect();
    SV_REQUIRE_OK(c);
    conn = std::move(*c);
    SV_REQUIRE_OK(conn.exec("SET time_zone='+00:00'"));
  }
  BinlogReader::Options reader_opts(uint64_t start_seq) {
    BinlogReader::Options o;
    o.conn = db.conn_params();
    o.schemas = schemas;
    o.domain_id = 5;
    o.server_id = 5;
    o.start_seq = start_seq;
    o.heartbeat = 50ms;
    return o;
  }
  std::vector<BinlogTransaction> read(uint64_t start_seq, size_t count) {
    auto r = BinlogReader::open(reader_opts(start_seq));
    SV_REQUIRE_OK(r);
    std::vector<BinlogTransaction> out;
    for (int tries = 0; out.size() < count && tries < 100; ++tries) {
      auto t = (*r)->next(100ms);
      SV_REQUIRE_OK(t);
      if (*t) out.push_back(std::move(**t));
    }
    return out;
  }
};

}  // namespace

TEST_CASE("binlog and snapshot decode every type family with exact values") {
  Shard shard;
  SV_REQUIRE_OK(shard.conn.exec("CREATE DATABASE ks"));  // seq 1
  SV_REQUIRE_OK(shard.conn.exec(kTypesTable));           // seq 2
  SV_REQUIRE_OK(shard.conn.exec(kInsertRows));           // seq 3

  auto txns = shard.read(0, 3);
  REQUIRE(txns.size() == 3);
  CHECK(txns[0].gtid.to_string() == "5-5-1");
  CHECK(txns[0].is_ddl);
  CHECK(txns[0].new_schema == nullptr);  // CREATE DATABASE: no table
  CHECK(txns[1].gtid.to_string() == "5-5-2");
  CHECK(txns[1].is_ddl);
  CHECK(txns[1].ddl_database == "ks");
  CHECK(txns[1].ddl_table == "types");
  REQUIRE(txns[1].new_schema != nullptr);
  CHECK(txns[1].new_schema->fields.size() == kColumns.size());

  const auto& ins = txns[2];
  CHECK(ins.gtid.to_string() == "5-5-3");
  CHECK_FALSE(ins.is_ddl);
  CHECK(ins.timestamp > 1600000000);
  REQUIRE(ins.rows.size() == 1);
  const auto& schema = *ins.rows[0].schema;
  CHECK(schema.name == "types");
  REQUIRE(schema.fields.size() == kColumns.size());
  for (size_t i = 0; i < kColumns.size(); ++i) CHECK(schema.fields[i].name() == kColumns[i]);
  CHECK(schema.pk_columns == std::vector<size_t>{0});

  auto expected = expected_rows();
  REQUIRE(ins.rows[0].changes.size() == 5);
  for (const auto& ch : ins.rows[0].changes) {
    CHECK_FALSE(ch.before.has_value());
    REQUIRE(ch.after.has_value());
    auto got = printable(*ch.after, schema);
    int id = std::stoi(got[0]);
    REQUIRE(expected.count(id));
    for (size_t i = 0; i < kColumns.size(); ++i) {
      INFO("row ", id, " column ", kColumns[i]);
      CHECK(got[i] == expected[id][i]);
    }
  }

  // The copy side returns byte-identical rows, in PK order, with the same field list.
  auto snap = SnapshotReader::open(shard.db.conn_params(), shard.schemas, "types", 5, nullptr);
  SV_REQUIRE_OK(snap);
  CHECK((*snap)->snapshot_seq() == 3);
  CHECK((*snap)->snapshot_gtid_pos() == "5-5-3");
  CHECK((*snap)->schema() == ins.rows[0].schema);  // same registry object: same version
  auto rows = (*snap)->next(100);
  SV_REQUIRE_OK(rows);
  REQUIRE(rows->size() == 5);
  for (size_t k = 0; k < 5; ++k) {
    INFO("copy row ", k + 1);
    CHECK(printable((*rows)[k], schema) == expected[int(k) + 1]);
    CHECK((*rows)[k].SerializeAsString() == ins.rows[0].changes[k].after->SerializeAsString());
  }
}

TEST_CASE("query.Field metadata matches what vtgate sends") {
  Shard shard;
  SV_REQUIRE_OK(shard.conn.exec("CREATE DATABASE ks"));
  SV_REQUIRE_OK(shard.conn.exec(kTypesTable));
  auto all = shard.schemas->reload_all(shard.conn);
  SV_REQUIRE_OK(all);
  REQUIRE(all->size() == 1);
  const auto& f = (*all)[0]->fields;
  std::map<std::string, const query::Field*> by;
  for (auto& x : f) by[x.name()] = &x;
  struct Want {
    const char* name;
    query::Type type;
    const char* column_type;
    uint32_t charset;
  };
  const Want wants[] = {
      {"id", query::INT32, "int(11)", 63},
      {"ti", query::INT8, "tinyint(4)", 63},
      {"tiu", query::UINT8, "tinyint(3) unsigned", 63},
      {"b1", query::INT8, "tinyint(1)", 63},
      {"si", query::INT16, "smallint(6)", 63},
      {"siu", query::UINT16, "smallint(5) unsigned", 63},
      {"mi", query::INT24, "mediumint(9)", 63},
      {"miu", query::UINT24, "mediumint(8) unsigned", 63},
      {"i", query::INT32, "int(11)", 63},
      {"iu", query::UINT32, "int(10) unsigned", 63},
      {"bi", query::INT64, "bigint(20)", 63},
      {"biu", query::UINT64, "bigint(20) unsigned", 63},
      {"dec1", query::DECIMAL, "decimal(10,2)", 63},
      {"f", query::FLOAT32, "float", 63},
      {"d", query::FLOAT64, "double", 63},
      {"fd", query::FLOAT32, "float(7,3)", 63},
      {"dt", query::DATE, "date", 63},
      {"dtm", query::DATETIME, "datetime", 63},
      {"dtm6", query::DATETIME, "datetime(6)", 63},
      {"ts", query::TIMESTAMP, "timestamp", 63},
      {"ts2", query::TIMESTAMP, "timestamp(2)", 63},
      {"tm", query::TIME, "time", 63},
      {"tm4", query::TIME, "time(4)", 63},
      {"yr", query::YEAR, "year(4)", 63},
      {"c", query::CHAR, "char(10)", 45},
      {"vc", query::VARCHAR, "varchar(300)", 45},
      {"tx", query::TEXT, "text", 45},
      {"ttx", query::TEXT, "tinytext", 45},
      {"bn", query::BINARY, "binary(4)", 63},
      {"vb", query::VARBINARY, "varbinary(20)", 63},
      {"bl", query::BLOB, "blob", 63},
      {"bt", query::BIT, "bit(12)", 63},
      {"en", query::ENUM, "enum('a,b','it''s','x')", 45},
      {"st", query::SET, "set('p','q','s''t')", 45},
      // The column's own collation: MariaDB's JSON is LONGTEXT utf8mb4_bin (the connector does not
      // convert JSON cells by charset).
      {"js", query::JSON, "json", 46},
  };
  for (const auto& w : wants) {
    INFO("column ", w.name);
    REQUIRE(by.count(w.name));
    const auto& x = *by[w.name];
    CHECK(x.type() == w.type);
    CHECK(x.column_type() == w.column_type);
    CHECK(x.charset() == w.charset);
    CHECK(x.table() == "types");
    CHECK(x.org_table() == "types");
    CHECK(x.database() == "ks");
    CHECK(x.org_name() == w.name);
  }
  // PK: NOT_NULL | PRI_KEY | NO_DEFAULT_VALUE | PART_KEY | NUM (MySQL flag bits, passed through).
  CHECK(by["id"]->flags() == (1u | 2u | 4096u | 16384u | 32768u));
  CHECK(by["vc"]->column_length() == 1200);  // 300 chars × 4 bytes (utf8mb4)
  CHECK(by["dec1"]->decimals() == 2);
  CHECK(by["dtm6"]->decimals() == 6);
  CHECK((by["tiu"]->flags() & 32u) != 0);   // UNSIGNED
  CHECK((by["en"]->flags() & 256u) != 0);   // ENUM
  CHECK((by["st"]->flags() & 2048u) != 0);  // SET
}

TEST_CASE("updates, deletes, DDL and positions") {
  Shard shard;
  SV_REQUIRE_OK(shard.conn.exec("CREATE DATABASE ks"));                                           // 1
  SV_REQUIRE_OK(shard.conn.exec("CREATE TABLE ks.t (id BIGINT PRIMARY KEY, name VARCHAR(20))"));  // 2
  SV_REQUIRE_OK(shard.conn.exec("INSERT INTO ks.t VALUES (1,'a'),(2,'b'),(3,NULL)"));             // 3
  SV_REQUIRE_OK(shard.conn.exec("UPDATE ks.t SET name='bb' WHERE id=2"));                         // 4
  SV_REQUIRE_OK(shard.conn.exec("DELETE FROM ks.t WHERE id=1"));                                  // 5
  SV_REQUIRE_OK(shard.conn.exec("ALTER TABLE ks.t ADD COLUMN score INT NOT NULL DEFAULT 7"));     // 6
  SV_REQUIRE_OK(shard.conn.exec("INSERT INTO ks.t VALUES (4,'d',9)"));                            // 7
  SV_REQUIRE_OK(shard.conn.exec("BEGIN"));                                                        // 8
  SV_REQUIRE_OK(shard.conn.exec("UPDATE ks.t SET name=NULL WHERE id=4"));
  SV_REQUIRE_OK(shard.conn.exec("INSERT INTO ks.t VALUES (5,'e',1)"));
  SV_REQUIRE_OK(shard.conn.exec("COMMIT"));
  SV_REQUIRE_OK(shard.conn.exec("CREATE DATABASE other"));                      // 9
  SV_REQUIRE_OK(shard.conn.exec("CREATE TABLE other.o (id INT PRIMARY KEY)"));  // 10
  SV_REQUIRE_OK(shard.conn.exec("INSERT INTO other.o VALUES (1)"));             // 11

  auto txns = shard.read(2, 9);
  REQUIRE(txns.size() == 9);
  for (size_t k = 0; k < txns.size(); ++k) CHECK(txns[k].gtid.seq == k + 3);

  REQUIRE(txns[0].rows.size() == 1);
  const auto v1 = txns[0].rows[0].schema;
  CHECK(v1->fields.size() == 2);
  REQUIRE(txns[0].rows[0].changes.size() == 3);
  CHECK(values(*txns[0].rows[0].changes[2].after) == std::vector<std::string>{"3", "NULL"});

  const auto& upd = txns[1].rows.at(0).changes.at(0);
  REQUIRE(upd.before);
  REQUIRE(upd.after);
  CHECK(values(*upd.before) == std::vector<std::string>{"2", "b"});
  CHECK(values(*upd.after) == std::vector<std::string>{"2", "bb"});

  const auto& del = txns[2].rows.at(0).changes.at(0);
  REQUIRE(del.before);
  CHECK_FALSE(del.after);
  CHECK(values(*del.before) == std::vector<std::string>{"1", "a"});

  CHECK(txns[3].is_ddl);
  CHECK(txns[3].statement == "ALTER TABLE ks.t ADD COLUMN score INT NOT NULL DEFAULT 7");
  REQUIRE(txns[3].new_schema);
  CHECK(txns[3].new_schema->fields.size() == 3);
  CHECK(txns[3].new_schema->fields[2].name() == "score");
  CHECK(txns[3].new_schema->version > v1->version);

  REQUIRE(txns[4].rows.size() == 1);
  CHECK(txns[4].rows[0].schema == txns[3].new_schema);
  CHECK(values(*txns[4].rows[0].changes[0].after) == std::vector<std::string>{"4", "d", "9"});

  // A multi-statement transaction is one unit, rows in statement order.
  REQUIRE(txns[5].rows.size() == 1);  // same table and schema: one TableRows
  REQUIRE(txns[5].rows[0].changes.size() == 2);
  CHECK(values(*txns[5].rows[0].changes[0].before) == std::vector<std::string>{"4", "d", "9"});
  CHECK(values(*txns[5].rows[0].changes[0].after) == std::vector<std::string>{"4", "NULL", "9"});
  CHECK(values(*txns[5].rows[0].changes[1].after) == std::vector<std::string>{"5", "e", "1"});

  // Other databases: the transactions still advance the position, without rows or schema.
  CHECK(txns[6].is_ddl);
  CHECK(txns[6].new_schema == nullptr);
  CHECK(txns[7].is_ddl);
  CHECK(txns[7].ddl_database == "other");
  CHECK(txns[7].new_schema == nullptr);
  CHECK_FALSE(txns[8].is_ddl);
  CHECK(txns[8].rows.empty());

  // Resume from any position: exactly the following transactions, nothing repeated.
  auto from6 = shard.read(6, 1);
  REQUIRE(from6.size() == 1);
  CHECK(from6[0].gtid.seq == 7);
  CHECK(values(*from6[0].rows.at(0).changes.at(0).after) == std::vector<std::string>{"4", "d", "9"});

  // Nothing new: next() returns nullopt within its bound.
  auto r = BinlogReader::open(shard.reader_opts(11));
  SV_REQUIRE_OK(r);
  const auto t0 = std::chrono::steady_clock::now();
  auto none = (*r)->next(200ms);
  SV_REQUIRE_OK(none);
  CHECK_FALSE(none->has_value());
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);

  // A position ahead of the server is refused (system_error), as MySQL's binlog dump does.
  auto ahead = BinlogReader::open(shard.reader_opts(50));
  if (ahead.ok()) {
    auto t = (*ahead)->next(500ms);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().type == sv::FailureType::system_error);
  } else {
    CHECK(ahead.error().type == sv::FailureType::system_error);
  }
}

TEST_CASE("copy in PK batches from a snapshot, then the binlog from its position: nothing lost or doubled") {
  Shard shard;
  SV_REQUIRE_OK(shard.conn.exec("CREATE DATABASE ks"));
  SV_REQUIRE_OK(shard.conn.exec("CREATE TABLE ks.c (a VARCHAR(10), b INT, v VARBINARY(4), PRIMARY KEY (a, b))"));
  SV_REQUIRE_OK(shard.conn.exec(
      "INSERT INTO ks.c VALUES ('x',2,'1'),('x',1,'2'),('a''q',5,'3'),('y',0,'4'),('b',-1,'5'),('x',10,'6')"));

  auto snap = SnapshotReader::open(shard.db.conn_params(), shard.schemas, "c", 5, nullptr);
  SV_REQUIRE_OK(snap);
  const uint64_t at = (*snap)->snapshot_seq();
  CHECK(at == 3);
  // Changes after the snapshot: not in the copy, but in the binlog after `at`.
  SV_REQUIRE_OK(shard.conn.exec("INSERT INTO ks.c VALUES ('z',1,'7')"));
  SV_REQUIRE_OK(shard.conn.exec("UPDATE ks.c SET v='8' WHERE a='a''q'"));

  std::vector<std::vector<std::string>> copied;
  std::vector<std::vector<std::string>> lastpks;
  for (int batch = 0; batch < 10; ++batch) {
    auto rows = (*snap)->next(2);
    SV_REQUIRE_OK(rows);
    if (rows->empty()) break;
    for (auto& r : *rows) copied.push_back(values(r));
    lastpks.push_back(values(*(*snap)->lastpk()));
  }
  CHECK(copied ==
        std::vector<std::vector<std::string>>{
            {"a'q", "5", "3"}, {"b", "-1", "5"}, {"x", "1", "2"}, {"x", "2", "1"}, {"x", "10", "6"}, {"y", "0", "4"}});
  CHECK(lastpks == std::vector<std::vector<std::string>>{{"b", "-1"}, {"x", "2"}, {"y", "0"}});

  // Resume the copy after a lastpk in a new snapshot (which now sees the later changes).
  query::Row pk;
  append_value(pk, std::string_view("x"));
  append_value(pk, std::string_view("2"));
  auto snap2 = SnapshotReader::open(shard.db.conn_params(), shard.schemas, "c", 5, &pk);
  SV_REQUIRE_OK(snap2);
  CHECK((*snap2)->snapshot_seq() == 5);
  auto rest = (*snap2)->next(100);
  SV_REQUIRE_OK(rest);
  REQUIRE(rest->size() == 3);
  CHECK(values((*rest)[0]) == std::vector<std::string>{"x", "10", "6"});
  CHECK(values((*rest)[2]) == std::vector<std::string>{"z", "1", "7"});

  auto txns = shard.read(at, 2);
  REQUIRE(txns.size() == 2);
  CHECK(txns[0].gtid.seq == 4);
  CHECK(values(*txns[0].rows.at(0).changes.at(0).after) == std::vector<std::string>{"z", "1", "7"});
  CHECK(values(*txns[1].rows.at(0).changes.at(0).before) == std::vector<std::string>{"a'q", "5", "3"});
  CHECK(values(*txns[1].rows.at(0).changes.at(0).after) == std::vector<std::string>{"a'q", "5", "8"});

  // Bad lastpk shape is a config error.
  query::Row one;
  append_value(one, std::string_view("x"));
  auto bad = SnapshotReader::open(shard.db.conn_params(), shard.schemas, "c", 5, &one);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().type == sv::FailureType::config_error);
}

// The copy's position is the one of its snapshot only if MariaDB fixes the binlog position of
// START TRANSACTION WITH CONSISTENT SNAPSHOT together with the InnoDB read view (under
// LOCK_commit_ordered), and keeps it while the transaction runs: SnapshotReader::open reads it
// with later statements (SHOW STATUS, BINLOG_GTID_POS). Here transactions commit between those
// steps, as they may during open(): the position stays the read view's.
TEST_CASE("a consistent snapshot keeps its read view's binlog position while transactions commit during its open") {
  Shard shard;
  SV_REQUIRE_OK(shard.conn.exec("CREATE DATABASE ks"));                                               // seq 1
  SV_REQUIRE_OK(shard.conn.exec("CREATE TABLE ks.t (id BIGINT PRIMARY KEY, v VARCHAR(8))"));          // 2
  SV_REQUIRE_OK(shard.conn.exec("INSERT INTO ks.t VALUES (1,'a'),(2,'b'),(3,'c'),(4,'d'),(5,'e')"));  // 3
  auto a = shard.db.connect();
  SV_REQUIRE_OK(a);
  SV_REQUIRE_OK(a->exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
  SV_REQUIRE_OK(a->exec("START TRANSACTION WITH CONSISTENT SNAPSHOT"));
  SV_REQUIRE_OK(shard.conn.exec("DELETE FROM ks.t WHERE id = 2"));  // seq 4, before SHOW STATUS
  auto status = a->query("SHOW STATUS LIKE 'Binlog_snapshot_%'");
  SV_REQUIRE_OK(status);
  std::string file, offset;
  for (auto& row : status->rows) {
    if (*row[0] == "Binlog_snapshot_file") file = row[1].value_or("");
    if (*row[0] == "Binlog_snapshot_position") offset = row[1].value_or("");
  }
  REQUIRE_FALSE(file.empty());
  REQUIRE_FALSE(offset.empty());
  // seq 5, a multi-statement transaction, between SHOW STATUS and BINLOG_GTID_POS.
  SV_REQUIRE_OK(shard.conn.exec("BEGIN"));
  SV_REQUIRE_OK(shard.conn.exec("DELETE FROM ks.t WHERE id = 3"));
  SV_REQUIRE_OK(shard.conn.exec("UPDATE ks.t SET v = 'u' WHERE id = 4"));
  SV_REQUIRE_OK(shard.conn.exec("COMMIT"));
  auto gtid = a->scalar("SELECT BINLOG_GTID_POS('" + file + "', " + offset + ")");
  SV_REQUIRE_OK(gtid);
  CHECK(gtid->value_or("") == "5-5-3");
  auto rows = a->query("SELECT id, v FROM ks.t ORDER BY id");
  SV_REQUIRE_OK(rows);
  std::vector<std::string> seen;
  for (auto& r : rows->rows) seen.push_back(*r[0] + *r[1]);
  CHECK(seen == std::vector<std::string>{"1a", "2b", "3c", "4d", "5e"});
  SV_REQUIRE_OK(a->exec("COMMIT"));

  // The binlog after that position holds exactly the two transactions the copy did not see.
  auto txns = shard.read(3, 2);
  REQUIRE(txns.size() == 2);
  CHECK(txns[0].gtid.seq == 4);
  REQUIRE(txns[0].rows.size() == 1);
  REQUIRE(txns[0].rows[0].changes.size() == 1);
  CHECK_FALSE(txns[0].rows[0].changes[0].after);
  CHECK(values(*txns[0].rows[0].changes[0].before) == std::vector<std::string>{"2", "b"});
  CHECK(txns[1].gtid.seq == 5);
  REQUIRE(txns[1].rows.size() == 1);
  REQUIRE(txns[1].rows[0].changes.size() == 2);
  CHECK_FALSE(txns[1].rows[0].changes[0].after);
  CHECK(values(*txns[1].rows[0].changes[0].before) == std::vector<std::string>{"3", "c"});
  CHECK(values(*txns[1].rows[0].changes[1].after) == std::vector<std::string>{"4", "u"});

  // SnapshotReader::open itself: the same position and rows a fresh snapshot has now.
  auto snap = SnapshotReader::open(shard.db.conn_params(), shard.schemas, "t", 5, nullptr);
  SV_REQUIRE_OK(snap);
  CHECK((*snap)->snapshot_seq() == 5);
  auto now = (*snap)->next(10);
  SV_REQUIRE_OK(now);
  REQUIRE(now->size() == 3);
  CHECK(values((*now)[1]) == std::vector<std::string>{"4", "u"});
}

// The same under a race: deletes commit one per transaction (delete k has seq base + k) while
// SnapshotReader::open runs again and again; every snapshot must hold exactly the rows not yet
// deleted at its position: a row whose delete the position covers would never get its delete
// streamed (the replication starts after the position). Bounded: 4000 deletes, 400 snapshots.
TEST_CASE("snapshots opened while deletes commit hold exactly the rows their position implies") {
  Shard shard;
  constexpr int kRows = 4000;
  SV_REQUIRE_OK(shard.conn.exec("CREATE DATABASE ks"));
  SV_REQUIRE_OK(shard.conn.exec("CREATE TABLE ks.d (id BIGINT PRIMARY KEY)"));
  SV_REQUIRE_OK(shard.conn.exec("INSERT INTO ks.d SELECT seq FROM ks.seq_1_to_4000"));
  const uint64_t base = 3;  // create database, create table, insert
  auto deleter_conn = shard.db.connect();
  SV_REQUIRE_OK(deleter_conn);
  std::atomic<bool> done{false};
  std::string deleter_error;
  std::thread deleter([&] {
    for (int id = 1; id <= kRows; ++id) {
      auto st = deleter_conn->exec("DELETE FROM ks.d WHERE id = " + std::to_string(id));
      if (!st) {
        deleter_error = st.error().message;
        break;
      }
    }
    done = true;
  });
  int snapshots = 0, mid_way = 0;
  std::vector<std::string> mismatches;
  for (int i = 0; i < 400 && !done; ++i) {
    auto snap = SnapshotReader::open(shard.db.conn_params(), shard.schemas, "d", 5, nullptr);
    if (!snap) {
      mismatches.push_back("open: " + snap.error().message);
      break;
    }
    const uint64_t at = (*snap)->snapshot_seq();
    auto rows = (*snap)->next(kRows + 1);
    if (!rows) {
      mismatches.push_back("read: " + rows.error().message);
      break;
    }
    ++snapshots;
    // Deleted at `at`: ids 1 .. at - base. The rows must be ids at - base + 1 .. kRows, in order.
    const int64_t first = static_cast<int64_t>(at - base) + 1;
    if (first > 1 && first <= kRows) ++mid_way;
    bool exact = static_cast<int64_t>(rows->size()) == kRows - first + 1;
    for (std::size_t k = 0; exact && k < rows->size(); ++k)
      exact = values((*rows)[k])[0] == std::to_string(first + static_cast<int64_t>(k));
    if (!exact && mismatches.size() < 5)
      mismatches.push_back("snapshot at seq " + std::to_string(at) + " has " + std::to_string(rows->size()) +
                           " rows from id " + (rows->empty() ? std::string("-") : values(rows->front())[0]) +
                           ", expected from id " + std::to_string(first));
  }
  deleter.join();
  CHECK(deleter_error.empty());
  CHECK(mismatches.empty());
  if (!mismatches.empty()) MESSAGE(mismatches.front());
  MESSAGE("snapshots: " << snapshots << ", taken while the deletes ran: " << mid_way);
  CHECK(mid_way >= 5);  // the race was really exercised
}
