// src/emulator/mysql: decoding of MariaDB/MySQL binlog row events without a server: TABLE_MAP
// (with the optional metadata binlog_row_metadata=FULL adds) and WRITE/UPDATE/DELETE_ROWS row
// images, turned into query::Row values in the MySQL text encodings VStream uses
// (vstream-reference.md §4). libmariadb's own row extraction is not used: we need the text forms.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/backend.hpp"
#include "util/result.hpp"

namespace sv::emulator::mysql {

//! A decoded TABLE_MAP event.
struct TableMap {
  uint64_t table_id = 0;
  std::string database, table;
  std::vector<uint8_t> types;  //!< binlog column types (enum_field_types)
  std::vector<uint16_t> meta;  //!< per-column type metadata (0 when the type has none)
  std::vector<bool> nullable;
  // Optional metadata (present with binlog_row_metadata=FULL):
  std::vector<std::string> column_names;              //!< empty when absent
  std::vector<bool> is_unsigned;                      //!< per column; false when unknown
  std::vector<std::vector<std::string>> enum_labels;  //!< per column (ENUM columns only)
  std::vector<std::vector<std::string>> set_labels;   //!< per column (SET columns only)
  std::vector<uint32_t> charsets;                     //!< per column collation id, 0 = unknown
  std::vector<uint32_t> pk_columns;                   //!< from SIMPLE_PRIMARY_KEY
  //! The column's real type: STRING columns carry ENUM/SET/STRING in their metadata.
  uint8_t real_type(size_t i) const;
};

//! Parses a TABLE_MAP event body (after the 19-byte header, without checksum).
Result<TableMap> parse_table_map(std::string_view body);

//! How to render values: per column, what the schema says beyond the binlog metadata.
struct ColumnRender {
  bool binary_pad = false;  //!< BINARY(n): pad with 0x00 to `pad_length` (MySQL strips them)
  uint32_t pad_length = 0;
  int float_decimals = -1;  //!< FLOAT(M,D)/DOUBLE(M,D): fixed D decimals; -1 = shortest form
};

//! Derives rendering hints from a schema whose columns match the table map.
std::vector<ColumnRender> render_hints(const TableMap& map, const TableSchema* schema);

//! Rows of one ROWS event.
struct DecodedRows {
  uint64_t table_id = 0;
  uint16_t flags = 0;
  std::vector<RowChange> changes;
};

//! Parses a ROWS event body. `event_type` is the binlog type (23-25 v1, 30-32 v2).
Result<DecodedRows> parse_rows(uint8_t event_type, std::string_view body, const TableMap& map,
                               const std::vector<ColumnRender>& hints);

//! Builds a query::Field list from table-map metadata alone (used only when information_schema
//! no longer describes the binlog's version of the table: the binlog lags a later DDL).
TableSchema schema_from_table_map(const TableMap& map, uint64_t version);

// ---- value renderers (exposed for unit tests)

//! DECIMAL(precision, scale) binary form → text with exactly `scale` fraction digits; an error for
//! a precision and scale valid_decimal() refuses.
Result<std::string> decode_decimal(std::string_view bin, int precision, int scale);
//! True for a DECIMAL(precision, scale) MySQL allows (1..65 digits, 0..30 of them decimals).
bool valid_decimal(int precision, int scale);
//! Size in bytes of a binary DECIMAL(precision, scale); only for valid_decimal() arguments.
size_t decimal_bin_size(int precision, int scale);
//! FLOAT as MariaDB's text protocol prints it (6 significant digits, %g-like choice of form).
std::string format_float(float v);
//! DOUBLE as MariaDB prints it (shortest round-trip digits).
std::string format_double(double v);
//! Binary DATETIME2/TIMESTAMP2/TIME2 renderers.
std::string format_datetime2(std::string_view bin, int fsp);
std::string format_timestamp2(std::string_view bin, int fsp);
std::string format_time2(std::string_view bin, int fsp);
//! DATE (3 bytes little-endian).
std::string format_date(std::string_view bin);

//! Appends a value (nullopt = NULL) to a query::Row.
void append_value(query::Row& row, const std::optional<std::string_view>& v);
//! Reads value `i` back from a query::Row (nullopt = NULL). For tests and lastpk handling.
std::optional<std::string> row_value(const query::Row& row, size_t i);

}  // namespace sv::emulator::mysql
