// src/socket: the row formats of the data channel (docs/speed-mode.md), supplied to the engine by
// SocketOutput::row_writer. Both write each record with a placeholder partition id of fixed length
// at a fixed place, because a record's partition (the STATE that will cover it) is only known when
// the output places the rows on a socket: patch_partition() then writes the real id into every
// record of a batch without re-rendering it.
//   JSONL:    `{"type":"RECORD","record":{"partition_id":"…","stream":…,"emitted_at":…,"data":{…}}}\n`
//   PROTOBUF: (values taken from vitess::write_value as Scalars, no JSON) varint-delimited
//   AirbyteMessageProtobuf{record = AirbyteRecordMessageProtobuf}, the
//             record's partition_id written first, `data` positional in ascending property name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "airbyte/messages.hpp"
#include "engine/row_writer.hpp"

namespace sv::socket {

enum class Format { jsonl, protobuf };
const char* to_string(Format f);

//! Length of every partition id (lowercase hex), so the placeholder can be overwritten in place.
inline constexpr std::size_t kPartitionIdLength = 16;

//! JSONL records for a socket (RECORD messages carrying `partition_id`).
std::unique_ptr<engine::RowWriter> make_jsonl_record_writer(const airbyte::StreamDescriptor& stream);

//! PROTOBUF records. `properties` are the configured stream's property names (any order; empty =
//! the row's own members); `data` holds one value per property in ascending byte order of name.
//! A table column's member follows its MySQL type (the schema discover reports); a computed
//! `_ab_cdc_*` column is `timestamp_with_timezone` unless `plain_string_columns` names it (its
//! configured schema is a plain string), then `string`.
std::unique_ptr<engine::RowWriter> make_protobuf_record_writer(
    const airbyte::StreamDescriptor& stream, const std::vector<std::string>& properties,
    const std::vector<std::string>& plain_string_columns = {});

//! Writes `partition_id` (kPartitionIdLength characters) into every record of `records`, which
//! holds complete records of `format` as the writers above produce them. False (and `records`
//! possibly half patched) when they are not: a bug, reported by the caller.
bool patch_partition(Format format, std::string& records, std::string_view partition_id);

//! A non-record message (STATE, TRACE) for a socket: its JSON line as it is (JSONL), or wrapped as
//! AirbyteMessageProtobuf.airbyte_protocol_message without the newline (PROTOBUF), delimited.
std::string frame_control(Format format, std::string_view json_line);

//! The probe of an idle socket: an empty line (JSONL) or a delimited AirbyteMessageProtobuf with
//! an empty `probe` (PROTOBUF), as the bulk CDK's ProbePacketFactory writes them.
std::string probe_message(Format format);

//! Parsing of the temporal texts the value writer produces, for the protobuf members.
struct LocalDateTime {
  std::int64_t days = 0;  //!< since 1970-01-01
  std::uint64_t nanos_of_day = 0;
  std::int32_t offset_seconds = 0;
  bool has_time = false;
  bool has_offset = false;
};
//! `YYYY-MM-DD`, optionally followed by `T` or a space and `HH:MM:SS[.fraction]`, optionally by
//! `Z` or `±HH:MM`. False when the text is not such a value (or not a real calendar date).
bool parse_date_time(std::string_view text, LocalDateTime& out);
//! `HH:MM:SS[.fraction]` within one day (00:00:00 ≤ t < 24:00:00) → nanoseconds of the day.
bool parse_time_of_day(std::string_view text, std::uint64_t& nanos);
//! Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);

}  // namespace sv::socket
