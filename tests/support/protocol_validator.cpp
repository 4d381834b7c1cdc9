#include "protocol_validator.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <set>

namespace sv::testing {
namespace {

using rapidjson::Document;
using rapidjson::Value;

std::string to_json(const Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string member_string(const Value& object, const char* name) {
  if (!object.IsObject()) return {};
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string{};
}

// Streams are named "namespace.name"; a missing namespace and an empty one are alike (as the
// platform's status tracker treats them).
std::string stream_key(const Value& descriptor_or_record, const char* name_field) {
  return member_string(descriptor_or_record, "namespace") + "." + member_string(descriptor_or_record, name_field);
}

// The text of the JSON object that follows `key` in `line`, byte for byte (so decimals and big
// integers are compared as the connector wrote them, not as doubles). Empty if not found.
std::string raw_object_after(const std::string& line, const std::string& key) {
  std::size_t start = line.find(key);
  if (start == std::string::npos) return {};
  start = line.find('{', start + key.size());
  if (start == std::string::npos) return {};
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = start; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      return line.substr(start, i - start + 1);
    }
  }
  return {};
}

struct ColumnSchema {
  std::set<std::string> types;
  bool integer = false;  // airbyte_type integer: a number without a fraction
};

struct StreamInfo {
  std::map<std::string, ColumnSchema> columns;
  enum class Phase { not_started, started, ended } phase = Phase::not_started;
  std::uint64_t records_since_state = 0;
};

bool value_matches(const Value& v, const ColumnSchema& schema) {
  auto allows = [&](const char* t) { return schema.types.count(t) > 0; };
  if (v.IsNull()) return allows("null");
  if (v.IsBool()) return allows("boolean");
  if (v.IsString()) return allows("string");
  if (v.IsObject()) return allows("object");
  if (v.IsArray()) return allows("array");
  if (v.IsNumber()) {
    if (allows("integer")) return v.IsInt64() || v.IsUint64();
    if (!allows("number")) return false;
    if (schema.integer) return v.IsInt64() || v.IsUint64();
    return true;
  }
  return false;
}

std::map<std::string, StreamInfo> read_catalog(std::string_view catalog_text, std::vector<std::string>& problems) {
  std::map<std::string, StreamInfo> streams;
  Document catalog;
  catalog.Parse(catalog_text.data(), catalog_text.size());
  if (catalog.HasParseError() || !catalog.IsObject() || !catalog.HasMember("streams") ||
      !catalog["streams"].IsArray()) {
    problems.push_back("configured catalog is not {\"streams\":[...]}");
    return streams;
  }
  for (const auto& configured : catalog["streams"].GetArray()) {
    if (!configured.IsObject() || !configured.HasMember("stream")) continue;
    const Value& stream = configured["stream"];
    StreamInfo info;
    if (stream.HasMember("json_schema") && stream["json_schema"].HasMember("properties")) {
      for (const auto& prop : stream["json_schema"]["properties"].GetObject()) {
        ColumnSchema column;
        auto type = prop.value.FindMember("type");
        if (type != prop.value.MemberEnd() && type->value.IsString()) column.types.insert(type->value.GetString());
        if (type != prop.value.MemberEnd() && type->value.IsArray())
          for (const auto& t : type->value.GetArray())
            if (t.IsString()) column.types.insert(t.GetString());
        column.integer = member_string(prop.value, "airbyte_type") == "integer";
        info.columns.emplace(prop.name.GetString(), std::move(column));
      }
    }
    streams.emplace(stream_key(stream, "name"), std::move(info));
  }
  return streams;
}

}  // namespace

ReadReport validate_read_output(std::string_view out, std::string_view configured_catalog, bool allow_extra_columns) {
  ReadReport report;
  auto& problems = report.problems;
  auto streams = read_catalog(configured_catalog, problems);
  for (const auto& [key, info] : streams) report.streams[key];

  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < out.size()) {
    std::size_t end = out.find('\n', pos);
    if (end == std::string_view::npos) {
      problems.push_back("stdout does not end with a newline");
      end = out.size();
    }
    std::string line(out.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    auto where = [&](const std::string& what) { problems.push_back("line " + std::to_string(line_no) + ": " + what); };

    Document msg;
    msg.Parse<rapidjson::kParseFullPrecisionFlag>(line.c_str(), line.size());
    if (msg.HasParseError() || !msg.IsObject()) {
      where("not a JSON object: " + line.substr(0, 120));
      continue;
    }
    const std::string type = member_string(msg, "type");

    // Finds the configured stream a message names and checks it is between STARTED and its
    // terminal status.
    auto open_stream = [&](const std::string& key, const char* what) -> StreamInfo* {
      auto it = streams.find(key);
      if (it == streams.end()) {
        where(std::string(what) + " for a stream not in the catalog: " + key);
        return nullptr;
      }
      if (it->second.phase != StreamInfo::Phase::started)
        where(std::string(what) + " for " + key +
              (it->second.phase == StreamInfo::Phase::ended ? " after its terminal status" : " before STARTED"));
      return &it->second;
    };

    if (type == "RECORD") {
      const Value& record = msg["record"];
      const std::string key = stream_key(record, "stream");
      StreamInfo* info = open_stream(key, "RECORD");
      if (!record.HasMember("emitted_at") || !record["emitted_at"].IsInt64())
        where("RECORD emitted_at is not an integer");
      if (!record.HasMember("data") || !record["data"].IsObject()) {
        where("RECORD without a data object");
        continue;
      }
      if (!info) continue;
      ++info->records_since_state;
      std::string raw = raw_object_after(line, "\"data\":");
      report.streams[key].records.push_back(raw.empty() ? to_json(record["data"]) : std::move(raw));
      for (const auto& member : record["data"].GetObject()) {
        auto column = info->columns.find(member.name.GetString());
        if (column == info->columns.end()) {
          if (!allow_extra_columns) where("RECORD of " + key + " has undeclared column " + member.name.GetString());
          continue;
        }
        if (!value_matches(member.value, column->second))
          where("RECORD of " + key + ": column " + member.name.GetString() + " value " + to_json(member.value) +
                " does not match its schema");
      }
    } else if (type == "STATE") {
      const Value& state = msg["state"];
      const std::string state_type = member_string(state, "type");
      if (state_type != "STREAM") {
        where("STATE of type '" + state_type + "' (must be STREAM)");
        continue;
      }
      const Value& stream = state["stream"];
      const std::string key = stream_key(stream["stream_descriptor"], "name");
      StreamInfo* info = open_stream(key, "STATE");
      if (!info) continue;
      double count = -1;
      if (state.HasMember("sourceStats") && state["sourceStats"].HasMember("recordCount") &&
          state["sourceStats"]["recordCount"].IsNumber())
        count = state["sourceStats"]["recordCount"].GetDouble();
      if (count < 0 || std::floor(count) != count)
        where("STATE of " + key + " without a whole sourceStats.recordCount");
      else if (static_cast<std::uint64_t>(count) != info->records_since_state)
        where("STATE of " + key + " says recordCount " + std::to_string(count) + " but " +
              std::to_string(info->records_since_state) + " records came since its last STATE");
      info->records_since_state = 0;
      auto& summary = report.streams[key];
      summary.record_count_sum += count > 0 ? static_cast<std::uint64_t>(count) : 0;
      summary.states.push_back(stream.HasMember("stream_state") ? to_json(stream["stream_state"]) : "null");
    } else if (type == "TRACE") {
      const Value& trace = msg["trace"];
      const std::string trace_type = member_string(trace, "type");
      if (!trace.HasMember("emitted_at") || !trace["emitted_at"].IsNumber())
        where("TRACE without a numeric emitted_at");
      if (trace_type == "STREAM_STATUS") {
        const Value& status_msg = trace["stream_status"];
        const std::string key = stream_key(status_msg["stream_descriptor"], "name");
        const std::string status = member_string(status_msg, "status");
        auto it = streams.find(key);
        if (it == streams.end()) {
          where("STREAM_STATUS for a stream not in the catalog: " + key);
          continue;
        }
        auto& phase = it->second.phase;
        report.streams[key].statuses.push_back(status);
        if (status == "STARTED") {
          if (phase != StreamInfo::Phase::not_started) where("second STARTED for " + key);
          phase = StreamInfo::Phase::started;
        } else if (status == "RUNNING") {
          if (phase != StreamInfo::Phase::started) where("RUNNING outside STARTED.." + key);
        } else if (status == "COMPLETE" || status == "INCOMPLETE") {
          if (phase == StreamInfo::Phase::ended) where("second terminal status for " + key);
          if (phase == StreamInfo::Phase::not_started) where(status + " before STARTED for " + key);
          if (status == "COMPLETE" && it->second.records_since_state > 0)
            where("COMPLETE for " + key + " with records after its last STATE");
          phase = StreamInfo::Phase::ended;
        } else {
          where("unknown stream status " + status);
        }
      } else if (trace_type == "ERROR") {
        const Value& error = trace["error"];
        const std::string failure = member_string(error, "failure_type");
        if (failure != "config_error" && failure != "transient_error" && failure != "system_error")
          where("TRACE ERROR with failure_type '" + failure + "'");
        if (member_string(error, "message").empty()) where("TRACE ERROR without a message");
        report.errors.push_back(member_string(error, "message"));
        report.failure_types.push_back(failure);
      } else if (trace_type == "ESTIMATE") {
        if (member_string(trace["estimate"], "type") != "STREAM") where("ESTIMATE that is not of type STREAM");
      } else if (trace_type != "ANALYTICS") {
        where("unknown TRACE type " + trace_type);
      }
    } else if (type != "LOG" && type != "CONTROL") {
      where("message type '" + type + "' does not belong in a read");
    }
  }

  for (const auto& [key, info] : streams)
    if (info.phase != StreamInfo::Phase::ended) problems.push_back("stream " + key + " has no terminal status");
  return report;
}

}  // namespace sv::testing
