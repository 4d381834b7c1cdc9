// src/util: RFC 4180 CSV rendering of the connector's JSON rows, for `extract --format csv`.
// The engine renders a row's Airbyte `data` object as JSON first; append_row_from_json turns that
// text into one CSV record, so CSV values are exactly the JSON values of `read` (docs/extract.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace sv::csv {

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
