// tests/fuzz: what the two VStream decoder targets share (fuzz_vstream_decoder.cpp,
// fuzz_vstream_raw.cpp): the FIELD events of a table with every type family, seeded on shards -80
// and 80- before the fuzzed input, and the shard plans (-80 copying, 80- replicating to a stop).
// The seed corpora's rows are in this column order (tests/fuzz/seeds/make_vstream_seeds.py).
#pragma once

#include <string>
#include <vector>

#include "engine/decoder.hpp"
#include "fuzz_support.hpp"

namespace svfuzz {

struct FieldSpec {
  const char* name;
  query::Type type;
  const char* column_type;
  std::uint32_t charset;
  std::uint32_t decimals;
};

// One column per value kind of vitess::ValueKind, with the charsets that take different paths
// (utf8mb4 45, binary 63, latin1 8, sjis 13, utf16 54, ucs2 35).
inline const std::vector<FieldSpec> kFields = {
    {"id", query::INT64, "bigint", 63, 0},
    {"ti", query::INT8, "tinyint", 63, 0},
    {"b1", query::INT8, "tinyint(1)", 63, 0},
    {"u64", query::UINT64, "bigint unsigned", 63, 0},
    {"i24", query::INT24, "mediumint", 63, 0},
    {"dec", query::DECIMAL, "decimal(30,10)", 63, 10},
    {"f", query::FLOAT32, "float", 63, 31},
    {"d", query::FLOAT64, "double", 63, 31},
    {"yr", query::YEAR, "year", 63, 0},
    {"dt", query::DATE, "date", 63, 0},
    {"dtm", query::DATETIME, "datetime(6)", 63, 6},
    {"ts", query::TIMESTAMP, "timestamp(3)", 63, 3},
    {"tm", query::TIME, "time(4)", 63, 4},
    {"vc", query::VARCHAR, "varchar(300)", 45, 0},
    {"l1", query::VARCHAR, "varchar(10)", 8, 0},
    {"sj", query::TEXT, "text", 13, 0},
    {"u16", query::VARCHAR, "varchar(10)", 54, 0},
    {"uc2", query::CHAR, "char(4)", 35, 0},
    {"js", query::JSON, "json", 63, 0},
    {"vb", query::VARBINARY, "varbinary(20)", 63, 0},
    {"bn", query::BINARY, "binary(4)", 63, 0},
    {"bl", query::BLOB, "blob", 63, 0},
    {"geo", query::GEOMETRY, "geometry", 63, 0},
    {"bt1", query::BIT, "bit(1)", 63, 0},
    {"bt", query::BIT, "bit(12)", 63, 0},
    {"en", query::ENUM, "enum('a,b','it''s','x')", 45, 0},
    {"st", query::SET, "set('p','q','s''t')", 45, 0},
    {"nul", query::NULL_TYPE, "", 63, 0},
};

inline constexpr const char* kUuid = "00000000-0000-0000-0000-000000000001";

inline vtgate::VStreamResponse seeded_fields() {
  vtgate::VStreamResponse r;
  for (const char* shard : {"-80", "80-"}) {
    auto* ev = r.add_events();
    ev->set_type(binlogdata::FIELD);
    ev->set_keyspace("ks");
    ev->set_shard(shard);
    auto* fe = ev->mutable_field_event();
    fe->set_table_name("ks.t");
    fe->set_keyspace("ks");
    fe->set_shard(shard);
    for (const auto& spec : kFields) {
      auto* f = fe->add_fields();
      f->set_name(spec.name);
      f->set_type(spec.type);
      f->set_table("t");
      f->set_org_table("t");
      f->set_database("vt_ks");
      f->set_org_name(spec.name);
      f->set_charset(spec.charset);
      f->set_decimals(spec.decimals);
      f->set_column_type(spec.column_type);
    }
  }
  return r;
}

inline std::vector<sv::engine::ShardPlan> plans() {
  sv::engine::ShardPlan copying;
  copying.shard = "-80";
  copying.cursor = sv::vitess::make_cursor("ks", "-80");
  copying.copying = true;
  copying.stop_after_copy = true;
  sv::engine::ShardPlan replicating;
  replicating.shard = "80-";
  replicating.cursor = sv::vitess::make_cursor("ks", "80-", std::string("MySQL56/") + kUuid + ":1-5");
  auto stop = sv::vitess::GtidSet::parse(std::string("MySQL56/") + kUuid + ":1-100");
  expect(stop.ok(), "the stop position parses");
  replicating.stop = *stop;
  return {copying, replicating};
}

}  // namespace svfuzz
