// src/airbyte: the discovered catalog (see discovered_catalog.hpp).
#include "airbyte/discovered_catalog.hpp"

#include <rapidjson/document.h>

#include <algorithm>

#include "util/json.hpp"

namespace sv::airbyte {

namespace {

void write_string(JsonWriter& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

void write_nullable_timestamp(JsonWriter& w) {
  w.StartObject();
  w.Key("type");
  w.StartArray();
  w.String("null");
  w.String("string");
  w.EndArray();
  w.Key("format");
  w.String("date-time");
  w.Key("airbyte_type");
  w.String("timestamp_with_timezone");
  w.EndObject();
}

}  // namespace

std::string stream_json(const DiscoveredStream& stream) {
  // Properties sorted by name, as the Go connector writes them (its schema is a Go map).
  std::vector<const DiscoveredColumn*> columns;
  for (const auto& c : stream.columns) columns.push_back(&c);
  std::sort(columns.begin(), columns.end(), [](auto* a, auto* b) { return a->name < b->name; });

  JsonBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("name");
  write_string(w, stream.name);
  w.Key("json_schema");
  w.StartObject();
  w.Key("type");
  w.String("object");
  w.Key("properties");
  w.StartObject();
  for (const auto* c : columns) {
    w.Key(c->name.data(), static_cast<rapidjson::SizeType>(c->name.size()));
    w.RawValue(c->schema_json.data(), c->schema_json.size(), rapidjson::kObjectType);
  }
  if (stream.cdc_columns) {
    w.Key("_ab_cdc_deleted_at");
    write_nullable_timestamp(w);
    w.Key("_ab_cdc_updated_at");
    write_nullable_timestamp(w);
  }
  if (stream.metadata_column) {
    w.Key("_planetscale_metadata");
    w.StartObject();
    w.Key("type");
    w.StartArray();
    w.String("object");
    w.EndArray();
    w.Key("airbyte_type");
    w.String("object");
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  w.Key("supported_sync_modes");
  w.StartArray();
  w.String("full_refresh");
  w.String("incremental");
  w.EndArray();
  w.Key("namespace");
  write_string(w, stream.ns);
  w.Key("source_defined_primary_key");
  w.StartArray();
  for (const auto& key : stream.primary_key) {
    w.StartArray();
    write_string(w, key);
    w.EndArray();
  }
  w.EndArray();
  w.Key("source_defined_cursor");
  w.Bool(true);
  w.Key("default_cursor_field");
  w.StartArray();
  if (!stream.primary_key.empty()) write_string(w, stream.primary_key.back());
  w.EndArray();
  w.Key("is_resumable");
  w.Bool(true);
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string as_configured_catalog(std::string text) {
  rapidjson::Document d;
  if (d.Parse(text.c_str()).HasParseError() || !d.IsObject() || !d.HasMember("catalog")) return text;
  JsonBuffer b;
  JsonWriter w(b);
  w.StartObject();
  w.Key("streams");
  w.StartArray();
  if (d["catalog"].IsObject() && d["catalog"].HasMember("streams") && d["catalog"]["streams"].IsArray()) {
    for (auto& st : d["catalog"]["streams"].GetArray()) {
      w.StartObject();
      w.Key("stream");
      st.Accept(w);
      w.Key("sync_mode");
      w.String("full_refresh");
      w.Key("destination_sync_mode");
      w.String("overwrite");
      w.EndObject();
    }
  }
  w.EndArray();
  w.EndObject();
  return {b.GetString(), b.GetSize()};
}

}  // namespace sv::airbyte
