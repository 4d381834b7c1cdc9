// tests/engine: the decoder on responses in wire form (Decoder::process_wire, the raw walker of
// src/vitess/raw_response.*) against the decoder on the generated messages (Decoder::process):
// the same commits — rendered RECORD, JSONL and CSV rows byte for byte, counts, cursors — the same
// finished shards, journals, schema warnings and errors, on seeded random streams of FIELD, ROW
// (in every encoding protobuf allows), VGTID, LASTPK, COPY_COMPLETED and JOURNAL events.
#include <doctest/doctest.h>

#include <google/protobuf/stubs/logging.h>

#include <string>
#include <vector>

// Boost.Asio (engine/output.hpp) before any generated header: protobuf's namespace `query` would
// otherwise shadow Asio's query() customisation point.
#include "engine/output.hpp"
//
#include "engine/decoder.hpp"
#include "extract/row_writers.hpp"
#include "vitess/cursor.hpp"
//
#include "../vitess/vstream_wire.hpp"

using namespace sv;
using namespace sv::engine;

namespace {

constexpr const char* kUuid = "00000000-0000-0000-0000-000000000001";

struct FieldSpec {
  const char* name;
  query::Type type;
  const char* column_type;
  std::uint32_t charset;
};

// Every type family, with the charsets that take different paths.
const std::vector<FieldSpec> kFields = {
    {"id", query::INT64, "bigint", 63},
    {"b1", query::INT8, "tinyint(1)", 63},
    {"u64", query::UINT64, "bigint unsigned", 63},
    {"dec", query::DECIMAL, "decimal(12,2)", 63},
    {"f", query::FLOAT64, "double", 63},
    {"yr", query::YEAR, "year", 63},
    {"d", query::DATE, "date", 63},
    {"dt", query::DATETIME, "datetime(6)", 63},
    {"ts", query::TIMESTAMP, "timestamp", 63},
    {"tm", query::TIME, "time", 63},
    {"vc", query::VARCHAR, "varchar(64)", 45},
    {"l1", query::VARCHAR, "varchar(8)", 8},
    {"u16", query::VARCHAR, "varchar(8)", 54},
    {"js", query::JSON, "json", 63},
    {"vb", query::VARBINARY, "varbinary(8)", 63},
    {"bt1", query::BIT, "bit(1)", 63},
    {"bt", query::BIT, "bit(12)", 63},
    {"en", query::ENUM, "enum('s','m','l')", 45},
    {"st", query::SET, "set('a','b','c')", 45},
    {"nul", query::NULL_TYPE, "", 63},
};

std::string field_event(const std::string& shard, bool enum_labels, std::size_t columns) {
  binlogdata::VEvent ev;
  ev.set_type(binlogdata::FIELD);
  ev.set_keyspace("ks");
  ev.set_shard(shard);
  auto* fe = ev.mutable_field_event();
  fe->set_table_name("ks.t");
  fe->set_enum_set_string_values(enum_labels);
  for (std::size_t i = 0; i < columns; ++i) {
    const auto& spec = kFields[i];
    auto* f = fe->add_fields();
    f->set_name(spec.name);
    f->set_type(spec.type);
    f->set_column_type(spec.column_type);
    f->set_charset(spec.charset);
  }
  return ev.SerializeAsString();
}

std::string vgtid_event(const std::string& shard, int gtid_end, bool lastpk) {
  binlogdata::VEvent ev;
  ev.set_type(binlogdata::VGTID);
  ev.set_keyspace("ks");
  ev.set_shard(shard);
  auto* sg = ev.mutable_vgtid()->add_shard_gtids();
  sg->set_keyspace("ks");
  sg->set_shard(shard);
  sg->set_gtid(std::string("MySQL56/") + kUuid + ":1-" + std::to_string(gtid_end));
  if (lastpk) {
    auto* pk = sg->add_table_p_ks();
    pk->set_table_name("t");
    auto* f = pk->mutable_lastpk()->add_fields();
    f->set_name("id");
    f->set_type(query::INT64);
    auto* row = pk->mutable_lastpk()->add_rows();
    row->add_lengths(1);
    row->set_values("7");
  }
  return ev.SerializeAsString();
}

std::string simple_event(binlogdata::VEventType type, const std::string& keyspace, const std::string& shard) {
  binlogdata::VEvent ev;
  ev.set_type(type);
  ev.set_keyspace(keyspace);
  ev.set_shard(shard);
  if (type == binlogdata::JOURNAL) {
    ev.mutable_journal()->set_id(3);
    ev.mutable_journal()->add_participants()->set_shard(shard);
  }
  return ev.SerializeAsString();
}

//! A ROW event of `columns` cells per image, written by the wire Generator (any legal encoding).
std::string row_event(vstream_wire::Generator& gen, const std::string& table, const std::string& shard,
                      std::size_t columns, std::int64_t timestamp) {
  std::string re;
  wire::bytes_field(re, 1, table);
  for (std::uint64_t n = 1 + gen.below(4); n > 0; --n) wire::bytes_field(re, 2, gen.row_change(columns));
  std::string ev;
  wire::varint_field(ev, 1, binlogdata::ROW);
  if (timestamp != 0) wire::varint_field(ev, 2, static_cast<std::uint64_t>(timestamp));
  wire::bytes_field(ev, 5, re);
  wire::bytes_field(ev, 22, "ks");
  if (!shard.empty()) wire::bytes_field(ev, 23, shard);
  return ev;
}

std::vector<ShardPlan> plans() {
  ShardPlan copying;
  copying.shard = "-80";
  copying.cursor = vitess::make_cursor("ks", "-80");
  copying.copying = true;
  copying.stop_after_copy = true;
  ShardPlan replicating;
  replicating.shard = "80-";
  replicating.cursor = vitess::make_cursor("ks", "80-", std::string("MySQL56/") + kUuid + ":1-5");
  auto stop = vitess::GtidSet::parse(std::string("MySQL56/") + kUuid + ":1-60");
  REQUIRE(stop.ok());
  replicating.stop = *stop;
  return {copying, replicating};
}

//! Everything a DecodeOutput says, as text (the commits' rows verbatim).
std::string describe(const DecodeOutput& o) {
  std::string s;
  for (const auto& c : o.commits) {
    s += "commit " + c.shard + " count=" + std::to_string(c.count) + " cursor=" + c.cursor.ShortDebugString() + "\n";
    s += c.lines;
  }
  for (const auto& f : o.finished) s += "finished " + f + "\n";
  if (o.journal) s += "journal " + o.journal->ShortDebugString() + " from " + o.journal_shard + "\n";
  for (const auto& c : o.new_columns) s += "new column " + c + "\n";
  for (const auto& c : o.changed_types) s += "changed type " + c + "\n";
  if (o.error) s += std::string("error ") + to_string(o.error->type) + ": " + o.error->message + "\n";
  s += "last_event_time " + std::to_string(o.last_event_time) + "\n";
  return s;
}

DecoderOptions options_for(int variant) {
  DecoderOptions o;
  o.descriptor = {"t", "ks"};
  o.keyspace = "ks";
  o.table = "t";
  switch (variant) {
    case 0:  // read: every column, RECORD lines with _planetscale_metadata
      o.include_metadata = true;
      o.row_writer = [d = o.descriptor] { return make_record_writer(d); };
      break;
    case 1: {  // read: a selection with the computed columns, RECORD lines
      o.columns = {"vc", "id", "en", "st", "bt", "_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
      o.row_writer = [d = o.descriptor] { return make_record_writer(d); };
      break;
    }
    case 2:  // extract --format jsonl
      o.row_writer = [] { return extract::make_jsonl_writer(); };
      break;
    default: {  // extract --format csv, no deletes, the Go connector's dates and tinyint
      o.columns = {"id", "b1", "d", "dt", "ts", "vc", "vb", "_ab_cdc_deleted_at"};
      o.capture_deletes = false;
      o.values.invalid_dates_as_null = false;
      o.values.tiny_int_as_boolean = false;
      o.row_writer = [c = o.columns] { return extract::make_csv_writer(c); };
      break;
    }
  }
  return o;
}

//! One response: a wire `bytes` the test sends to process_wire, parsed for process.
struct Response {
  std::string bytes;
  void add(const std::string& event) { wire::bytes_field(bytes, 1, event); }
};

}  // namespace

TEST_CASE("raw decoder: a response in wire form gives the exact RECORD lines") {
  DecoderOptions o;
  o.descriptor = {"t", "ks"};
  o.keyspace = "ks";
  o.table = "t";
  o.columns = {"id", "vc", "_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
  o.row_writer = [d = o.descriptor] { return make_record_writer(d); };
  Decoder decoder(o);
  ShardPlan plan;
  plan.shard = "-80";
  plan.cursor = vitess::make_cursor("ks", "-80", std::string("MySQL56/") + kUuid + ":1-5");
  decoder.reset({plan});

  Response r;
  r.add(field_event("-80", true, 11));
  // an update and a delete written by hand, lengths packed as vtgate sends them
  std::string change1, change2, re, ev;
  auto image = [](const std::vector<std::int64_t>& lengths, const std::string& values) {
    std::string row;
    wire::bytes_field(row, 1, wire::packed_lengths(lengths, 0, lengths.size()));
    wire::bytes_field(row, 2, values);
    return row;
  };
  // id, nine NULLs (b1 … tm), vc
  std::vector<std::int64_t> before(11, -1), after(11, -1);
  before[0] = after[0] = 1;
  before[10] = 0;
  after[10] = 5;
  wire::bytes_field(change1, 1, image(before, "4"));
  wire::bytes_field(change1, 2, image(after, "4h\xc3\xa9\xff!"));
  wire::bytes_field(change2, 1, image(before, "5"));
  wire::bytes_field(re, 1, "ks.t");
  wire::bytes_field(re, 2, change1);
  wire::bytes_field(re, 2, change2);
  wire::varint_field(ev, 1, binlogdata::ROW);
  wire::varint_field(ev, 2, 1700000000);
  wire::bytes_field(ev, 5, re);
  wire::bytes_field(ev, 23, "-80");
  r.add(ev);
  r.add(vgtid_event("-80", 6, false));

  const DecodeOutput out = decoder.process_wire(r.bytes, 1700000000123, 0);
  CHECK(
      describe(out) ==
      "commit -80 count=2 cursor=shard: \"-80\" keyspace: \"ks\" position: \"MySQL56/" + std::string(kUuid) +
          ":1-6\"\n"
          R"({"type":"RECORD","record":{"stream":"t","namespace":"ks","emitted_at":1700000000123,"data":{"id":4,"vc":"hé�!","_ab_cdc_updated_at":"2023-11-14T22:13:20Z","_ab_cdc_deleted_at":null}}})"
          "\n"
          R"({"type":"RECORD","record":{"stream":"t","namespace":"ks","emitted_at":1700000000123,"data":{"id":5,"vc":"","_ab_cdc_updated_at":"2023-11-14T22:13:20Z","_ab_cdc_deleted_at":"2023-11-14T22:13:20Z"}}})"
          "\n"
          "new column b1\nnew column u64\nnew column dec\nnew column f\nnew column yr\nnew column d\n"
          "new column dt\nnew column ts\nnew column tm\n"
          "last_event_time 1700000000\n");

  // The generated decoder on the same bytes says the same.
  Decoder reference(o);
  reference.reset({plan});
  vtgate::VStreamResponse parsed;
  REQUIRE(parsed.ParseFromString(r.bytes));
  CHECK(describe(reference.process(parsed, 1700000000123, 0)) == describe(out));
}

TEST_CASE("raw decoder: seeded random streams decode alike from wire bytes and from generated messages") {
  // 600 streams from a fixed seed, each a FIELD response then up to 10 responses; per stream
  // one of four output setups (RECORD with metadata, RECORD with a selection and computed
  // columns, JSONL, CSV). Stops a stream where the decoders stop (an error or a journal).
  vstream_wire::Generator gen(1207);
  std::uint64_t records = 0;
  std::size_t responses = 0;
  std::size_t errors = 0;
  std::size_t finished = 0;
  for (int stream = 0; stream < 600; ++stream) {
    CAPTURE(stream);
    const DecoderOptions options = options_for(stream % 4);
    Decoder generated(options);
    Decoder wire_form(options);
    generated.reset(plans());
    wire_form.reset(plans());
    const std::size_t columns = kFields.size() - static_cast<std::size_t>(gen.below(3));  // a rare ALTER
    const bool labels = gen.chance(50);
    // One stream in five meets rows that break the row rules (and ends there); the rest run long.
    const bool broken = stream % 5 == 0;
    gen.broken_row_percent = broken ? 3 : 0;
    int gtid = 6;
    for (int n = 0; n < 11; ++n) {
      Response r;
      if (n == 0) {
        r.add(field_event("-80", labels, kFields.size()));
        r.add(field_event("80-", labels, kFields.size()));
      } else {
        for (std::uint64_t k = 1 + gen.below(6); k > 0; --k) {
          const std::string shard = gen.chance(50) ? "-80" : "80-";
          const std::uint64_t pick = gen.below(100);
          if (pick < 50) {
            const std::string table = gen.chance(90) ? "ks.t" : "ks.other";
            const std::size_t cells = !broken || gen.chance(97) ? kFields.size() : columns;
            r.add(row_event(gen, table, gen.chance(95) ? shard : "", cells,
                            gen.chance(70) ? static_cast<std::int64_t>(1700000000 + gen.below(1000)) : 0));
          } else if (pick < 75) {
            gtid += static_cast<int>(gen.below(20));
            r.add(vgtid_event(shard, gtid, gen.chance(40)));
          } else if (pick < 80) {
            const bool global = gen.chance(40);  // the final one names no keyspace and no shard
            r.add(simple_event(binlogdata::COPY_COMPLETED, global ? "" : "ks", global ? "" : shard));
          } else if (pick < 83) {
            r.add(field_event(shard, labels, broken ? columns : kFields.size()));
          } else if (pick < 84) {
            if (gen.chance(broken ? 100 : 20)) r.add(simple_event(binlogdata::JOURNAL, "ks", shard));
          } else if (pick < 90) {
            binlogdata::VEvent lastpk;
            lastpk.set_type(binlogdata::LASTPK);
            lastpk.set_shard(shard);
            auto* t = lastpk.mutable_last_p_k_event()->mutable_table_last_p_k();
            t->set_table_name("t");
            auto* row = t->mutable_lastpk()->add_rows();
            row->add_lengths(2);
            row->set_values("42");
            r.add(lastpk.SerializeAsString());
          } else {
            r.add(simple_event(gen.chance(50) ? binlogdata::BEGIN : binlogdata::HEARTBEAT, "ks", shard));
          }
        }
      }
      vtgate::VStreamResponse parsed;
      REQUIRE(parsed.ParseFromString(r.bytes));
      const std::int64_t emitted_at = 1700000000000 + n;
      const DecodeOutput expected = generated.process(parsed, emitted_at, 1700000000000000000);
      const DecodeOutput got = wire_form.process_wire(r.bytes, emitted_at, 1700000000000000000);
      REQUIRE(describe(got) == describe(expected));
      ++responses;
      for (const auto& c : expected.commits) records += c.count;
      finished += expected.finished.size();
      if (expected.error) ++errors;
      if (expected.error || expected.journal) break;
    }
  }
  MESSAGE(responses << " responses, " << records << " records, " << errors << " streams ended by an error, " << finished
                    << " shards finished");
  CHECK(records > 5000);
  CHECK(errors > 0);
  CHECK(finished > 0);
}

TEST_CASE("raw decoder: bytes the walker cannot read are a system_error, after what came before") {
  DecoderOptions o = options_for(2);
  Decoder decoder(o);
  decoder.reset(plans());
  Response fields;
  fields.add(field_event("-80", true, 1));
  REQUIRE_FALSE(decoder.process_wire(fields.bytes, 0, 0).error);

  Response r;
  r.add(vgtid_event("-80", 9, true));
  r.bytes +=
      "\x0a\x05"
      "ab";  // an event that runs past the end
  const DecodeOutput out = decoder.process_wire(r.bytes, 0, 0);
  REQUIRE(out.error);
  CHECK(out.error->type == FailureType::system_error);
  CHECK(out.error->message == "malformed VStream response: a length past the end in a vtgate.VStreamResponse");
  CHECK(out.commits.size() == 1);  // the VGTID before it committed, as process() does for a bad row

  // a row change whose Row is cut: the error comes from the ROW event of the stream's table
  Response bad_row;
  std::string re, ev;
  wire::bytes_field(re, 1, "ks.t");
  wire::bytes_field(re, 2,
                    "\x12\x05"
                    "ab");  // RowChange.after: 5 bytes announced, 2 there
  wire::varint_field(ev, 1, binlogdata::ROW);
  wire::bytes_field(ev, 5, re);
  wire::bytes_field(ev, 23, "-80");
  bad_row.add(ev);
  const DecodeOutput row_out = decoder.process_wire(bad_row.bytes, 0, 0);
  REQUIRE(row_out.error);
  CHECK(row_out.error->message == "malformed VStream response: a length past the end in a binlogdata.RowChange");

  // an event protobuf rejects (a VGTID whose gtid string is not UTF-8; protobuf also logs it)
  google::protobuf::LogSilencer quiet;
  binlogdata::VEvent vgtid;
  vgtid.set_type(binlogdata::VGTID);
  vgtid.set_shard("-80");
  std::string bytes = vgtid.SerializeAsString();
  std::string sg, vg;
  wire::bytes_field(sg, 3, "\xff\xfe");
  wire::bytes_field(vg, 1, sg);
  wire::bytes_field(bytes, 7, vg);
  Response bad_event;
  bad_event.add(bytes);
  const DecodeOutput event_out = decoder.process_wire(bad_event.bytes, 0, 0);
  REQUIRE(event_out.error);
  CHECK(event_out.error->message == "malformed VStream response: a binlogdata.VEvent of type 15 protobuf cannot parse");
}
