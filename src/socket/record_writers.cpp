// src/socket: the data channel's row formats (see record_writers.hpp and docs/speed-mode.md).
#include "socket/record_writers.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "socket/proto_wire.hpp"
#include "util/json.hpp"

namespace sv::socket {
namespace {

constexpr std::string_view kPlaceholder = "0000000000000000";
static_assert(kPlaceholder.size() == kPartitionIdLength);

//! Every JSONL record starts with this, so its partition id sits at a fixed offset of the line.
constexpr std::string_view kJsonlHead = R"({"type":"RECORD","record":{"partition_id":")";

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
constexpr std::uint64_t kNanosPerDay = 86'400ULL * kNanosPerSecond;

bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

//! `HH:MM:SS[.f…]` at `pos` (hours < 24); advances pos.
bool parse_clock(std::string_view s, std::size_t& pos, std::uint64_t& nanos) {
  unsigned h, m, sec;
  if (!digits(s, pos, 2, h) || pos + 2 >= s.size() || s[pos + 2] != ':' || !digits(s, pos + 3, 2, m) ||
      pos + 5 >= s.size() || s[pos + 5] != ':' || !digits(s, pos + 6, 2, sec)) {
    return false;
  }
  if (h > 23 || m > 59 || sec > 59) return false;
  pos += 8;
  std::uint64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 9) frac = frac * 10 + static_cast<unsigned>(s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return false;
    for (std::size_t i = n; i < 9; ++i) frac *= 10;
  }
  nanos = (h * 3600ULL + m * 60ULL + sec) * kNanosPerSecond + frac;
  return true;
}

using vitess::Scalar;

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
    // The value comes back through sink_.scalar → encode_value while write_value runs, so text it
    // points into (write_value's scratch buffers, its stack) is still valid.
    sink_.prop = &p;
    sink_.column = &c;
    vitess::write_value<vitess::ScalarSink>(sink_, c, cell.raw, cell.is_null);
  }

  //! One value of a table column, as write_value decided it, into its member.
  void encode_value(const Prop& p, const vitess::Column& c, Scalar v) {
    if (v.kind == Scalar::null) return put_null();
    using K = vitess::ValueKind;
    char digits_buf[24];
    if (v.kind == Scalar::unsigned_integer) {
      if (c.kind == K::integer || c.kind == K::year || c.kind == K::bit_int) return put_unsigned(v.unsigned_value);
      // Elsewhere it is the number the JSON text would have been.
      const auto [end, ec] = std::to_chars(digits_buf, digits_buf + sizeof digits_buf, v.unsigned_value);
      (void)ec;  // 24 characters hold every uint64
      v = {Scalar::number, false, 0, std::string_view(digits_buf, static_cast<std::size_t>(end - digits_buf))};
    }
    switch (c.kind) {
      case K::null_only: return put_null();
      case K::integer:
      case K::year:
      case K::bit_int: return encode_integer(p, v);
      case K::tiny_bool:
      case K::bit_bool:
        if (v.kind == Scalar::boolean) return wire::put_uint(value_, field::value_boolean, v.boolean_value ? 1 : 0);
        return put_nulled(p);  // tinyint(1) holding e.g. 2: a number in a boolean column
      case K::decimal:
        if (v.kind != Scalar::number) return put_nulled(p);
        return wire::put_bytes(value_, field::value_big_decimal, v.text);
      case K::floating: {
        double d = 0;
        if (v.kind != Scalar::number || !parse_double(v.text, d)) return put_nulled(p);
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

  //! A JSON number text as a double, correctly rounded (as strtod, which the rare texts from_chars
  //! refuses, e.g. a subnormal result, still go through).
  static bool parse_double(std::string_view text, double& d) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec == std::errc() && end == text.data() + text.size()) return true;
    const std::string copy(text);
    char* stop = nullptr;
    d = std::strtod(copy.c_str(), &stop);
    return stop == copy.c_str() + copy.size();
  }

  void put_unsigned(std::uint64_t u) {
    if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return wire::put_sint(value_, field::value_integer, static_cast<std::int64_t>(u));
    }
    char digits_buf[24];
    const auto [end, ec] = std::to_chars(digits_buf, digits_buf + sizeof digits_buf, u);
    (void)ec;
    wire::put_bytes(value_, field::value_big_integer,
                    std::string_view(digits_buf, static_cast<std::size_t>(end - digits_buf)));
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

  std::string name_, ns_;
  std::vector<Prop> props_, row_props_;
  std::vector<std::string> row_key_;  //!< the members row_props_ was built from, in the row's order
  std::string out_, record_, value_, sub_, meta_, change_;
  std::vector<const std::string*> nulled_;
  JsonBuffer json_;  //!< `_planetscale_metadata`'s JSON text
  JsonWriter writer_{json_};
  //! Receives each table column's value from write_value for the property being encoded.
  struct Sink final : vitess::ScalarSink {
    explicit Sink(ProtobufWriter& w) : writer(w) {}
    void scalar(const Scalar& v) override { writer.encode_value(*prop, *column, v); }
    ProtobufWriter& writer;
    const Prop* prop = nullptr;
    const vitess::Column* column = nullptr;
  } sink_{*this};
  std::uint64_t count_ = 0;
};

class JsonlWriter final : public engine::RowWriter {
 public:
  explicit JsonlWriter(const airbyte::StreamDescriptor& stream) {
    // Rendered as a complete object and cut open after `"emitted_at":`, so names are escaped as
    // RapidJSON escapes them everywhere else (as airbyte::RecordSerializer does).
    JsonBuffer b;
    JsonWriter w(b);
    w.StartObject();
    w.Key("type");
    w.String("RECORD");
    w.Key("record");
    w.StartObject();
    w.Key("partition_id");
    w.String(kPlaceholder.data(), static_cast<rapidjson::SizeType>(kPlaceholder.size()));
    w.Key("stream");
    w.String(stream.name.data(), static_cast<rapidjson::SizeType>(stream.name.size()));
    if (!stream.ns.empty()) {
      w.Key("namespace");
      w.String(stream.ns.data(), static_cast<rapidjson::SizeType>(stream.ns.size()));
    }
    w.Key("emitted_at");
    w.Int64(0);
    w.EndObject();
    w.EndObject();
    const std::string full(b.GetString(), b.GetSize());
    prefix_ = full.substr(0, full.size() - 3);  // drop `0}}`
  }
  void write(const engine::RowView& row) override {
    std::memcpy(buffer_.Push(prefix_.size()), prefix_.data(), prefix_.size());
    char digits_buf[24];
    const auto [end, ec] = std::to_chars(digits_buf, digits_buf + sizeof digits_buf, row.emitted_at);
    (void)ec;  // 24 characters hold every int64
    const auto n = static_cast<std::size_t>(end - digits_buf);
    std::memcpy(buffer_.Push(n), digits_buf, n);
    std::memcpy(buffer_.Push(8), ",\"data\":", 8);
    writer_.Reset(buffer_);
    engine::write_row_object(writer_, row);
    std::memcpy(buffer_.Push(3), "}}\n", 3);
    ++count_;
  }
  std::uint64_t count() const override { return count_; }
  std::string take() override {
    std::string lines(buffer_.GetString(), buffer_.GetSize());
    buffer_.Clear();
    count_ = 0;
    return lines;
  }

 private:
  std::string prefix_;
  JsonBuffer buffer_;
  JsonWriter writer_{buffer_};
  std::uint64_t count_ = 0;
};

}  // namespace

const char* to_string(Format f) { return f == Format::jsonl ? "JSONL" : "PROTOBUF"; }

std::unique_ptr<engine::RowWriter> make_jsonl_record_writer(const airbyte::StreamDescriptor& stream) {
  return std::make_unique<JsonlWriter>(stream);
}

std::unique_ptr<engine::RowWriter> make_protobuf_record_writer(const airbyte::StreamDescriptor& stream,
                                                               const std::vector<std::string>& properties,
                                                               const std::vector<std::string>& plain_string_columns) {
  return std::make_unique<ProtobufWriter>(stream, properties, plain_string_columns);
}

bool patch_partition(Format format, std::string& records, std::string_view partition_id) {
  if (partition_id.size() != kPartitionIdLength) return false;
  if (format == Format::jsonl) {
    std::size_t line = 0;
    while (line < records.size()) {
      if (records.compare(line, kJsonlHead.size(), kJsonlHead) != 0 ||
          line + kJsonlHead.size() + kPartitionIdLength > records.size()) {
        return false;
      }
      records.replace(line + kJsonlHead.size(), kPartitionIdLength, partition_id);
      const auto nl = records.find('\n', line);
      if (nl == std::string::npos) return false;
      line = nl + 1;
    }
    return true;
  }
  const std::string_view all(records);
  std::size_t pos = 0;
  while (pos < records.size()) {
    std::uint64_t message_size = 0, record_size = 0;
    if (!wire::get_varint(all, pos, message_size) || message_size > records.size() - pos) return false;
    const std::size_t next = pos + static_cast<std::size_t>(message_size);
    // 0x0A = field 1 (record), length-delimited; 0x22 = field 4 (partition_id); 0x10 = its length.
    if (records[pos] != '\x0A') return false;
    ++pos;
    if (!wire::get_varint(all, pos, record_size) || pos + 2 + kPartitionIdLength > next || records[pos] != '\x22' ||
        records[pos + 1] != static_cast<char>(kPartitionIdLength)) {
      return false;
    }
    records.replace(pos + 2, kPartitionIdLength, partition_id);
    pos = next;
  }
  return true;
}

std::string frame_control(Format format, std::string_view json_line) {
  if (format == Format::jsonl) return std::string(json_line);
  if (!json_line.empty() && json_line.back() == '\n') json_line.remove_suffix(1);
  std::string message;
  wire::put_bytes(message, field::message_json, json_line);
  std::string out;
  wire::put_varint(out, message.size());
  out += message;
  return out;
}

std::string probe_message(Format format) {
  if (format == Format::jsonl) return "\n";
  std::string message;
  wire::put_bytes(message, field::message_probe, {});
  std::string out;
  wire::put_varint(out, message.size());
  out += message;
  return out;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool parse_date_time(std::string_view s, LocalDateTime& out) {
  out = LocalDateTime{};
  unsigned y, m, d;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, m) || s[7] != '-' ||
      !digits(s, 8, 2, d)) {
    return false;
  }
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (m < 1 || m > 12 || d < 1 || d > kDays[m - 1] + (m == 2 && leap ? 1 : 0)) return false;
  out.days = days_from_civil(y, m, d);
  std::size_t pos = 10;
  if (pos == s.size()) return true;
  if (s[pos] != 'T' && s[pos] != ' ') return false;
  ++pos;
  if (!parse_clock(s, pos, out.nanos_of_day)) return false;
  out.has_time = true;
  if (pos == s.size()) return true;
  if (s[pos] == 'Z' && pos + 1 == s.size()) {
    out.has_offset = true;
    return true;
  }
  unsigned oh, om;
  if ((s[pos] != '+' && s[pos] != '-') || pos + 6 != s.size() || !digits(s, pos + 1, 2, oh) || s[pos + 3] != ':' ||
      !digits(s, pos + 4, 2, om) || oh > 18 || om > 59) {
    return false;
  }
  out.offset_seconds = static_cast<std::int32_t>((oh * 3600 + om * 60)) * (s[pos] == '-' ? -1 : 1);
  out.has_offset = true;
  return true;
}

bool parse_time_of_day(std::string_view text, std::uint64_t& nanos) {
  std::size_t pos = 0;
  return parse_clock(text, pos, nanos) && pos == text.size() && nanos < kNanosPerDay;
}

}  // namespace sv::socket
