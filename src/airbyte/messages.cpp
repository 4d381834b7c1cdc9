#include "airbyte/messages.hpp"

#include <atomic>
#include <cassert>
#include <charconv>
#include <chrono>
#include <cstring>

#include "util/utf8.hpp"

namespace sv::airbyte {
namespace {

void push_bytes(JsonBuffer& b, std::string_view s) {
  if (!s.empty()) std::memcpy(b.Push(s.size()), s.data(), s.size());
}

//! Renders one message with `fill(writer)` into a per-thread scratch buffer and appends it plus
//! '\n' to out. Control messages are rare; this keeps every builder a few lines long.
template <class Fill>
void append_line(std::string& out, Fill&& fill) {
  thread_local JsonBuffer buffer;
  buffer.Clear();
  JsonWriter w(buffer);
  fill(w);
  assert(w.IsComplete());
  out.append(buffer.GetString(), buffer.GetSize());
  out.push_back('\n');
}

// Every string and raw JSON text of a protocol message passes through key(), str() or raw():
// text from argv, the config, the catalog, a server's error message or a table name may hold
// invalid UTF-8, which RapidJSON would copy as it is. The check is a scan of a short string;
// RECORD data (the hot path) is written by vitess/values.cpp, which handles it per value.
void key(JsonWriter& w, std::string_view k) {
  if (!is_valid_utf8(k)) {
    const std::string valid = to_valid_utf8(k);
    w.Key(valid.data(), static_cast<rapidjson::SizeType>(valid.size()), true);
    return;
  }
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
void str(JsonWriter& w, std::string_view s) {
  if (!is_valid_utf8(s)) {
    const std::string valid = to_valid_utf8(s);
    w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()), true);
    return;
  }
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
//! A complete JSON value copied verbatim. Invalid UTF-8 can only sit inside its strings (JSON's
//! structure is ASCII), so replacing it keeps the value valid.
void raw(JsonWriter& w, std::string_view json, rapidjson::Type type) {
  if (!is_valid_utf8(json)) {
    const std::string valid = to_valid_utf8(json);
    w.RawValue(valid.data(), valid.size(), type);
    return;
  }
  w.RawValue(json.data(), json.size(), type);
}

}  // namespace

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

const char* to_string(StreamStatus s) {
  switch (s) {
    case StreamStatus::started: return "STARTED";
    case StreamStatus::running: return "RUNNING";
    case StreamStatus::complete: return "COMPLETE";
    case StreamStatus::incomplete: return "INCOMPLETE";
  }
  return "INCOMPLETE";
}

const char* to_string(LogLevel l) {
  switch (l) {
    case LogLevel::fatal: return "FATAL";
    case LogLevel::error: return "ERROR";
    case LogLevel::warn: return "WARN";
    case LogLevel::info: return "INFO";
    case LogLevel::debug: return "DEBUG";
    case LogLevel::trace: return "TRACE";
  }
  return "INFO";
}

void write_stream_descriptor(JsonWriter& w, const StreamDescriptor& d) {
  w.StartObject();
  key(w, "name");
  str(w, d.name);
  if (!d.ns.empty()) {
    key(w, "namespace");
    str(w, d.ns);
  }
  w.EndObject();
}

void append_stream_status(std::string& out, const StreamDescriptor& stream, StreamStatus status,
                          std::int64_t emitted_at) {
  append_line(out, [&](JsonWriter& w) {
    w.StartObject();
    key(w, "type");
    str(w, "TRACE");
    key(w, "trace");
    w.StartObject();
    key(w, "type");
    str(w, "STREAM_STATUS");
    key(w, "emitted_at");
    w.Int64(emitted_at);
    key(w, "stream_status");
    w.StartObject();
    key(w, "stream_descriptor");
    write_stream_descriptor(w, stream);
    key(w, "status");
    str(w, to_string(status));
    w.EndObject();
    w.EndObject();
    w.EndObject();
  });
}

void append_error_trace(std::string& out, const Error& error, const StreamDescriptor* stream, std::int64_t emitted_at) {
  append_line(out, [&](JsonWriter& w) {
    w.StartObject();
    key(w, "type");
    str(w, "TRACE");
    key(w, "trace");
    w.StartObject();
    key(w, "type");
    str(w, "ERROR");
    key(w, "emitted_at");
    w.Int64(emitted_at);
    key(w, "error");
    w.StartObject();
    key(w, "message");
    str(w, error.message);
    if (!error.internal.empty()) {
      key(w, "internal_message");
      str(w, error.internal);
    }
    key(w, "failure_type");
    str(w, to_string(error.type));
    if (stream != nullptr) {
      key(w, "stream_descriptor");
      write_stream_descriptor(w, *stream);
    }
    w.EndObject();
    w.EndObject();
    w.EndObject();
  });
}

void append_estimate(std::string& out, const StreamDescriptor& stream, std::uint64_t row_estimate,
                     std::uint64_t byte_estimate, std::int64_t emitted_at) {
  append_line(out, [&](JsonWriter& w) {
    w.StartObject();
    key(w, "type");
    str(w, "TRACE");
    key(w, "trace");
    w.StartObject();
    key(w, "type");
    str(w, "ESTIMATE");
    key(w, "emitted_at");
    w.Int64(emitted_at);
    key(w, "estimate");
    w.StartObject();
    key(w, "name");
    str(w, stream.name);
    key(w, "type");
    str(w, "STREAM");
    if (!stream.ns.empty()) {
      key(w, "namespace");
      str(w, stream.ns);
    }
    key(w, "row_estimate");
    w.Uint64(row_estimate);
    key(w, "byte_estimate");
    w.Uint64(byte_estimate);
    w.EndObject();
    w.EndObject();
    w.EndObject();
  });
}

void append_state(std::string& out, const StreamDescriptor& stream, std::string_view stream_state_json,
                  std::uint64_t record_count) {
  append_line(out, [&](JsonWriter& w) {
    w.StartObject();
    key(w, "type");
    str(w, "STATE");
    key(w, "state");
    w.StartObject();
    key(w, "type");
    str(w, "STREAM");
    key(w, "stream");
    w.StartObject();
    key(w, "stream_descriptor");
    write_stream_descriptor(w, stream);
    key(w, "stream_state");
    raw(w, stream_state_json, rapidjson::kObjectType);
    w.EndObject();
    key(w, "sourceStats");
    w.StartObject();
    key(w, "recordCount");
    w.Double(static_cast<double>(record_count));
    w.EndObject();
    w.EndObject();
    w.EndObject();
  });
}

void append_log(std::string& out, LogLevel level, std::string_view message) {
  append_line(out, [&](JsonWriter& w) {
    w.StartObject();
    key(w, "type");
    str(w, "LOG");
    key(w, "log");
    w.StartObject();
    key(w, "level");
    str(w, to_string(level));
    key(w, "message");
    str(w, message);
    w.EndObject();
    w.EndObject();
  });
}

void append_connection_status(std::string& out, bool succeeded, std::string_view message) {
  append_line(out, [&](JsonWriter& w) {
    w.StartObject();
    key(w, "type");
    str(w, "CONNECTION_STATUS");
    key(w, "connectionStatus");
    w.StartObject();
    key(w, "status");
    str(w, succeeded ? "SUCCEEDED" : "FAILED");
    if (!message.empty()) {
      key(w, "message");
      str(w, message);
    }
    w.EndObject();
    w.EndObject();
  });
}

void append_catalog(std::string& out, const std::vector<std::string>& streams_json) {
  append_line(out, [&](JsonWriter& w) {
    w.StartObject();
    key(w, "type");
    str(w, "CATALOG");
    key(w, "catalog");
    w.StartObject();
    key(w, "streams");
    w.StartArray();
    for (const auto& s : streams_json) raw(w, s, rapidjson::kObjectType);
    w.EndArray();
    w.EndObject();
    w.EndObject();
  });
}

RecordSerializer::RecordSerializer(const StreamDescriptor& stream) {
  static std::atomic<std::uint64_t> next_id{1};
  id_ = next_id.fetch_add(1, std::memory_order_relaxed);
  JsonBuffer b;
  JsonWriter w(b);
  // Rendered as a complete object and then cut open, so names are escaped exactly as RapidJSON
  // escapes them everywhere else.
  w.StartObject();
  key(w, "type");
  str(w, "RECORD");
  key(w, "record");
  w.StartObject();
  key(w, "stream");
  str(w, stream.name);
  if (!stream.ns.empty()) {
    key(w, "namespace");
    str(w, stream.ns);
  }
  key(w, "emitted_at");
  w.Int64(0);
  w.EndObject();
  w.EndObject();
  std::string full(b.GetString(), b.GetSize());
  // full ends with `"emitted_at":0}}`; keep everything up to the colon.
  prefix_ = full.substr(0, full.size() - 3);
}

RecordBatch::RecordBatch() : writer_(buffer_) {}

JsonWriter& RecordBatch::begin(const RecordSerializer& serializer, std::int64_t emitted_at) {
  assert(!open_);
  line_start_ = buffer_.GetSize();
  if (serializer.id() != head_serializer_ || emitted_at != head_emitted_at_) {
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, emitted_at);
    (void)ec;  // 24 bytes hold every int64
    head_ = serializer.prefix();
    head_.append(digits, end);
    head_ += ",\"data\":";
    head_serializer_ = serializer.id();
    head_emitted_at_ = emitted_at;
  }
  push_bytes(buffer_, head_);
  writer_.Reset(buffer_);
  open_ = true;
  return writer_;
}

void RecordBatch::end() {
  assert(open_ && writer_.IsComplete());
  push_bytes(buffer_, "}}\n");
  open_ = false;
  ++count_;
}

void RecordBatch::abandon() {
  if (!open_) return;
  buffer_.Pop(buffer_.GetSize() - line_start_);
  writer_.Reset(buffer_);
  open_ = false;
}

std::string RecordBatch::take() {
  assert(!open_);
  std::string lines(buffer_.GetString(), buffer_.GetSize());
  buffer_.Clear();
  count_ = 0;
  return lines;
}

}  // namespace sv::airbyte
