// src/vitess: a walker over the protobuf wire form of a vtgate.VStreamResponse, for the hot path
// (issue 15). It reads the events' headers and, for ROW events, each row change's before/after
// images as views into the response bytes: no message objects, no allocation per row or per cell.
// Everything else (FIELD, VGTID, JOURNAL, ...) is rare, so a caller parses those events with the
// generated classes from the event's own bytes (EventHeader::bytes).
//
// It decodes what the generated parser decodes, field for field, including the encodings vtgate
// never sends but protobuf allows: unpacked or split `lengths`, a message field repeated (its
// occurrences merge), fields in any order, unknown fields and groups (skipped). It is stricter
// in one way: a field it reads that comes with the wrong wire type is an error here, where
// protobuf would keep it as an unknown field. Malformed bytes (a truncated varint or field, a varint longer than ten
// bytes, a length past the end, field number 0, wire types 6/7, an unmatched end-group) are an
// error value, never a read outside the buffer. Row-level rules (how many values, negative
// lengths other than -1 for NULL, lengths that do not add up to the values) are checked when a
// row is split into cells (values.hpp, split_row(PackedRow)), exactly as for a generated Row, so
// rows of other tables that nobody reads cost nothing and fail nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.hpp"
#include "vitess/values.hpp"

namespace sv::vitess::raw {

//! One event of a response: the fields the walker reads itself (later occurrences win, as in
//! protobuf), and the event's bytes, a complete binlogdata.VEvent message.
struct EventHeader {
  std::int32_t type = 0;  //!< binlogdata::VEventType (any value: proto3 enums are open)
  std::int64_t timestamp = 0;
  std::string_view keyspace;
  std::string_view shard;
  std::string_view bytes;
  //! The first row_event occurrence's bytes, and how many there are (protobuf merges them; vtgate
  //! sends one), so RowChangeReader need not walk the event's fields again.
  std::string_view row_event;
  int row_events = 0;
};

//! The events of one VStreamResponse, in order.
class ResponseReader {
 public:
  explicit ResponseReader(std::string_view response) : p_(response.data()), end_(response.data() + response.size()) {}

  //! The next event into `out`: true; false after the last one; an error when the bytes are
  //! malformed (the reader then stays at the error).
  Result<bool> next(EventHeader& out);

 private:
  const char* p_;
  const char* end_;
};

//! A before or after image of a row change; `present` as RowChange.has_before()/has_after().
struct RowImage {
  bool present = false;
  PackedRow row;
};

//! One row change; its views live until the next RowChangeReader::next() or open().
struct RowChangeView {
  RowImage before;
  RowImage after;
};

//! The row changes of one ROW event. Reused across events (it keeps its scratch buffers, which
//! only the encodings vtgate never sends use), one thread at a time.
class RowChangeReader {
 public:
  //! Starts on an event's bytes (EventHeader::bytes): reads its RowEvent's table name (every
  //! occurrence of row_event, merged as protobuf merges them).
  Status open(std::string_view event);
  //! The same from the header ResponseReader read: with one row_event (vtgate's encoding) only
  //! the RowEvent's own fields are walked.
  Status open(const EventHeader& header);
  //! RowEvent.table_name (`ks.table` or `table`); empty when the event has no row_event.
  std::string_view table_name() const { return table_name_; }
  //! The next row change into `out`: true; false after the last one; an error when malformed.
  Result<bool> next(RowChangeView& out);

 private:
  Status read_table_name(std::string_view row_event);
  Status read_change(std::string_view change, RowChangeView& out);
  Status read_image(std::string_view change, std::uint32_t field, int occurrences, std::string_view first,
                    RowImage& out, int slot);

  std::string_view table_name_;
  const char* event_p_ = nullptr;  //!< the event's fields not yet visited
  const char* event_end_ = nullptr;
  const char* row_event_p_ = nullptr;  //!< the current row_event occurrence's fields not yet visited
  const char* row_event_end_ = nullptr;
  std::string merged_[2];   //!< before/after: the concatenated occurrences of a repeated image
  std::string lengths_[2];  //!< before/after: lengths given unpacked or in several chunks
};

}  // namespace sv::vitess::raw
