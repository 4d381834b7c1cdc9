// src/airbyte: builders for every Airbyte protocol message the connector emits. Each append_*
// function appends exactly one complete protocol line (JSON + '\n') to a std::string, so the
// caller decides where the bytes go (MessageWriter, Emitter, a test). RECORD lines are built by
// RecordSerializer + RecordBatch, which worker threads use concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/json.hpp"
#include "util/result.hpp"

namespace sv::airbyte {

//! Identifies a stream in protocol messages. `ns` empty ⇒ the "namespace" key is omitted.
struct StreamDescriptor {
  std::string name;
  std::string ns;
  bool operator==(const StreamDescriptor&) const = default;
};

//! Current time as integer epoch milliseconds (the protocol's emitted_at).
std::int64_t now_ms();

enum class StreamStatus { started, running, complete, incomplete };
const char* to_string(StreamStatus s);

enum class LogLevel { fatal, error, warn, info, debug, trace };
const char* to_string(LogLevel l);

//! Writes `{"name":…,"namespace":…}` (namespace omitted when empty).
void write_stream_descriptor(JsonWriter& w, const StreamDescriptor& d);

//! TRACE STREAM_STATUS line.
void append_stream_status(std::string& out, const StreamDescriptor& stream, StreamStatus status,
                          std::int64_t emitted_at);

//! TRACE ERROR line: message = error.message, internal_message = error.internal (omitted when
//! empty), failure_type from error.type, stream_descriptor only when `stream` is non-null.
void append_error_trace(std::string& out, const Error& error, const StreamDescriptor* stream, std::int64_t emitted_at);

//! TRACE ESTIMATE line of type STREAM (the connector never mixes in SYNC estimates).
void append_estimate(std::string& out, const StreamDescriptor& stream, std::uint64_t row_estimate,
                     std::uint64_t byte_estimate, std::int64_t emitted_at);

//! STATE line of type STREAM: `stream_state_json` must be one complete JSON value (normally
//! render_stream_state() output); it is copied verbatim. recordCount is written as a double
//! (`12.0`), as the platform expects.
void append_state(std::string& out, const StreamDescriptor& stream, std::string_view stream_state_json,
                  std::uint64_t record_count);

//! LOG line.
void append_log(std::string& out, LogLevel level, std::string_view message);

//! CONNECTION_STATUS line; `message` is omitted when empty.
void append_connection_status(std::string& out, bool succeeded, std::string_view message);

//! CATALOG line: `streams_json` are complete AirbyteStream JSON objects, copied verbatim.
void append_catalog(std::string& out, const std::vector<std::string>& streams_json);

//! Pre-renders the constant part of one stream's RECORD lines. Immutable after construction, so
//! one instance may be shared by any number of threads.
class RecordSerializer {
 public:
  explicit RecordSerializer(const StreamDescriptor& stream);

  //! `{"type":"RECORD","record":{"stream":"…","namespace":"…","emitted_at":`
  const std::string& prefix() const { return prefix_; }
  //! Differs between serializers of different prefixes (copies share it), so a RecordBatch can
  //! tell whether the line head it rendered last still fits.
  std::uint64_t id() const { return id_; }

 private:
  std::string prefix_;
  std::uint64_t id_ = 0;
};

//! A reusable buffer of complete RECORD lines, owned by one thread at a time (e.g. one per
//! worker thread or per chunk). Usage per record:
//!   JsonWriter& w = batch.begin(serializer, emitted_at);
//!   w.StartObject(); w.Key("id"); w.Int64(42); w.EndObject();   // the record's `data`
//!   batch.end();
//! then `std::string lines = batch.take();` hands the finished lines (and count()) to the emitter.
class RecordBatch {
 public:
  RecordBatch();
  RecordBatch(const RecordBatch&) = delete;
  RecordBatch& operator=(const RecordBatch&) = delete;

  //! Starts one RECORD line; the returned writer must then write exactly one JSON object.
  JsonWriter& begin(const RecordSerializer& serializer, std::int64_t emitted_at);
  //! Closes the line started by begin(). Requires the data object to be complete.
  void end();
  //! Drops a record started by begin() (e.g. a value failed to serialize).
  void abandon();

  std::uint64_t count() const { return count_; }
  std::size_t size_bytes() const { return buffer_.GetSize(); }
  //! Moves the finished lines out and resets the batch (count() becomes 0).
  std::string take();

 private:
  JsonBuffer buffer_;
  JsonWriter writer_;
  // Everything of a line before its data: the prefix, emitted_at and `,"data":`. emitted_at is
  // the same for every row of a response, so this is rendered once per response, not per row.
  std::string head_;
  std::uint64_t head_serializer_ = 0;  //!< RecordSerializer::id() of head_ (0 = none yet)
  std::int64_t head_emitted_at_ = 0;
  std::size_t line_start_ = 0;
  std::uint64_t count_ = 0;
  bool open_ = false;
};

}  // namespace sv::airbyte
