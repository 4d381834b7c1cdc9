// tests/socket: the direct PROTOBUF encoder (record_writers.cpp: values handed over by write_value
// as vitess::Scalar) against the former path that rendered every cell as JSON and parsed it back
// (protobuf_oracle.cpp): for the same rows both must produce exactly the same bytes.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "protobuf_oracle.hpp"
#include "socket/record_writers.hpp"

using namespace sv;
using namespace sv::socket;

namespace {

vitess::Column col(const std::string& name, query::Type type, const std::string& column_type,
                   std::uint32_t charset = 255, std::uint32_t flags = 0, bool go_dates = false,
                   bool tiny_as_bool = true) {
  query::Field f;
  f.set_name(name);
  f.set_type(type);
  f.set_column_type(column_type);
  f.set_charset(charset);
  f.set_flags(flags);
  vitess::ValueOptions o;
  o.invalid_dates_as_null = !go_dates;
  o.tiny_int_as_boolean = tiny_as_bool;
  return vitess::make_column(f, o);
}

//! Every type family, each with the cell texts that exercise its rules (valid, edge and invalid).
struct Family {
  vitess::Column column;
  std::vector<std::string> cells;
};

std::vector<Family> families() {
  const std::string bin(std::string("\x00\xff\x80 \"\\\n", 7));
  return {
      {col("i64", query::INT64, "bigint"),
       {"0", "-1", "9223372036854775807", "-9223372036854775808", "0007", "12a", "", "-", "99999999999999999999999"}},
      {col("u64", query::UINT64, "bigint unsigned"),
       {"18446744073709551615", "9223372036854775808", "9223372036854775807", "0", "00018446744073709551615"}},
      {col("i8", query::INT8, "tinyint"), {"-128", "127", "5"}},
      {col("flag", query::INT8, "tinyint(1)"), {"0", "1", "2", "-1", "x"}},
      {col("flag_n", query::INT8, "tinyint(1)", 255, 0, false, false), {"0", "1", "2"}},
      {col("yr", query::YEAR, "year"), {"2024", "0000", "1901"}},
      {col("dec", query::DECIMAL, "decimal(30,10)"),
       {"-12.5000000000", "0.0000000001", ".5", "-.5", "00012.30", "12.", "123456789012345678901234567890.1", "-0",
        "1e5", "abc"}},
      {col("dbl", query::FLOAT64, "double"),
       {"1.5", "-0", "0.30000000000000004", "1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308", "1e-320",
        "1e400", "-1E+10", "nan", "inf", "7"}},
      {col("flt", query::FLOAT32, "float"), {"3.4028235e38", "1.1754944e-38", "0.1"}},
      {col("day", query::DATE, "date"),
       {"2024-02-29", "0000-00-00", "2023-02-29", "1969-12-31", "9999-12-31", "0001-01-01", "garbage"}},
      {col("day_go", query::DATE, "date", 255, 0, true), {"0000-00-00", "2023-02-30", "2024-01-01"}},
      {col("at", query::DATETIME, "datetime(6)"),
       {"1969-12-31 23:59:59.250000", "0000-00-00 00:00:00", "2024-02-29 12:00:00", "1970-01-01 00:00:00.000001",
        "2024-13-01 00:00:00", "9999-12-31 23:59:59.999999"}},
      {col("at_go", query::DATETIME, "datetime", 255, 0, true), {"0000-00-00 00:00:00", "2021-02-30 01:02:03"}},
      {col("ts", query::TIMESTAMP, "timestamp(3)"),
       {"2021-03-04 05:06:07", "0000-00-00 00:00:00", "1970-01-01 00:00:00", "2038-01-19 03:14:07.999"}},
      {col("clock", query::TIME, "time(6)"),
       {"-01:00:00", "00:00:00", "23:59:59.999999", "24:00:00", "838:59:59", "12:34:56.5", "bad"}},
      {col("name", query::VARCHAR, "varchar(40)"),
       {"", "a \"q\" é", "tab\tnl\nnul" + std::string(1, '\0') + "x", "\xff\xfe invalid", "\\", "\xe2\x82",
        "ünïcödé ✓ 🚀", "</script>"}},
      {col("latin", query::VARCHAR, "varchar(10)", 8 /* latin1 */), {"caf\xe9", "plain", ""}},
      {col("raw", query::VARBINARY, "varbinary(8)", 63), {"", bin, "abc"}},
      {col("blob", query::BLOB, "blob", 63), {std::string(300, '\x01'), "x"}},
      {col("doc", query::JSON, "json", 63), {R"({"a": 1, "b": "\u00e9"})", "[]", "null", "\"s\""}},
      {col("color", query::ENUM, "enum('red','gr''een','')"), {"red", "gr'een", "", "2", "9", "blue"}},
      {col("tags", query::SET, "set('a','b,c','d')"), {"", "a", "a,d", "5", "64", "zz"}},
      {col("bit1", query::BIT, "bit(1)", 63), {std::string(1, '\x01'), std::string(1, '\x00')}},
      {col("bit12", query::BIT, "bit(12)", 63), {std::string("\x0f\xff", 2), std::string("\x00\x00", 2)}},
      {col("bit64", query::BIT, "bit(64)", 63),
       {std::string(8, '\xff'), std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8), std::string(9, '\x01')}},
      {col("nothing", query::NULL_TYPE, ""), {"x"}},
  };
}

struct Rows {
  std::vector<vitess::Column> columns;
  std::vector<std::uint32_t> selection;
  std::vector<std::string> props;
};

Rows table(const std::vector<Family>& fams) {
  Rows t;
  for (const auto& f : fams) {
    t.selection.push_back(static_cast<std::uint32_t>(t.columns.size()));
    t.columns.push_back(f.column);
    t.props.push_back(f.column.name);
  }
  t.props.insert(t.props.end(),
                 {engine::kUpdatedAtColumn, engine::kDeletedAtColumn, engine::kMetadataColumn, "not_a_column"});
  return t;
}

//! Writes the same rows through both writers; the bytes must be identical.
void check_identical(const Rows& t, const std::vector<std::vector<vitess::Cell>>& rows,
                     const std::vector<engine::ComputedText>& updated, const std::vector<engine::ComputedText>& deleted,
                     const std::vector<std::string>& plain = {}) {
  for (const bool with_props : {true, false}) {
    const std::vector<std::string> props = with_props ? t.props : std::vector<std::string>{};
    auto direct = make_protobuf_record_writer({"orders", "shop"}, props, plain);
    auto oracle = oracle::make_protobuf_record_writer_via_json({"orders", "shop"}, props, plain);
    engine::RowMetadata meta{1700000000000000000, 7, "MySQL56/u:1-5"};
    for (std::size_t r = 0; r < rows.size(); ++r) {
      engine::RowView row;
      row.emitted_at = 1700000000123 + static_cast<std::int64_t>(r);
      row.columns = t.columns;
      row.cells = rows[r];
      row.selection = t.selection;
      row.updated_at = updated[r % updated.size()];
      row.deleted_at = deleted[r % deleted.size()];
      row.metadata = r % 3 == 0 ? nullptr : &meta;
      direct->write(row);
      oracle->write(row);
    }
    CHECK(direct->count() == rows.size());
    const std::string a = direct->take(), b = oracle->take();
    REQUIRE(!b.empty());
    if (a != b) {
      // Find the first differing record for the message.
      std::size_t i = 0;
      while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
      FAIL("bytes differ at offset " << i << " of " << b.size() << " (with_props=" << with_props << ")");
    }
  }
}

const std::vector<engine::ComputedText> kUpdated{{true, false, "2023-11-14T22:13:20Z"},
                                                 {true, true, {}},
                                                 {false, true, {}},
                                                 {true, false, "2023-11-14T22:13:20.123456+02:00"},
                                                 {true, false, "not a time"}};
const std::vector<engine::ComputedText> kDeleted{{true, true, {}}, {true, false, "1970-01-01T00:00:00Z"}};

}  // namespace

TEST_CASE("direct PROTOBUF encoder: every type family's cells, byte for byte as the JSON-rendering path") {
  const auto fams = families();
  const Rows t = table(fams);
  // Row k takes cell k of each family (cycling), and one row of all NULLs.
  std::size_t longest = 0;
  for (const auto& f : fams) longest = std::max(longest, f.cells.size());
  std::vector<std::vector<vitess::Cell>> rows;
  for (std::size_t k = 0; k < longest; ++k) {
    std::vector<vitess::Cell> cells;
    for (const auto& f : fams) cells.push_back({f.cells[k % f.cells.size()], false});
    rows.push_back(cells);
  }
  rows.emplace_back(fams.size(), vitess::Cell{{}, true});
  check_identical(t, rows, kUpdated, kDeleted);
  check_identical(t, rows, kUpdated, kDeleted, {engine::kUpdatedAtColumn});
}

TEST_CASE("direct PROTOBUF encoder: seeded random rows (bounded) byte for byte as the JSON-rendering path") {
  const auto fams = families();
  const Rows t = table(fams);
  std::mt19937_64 rng(20261208);
  // Cells: a family's listed text, random bytes, random digits, or NULL. 3000 rows.
  std::vector<std::string> storage;
  storage.reserve(3000 * fams.size());
  std::vector<std::vector<vitess::Cell>> rows;
  for (int r = 0; r < 3000; ++r) {
    std::vector<vitess::Cell> cells;
    for (const auto& f : fams) {
      switch (rng() % 5) {
        case 0: cells.push_back({{}, true}); break;
        case 1: {
          std::string s(rng() % 12, '\0');
          for (auto& ch : s) ch = static_cast<char>(rng() & 0xFF);
          storage.push_back(std::move(s));
          cells.push_back({storage.back(), false});
          break;
        }
        case 2: {
          std::string s = rng() % 2 ? "-" : "";
          const auto n = 1 + rng() % 25;
          for (std::uint64_t i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + rng() % 10));
          if (rng() % 3 == 0) s.insert(s.size() / 2, ".");
          storage.push_back(std::move(s));
          cells.push_back({storage.back(), false});
          break;
        }
        default: cells.push_back({f.cells[rng() % f.cells.size()], false}); break;
      }
    }
    rows.push_back(std::move(cells));
  }
  check_identical(t, rows, kUpdated, kDeleted);
}

// Not run by default (skipped): the workload of the instruction counts in docs/benchmarks.md
// ("Socket mode", direct encoder): 200k rows shaped like bench_typical through one writer, chosen
// by SV_ENCODER=direct|json. Run under callgrind with --toggle-collect='*encode_typical_rows*'.
namespace {
[[gnu::noinline]] std::size_t encode_typical_rows(engine::RowWriter& w, const Rows& t,
                                                  const std::vector<std::vector<vitess::Cell>>& rows) {
  std::size_t bytes = 0;
  for (int i = 0; i < 200000; ++i) {
    engine::RowView row;
    row.emitted_at = 1700000000123;
    row.columns = t.columns;
    row.cells = rows[static_cast<std::size_t>(i) % rows.size()];
    row.selection = t.selection;
    w.write(row);
    if (w.count() == 1000) bytes += w.take().size();
  }
  return bytes + w.take().size();
}
}  // namespace

TEST_CASE("encoder workload: 200k bench_typical-shaped rows (callgrind)" * doctest::skip()) {
  Rows t;
  for (const auto& c : {col("id", query::INT64, "bigint"), col("qty", query::INT32, "int"),
                        col("big", query::UINT64, "bigint unsigned"), col("price", query::DECIMAL, "decimal(12,2)"),
                        col("name", query::VARCHAR, "varchar(64)"), col("email", query::VARCHAR, "varchar(64)"),
                        col("created", query::DATETIME, "datetime(6)"), col("updated", query::TIMESTAMP, "timestamp"),
                        col("active", query::INT8, "tinyint(1)"), col("doc", query::JSON, "json", 63)}) {
    t.selection.push_back(static_cast<std::uint32_t>(t.columns.size()));
    t.columns.push_back(c);
  }
  std::vector<std::vector<vitess::Cell>> rows;
  static const std::vector<std::string> texts[] = {
      {"1", "742", "18446744073709551000", "1234.56", "customer name 0001", "someone@example.com",
       "2024-05-06 07:08:09.123456", "2024-05-06 07:08:09", "1", R"({"tier": "gold", "n": 3})"},
      {"2", "-5", "17", "-0.01", "another customer", "x@y.org", "2023-01-01 00:00:00.000000", "2023-01-01 00:00:00",
       "0", R"({"tier": "basic"})"}};
  for (const auto& r : texts) {
    std::vector<vitess::Cell> cells;
    for (const auto& s : r) cells.push_back({s, false});
    rows.push_back(cells);
  }
  const char* which = std::getenv("SV_ENCODER");
  const bool json = which != nullptr && std::string(which) == "json";
  auto w = json ? oracle::make_protobuf_record_writer_via_json({"bench_typical", "commerce"}, {})
                : make_protobuf_record_writer({"bench_typical", "commerce"}, {});
  CHECK(encode_typical_rows(*w, t, rows) > 0);
}
