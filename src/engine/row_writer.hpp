// src/engine: the row format seam. The decoder hands every row it reads to a RowWriter, which the
// output supplies (SyncOutput::row_writer): Airbyte RECORD lines for `read` (AirbyteOutput), bare
// JSON lines or CSV records for `extract` (src/extract/row_writers.hpp). The row arrives as its
// decoded cells plus the computed columns, so each format renders straight from the values.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/json.hpp"
#include "vitess/values.hpp"

namespace sv::engine {

//! Names of the computed columns a catalog may select.
inline constexpr const char* kUpdatedAtColumn = "_ab_cdc_updated_at";
inline constexpr const char* kDeletedAtColumn = "_ab_cdc_deleted_at";
inline constexpr const char* kMetadataColumn = "_planetscale_metadata";

//! A computed text column of one row: left out, null, or a string.
struct ComputedText {
  bool present = false;
  bool null = true;
  std::string_view text;
};

//! The `_planetscale_metadata` object of one row.
struct RowMetadata {
  std::int64_t extracted_at = 0;
  std::uint64_t sequence_number = 0;
  std::string_view vgtid_position;
};

//! One decoded row, valid for the duration of RowWriter::write. Its members, in this order, are
//! the row's `data` object: the selected table columns (catalog order), then the computed ones.
struct RowView {
  std::int64_t emitted_at = 0;               //!< the RECORD's emitted_at (ms)
  std::span<const vitess::Column> columns;   //!< the table's columns (last FIELD event)
  std::span<const vitess::Cell> cells;       //!< one per column, checked against `columns`
  std::span<const std::uint32_t> selection;  //!< indexes into `columns`, in output order
  ComputedText updated_at;                   //!< `_ab_cdc_updated_at`
  ComputedText deleted_at;                   //!< `_ab_cdc_deleted_at`
  const RowMetadata* metadata = nullptr;     //!< `_planetscale_metadata` when set
};

//! Renders rows in one format into a buffer of complete lines. One per shard of a decoder, used by
//! one thread at a time; it keeps its buffers, so rendering a row allocates nothing once warm.
class RowWriter {
 public:
  virtual ~RowWriter() = default;
  //! Appends one row (a complete line). Cannot fail: the decoder checked the cells.
  virtual void write(const RowView& row) = 0;
  //! Rows written since the last take().
  virtual std::uint64_t count() const = 0;
  //! Moves the lines out (what the output gets in a Batch) and starts over (count() becomes 0).
  virtual std::string take() = 0;
};

//! Writes the row's `data` object: `{"col":value,…,"_ab_cdc_updated_at":…}` (RECORD data, JSONL).
void write_row_object(JsonWriter& w, const RowView& row);

//! Writes `{"extracted_at":…,"sequence_number":…,"vgtid_position":"…"}`.
void write_metadata_object(JsonWriter& w, const RowMetadata& metadata);

}  // namespace sv::engine
