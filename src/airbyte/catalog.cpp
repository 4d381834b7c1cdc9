#include "airbyte/catalog.hpp"

#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "airbyte/json_input.hpp"

namespace sv::airbyte {
namespace {

struct CatalogProblem : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string as_string(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

//! A property's declared type; members of other shapes count as not said (the catalog is
//! checked against types only to warn about columns whose type changed since discovery).
PropertyType property_type(const rapidjson::Value& property) {
  PropertyType t;
  if (!property.IsObject()) return t;
  auto text_of = [&](const char* key) {
    auto it = property.FindMember(key);
    return it != property.MemberEnd() && it->value.IsString() ? as_string(it->value) : std::string();
  };
  auto type_it = property.FindMember("type");
  if (type_it != property.MemberEnd() && type_it->value.IsString() && as_string(type_it->value) != "null") {
    t.types.push_back(as_string(type_it->value));
  } else if (type_it != property.MemberEnd() && type_it->value.IsArray()) {
    for (const auto& v : type_it->value.GetArray()) {
      if (v.IsString() && as_string(v) != "null") t.types.push_back(as_string(v));
    }
  }
  t.format = text_of("format");
  t.airbyte_type = text_of("airbyte_type");
  return t;
}

//! Names a stream in errors: `catalog stream #2 ("users")` (1-based, name once known).
std::string stream_label(std::size_t index, const std::string& name) {
  return name.empty() ? fmt::format("catalog stream #{}", index + 1)
                      : fmt::format("catalog stream #{} ('{}')", index + 1, name);
}

std::vector<std::string> string_path(const rapidjson::Value& v, const std::string& where) {
  if (!v.IsArray()) {
    throw CatalogProblem(fmt::format("{} must be an array of strings, got {}", where, detail::json_type_name(v)));
  }
  std::vector<std::string> out;
  for (const auto& part : v.GetArray()) {
    if (!part.IsString()) {
      throw CatalogProblem(fmt::format("{} must be an array of strings, has {}", where, detail::json_type_name(part)));
    }
    out.push_back(as_string(part));
  }
  return out;
}

std::optional<std::int64_t> optional_int(const rapidjson::Value& obj, const char* key, const std::string& label) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsInt64()) {
    throw CatalogProblem(
        fmt::format("{}: '{}' must be an integer, got {}", label, key, detail::json_type_name(it->value)));
  }
  return it->value.GetInt64();
}

ConfiguredStream parse_stream(const rapidjson::Value& entry, std::size_t index, const std::string& default_ns) {
  std::string label = stream_label(index, "");
  if (!entry.IsObject()) {
    throw CatalogProblem(fmt::format("{} must be an object, got {}", label, detail::json_type_name(entry)));
  }
  auto stream_it = entry.FindMember("stream");
  if (stream_it == entry.MemberEnd() || !stream_it->value.IsObject()) {
    throw CatalogProblem(fmt::format("{} has no 'stream' object", label));
  }
  const auto& stream = stream_it->value;
  ConfiguredStream s;
  auto name_it = stream.FindMember("name");
  if (name_it == stream.MemberEnd() || !name_it->value.IsString() || name_it->value.GetStringLength() == 0) {
    throw CatalogProblem(fmt::format("{}: 'stream.name' must be a non-empty string", label));
  }
  s.name = as_string(name_it->value);
  label = stream_label(index, s.name);

  auto ns_it = stream.FindMember("namespace");
  if (ns_it != stream.MemberEnd() && !ns_it->value.IsNull()) {
    if (!ns_it->value.IsString()) {
      throw CatalogProblem(
          fmt::format("{}: 'stream.namespace' must be a string, got {}", label, detail::json_type_name(ns_it->value)));
    }
    s.ns = as_string(ns_it->value);
  }
  s.keyspace = s.ns.empty() ? default_ns : s.ns;

  auto schema_it = stream.FindMember("json_schema");
  if (schema_it == stream.MemberEnd() || !schema_it->value.IsObject()) {
    throw CatalogProblem(fmt::format("{}: 'stream.json_schema' must be an object", label));
  }
  auto props_it = schema_it->value.FindMember("properties");
  if (props_it != schema_it->value.MemberEnd() && !props_it->value.IsNull()) {
    if (!props_it->value.IsObject()) {
      throw CatalogProblem(fmt::format("{}: 'stream.json_schema.properties' must be an object, got {}", label,
                                       detail::json_type_name(props_it->value)));
    }
    for (auto p = props_it->value.MemberBegin(); p != props_it->value.MemberEnd(); ++p) {
      s.columns.push_back(as_string(p->name));
      s.column_types.push_back(property_type(p->value));
    }
  }

  auto mode_it = entry.FindMember("sync_mode");
  if (mode_it == entry.MemberEnd() || mode_it->value.IsNull()) {
    throw CatalogProblem(
        fmt::format("{}: 'sync_mode' is missing (expected \"full_refresh\" or \"incremental\")", label));
  }
  if (!mode_it->value.IsString()) {
    throw CatalogProblem(
        fmt::format("{}: 'sync_mode' must be a string: one of \"full_refresh\" or \"incremental\", got {}", label,
                    detail::json_type_name(mode_it->value)));
  }
  const std::string mode = as_string(mode_it->value);
  if (mode == "full_refresh") {
    s.sync_mode = SyncMode::full_refresh;
  } else if (mode == "incremental") {
    s.sync_mode = SyncMode::incremental;
  } else {
    throw CatalogProblem(fmt::format(
        "{}: unsupported sync_mode \"{}\" (this source supports \"full_refresh\" and \"incremental\")", label, mode));
  }

  auto dest_it = entry.FindMember("destination_sync_mode");
  if (dest_it != entry.MemberEnd() && !dest_it->value.IsNull()) {
    if (!dest_it->value.IsString()) {
      throw CatalogProblem(fmt::format("{}: 'destination_sync_mode' must be a string, got {}", label,
                                       detail::json_type_name(dest_it->value)));
    }
    s.destination_sync_mode = as_string(dest_it->value);
  }
  auto cursor_it = entry.FindMember("cursor_field");
  if (cursor_it != entry.MemberEnd() && !cursor_it->value.IsNull()) {
    s.cursor_field = string_path(cursor_it->value, label + ": 'cursor_field'");
  }
  auto pk_it = entry.FindMember("primary_key");
  if (pk_it != entry.MemberEnd() && !pk_it->value.IsNull()) {
    if (!pk_it->value.IsArray()) {
      throw CatalogProblem(fmt::format("{}: 'primary_key' must be an array of field paths, got {}", label,
                                       detail::json_type_name(pk_it->value)));
    }
    for (const auto& path : pk_it->value.GetArray()) {
      s.primary_key.push_back(string_path(path, label + ": each 'primary_key' entry"));
    }
  }
  s.generation_id = optional_int(entry, "generation_id", label);
  s.minimum_generation_id = optional_int(entry, "minimum_generation_id", label);
  s.sync_id = optional_int(entry, "sync_id", label);
  return s;
}

}  // namespace

const char* to_string(SyncMode m) { return m == SyncMode::incremental ? "incremental" : "full_refresh"; }

std::optional<std::size_t> ConfiguredCatalog::find(std::string_view keyspace, std::string_view name) const {
  for (std::size_t i = 0; i < streams.size(); ++i) {
    if (streams[i].keyspace == keyspace && streams[i].name == name) return i;
  }
  return std::nullopt;
}

Result<ConfiguredCatalog> parse_configured_catalog(std::string_view text, const std::string& default_namespace) {
  if (detail::is_blank(text))
    return config_error("the configured catalog is empty: expected a JSON object with 'streams'");
  auto doc = detail::parse_json(text, "the configured catalog");
  if (!doc) return doc.error();
  try {
    const auto& root = *doc;
    if (!root.IsObject()) {
      throw CatalogProblem(
          fmt::format("the configured catalog must be a JSON object, got {}", detail::json_type_name(root)));
    }
    auto streams_it = root.FindMember("streams");
    if (streams_it == root.MemberEnd() || !streams_it->value.IsArray()) {
      throw CatalogProblem("the configured catalog has no 'streams' array");
    }
    if (streams_it->value.Empty()) {
      throw CatalogProblem("the configured catalog has no streams: select at least one stream to sync");
    }
    ConfiguredCatalog catalog;
    catalog.default_namespace = default_namespace;
    std::set<std::pair<std::string, std::string>> seen;
    std::size_t index = 0;
    for (const auto& entry : streams_it->value.GetArray()) {
      auto s = parse_stream(entry, index, default_namespace);
      if (!seen.emplace(s.keyspace, s.name).second) {
        throw CatalogProblem(
            fmt::format("{}: the stream '{}.{}' is configured twice", stream_label(index, s.name), s.keyspace, s.name));
      }
      catalog.streams.push_back(std::move(s));
      ++index;
    }
    return catalog;
  } catch (const CatalogProblem& p) {
    return config_error(p.what());
  }
}

}  // namespace sv::airbyte
