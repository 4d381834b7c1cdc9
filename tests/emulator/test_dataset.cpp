// tests/emulator/test_dataset.cpp — GTID sets and the synthetic dataset model (suite unit).
#include <algorithm>
#include <map>

#include <doctest/doctest.h>

#include "emulator/dataset.hpp"
#include "emulator/gtid.hpp"

using namespace sv::emulator;

TEST_CASE("GtidSet parses, merges and prints MySQL56 positions") {
  auto s = GtidSet::parse("MySQL56/2174B383-5441-11e8-b90a-c80aa9429562:1-5:7,24da1670-0c0c-11e8-8442-00059a3c7b00:3");
  REQUIRE(s.ok());
  CHECK(s->to_string() == "MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:1-5:7,24da1670-0c0c-11e8-8442-00059a3c7b00:3");
  s->add("2174b383-5441-11e8-b90a-c80aa9429562", 6);
  CHECK(s->set_string() == "2174b383-5441-11e8-b90a-c80aa9429562:1-7,24da1670-0c0c-11e8-8442-00059a3c7b00:3");
  auto sub = GtidSet::parse("MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:2-4");
  REQUIRE(sub.ok());
  CHECK(s->contains(*sub));
  CHECK_FALSE(sub->contains(*s));
  CHECK(s->after(*sub));
  CHECK(s->last("2174b383-5441-11e8-b90a-c80aa9429562") == 7);
  CHECK(GtidSet::parse("MySQL56/").ok());
  CHECK(GtidSet::parse("MySQL56/")->empty());
  CHECK_FALSE(GtidSet::parse("2174b383-5441-11e8-b90a-c80aa9429562:1-5").ok());          // no flavor
  CHECK_FALSE(GtidSet::parse("MariaDB/0-1-5").ok());                                     // other flavor
  CHECK_FALSE(GtidSet::parse("MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:5-1").ok());  // reversed
  CHECK_FALSE(GtidSet::parse("MySQL56/2174b383:1-5").ok());                              // bad uuid
  CHECK_FALSE(GtidSet::parse("MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:0").ok());    // zero
  // Beyond 2^63-1, which Vitess refuses (found by tests/fuzz/fuzz_gtid; corpus/gtid/gno_overflow).
  CHECK(GtidSet::parse("MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:1-9223372036854775807").ok());
  CHECK(
      GtidSet::parse("MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:1-9223372045836775807").error().message ==
      "invalid GTID interval '1-9223372045836775807' in '2174b383-5441-11e8-b90a-c80aa9429562:1-9223372045836775807'");
  CHECK_FALSE(GtidSet::parse("MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:9223372036854775808").ok());
  CHECK(GtidSet::single("2174b383-5441-11e8-b90a-c80aa9429562", 3).to_string() ==
        "MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:1-3");
}

TEST_CASE("shard names and key ranges follow Vitess") {
  CHECK(Dataset::shard_names(1) == std::vector<std::string>{"-"});
  CHECK(Dataset::shard_names(2) == std::vector<std::string>{"-80", "80-"});
  CHECK(Dataset::shard_names(4) == std::vector<std::string>{"-40", "40-80", "80-c0", "c0-"});
  CHECK(Dataset::shard_names(3) == std::vector<std::string>{"-5555", "5555-aaaa", "aaaa-"});
  auto r = Dataset::parse_shard("40-80");
  REQUIRE(r);
  CHECK(r->contains(0x4000000000000000ULL));
  CHECK_FALSE(r->contains(0x8000000000000000ULL));
  CHECK_FALSE(Dataset::parse_shard("80-40"));
  CHECK_FALSE(Dataset::parse_shard("zz-"));
  CHECK(Dataset::parse_shard("0"));
}

TEST_CASE("every row lives on exactly one shard") {
  DatasetConfig c;
  c.shards = Dataset::shard_names(4);
  c.rows = 500;
  Dataset ds(c);
  std::map<std::string, int> per;
  for (std::uint64_t k = 1; k <= 500; ++k) {
    int n = 0;
    for (const auto& s : c.shards) {
      if (ds.in_shard(1, k, s)) {
        ++n;
        ++per[s];
      }
    }
    CHECK(n == 1);
  }
  for (const auto& s : c.shards) CHECK(per[s] > 60);  // roughly even
}

// Replays the op sequence on a plain map and compares with the closed-form state functions.
static void check_ops(std::uint64_t rows, std::vector<std::string> tables, std::uint64_t ops) {
  DatasetConfig c;
  c.rows = rows;
  c.tables = tables;
  Dataset ds(c);
  std::vector<std::map<std::uint64_t, std::uint32_t>> live(tables.size());
  for (std::size_t t = 0; t < tables.size(); ++t) {
    for (std::uint64_t k = 1; k <= rows; ++k) live[t][k] = 0;
  }
  for (std::uint64_t g = 1; g <= ops; ++g) {
    Op o = ds.op(g);
    auto& m = live[o.table];
    switch (o.kind) {
      case OpKind::insert:
        REQUIRE(m.count(o.key) == 0);
        m[o.key] = 0;
        break;
      case OpKind::update:
        REQUIRE(m.count(o.key) == 1);
        REQUIRE(m[o.key] == o.gen_before);
        m[o.key] = o.gen_after;
        break;
      case OpKind::remove:
        REQUIRE(m.count(o.key) == 1);
        REQUIRE(m[o.key] == o.gen_before);
        m.erase(o.key);
        break;
    }
    for (std::size_t t = 0; t < tables.size(); ++t) {
      for (std::uint64_t k = 1; k <= ds.max_key(t, g) + 2; ++k) {
        auto gen = ds.generation(t, k, g);
        auto it = live[t].find(k);
        REQUIRE(gen.has_value() == (it != live[t].end()));
        if (gen) REQUIRE(*gen == it->second);
      }
    }
  }
}

TEST_CASE("write ops: closed-form row state equals replaying the ops") {
  check_ops(5, {"all_types", "customers", "order_items"}, 150);
  check_ops(0, {"customers"}, 60);
  check_ops(1, {"customers", "order_items"}, 60);
}

TEST_CASE("cells are deterministic and typed as MySQL prints them") {
  Dataset a({}), b({});
  for (std::uint64_t k = 1; k <= 30; ++k)
    CHECK(a.row(0, k, 0)->SerializeAsString() == b.row(0, k, 0)->SerializeAsString());
  auto dec = a.cell(0, 7, "c_decimal", 0);
  if (dec) {
    auto dot = dec->find('.');
    REQUIRE(dot != std::string::npos);
    CHECK(dec->size() - dot - 1 == 3);
  }
  auto bit = a.cell(0, 3, "c_bit", 0);
  if (bit) CHECK(bit->size() == 2);
  CHECK(a.cell(2, 6, "order_id", 0) == std::optional<std::string>("2"));
  CHECK(a.cell(2, 6, "line", 0) == std::optional<std::string>("2"));
  auto s = a.schema(0, 0);
  CHECK(s->fields[27].column_type() == "enum('small','medium','large','x,y','it''s')");
  CHECK(a.key_of_pk(2, a.pk_row(2, 11)) == std::optional<std::uint64_t>(11));
}

TEST_CASE("a DDL adds a column that later writes fill") {
  DatasetConfig c;
  c.tables = {"customers"};
  c.rows = 4;
  Dataset ds(c);
  std::string stmt = ds.add_ddl(0, 2);
  CHECK(stmt == "ALTER TABLE `customers` ADD COLUMN `note1` varchar(32) DEFAULT NULL");
  CHECK(ds.schema(0, 1)->fields.size() == 5);
  CHECK(ds.schema(0, 2)->fields.size() == 6);
  CHECK(ds.schema(0, 2)->version == 2);
  CHECK(ds.cell(0, 1, "note1", 2) == std::nullopt);  // written by op 2, before the DDL
  // op 5 = j 5 → m 1, update k 2 to gen 1 (after the DDL): note filled
  CHECK(ds.cell(0, 2, "note1", 5) == std::optional<std::string>("n1-2-1"));
}

TEST_CASE("the bench tables: shapes, deterministic cells, NULLs only where nullable, realistic lengths") {
  DatasetConfig c;
  c.tables = {"bench_narrow", "bench_typical", "bench_wide"};
  c.rows = 2000;
  Dataset a(c), b(c);
  const std::size_t want_cols[] = {3, 10, 50};
  for (std::size_t t = 0; t < 3; ++t) {
    INFO("table ", a.table_name(t));
    const auto schema = a.schema(t, 0);
    REQUIRE(schema->fields.size() == want_cols[t]);
    CHECK(schema->fields[0].name() == "id");
    CHECK(schema->pk_columns == std::vector<std::size_t>{0});
    std::vector<std::size_t> nulls(schema->fields.size());
    std::size_t bytes = 0;
    for (std::uint64_t k = 1; k <= c.rows; ++k) {
      const auto row = a.row(t, k, 0);
      REQUIRE(row);
      CHECK(row->SerializeAsString() == b.row(t, k, 0)->SerializeAsString());
      const auto cells = row_cells(*row);
      REQUIRE(cells.size() == schema->fields.size());
      CHECK(cells[0] == std::optional<std::string>(std::to_string(k)));
      CHECK(a.key_of_pk(t, a.pk_row(t, k)) == std::optional<std::uint64_t>(k));
      for (std::size_t i = 0; i < cells.size(); ++i) {
        if (!cells[i]) {
          ++nulls[i];
          continue;
        }
        bytes += cells[i]->size();
      }
    }
    for (std::size_t i = 0; i < schema->fields.size(); ++i) {
      INFO("column ", schema->fields[i].name());
      if (schema->fields[i].flags() & query::NOT_NULL_FLAG) {
        CHECK(nulls[i] == 0);
      } else {
        CHECK(nulls[i] > 0);  // ~1 in 11
        CHECK(nulls[i] < c.rows / 5);
      }
    }
    // Average raw cell bytes per row: narrow small, typical ~200, wide a few KB at most.
    const double avg = static_cast<double>(bytes) / static_cast<double>(c.rows);
    const double lo[] = {15, 110, 800}, hi[] = {40, 220, 2500};
    CHECK(avg > lo[t]);
    CHECK(avg < hi[t]);
  }
  // Values as MySQL prints them, spot-checked per family.
  const std::size_t wide = 2;
  auto col = [&](std::size_t t, std::string_view name) {
    const auto s = a.schema(t, 0);
    for (std::size_t i = 0; i < s->fields.size(); ++i) {
      if (s->fields[i].name() == name) return i;
    }
    FAIL("no column ", name);
    return std::size_t{0};
  };
  for (std::uint64_t k = 1; k <= 200; ++k) {
    const auto cells = row_cells(*a.row(wide, k, 0));
    const auto& money = *cells[col(wide, "c_decimal_money")];
    CHECK(money.size() - money.find('.') == 3);
    if (auto d = cells[col(wide, "c_decimal_wide")]) CHECK(d->size() - d->find('.') == 11);
    CHECK(cells[col(wide, "c_binary16")]->size() == 16);
    CHECK(cells[col(wide, "c_uuid")]->size() == 36);
    CHECK(cells[col(wide, "c_char_latin1")]->size() == 2);
    if (auto v = cells[col(wide, "c_bit64")]) CHECK(v->size() == 8);
    if (auto v = cells[col(wide, "c_bit1")]) CHECK((*v == std::string(1, '\0') || *v == std::string(1, '\1')));
    if (auto v = cells[col(wide, "c_datetime6")]) CHECK(v->size() == 26);
    if (auto v = cells[col(wide, "c_timestamp6")]) CHECK(v->size() == 26);
    if (auto v = cells[col(wide, "c_time3")]) CHECK(v->substr(v->size() - 4, 1) == ".");
    const auto labels = enum_labels(a.schema(wide, 0)->fields[col(wide, "c_enum_status")].column_type());
    CHECK(std::find(labels.begin(), labels.end(), *cells[col(wide, "c_enum_status")]) != labels.end());
    const auto typical = row_cells(*a.row(1, k, 0));
    CHECK(typical[col(1, "email")]->find('@') != std::string::npos);
    CHECK((*typical[col(1, "active")] == "0" || *typical[col(1, "active")] == "1"));
    const auto narrow = row_cells(*a.row(0, k, 0));
    if (narrow[2]) CHECK(narrow[2]->size() <= 32);
  }
  check_ops(3, {"bench_narrow", "bench_typical", "bench_wide"}, 90);
}
