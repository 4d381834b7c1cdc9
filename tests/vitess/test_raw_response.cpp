// tests/vitess: the VStreamResponse wire walker (src/vitess/raw_response.*) against the generated
// parser: exact views on vtgate's encoding, every type family rendered alike, thousands of seeded
// random responses in every encoding protobuf allows, and malformed wire input as error values.
#include <doctest/doctest.h>

#include <google/protobuf/stubs/logging.h>

#include <string>
#include <tuple>
#include <vector>

#include "vitess/raw_response.hpp"
#include "vitess/values.hpp"
#include "vstream_wire.hpp"

using namespace sv::vitess;
using vstream_wire::decode_generated;
using vstream_wire::decode_raw;

namespace {

query::Row make_row(const std::vector<std::optional<std::string>>& cells) {
  query::Row r;
  for (const auto& c : cells) {
    r.add_lengths(c ? static_cast<std::int64_t>(c->size()) : -1);
    if (c) r.mutable_values()->append(*c);
  }
  return r;
}

bool inside(std::string_view view, const std::string& buffer) {
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

//! What split_row gives, as text: the cells, or the error message.
std::string split_text(sv::Status st, const std::vector<Cell>& cells) {
  if (!st) return "error: " + st.error().message;
  std::string out;
  for (const auto& c : cells) out += c.is_null ? std::string("<null>|") : std::string(c.raw) + "|";
  return out;
}

std::string split_generated(const query::Row& row, std::size_t columns) {
  std::vector<Cell> cells;
  auto st = split_row(row, columns, cells);
  return split_text(st, cells);
}

std::string split_packed(const PackedRow& row, std::size_t columns) {
  std::vector<Cell> cells;
  auto st = split_row(row, columns, cells);
  return split_text(st, cells);
}

}  // namespace

TEST_CASE("raw response: vtgate's encoding is read as views into the buffer") {
  vtgate::VStreamResponse r;
  auto* begin = r.add_events();
  begin->set_type(binlogdata::BEGIN);
  begin->set_shard("-80");
  auto* ev = r.add_events();
  ev->set_type(binlogdata::ROW);
  ev->set_timestamp(1700000000);
  ev->set_keyspace("ks");
  ev->set_shard("-80");
  ev->mutable_row_event()->set_table_name("ks.t");
  auto* insert = ev->mutable_row_event()->add_row_changes();
  *insert->mutable_after() = make_row({"42", std::nullopt, "", "h\xc3\xa9"});
  auto* del = ev->mutable_row_event()->add_row_changes();
  *del->mutable_before() = make_row({"7", "x"});
  auto* update = ev->mutable_row_event()->add_row_changes();
  *update->mutable_before() = make_row({"1"});
  *update->mutable_after() = make_row({"2"});
  const std::string bytes = r.SerializeAsString();

  raw::ResponseReader reader(bytes);
  raw::EventHeader h;
  auto more = reader.next(h);
  REQUIRE(more.ok());
  REQUIRE(*more);
  CHECK(h.type == binlogdata::BEGIN);
  CHECK(h.shard == "-80");
  CHECK(h.keyspace.empty());
  more = reader.next(h);
  REQUIRE(more.ok());
  REQUIRE(*more);
  CHECK(h.type == binlogdata::ROW);
  CHECK(h.timestamp == 1700000000);
  CHECK(h.keyspace == "ks");
  CHECK(h.shard == "-80");
  CHECK(inside(h.bytes, bytes));

  raw::RowChangeReader rows;
  REQUIRE(rows.open(h.bytes).ok());
  CHECK(rows.table_name() == "ks.t");
  raw::RowChangeView c;
  auto row = rows.next(c);
  REQUIRE(row.ok());
  REQUIRE(*row);
  CHECK_FALSE(c.before.present);
  REQUIRE(c.after.present);
  CHECK(c.after.row.count == 4);
  CHECK(c.after.row.values == "42h\xc3\xa9");
  // zero copy: both views point into the response
  CHECK(inside(c.after.row.lengths, bytes));
  CHECK(inside(c.after.row.values, bytes));
  CHECK(split_packed(c.after.row, 4) == "42|<null>||h\xc3\xa9|");

  row = rows.next(c);
  REQUIRE(row.ok());
  REQUIRE(*row);
  REQUIRE(c.before.present);
  CHECK_FALSE(c.after.present);
  CHECK(split_packed(c.before.row, 2) == "7|x|");

  row = rows.next(c);
  REQUIRE(row.ok());
  REQUIRE(*row);
  CHECK(split_packed(c.before.row, 1) == "1|");
  CHECK(split_packed(c.after.row, 1) == "2|");

  row = rows.next(c);
  REQUIRE(row.ok());
  CHECK_FALSE(*row);
  more = reader.next(h);
  REQUIRE(more.ok());
  CHECK_FALSE(*more);
}

TEST_CASE("raw response: encodings vtgate never sends decode as protobuf decodes them") {
  // One ROW event written by hand: lengths unpacked and in two packed chunks, the after image in
  // two occurrences (merged: lengths appended, last values win), the table name twice (last
  // wins), unknown fields of every wire type including a group, fields out of order.
  std::string row1;  // first occurrence of `after`: lengths 2 (unpacked), junk values
  wire::varint_field(row1, 1, wire::zigzag(2));
  wire::bytes_field(row1, 2, "junk");
  std::string row2;  // second: lengths -1, 0 (one packed chunk) and 3 (another), values
  wire::bytes_field(row2, 2, "ab");
  wire::bytes_field(row2, 1, wire::packed_lengths({-1, 0}, 0, 2));
  wire::tag(row2, 1000, 3);  // an unknown group with a nested group
  wire::varint_field(row2, 1, 9);
  wire::tag(row2, 7, 3);
  wire::tag(row2, 7, 4);
  wire::tag(row2, 1000, 4);
  wire::bytes_field(row2, 1, wire::packed_lengths({3}, 0, 1));
  wire::bytes_field(row2, 2, "42xyz");
  std::string change;
  wire::bytes_field(change, 2, row1);
  wire::tag(change, 999, 1);
  change.append("8bytes!!");
  wire::bytes_field(change, 2, row2);
  std::string row_event;
  wire::bytes_field(row_event, 1, "ks.wrong");
  wire::bytes_field(row_event, 2, change);
  wire::bytes_field(row_event, 1, "ks.t");
  std::string event;
  wire::bytes_field(event, 23, "80-");
  wire::bytes_field(event, 5, row_event);
  wire::varint_field(event, 1, binlogdata::ROW);
  wire::tag(event, 998, 5);
  event.append("4byt");
  std::string response;
  wire::bytes_field(response, 1, event);

  auto gen = decode_generated(response);
  REQUIRE(gen.has_value());
  REQUIRE(gen->size() == 1);
  // what protobuf makes of it, written out by hand
  vstream_wire::Image expected{true, {2, -1, 0, 3}, "42xyz"};
  REQUIRE((*gen)[0].changes.size() == 1);
  CHECK((*gen)[0].changes[0].second == expected);
  CHECK((*gen)[0].table_name == "ks.t");
  auto raw = decode_raw(response);
  REQUIRE(raw.ok());
  CHECK(*raw == *gen);

  // the cells are the same as the generated Row's
  vtgate::VStreamResponse parsed;
  REQUIRE(parsed.ParseFromString(response));
  raw::ResponseReader reader(response);
  raw::EventHeader h;
  REQUIRE(*reader.next(h));
  raw::RowChangeReader rows;
  REQUIRE(rows.open(h.bytes).ok());
  raw::RowChangeView c;
  REQUIRE(*rows.next(c));
  CHECK(split_packed(c.after.row, 4) == "42|<null>||xyz|");
  CHECK(split_packed(c.after.row, 4) == split_generated(parsed.events(0).row_event().row_changes(0).after(), 4));
}

TEST_CASE("raw response: every type family renders the same from both decoders") {
  struct Spec {
    const char* name;
    query::Type type;
    const char* column_type;
    std::uint32_t charset;
  };
  const std::vector<Spec> specs = {
      {"i64", query::INT64, "bigint", 63},
      {"u64", query::UINT64, "bigint unsigned", 63},
      {"b1", query::INT8, "tinyint(1)", 63},
      {"dec", query::DECIMAL, "decimal(12,2)", 63},
      {"f", query::FLOAT64, "double", 63},
      {"yr", query::YEAR, "year", 63},
      {"d", query::DATE, "date", 63},
      {"dt", query::DATETIME, "datetime(6)", 63},
      {"ts", query::TIMESTAMP, "timestamp", 63},
      {"tm", query::TIME, "time", 63},
      {"vc", query::VARCHAR, "varchar(64)", 45},
      {"l1", query::VARCHAR, "varchar(8)", 8},
      {"js", query::JSON, "json", 63},
      {"vb", query::VARBINARY, "varbinary(8)", 63},
      {"bit1", query::BIT, "bit(1)", 63},
      {"bit12", query::BIT, "bit(12)", 63},
      {"bit64", query::BIT, "bit(64)", 63},
      {"en", query::ENUM, "enum('s','m','l')", 45},
      {"st", query::SET, "set('a','b','c')", 45},
      {"nul", query::NULL_TYPE, "", 63},
  };
  using Cells = std::vector<std::optional<std::string>>;
  const std::string bit64("\xff\xff\xff\xff\xff\xff\xff\xff", 8);
  const std::vector<Cells> rows = {
      // ENUM/SET as labels (copy phase)
      {"-9223372036854775808",
       "18446744073709551615",
       "1",
       "-.5",
       "1.5e300",
       "2024",
       "2024-02-29",
       "2024-01-02 03:04:05.123456",
       "1970-01-01 00:00:01",
       "-838:59:59",
       "h\xc3\xa9llo \"q\"\n",
       "\xe9t\xe9",
       "{\"a\": [1, 2]}",
       std::string("\x00\x01\xff", 3),
       "\x01",
       "\x0f\xff",
       bit64,
       "m",
       "a,c",
       std::nullopt},
      // ENUM/SET as numbers (replication phase of a pre-v20 vtgate), zero dates, empty strings
      {"0",
       "0",
       "0",
       "0.00",
       "0",
       "0000",
       "0000-00-00",
       "0000-00-00 00:00:00.000000",
       "0000-00-00 00:00:00",
       "00:00:00",
       "",
       "",
       "null",
       "",
       std::string("\x00", 1),
       std::string("\x00\x00", 2),
       std::string(8, '\0'),
       "2",
       "5",
       std::nullopt},
      // every cell NULL
      Cells(specs.size(), std::nullopt),
      // invalid UTF-8 and text that is not what the type promises
      {"12a",
       "-1",
       "7",
       "1e5",
       "nan",
       "99999",
       "2024-13-45",
       "not a date",
       "2024-01-01 25:00:00",
       "x",
       "\xff\xfe\xc3",
       "\x81",
       "\xc3(",
       "\x80",
       std::string("\x00\x01", 2),
       "\x0f",
       "\x01",
       "9",
       "8",
       "x"},
  };

  for (bool labels : {true, false}) {
    CAPTURE(labels);
    google::protobuf::RepeatedPtrField<query::Field> fields;
    for (const auto& s : specs) {
      auto* f = fields.Add();
      f->set_name(s.name);
      f->set_type(s.type);
      f->set_column_type(s.column_type);
      f->set_charset(s.charset);
    }
    const auto columns = make_columns(fields, {}, labels);

    vtgate::VStreamResponse r;
    auto* ev = r.add_events();
    ev->set_type(binlogdata::ROW);
    ev->mutable_row_event()->set_table_name("ks.t");
    for (const auto& cells : rows) *ev->mutable_row_event()->add_row_changes()->mutable_after() = make_row(cells);
    const std::string bytes = r.SerializeAsString();

    raw::ResponseReader reader(bytes);
    raw::EventHeader h;
    REQUIRE(*reader.next(h));
    raw::RowChangeReader walker;
    REQUIRE(walker.open(h.bytes).ok());
    std::vector<std::string> rendered_raw;
    raw::RowChangeView c;
    while (*walker.next(c)) {
      std::vector<Cell> cells;
      REQUIRE(split_row(c.after.row, columns.size(), cells).ok());
      sv::JsonBuffer buf;
      sv::JsonWriter w(buf);
      w.StartObject();
      for (std::size_t i = 0; i < columns.size(); ++i) {
        w.Key(columns[i].name.c_str());
        write_value(w, columns[i], cells[i].raw, cells[i].is_null);
      }
      w.EndObject();
      rendered_raw.emplace_back(buf.GetString(), buf.GetSize());
    }
    std::vector<std::string> rendered_generated;
    for (const auto& change : r.events(0).row_event().row_changes()) {
      sv::JsonBuffer buf;
      sv::JsonWriter w(buf);
      w.StartObject();
      REQUIRE(write_row_members(w, columns, change.after()).ok());
      w.EndObject();
      rendered_generated.emplace_back(buf.GetString(), buf.GetSize());
    }
    REQUIRE(rendered_raw.size() == rows.size());
    CHECK(rendered_raw == rendered_generated);
    // Pinned by hand, so that both decoders cannot go wrong together: the numbers row.
    if (!labels) {
      CHECK(rendered_raw[1] ==
            R"({"i64":0,"u64":0,"b1":false,"dec":0.00,"f":0,"yr":0,"d":null,"dt":null,"ts":null,"tm":"00:00:00",)"
            R"("vc":"","l1":"","js":"null","vb":"","bit1":false,"bit12":0,"bit64":0,"en":"m","st":"a,c","nul":null})");
    }
    CHECK(rendered_raw[2].find("\"i64\":null,\"u64\":null") == 1);
  }
}

TEST_CASE("raw response: seeded random responses decode alike in both decoders") {
  // 4,000 responses from a fixed seed, in every legal encoding (vstream_wire.hpp's Generator):
  // the generated parser accepts each, the walker must too, with the same events, images and
  // cells (or the same split error for rows that break the row rules).
  vstream_wire::Generator gen(20261207);
  std::size_t events = 0;
  std::size_t images = 0;
  std::size_t row_errors = 0;
  for (int i = 0; i < 4000; ++i) {
    CAPTURE(i);
    const std::string bytes = gen.response();
    auto expected = decode_generated(bytes);
    REQUIRE(expected.has_value());
    auto walked = decode_raw(bytes);
    REQUIRE_MESSAGE(walked.ok(), (walked.ok() ? std::string() : walked.error().message));
    REQUIRE(*walked == *expected);
    events += expected->size();

    // the cells, image by image, with the right column count and one too many
    vtgate::VStreamResponse parsed;
    REQUIRE(parsed.ParseFromString(bytes));
    raw::ResponseReader reader(bytes);
    raw::RowChangeReader rows;
    for (const auto& ev : parsed.events()) {
      raw::EventHeader h;
      REQUIRE(*reader.next(h));
      if (ev.type() != binlogdata::ROW) continue;
      REQUIRE(rows.open(h.bytes).ok());
      for (const auto& change : ev.row_event().row_changes()) {
        raw::RowChangeView c;
        REQUIRE(*rows.next(c));
        for (auto [present, g, p] : {std::tuple{change.has_before(), &change.before(), &c.before},
                                     std::tuple{change.has_after(), &change.after(), &c.after}}) {
          REQUIRE(p->present == present);
          if (!present) continue;
          ++images;
          const auto n = static_cast<std::size_t>(g->lengths_size());
          const std::string s = split_packed(p->row, n);
          CHECK(s == split_generated(*g, n));
          CHECK(split_packed(p->row, n + 1) == split_generated(*g, n + 1));
          if (s.rfind("error:", 0) == 0) ++row_errors;
        }
      }
    }
  }
  MESSAGE(events << " events, " << images << " row images, " << row_errors << " rows breaking the row rules");
  CHECK(events > 8000);
  CHECK(images > 6000);
  CHECK(row_errors > 0);
}

TEST_CASE("raw response: malformed wire input is an error value") {
  struct Case {
    const char* what;
    std::string bytes;
    const char* message;  // exact, or nullptr: any error
  };
  auto event = [](std::string body) {
    std::string r;
    wire::bytes_field(r, 1, body);
    return r;
  };
  auto row_event = [&](std::string row) {  // a ROW event with one change whose after image is `row`
    std::string change, re, ev;
    wire::bytes_field(change, 2, row);
    wire::bytes_field(re, 2, change);
    wire::varint_field(ev, 1, binlogdata::ROW);
    wire::bytes_field(ev, 5, re);
    return event(ev);
  };
  std::string deep;
  for (int i = 0; i < 70; ++i) wire::tag(deep, 5, 3);
  for (int i = 0; i < 70; ++i) wire::tag(deep, 5, 4);
  std::string big_tag;
  wire::varint(big_tag, std::uint64_t{1} << 35);
  const std::vector<Case> cases = {
      {"a tag cut off", "\x80",
       "malformed VStream response: a tag cut off or longer than ten bytes in a vtgate.VStreamResponse"},
      {"an event past the end",
       "\x0a\x05"
       "ab",
       "malformed VStream response: a length past the end in a vtgate.VStreamResponse"},
      {"a length cut off", "\x0a\x80",
       "malformed VStream response: a length cut off or longer than ten bytes in a vtgate.VStreamResponse"},
      {"events as a varint", "\x08\x01", "malformed VStream response: vtgate.VStreamResponse.events has wire type 0"},
      {"a type as bytes", event("\x0a\x01x"), "malformed VStream response: binlogdata.VEvent.type has wire type 2"},
      {"a shard as a varint", event("\xb8\x01\x01"),
       "malformed VStream response: binlogdata.VEvent.shard has wire type 0"},
      {"a varint of eleven bytes", event("\x10" + std::string(10, '\xff') + "\x01"),
       "malformed VStream response: a varint cut off or longer than ten bytes in a binlogdata.VEvent"},
      {"field number 0", std::string("\x02\x00", 2),
       "malformed VStream response: field number 0 in a vtgate.VStreamResponse"},
      {"wire type 7", "\x0f", "malformed VStream response: wire type 6 or 7 in a vtgate.VStreamResponse"},
      {"an end-group alone", "\x2c",
       "malformed VStream response: an end-group tag outside a group in a vtgate.VStreamResponse"},
      {"a group without its end", "\x2b\x08\x01",
       "malformed VStream response: a group without its end-group tag in a vtgate.VStreamResponse"},
      {"a group ended by another", "\x2b\x34",
       "malformed VStream response: an end-group tag of another group in a vtgate.VStreamResponse"},
      {"a fixed64 cut off",
       "\x29"
       "abc",
       "malformed VStream response: a fixed64 value past the end in a vtgate.VStreamResponse"},
      {"a fixed32 cut off",
       "\x2d"
       "ab",
       "malformed VStream response: a fixed32 value past the end in a vtgate.VStreamResponse"},
      {"groups nested too deep", deep,
       "malformed VStream response: groups nested too deep in a vtgate.VStreamResponse"},
      {"a tag beyond 32 bits", big_tag + std::string(1, '\0'),
       "malformed VStream response: a tag beyond 32 bits in a vtgate.VStreamResponse"},
      {"a row_event as a varint", event("\x08\x0c\x28\x01"),
       "malformed VStream response: binlogdata.VEvent.row_event has wire type 0"},
      {"a packed length cut off", row_event("\x0a\x01\x80"),
       "malformed VStream response: a packed varint cut off in a query.Row"},
      {"a packed length of eleven bytes", row_event("\x0a\x0b" + std::string(10, '\xff') + "\x01"),
       "malformed VStream response: a packed varint longer than ten bytes in a query.Row"},
      {"lengths as fixed32",
       row_event("\x0d"
                 "abcd"),
       "malformed VStream response: query.Row.lengths has wire type 5"},
      {"values as a varint", row_event("\x10\x01"), "malformed VStream response: query.Row.values has wire type 0"},
      {"a Row past the end of its change",
       row_event("\x12\x09"
                 "ab"),
       "malformed VStream response: a length past the end in a query.Row"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto walked = decode_raw(c.bytes);
    REQUIRE_FALSE(walked.ok());
    CHECK(walked.error().type == sv::FailureType::system_error);
    if (c.message) CHECK(walked.error().message == c.message);
  }
  // The generated parser rejects these too, except the two where the walker is stricter: a known
  // field with the wrong wire type is an unknown field to protobuf, and it allows deeper groups.
  CHECK_FALSE(decode_generated("\x80").has_value());
  CHECK_FALSE(decode_generated(std::string("\x0a\x05"
                                           "ab"))
                  .has_value());
  CHECK(decode_generated(std::string("\x08\x01")).has_value());
}

TEST_CASE("raw response: rows that break the row rules fail alike when split") {
  auto packed = [](const std::vector<std::int64_t>& lengths, std::string values) {
    std::string bytes = wire::packed_lengths(lengths, 0, lengths.size());
    return std::pair{bytes, values};
  };
  struct Case {
    std::vector<std::int64_t> lengths;
    std::string values;
    std::size_t columns;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{2, -1}, "42", 6, "VStream row has 2 values but its FIELD event has 6 columns"},
      {{2, 9}, "4212.5", 2, "VStream row lengths overrun its 6 value bytes at column 1"},
      {{2, 4}, "4212.5x", 2, "VStream row has 7 value bytes but its lengths add up to 6"},
      {{2, -2}, "42", 2, "VStream row has invalid length -2 for column 1"},
      {{-9223372036854775807 - 1}, "", 1, "VStream row has invalid length -9223372036854775808 for column 0"},
      {{9223372036854775807}, "x", 1, "VStream row lengths overrun its 1 value bytes at column 0"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    auto [bytes, values] = packed(c.lengths, c.values);
    PackedRow row{bytes, c.lengths.size(), values};
    query::Row g;
    for (auto l : c.lengths) g.add_lengths(l);
    g.set_values(c.values);
    CHECK(split_packed(row, c.columns) == std::string("error: ") + c.message);
    CHECK(split_generated(g, c.columns) == std::string("error: ") + c.message);
  }
  // A PackedRow that claims more lengths than its bytes hold (only a caller's mistake can make one).
  PackedRow short_row{"\x04", 2, "ab"};
  CHECK(split_packed(short_row, 2) == "error: VStream row has a malformed length for column 1");
}

TEST_CASE("raw response: every cut and every changed byte of a response: an error or the generated result") {
  google::protobuf::LogSilencer quiet;  // changed bytes make strings that are not UTF-8: protobuf logs each
  // Bounded: 40 generated responses, about 500 prefixes of each (every one of a short response)
  // and 200 single-byte changes of each.
  vstream_wire::Generator gen(7);
  std::size_t agreed = 0;
  std::size_t rejected = 0;
  for (int n = 0; n < 40; ++n) {
    const std::string bytes = gen.response(4);
    const std::size_t step = 1 + bytes.size() / 500;
    for (std::size_t cut = 0; cut < bytes.size(); cut += step) {
      const std::string prefix = bytes.substr(0, cut);
      auto expected = decode_generated(prefix);
      auto walked = decode_raw(prefix);
      // A prefix is whole only when cut between two events; then both read it, else neither.
      CHECK(expected.has_value() == walked.ok());
      if (expected && walked.ok()) {
        CHECK(*walked == *expected);
        ++agreed;
      } else {
        ++rejected;
      }
    }
    for (int k = 0; k < 200 && !bytes.empty(); ++k) {
      std::string changed = bytes;
      changed[gen.below(changed.size())] = static_cast<char>(gen.below(256));
      auto expected = decode_generated(changed);
      auto walked = decode_raw(changed);
      if (expected && walked.ok()) {
        CHECK(*walked == *expected);
        ++agreed;
      } else {
        ++rejected;
      }
    }
  }
  MESSAGE(agreed << " inputs both decoders read alike, " << rejected << " rejected by one or both");
  CHECK(agreed > 0);
  CHECK(rejected > 0);
}
