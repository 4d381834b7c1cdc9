// tests/socket: the PROTOBUF record writer as it was before the direct encoder (record_writers.cpp
// before branch pbdirect): each cell rendered by the JSON value writer, the JSON text parsed back
// and converted to its AirbyteValueProtobuf member. Kept only as the oracle of the differential
// test: the direct encoder must produce exactly these bytes.
#include "protobuf_oracle.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "socket/proto_wire.hpp"
#include "util/json.hpp"

namespace sv::socket::oracle {
namespace {

constexpr std::string_view kPlaceholder = "0000000000000000";
static_assert(kPlaceholder.size() == kPartitionIdLength);

// Field numbers of airbyte_record_message.proto and airbyte_message.proto
// (subprojects/airbyte-proto).
namespace field {
constexpr std::uint32_t message_record = 1, message_json = 2, message_probe = 3;
constexpr std::uint32_t record_namespace = 1, record_stream = 2, record_emitted_at = 3, record_partition = 4,
                        record_data = 5, record_meta = 6;
constexpr std::uint32_t value_boolean = 1, value_string = 2, value_integer = 3, value_big_integer = 4, value_number = 5,
                        value_big_decimal = 6, value_date = 7, value_time_tz = 8, value_timestamp_tz = 10,
                        value_timestamp = 11, value_json = 12, value_is_null = 13;
constexpr std::uint32_t meta_changes = 1, change_field = 1, change_reason = 3;
constexpr std::uint64_t reason_source_serialization_error = 6;  // AirbyteRecordChangeReasonType
}  // namespace field

constexpr std::uint64_t kNanosPerSecond = 1'000'000'000ULL;
//! A JSON scalar as the value writer rendered it: its kind and its text (string contents unescaped).
struct Scalar {
  enum Kind { null, boolean_true, boolean_false, number, string } kind = null;
  std::string_view text;
};

class ProtobufWriter final : public engine::RowWriter {
 public:
  ProtobufWriter(const airbyte::StreamDescriptor& stream, const std::vector<std::string>& properties,
                 const std::vector<std::string>& plain_strings)
      : name_(stream.name), ns_(stream.ns) {
    for (const auto& p : properties) {
      props_.push_back(make_prop(p));
      props_.back().plain_string = std::find(plain_strings.begin(), plain_strings.end(), p) != plain_strings.end();
    }
    sort_props(props_);
  }

  void write(const engine::RowView& row) override {
    if (props_.empty() && !row_members_unchanged(row)) {
      // A schema without properties: the row's own members, in name order. Rebuilt (and sorted)
      // only when the row's members differ from the last row's: per row it cost 18 % of a
      // PROTOBUF read's instructions (callgrind, docs/benchmarks.md "Socket mode").
      row_key_.clear();
      row_props_.clear();
      auto add = [&](std::string_view name) {
        row_key_.emplace_back(name);
        row_props_.push_back(make_prop(row_key_.back()));
      };
      for (std::uint32_t i : row.selection) add(row.columns[i].name);
      if (row.updated_at.present) add(engine::kUpdatedAtColumn);
      if (row.deleted_at.present) add(engine::kDeletedAtColumn);
      if (row.metadata != nullptr) add(engine::kMetadataColumn);
      sort_props(row_props_);
    }
    auto& props = props_.empty() ? row_props_ : props_;
    record_.clear();
    nulled_.clear();
    // partition_id first: patch_partition finds it right after the two length prefixes.
    wire::put_bytes(record_, field::record_partition, kPlaceholder);
    if (!ns_.empty()) wire::put_bytes(record_, field::record_namespace, ns_);
    wire::put_bytes(record_, field::record_stream, name_);
    wire::put_uint(record_, field::record_emitted_at, static_cast<std::uint64_t>(row.emitted_at));
    for (auto& p : props) {
      value_.clear();
      encode(p, row);
      wire::put_bytes(record_, field::record_data, value_);
    }
    if (!nulled_.empty()) {
      meta_.clear();
      for (const auto* name : nulled_) {
        change_.clear();
        wire::put_bytes(change_, field::change_field, *name);
        // change = NULLED is 0, proto3's default: not written.
        wire::put_uint(change_, field::change_reason, field::reason_source_serialization_error);
        wire::put_bytes(meta_, field::meta_changes, change_);
      }
      wire::put_bytes(record_, field::record_meta, meta_);
    }
    const std::size_t message_size = 1 + wire::varint_size(record_.size()) + record_.size();
    wire::put_varint(out_, message_size);
    wire::put_bytes(out_, field::message_record, record_);
    ++count_;
  }
  std::uint64_t count() const override { return count_; }
  std::string take() override {
    std::string records = out_;  // a copy: out_ keeps its capacity for the next rows
    out_.clear();
    count_ = 0;
    return records;
  }

 private:
  enum class Source { column, updated_at, deleted_at, metadata };
  struct Prop {
    std::string name;
    Source source = Source::column;
    std::size_t index = std::numeric_limits<std::size_t>::max();  //!< cached index into the row's columns
    bool plain_string = false;  //!< a computed timestamp whose configured schema is a plain string
  };

  static Prop make_prop(const std::string& name) {
    Prop p{name, Source::column, std::numeric_limits<std::size_t>::max(), false};
    if (name == engine::kUpdatedAtColumn) p.source = Source::updated_at;
    if (name == engine::kDeletedAtColumn) p.source = Source::deleted_at;
    if (name == engine::kMetadataColumn) p.source = Source::metadata;
    return p;
  }
  //! Whether the row has exactly the members row_props_ was built from (in row_key_'s order).
  bool row_members_unchanged(const engine::RowView& row) const {
    std::size_t k = 0;
    bool same = true;
    auto next = [&](std::string_view name) {
      same = same && k < row_key_.size() && row_key_[k] == name;
      ++k;
    };
    for (std::uint32_t i : row.selection) next(row.columns[i].name);
    if (row.updated_at.present) next(engine::kUpdatedAtColumn);
    if (row.deleted_at.present) next(engine::kDeletedAtColumn);
    if (row.metadata != nullptr) next(engine::kMetadataColumn);
    return same && k == row_key_.size();
  }
  static void sort_props(std::vector<Prop>& props) {
    // std::string's operator< compares bytes as unsigned char: the byte order the protocol means.
    std::sort(props.begin(), props.end(), [](const Prop& a, const Prop& b) { return a.name < b.name; });
  }

  void put_null() { wire::put_uint(value_, field::value_is_null, 1); }
  //! The value cannot be what the schema promises: null, and the record's meta says so.
  void put_nulled(const Prop& p) {
    put_null();
    nulled_.push_back(&p.name);
  }

  void encode(Prop& p, const engine::RowView& row) {
    switch (p.source) {
      case Source::updated_at: return encode_computed(p, row.updated_at);
      case Source::deleted_at: return encode_computed(p, row.deleted_at);
      case Source::metadata: {
        if (row.metadata == nullptr) return put_null();
        json_.Clear();
        writer_.Reset(json_);
        engine::write_metadata_object(writer_, *row.metadata);
        wire::put_bytes(value_, field::value_json, std::string_view(json_.GetString(), json_.GetSize()));
        return;
      }
      case Source::column: break;
    }
    if (p.index >= row.columns.size() || row.columns[p.index].name != p.name) {
      p.index = std::numeric_limits<std::size_t>::max();
      for (std::size_t i = 0; i < row.columns.size(); ++i) {
        if (row.columns[i].name == p.name) {
          p.index = i;
          break;
        }
      }
    }
    if (p.index >= row.columns.size()) return put_null();  // not a column of the table (any more)
    const vitess::Column& c = row.columns[p.index];
    const vitess::Cell& cell = row.cells[p.index];
    const Scalar v = render(c, cell);
    if (v.kind == Scalar::null) return put_null();
    using K = vitess::ValueKind;
    switch (c.kind) {
      case K::null_only: return put_null();
      case K::integer:
      case K::year:
      case K::bit_int: return encode_integer(p, v);
      case K::tiny_bool:
      case K::bit_bool:
        if (v.kind == Scalar::boolean_true || v.kind == Scalar::boolean_false) {
          return wire::put_uint(value_, field::value_boolean, v.kind == Scalar::boolean_true ? 1 : 0);
        }
        return put_nulled(p);  // tinyint(1) holding e.g. 2: a number in a boolean column
      case K::decimal:
        if (v.kind != Scalar::number) return put_nulled(p);
        return wire::put_bytes(value_, field::value_big_decimal, v.text);
      case K::floating: {
        if (v.kind != Scalar::number) return put_nulled(p);
        const std::string text(v.text);
        char* end = nullptr;
        const double d = std::strtod(text.c_str(), &end);
        if (end != text.c_str() + text.size()) return put_nulled(p);
        return wire::put_double(value_, field::value_number, d);
      }
      case K::date: {
        LocalDateTime t;
        if (v.kind != Scalar::string || !parse_date_time(v.text, t) || t.has_time) return put_nulled(p);
        return wire::put_sint(value_, field::value_date, t.days);
      }
      case K::datetime: {
        LocalDateTime t;
        if (v.kind != Scalar::string || !parse_date_time(v.text, t) || t.has_offset) return put_nulled(p);
        sub_.clear();
        if (t.days != 0) wire::put_sint(sub_, 1, t.days);
        if (t.nanos_of_day != 0) wire::put_uint(sub_, 2, t.nanos_of_day);
        return wire::put_bytes(value_, field::value_timestamp, sub_);
      }
      case K::timestamp: {
        LocalDateTime t;
        if (v.kind != Scalar::string || !parse_date_time(v.text, t)) return put_nulled(p);
        return put_offset_date_time(t);
      }
      case K::time: {
        // The schema says time_with_timezone (as the Go connector's); MySQL's TIME is a duration
        // (-838:59:59 … 838:59:59), so only values within one day have a member to go in.
        std::uint64_t nanos = 0;
        if (v.kind != Scalar::string || !parse_time_of_day(v.text, nanos)) return put_nulled(p);
        sub_.clear();
        if (nanos != 0) wire::put_uint(sub_, 1, nanos);
        return wire::put_bytes(value_, field::value_time_tz, sub_);
      }
      case K::text:
      case K::json:
      case K::binary:
      case K::enum_label:
      case K::set_labels:
        if (v.kind != Scalar::string) return put_nulled(p);
        return wire::put_bytes(value_, field::value_string, v.text);
    }
    put_nulled(p);
  }

  void encode_integer(const Prop& p, const Scalar& v) {
    if (v.kind != Scalar::number) return put_nulled(p);
    std::int64_t i = 0;
    const auto [end, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), i);
    if (ec == std::errc() && end == v.text.data() + v.text.size())
      return wire::put_sint(value_, field::value_integer, i);
    const bool all_digits = !v.text.empty() && std::all_of(v.text.begin(), v.text.end(), [](char ch) {
      return (ch >= '0' && ch <= '9') || ch == '-';
    });
    if (!all_digits) return put_nulled(p);
    // Beyond int64 (BIGINT UNSIGNED, BIT(64)): the exact digits.
    wire::put_bytes(value_, field::value_big_integer, v.text);
  }

  void encode_computed(const Prop& p, const engine::ComputedText& text) {
    if (!text.present || text.null) return put_null();
    if (p.plain_string) return wire::put_bytes(value_, field::value_string, text.text);
    LocalDateTime t;
    if (!parse_date_time(text.text, t)) return put_nulled(p);
    put_offset_date_time(t);
  }

  void put_offset_date_time(const LocalDateTime& t) {
    const std::int64_t local_seconds =
        t.days * 86'400 + static_cast<std::int64_t>(t.nanos_of_day / kNanosPerSecond) - t.offset_seconds;
    const auto nano = static_cast<std::uint32_t>(t.nanos_of_day % kNanosPerSecond);
    sub_.clear();
    if (local_seconds != 0) wire::put_sint(sub_, 1, local_seconds);
    if (nano != 0) wire::put_uint(sub_, 2, nano);
    if (t.offset_seconds != 0) wire::put_sint(sub_, 3, t.offset_seconds);
    wire::put_bytes(value_, field::value_timestamp_tz, sub_);
  }

  //! The cell as the JSON value writer renders it: every decoding rule (character sets, base64,
  //! ENUM/SET labels, BIT, zero dates) stays in one place, src/vitess/values.cpp.
  Scalar render(const vitess::Column& c, const vitess::Cell& cell) {
    json_.Clear();
    writer_.Reset(json_);
    vitess::write_value(writer_, c, cell.raw, cell.is_null);
    const std::string_view j(json_.GetString(), json_.GetSize());
    if (j == "null") return {Scalar::null, {}};
    if (j == "true") return {Scalar::boolean_true, {}};
    if (j == "false") return {Scalar::boolean_false, {}};
    if (j.empty() || j.front() != '"') return {Scalar::number, j};
    const std::string_view inner = j.substr(1, j.size() - 2);
    if (inner.find('\\') == std::string_view::npos) return {Scalar::string, inner};
    // Escapes (quotes, backslashes, control characters) are rare: let RapidJSON undo them.
    doc_.Parse(j.data(), j.size());
    if (doc_.HasParseError() || !doc_.IsString()) return {Scalar::null, {}};
    unescaped_.assign(doc_.GetString(), doc_.GetStringLength());
    return {Scalar::string, unescaped_};
  }

  std::string name_, ns_;
  std::vector<Prop> props_, row_props_;
  std::vector<std::string> row_key_;  //!< the members row_props_ was built from, in the row's order
  std::string out_, record_, value_, sub_, meta_, change_, unescaped_;
  std::vector<const std::string*> nulled_;
  JsonBuffer json_;
  JsonWriter writer_{json_};
  rapidjson::Document doc_;
  std::uint64_t count_ = 0;
};

}  // namespace

std::unique_ptr<engine::RowWriter> make_protobuf_record_writer_via_json(
    const airbyte::StreamDescriptor& stream, const std::vector<std::string>& properties,
    const std::vector<std::string>& plain_string_columns) {
  return std::make_unique<ProtobufWriter>(stream, properties, plain_string_columns);
}

}  // namespace sv::socket::oracle
