// src/engine: turns VStream responses of one stream (one table; one shard, or several while a
// reshard is followed) into committed chunks of rows (rendered by the output's RowWriter, in its
// format), each with the shard cursor that
// follows its rows. Rows are held until the VGTID that covers them arrives, so a stream that breaks
// mid-transaction loses nothing the cursor does not bring back. Pure data processing: a Decoder is
// used by one thread at a time (the reader hands it to the thread pool and takes it back).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "airbyte/catalog.hpp"
#include "airbyte/messages.hpp"
#include "binlogdata.pb.h"
#include "engine/row_writer.hpp"
#include "util/result.hpp"
#include "vitess/cursor.hpp"
#include "vitess/gtid.hpp"
#include "vitess/raw_response.hpp"
#include "vitess/values.hpp"
#include "vtgate.pb.h"

namespace sv::engine {

//! A new RowWriter for one shard's rows (the output's row_writer for the stream).
using RowWriterFactory = std::function<std::unique_ptr<RowWriter>()>;

struct DecoderOptions {
  airbyte::StreamDescriptor descriptor;
  std::string keyspace;
  std::string table;
  //! The catalog's columns in order (may include the computed columns above); empty = every
  //! column of the table, as the Go connector does.
  std::vector<std::string> columns;
  //! The catalog's declared type of each of `columns` (may be empty: nothing to compare).
  std::vector<airbyte::PropertyType> column_types;
  //! The select list the stream's VStream requests (see select_list in plan.hpp); empty = `SELECT
  //! *`. FIELD events then hold exactly these columns, so the table's other columns cannot be
  //! seen there: `unselected_columns` (the table's columns outside the catalog, from
  //! information_schema at the sync's start) are reported as `new_columns` on the first FIELD
  //! instead, where `SELECT *` would have reported them.
  std::vector<std::string> select_list;
  std::vector<std::string> unselected_columns;
  bool include_metadata = false;
  bool capture_deletes = true;
  vitess::ValueOptions values;
  //! How rows become lines: set by the engine from its SyncOutput.
  RowWriterFactory row_writer;
};

//! How one shard starts in this decoder.
struct ShardPlan {
  std::string shard;
  vitess::TableCursor cursor;  //!< the last committed cursor (what a retry starts from)
  bool copying = false;        //!< the stream starts (or resumes) a table copy
  //! Incremental streams: done once the position contains this (and the copy, if any, is done).
  std::optional<vitess::GtidSet> stop;
  //! Full refresh: done when the copy completes (no CDC afterwards).
  bool stop_after_copy = false;
};

//! Rows of one shard that are now covered by `cursor`.
struct Commit {
  std::string shard;
  std::string lines;  //!< complete rows in the output's format
  std::uint64_t count = 0;
  vitess::TableCursor cursor;
};

//! What one response produced.
struct DecodeOutput {
  std::vector<Commit> commits;        //!< in stream order
  std::vector<std::string> finished;  //!< shards that reached their stop in this response
  std::optional<binlogdata::Journal> journal;
  std::string journal_shard;  //!< the participant whose JOURNAL event this is (the event's shard)
  //! Columns of the table the catalog does not select (first FIELD and after schema changes).
  std::vector<std::string> new_columns;
  //! Selected columns whose type (first FIELD, or after an ALTER) is no longer what the catalog
  //! declares, each as `name (column_type)`; their values follow the new type.
  std::vector<std::string> changed_types;
  std::optional<Error> error;        //!< permanent: the stream cannot go on (schema, malformed row)
  std::int64_t last_event_time = 0;  //!< newest event timestamp (Unix s) of the response; 0 = none
};

class Decoder {
 public:
  explicit Decoder(DecoderOptions options);

  //! (Re)starts shards from their committed cursors: forgets uncommitted rows and fields.
  void reset(const std::vector<ShardPlan>& plans);
  //! Processes one response. `emitted_at` = RECORD emitted_at; `now_ns` = metadata extracted_at.
  DecodeOutput process(const vtgate::VStreamResponse& response, std::int64_t emitted_at, std::int64_t now_ns);
  //! The same for a response in its wire form (the serialized VStreamResponse; only read during
  //! the call): ROW events are rendered straight from the bytes (vitess/raw_response.hpp), the
  //! other events go through the generated classes. The output is process()'s for the same
  //! bytes (tests/engine/test_raw_decoder.cpp); bytes the walker cannot read are an `error`.
  DecodeOutput process_wire(std::string_view response, std::int64_t emitted_at, std::int64_t now_ns);

  bool all_done() const;
  bool done(const std::string& shard) const;
  //! Committed cursor of a shard.
  const vitess::TableCursor& cursor(const std::string& shard) const;
  std::uint64_t sequence() const { return sequence_; }

 private:
  struct ShardState {
    ShardPlan plan;
    vitess::TableCursor working;                  //!< position of the last VGTID seen (maybe not committed)
    std::optional<vitess::TableCursor> copy_end;  //!< position-only VGTID seen during the copy
    bool copying = false;
    bool done = false;
    bool have_fields = false;
    std::vector<vitess::Column> columns;
    std::vector<std::uint32_t> selection;
    std::unique_ptr<RowWriter> pending;  //!< rows not yet covered by a commit
  };

  ShardState* shard_for(std::string_view shard);
  void on_event(const binlogdata::VEvent& ev, std::int64_t emitted_at, std::int64_t now_ns, const std::string& position,
                DecodeOutput& out);
  void on_wire_row(ShardState& s, std::int64_t event_time, std::int64_t emitted_at, std::int64_t now_ns,
                   const std::string& position, DecodeOutput& out);
  std::string wire_position(std::string_view response);
  void on_field(ShardState& s, const binlogdata::FieldEvent& fe, DecodeOutput& out);
  void check_types(const ShardState& s, DecodeOutput& out);
  void on_row(ShardState& s, const binlogdata::VEvent& ev, std::int64_t emitted_at, std::int64_t now_ns,
              const std::string& position, DecodeOutput& out);
  void on_vgtid(ShardState& s, const binlogdata::VGtid& vgtid, DecodeOutput& out);
  void on_copy_completed(ShardState& s, DecodeOutput& out);
  void commit(ShardState& s, const vitess::TableCursor& cursor, DecodeOutput& out);
  void check_stop(ShardState& s, DecodeOutput& out);
  //! `RowForm` is query::Row or vitess::PackedRow (split alike by vitess::split_row).
  template <class RowForm>
  bool write_record(ShardState& s, const RowForm& row, std::int64_t emitted_at, std::int64_t event_time, bool deleted,
                    std::int64_t now_ns, const std::string& position, DecodeOutput& out);

  DecoderOptions options_;
  std::map<std::string, ShardState, std::less<>> shards_;
  std::set<std::string> warned_columns_;
  std::set<std::string> warned_types_;  //!< `name (column_type)` already reported
  bool select_updated_at_ = false;
  bool select_deleted_at_ = false;
  std::uint64_t sequence_ = 0;
  std::vector<vitess::Cell> cells_;    //!< the row being written, split (reused)
  vitess::raw::RowChangeReader rows_;  //!< process_wire: the ROW event being read (reused)
  binlogdata::VEvent event_;           //!< process_wire: the other event being handled (reused)
};

//! The config_error of a stream whose table lost columns the catalog selects (a FIELD event
//! without them, or vttablet refusing a select list that names them).
Error missing_columns_error(const DecoderOptions& options, const std::vector<std::string>& missing);

//! `2024-01-02T03:04:05Z` from Unix seconds.
std::string format_utc_seconds(std::int64_t seconds);

}  // namespace sv::engine
