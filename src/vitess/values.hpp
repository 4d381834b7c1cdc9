// src/vitess: value decoding — one cell of a query.Row (raw MySQL text-protocol bytes + NULL flag)
// written straight into a RapidJSON writer, and the JSON-schema property of a column as discovery
// reports it. Output matches PlanetScale's Go connector except where that connector loses data;
// every difference is listed in docs/type-mapping.md. This is the hot path: it runs for every
// cell of every row, so the common cases neither allocate nor copy.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "query.pb.h"
#include "util/csv.hpp"
#include "util/json.hpp"
#include "util/result.hpp"
#include "vitess/charsets.hpp"

namespace sv::vitess {

//! Connector options that change how values (and their schemas) are rendered.
struct ValueOptions {
  //! Render tinyint(1) as boolean (the default); false = option do_not_treat_tiny_int_as_boolean.
  bool tiny_int_as_boolean = true;
  //! Zero and invalid DATE/DATETIME/TIMESTAMP values become null, and such properties are
  //! nullable (the default); false = option invalid_dates "go_connector": the epoch for zero
  //! values and the text as received for invalid ones, as the Go connector writes them.
  bool invalid_dates_as_null = true;
};

//! How ENUM/SET cells of a column arrive on the wire.
enum class EnumSetEncoding : std::uint8_t {
  //! Unknown (pre-v20 vtgate, FieldEvent.enum_set_string_values false): a cell equal to a label
  //! is that label, otherwise an all-digit cell is a 1-based ENUM index or a SET bitmask.
  detect,
  labels,   //!< always labels (copy phase; v20+ with enum_set_string_values = true)
  numbers,  //!< always index / bitmask (replication phase of a pre-v20 vtgate)
};

//! The rendering decided once per column (per FIELD event), so the per-cell code is one switch.
enum class ValueKind : std::uint8_t {
  null_only,   //!< NULL_TYPE: always null
  integer,     //!< INT8..UINT64: JSON number, digits exact, zerofill leading zeros dropped
  tiny_bool,   //!< tinyint(1) [unsigned]: 0 → false, 1 → true, other values as numbers
  decimal,     //!< DECIMAL: JSON number, digits exact, `.5` → `0.5`
  floating,    //!< FLOAT32/FLOAT64: JSON number as sent
  year,        //!< YEAR: JSON number
  date,        //!< DATE: `YYYY-MM-DD`; zero/invalid → null (or `1970-01-01` / as received)
  datetime,    //!< DATETIME: `YYYY-MM-DDTHH:MM:SS.ffffff`
  timestamp,   //!< TIMESTAMP (UTC on the wire): `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`
  time,        //!< TIME: the text as sent (`-838:59:59.000000`)
  text,        //!< CHAR/VARCHAR/TEXT and unknown textual types: string converted from the
               //!< column's character set to UTF-8; invalid sequences → U+FFFD
  json,        //!< JSON: the document text as a JSON string (as the Go connector does)
  binary,      //!< BINARY/VARBINARY/BLOB/GEOMETRY/VECTOR: base64 (standard, padded) string
  bit_bool,    //!< BIT(1): boolean
  bit_int,     //!< BIT(2..64): unsigned integer, exact
  enum_label,  //!< ENUM: label
  set_labels,  //!< SET: comma-joined labels
};

//! One column of a FIELD event, prepared for rendering.
struct Column {
  std::string name;
  query::Type type = query::NULL_TYPE;
  std::string column_type;     //!< full SQL type, e.g. `enum('a','b')`, `tinyint(1)`, `bit(12)`
  std::uint32_t charset = 0;   //!< collation id (63 = binary)
  std::uint32_t flags = 0;     //!< query.MySqlFlag bits
  std::uint32_t decimals = 0;  //!< fsp / scale
  std::uint32_t column_length = 0;
  ValueKind kind = ValueKind::text;
  EnumSetEncoding enum_encoding = EnumSetEncoding::detect;
  std::vector<std::string> labels;    //!< ENUM/SET members from column_type, in declaration order
  std::uint32_t bit_width = 0;        //!< BIT(n): n (0 if unknown)
  TextEncoding encoding;              //!< text, ENUM, SET: how the bytes become UTF-8 (from `charset`)
  bool invalid_dates_as_null = true;  //!< ValueOptions::invalid_dates_as_null
};

//! Prepares a column from a query.Field. `enum_set_string_values` is FieldEvent field 25: true
//! means ENUM/SET cells are labels in every phase.
Column make_column(const query::Field& field, const ValueOptions& options, bool enum_set_string_values = false);

//! Prepares every field of a FIELD event.
std::vector<Column> make_columns(const google::protobuf::RepeatedPtrField<query::Field>& fields,
                                 const ValueOptions& options, bool enum_set_string_values = false);

//! Parses the member list of `enum(...)` / `set(...)` (quotes doubled `''` or backslash-escaped,
//! commas inside labels allowed). Returns an empty list when `column_type` is not an enum/set.
std::vector<std::string> parse_enum_labels(std::string_view column_type);

//! Writes one cell as a JSON value. Never writes invalid JSON: text that cannot be what the type
//! promises (e.g. non-numeric text in an INT column) is written as a JSON string instead.
//! `Writer` is JsonWriter, or csv::FieldWriter for the same value as one CSV field (`extract
//! --format csv`, without a JSON round trip), or ScalarSink (socket PROTOBUF records); values.cpp
//! instantiates all three.
template <class Writer>
void write_value(Writer& w, const Column& column, std::string_view raw, bool is_null);

//! One value as write_value decides it, before any JSON: for formats that are not JSON (the
//! socket PROTOBUF records), so they share every decoding rule without rendering and re-parsing.
struct Scalar {
  enum Kind : std::uint8_t { null, boolean, unsigned_integer, number, string } kind = null;
  bool boolean_value = false;
  std::uint64_t unsigned_value = 0;  //!< unsigned_integer (BIT(2..64))
  //! number: its JSON number text; string: its UTF-8 contents (unescaped). Valid only during
  //! ScalarSink::scalar (it may point into write_value's scratch buffers or its stack).
  std::string_view text;
};

//! A writer for write_value that hands each value over as a Scalar (write_value<ScalarSink> is
//! instantiated in values.cpp beside the JSON and CSV writers).
class ScalarSink {
 public:
  virtual ~ScalarSink() = default;
  virtual void scalar(const Scalar& value) = 0;

  bool Null() { return emit({Scalar::null, false, 0, {}}); }
  bool Bool(bool b) { return emit({Scalar::boolean, b, 0, {}}); }
  bool Uint64(std::uint64_t v) { return emit({Scalar::unsigned_integer, false, v, {}}); }
  bool String(const char* text, rapidjson::SizeType length, bool copy = false) {
    (void)copy;
    return emit({Scalar::string, false, 0, std::string_view(text, length)});
  }
  //! Numbers as their JSON text; strings (base64) as `"…"` whose contents need no unescaping.
  bool RawValue(const char* json, std::size_t length, rapidjson::Type type) {
    if (type == rapidjson::kStringType && length >= 2) {
      return emit({Scalar::string, false, 0, std::string_view(json + 1, length - 2)});
    }
    return emit({Scalar::number, false, 0, std::string_view(json, length)});
  }

 private:
  bool emit(const Scalar& v) {
    scalar(v);
    return true;
  }
};

//! Writes `"name":value` members for the selected columns (indexes into `columns`, in the order
//! given) of one query.Row. The row is checked first (value count, lengths within the packed
//! bytes), so on error nothing has been written.
Status write_row_members(JsonWriter& w, std::span<const Column> columns, const query::Row& row,
                         std::span<const std::uint32_t> selection);

//! Writes `"name":value` members for all columns, in column order.
Status write_row_members(JsonWriter& w, std::span<const Column> columns, const query::Row& row);

//! One cell of a query.Row: its bytes, or null.
struct Cell {
  std::string_view raw;
  bool is_null = true;
};

//! Splits a query.Row into cells (lengths with -1 = NULL, values packed). Errors when the row
//! does not have exactly `expected_columns` values or the lengths overrun the packed bytes.
Status split_row(const query::Row& row, std::size_t expected_columns, std::vector<Cell>& out);

//! A query.Row still in its wire form, as the raw response walker (raw_response.hpp) finds it:
//! `lengths` is the packed field's bytes (zigzag varints, `count` of them, already checked to be
//! whole varints), `values` the packed cell bytes. Both are views into the response buffer.
struct PackedRow {
  std::string_view lengths;
  std::size_t count = 0;
  std::string_view values;
};

//! split_row for a row in wire form: the same checks and the same error messages, so both
//! decoders fail alike on the same row.
Status split_row(const PackedRow& row, std::size_t expected_columns, std::vector<Cell>& out);

//! Reads one zigzag varint of a PackedRow's lengths at `p` (before `end`) into `value`; the
//! position after it, or nullptr when the bytes end inside the varint or it is longer than ten
//! bytes. Bits past the 64th are dropped, as protobuf's parser drops them.
const char* read_packed_length(const char* p, const char* end, std::int64_t& value);

// ---- JSON schema (discover) -------------------------------------------------------------------

//! The Airbyte JSON-schema property of a column: `{"type":[...],"format":..,"airbyte_type":..}`.
struct PropertySchema {
  std::string_view type;          //!< "boolean" | "number" | "string"
  std::string_view format;        //!< "" = omitted
  std::string_view airbyte_type;  //!< "" = omitted
  bool nullable = false;          //!< adds "null" first in the type array

  bool operator==(const PropertySchema&) const = default;
};

//! Schema of a column from information_schema.columns.column_type and is_nullable (`YES`/`NO`),
//! as the Go connector discovers it (prefix rules, first match wins) with our documented
//! deviations: bit(1) boolean, bit(n>1) integer, year integer, and date/datetime/timestamp
//! always nullable when invalid dates become null.
PropertySchema property_schema(std::string_view column_type, bool nullable, const ValueOptions& options);

//! Writes the property object: `{"type":["null","string"],"format":"date","airbyte_type":"date"}`.
void write_property_schema(JsonWriter& w, const PropertySchema& schema);

}  // namespace sv::vitess
