// src/util: RFC 4180 CSV rendering for `extract --format csv`. The extract's CSV row writer
// renders each value straight into a field with FieldWriter; append_row_from_json turns a row's
// JSON object into the same record (its tests pin the rules: CSV values are exactly the JSON
// values of `read`, docs/extract.md).
#pragma once

#include <rapidjson/rapidjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace sv::csv {

//! Appends `text` as one quoted field: `"` around it, inner quotes doubled (a CSV string value).
void append_quoted(std::string& out, std::string_view text);

//! Appends one scalar value as a CSV field, taking the calls a RapidJSON writer would get for it,
//! so the value renderer (vitess::write_value) writes CSV straight from a cell. The field is the
//! one append_row_from_json gives for that value's JSON: null → nothing; a string → quoted
//! (append_quoted, the text as it is: no JSON escapes to decode); a number → its text; a bool →
//! true/false. A RawValue string must be a JSON string literal without escapes (base64 text).
class FieldWriter {
 public:
  explicit FieldWriter(std::string& out) : out_(&out) {}
  bool Null() { return true; }
  bool Bool(bool b) {
    out_->append(b ? "true" : "false");
    return true;
  }
  bool Uint64(std::uint64_t v);
  bool String(const char* text, rapidjson::SizeType length, bool copy = false) {
    (void)copy;
    append_quoted(*out_, std::string_view(text, length));
    return true;
  }
  bool RawValue(const char* json, std::size_t length, rapidjson::Type type);

 private:
  std::string* out_;
};

//! Appends the header record: the column names, comma-separated, CRLF-terminated. A name is
//! quoted only when it needs it (contains `,` `"` CR or LF, or starts/ends with a space); inner
//! quotes are doubled.
void append_header(std::string& out, const std::vector<std::string>& columns);

//! Appends one CSV record (CRLF-terminated) for a flat JSON object, one field per entry of
//! `columns`, matched by key name:
//!   null → empty unquoted field; string → always quoted, quotes doubled, JSON escapes decoded
//!   (\uXXXX and surrogate pairs → UTF-8); number → its JSON text verbatim (never re-formatted);
//!   true/false → bare; object/array → its compact JSON text, quoted.
//! A column missing from the object gives an empty field; a key not in `columns` is ignored; a
//! repeated key: the last one wins. Malformed JSON, or a value that is not an object, is a
//! system_error naming the problem and its offset, and leaves `out` unchanged.
//! Thread-safe (per-thread scratch buffers); allocates nothing per row once they are warm.
Status append_row_from_json(std::string& out, std::string_view json_object, const std::vector<std::string>& columns);

}  // namespace sv::csv
