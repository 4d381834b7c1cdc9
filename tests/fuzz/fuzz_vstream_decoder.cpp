// tests/fuzz: libFuzzer target for the VStream response decoder (src/engine/decoder.*, values by
// MySQL type in src/vitess/values.*): any bytes parsed as a vtgate.VStreamResponse and fed to a
// Decoder the way the engine does, after a FIELD event of a table with every type family on both
// shards, so fuzzed ROW events decode. Each input runs twice: every column, include_metadata and
// JSONL rows (each line must be a valid UTF-8 JSON object); and a catalog selection with the
// computed columns, no deletes, Go-connector dates and CSV rows.
#include <rapidjson/document.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/decoder.hpp"
#include "extract/row_writers.hpp"
#include "fuzz_support.hpp"

namespace {

struct FieldSpec {
  const char* name;
  query::Type type;
  const char* column_type;
  std::uint32_t charset;
  std::uint32_t decimals;
};

// One column per value kind of vitess::ValueKind, with the charsets that take different paths
// (utf8mb4 45, binary 63, latin1 8, sjis 13, utf16 54, ucs2 35).
const std::vector<FieldSpec> kFields = {
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

constexpr const char* kUuid = "00000000-0000-0000-0000-000000000001";

vtgate::VStreamResponse seeded_fields() {
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

std::vector<sv::engine::ShardPlan> plans() {
  sv::engine::ShardPlan copying;
  copying.shard = "-80";
  copying.cursor = sv::vitess::make_cursor("ks", "-80");
  copying.copying = true;
  copying.stop_after_copy = true;
  sv::engine::ShardPlan replicating;
  replicating.shard = "80-";
  replicating.cursor = sv::vitess::make_cursor("ks", "80-", std::string("MySQL56/") + kUuid + ":1-5");
  auto stop = sv::vitess::GtidSet::parse(std::string("MySQL56/") + kUuid + ":1-100");
  svfuzz::expect(stop.ok(), "the stop position parses");
  replicating.stop = *stop;
  return {copying, replicating};
}

void expect_json_lines(const std::string& lines, std::uint64_t count) {
  std::uint64_t seen = 0;
  std::size_t start = 0;
  while (start < lines.size()) {
    const std::size_t end = lines.find('\n', start);
    svfuzz::expect(end != std::string::npos, "every row ends with a newline");
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseFullPrecisionFlag>(lines.data() + start,
                                                                                          end - start);
    if (doc.HasParseError()) std::fprintf(stderr, "row: %.*s\n", static_cast<int>(end - start), lines.data() + start);
    svfuzz::expect(!doc.HasParseError(), "every row is valid UTF-8 JSON");
    svfuzz::expect(doc.IsObject(), "every row is a JSON object");
    ++seen;
    start = end + 1;
  }
  svfuzz::expect(seen == count, "a commit's count is its number of rows");
}

void run(const vtgate::VStreamResponse& fuzzed, sv::engine::DecoderOptions options, bool jsonl) {
  sv::engine::Decoder decoder(std::move(options));
  decoder.reset(plans());
  const auto fields = decoder.process(seeded_fields(), 1700000000000, 1700000000000000000);
  svfuzz::expect(!fields.error, "the seeded FIELD events decode");
  // Twice: the second pass starts from whatever state the first one left.
  for (int pass = 0; pass < 2; ++pass) {
    const auto out = decoder.process(fuzzed, 1700000000000, 1700000000000000000);
    if (out.error) svfuzz::expect(!out.error->message.empty(), "a decoder error has a message");
    for (const auto& c : out.commits) {
      if (jsonl) expect_json_lines(c.lines, c.count);
      svfuzz::expect(c.cursor.shard() == c.shard, "a commit's cursor names its shard");
    }
    for (const auto& shard : out.finished) svfuzz::expect(decoder.done(shard), "a finished shard is done");
    if (out.error || out.journal) break;  // the engine stops the stream here
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  svfuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vtgate::VStreamResponse response;
  if (!response.ParseFromArray(data, static_cast<int>(size))) return 0;

  sv::engine::DecoderOptions all;
  all.descriptor = {"t", "ks"};
  all.keyspace = "ks";
  all.table = "t";
  all.include_metadata = true;
  all.row_writer = [] { return sv::extract::make_jsonl_writer(); };
  run(response, all, true);

  sv::engine::DecoderOptions selected;
  selected.descriptor = {"t", "ks"};
  selected.keyspace = "ks";
  selected.table = "t";
  selected.columns = {"id", "vc", "dtm", "en", "st", "bt", "_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
  selected.column_types.resize(selected.columns.size());
  selected.column_types[0].types = {"integer"};  // differs from discover's: reported as changed
  selected.capture_deletes = false;
  selected.values.invalid_dates_as_null = false;
  selected.values.tiny_int_as_boolean = false;
  const auto columns = selected.columns;
  selected.row_writer = [columns] { return sv::extract::make_csv_writer(columns); };
  run(response, selected, false);
  return 0;
}
