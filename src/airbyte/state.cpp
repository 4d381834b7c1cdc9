#include "airbyte/state.hpp"

#include "util/base64.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <stdexcept>

#include <fmt/format.h>

#include "airbyte/json_input.hpp"
#include "util/json.hpp"

namespace sv::airbyte {
namespace {

struct StateProblem : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string as_string(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

const rapidjson::Value* member(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

//! Collects entries and matches them to configured streams.
class Collector {
 public:
  explicit Collector(const ConfiguredCatalog& catalog) : catalog_(catalog) {
    result_.streams.resize(catalog.streams.size());
  }

  //! `stream_state` of a stream (v2) or the value under a legacy `<ns>:<table>` key.
  void add(const std::string& keyspace, const std::string& name, const rapidjson::Value* stream_state) {
    const std::string label = fmt::format("state for stream '{}:{}'", keyspace, name);
    const auto index = catalog_.find(keyspace, name);
    if (!index) {
      spdlog::info("ignoring the {}: the stream is not in the configured catalog", label);
      ++result_.ignored_entries;
      return;
    }
    auto parsed = parse_stream_state(stream_state, label);
    if (result_.streams[*index] && parsed) {
      result_.warnings.push_back(
          fmt::format("the input state names stream '{}:{}' twice; the later entry wins", keyspace, name));
      spdlog::warn("{}", result_.warnings.back());
    }
    if (!parsed) spdlog::info("the {} is empty: the stream starts from scratch", label);
    result_.streams[*index] = std::move(parsed);
  }

  //! One AirbyteStateMessage (an element of the v2 array, or a lone message object).
  void add_message(const rapidjson::Value& msg, const std::string& where) {
    if (!msg.IsObject()) {
      throw StateProblem(fmt::format("{} must be a state message object, got {}", where, detail::json_type_name(msg)));
    }
    std::string type;
    if (const auto* t = member(msg, "type"); t != nullptr && !t->IsNull()) {
      if (!t->IsString()) throw StateProblem(fmt::format("{}: 'type' must be a string", where));
      type = as_string(*t);
    }
    if (type.empty()) type = member(msg, "stream") != nullptr ? "STREAM" : "LEGACY";  // YAML: no type = LEGACY
    if (type == "STREAM") {
      const auto* s = member(msg, "stream");
      if (s == nullptr || !s->IsObject())
        throw StateProblem(fmt::format("{}: a STREAM state needs a 'stream' object", where));
      add_stream_entry(*s, where);
      note_shape(StateShape::stream_array);
    } else if (type == "GLOBAL") {
      const auto* g = member(msg, "global");
      if (g == nullptr || !g->IsObject())
        throw StateProblem(fmt::format("{}: a GLOBAL state needs a 'global' object", where));
      if (const auto* shared = member(*g, "shared_state");
          shared != nullptr && !shared->IsNull() && !(shared->IsObject() && shared->ObjectEmpty())) {
        spdlog::info("ignoring the GLOBAL state's shared_state: this source keeps all of its state per stream");
      }
      const auto* list = member(*g, "stream_states");
      if (list != nullptr && !list->IsNull()) {
        if (!list->IsArray()) throw StateProblem(fmt::format("{}: 'global.stream_states' must be an array", where));
        std::size_t i = 0;
        for (const auto& s : list->GetArray()) {
          add_stream_entry(s, fmt::format("{}: global.stream_states[{}]", where, i++));
        }
      }
      note_shape(StateShape::global);
    } else if (type == "LEGACY") {
      const auto* d = member(msg, "data");
      if (d != nullptr) add_legacy_data(*d, where + ": 'data'");
      note_shape(StateShape::legacy_data);
    } else {
      throw StateProblem(fmt::format("{}: unknown state type \"{}\" (expected STREAM, GLOBAL or LEGACY)", where, type));
    }
  }

  //! The Go connector's legacy blob: `{"streams":{"<ns>:<table>":{"shards":…}}}`.
  void add_legacy_data(const rapidjson::Value& data, const std::string& where) {
    if (data.IsNull() || (data.IsObject() && data.ObjectEmpty())) return;
    if (!data.IsObject())
      throw StateProblem(fmt::format("{} must be an object, got {}", where, detail::json_type_name(data)));
    reject_cdc(data, where);
    const auto* streams = member(data, "streams");
    if (streams == nullptr) {
      throw StateProblem(
          fmt::format("{} has no 'streams' object: not a state this source or the PlanetScale connector wrote", where));
    }
    if (streams->IsNull()) return;
    if (!streams->IsObject()) {
      throw StateProblem(fmt::format("{}: 'streams' must be an object keyed by \"<namespace>:<table>\", got {}", where,
                                     detail::json_type_name(*streams)));
    }
    for (auto it = streams->MemberBegin(); it != streams->MemberEnd(); ++it) {
      const std::string key = as_string(it->name);
      // Keyspace names cannot contain ':' (Vitess identifiers), table names can: split at the first.
      const auto colon = key.find(':');
      if (colon == std::string::npos) {
        throw StateProblem(fmt::format("{}: stream key '{}' is not of the form \"<namespace>:<table>\"", where, key));
      }
      add(key.substr(0, colon), key.substr(colon + 1), &it->value);
    }
  }

  static void reject_cdc(const rapidjson::Value& obj, const std::string& where) {
    if (member(obj, "cdc") != nullptr || member(obj, "cdc_state") != nullptr) {
      throw StateProblem(
          fmt::format("{} is a Debezium-style CDC state ({{\"cdc\":…}}), which neither this source nor the PlanetScale "
                      "connector writes; reset the connection's state to start over",
                      where));
    }
  }

  void note_shape(StateShape s) {
    if (result_.shape == StateShape::none) result_.shape = s;
  }
  void set_shape(StateShape s) { result_.shape = s; }
  InputState take() { return std::move(result_); }

 private:
  void add_stream_entry(const rapidjson::Value& s, const std::string& where) {
    if (!s.IsObject()) throw StateProblem(fmt::format("{} must be an object", where));
    const auto* desc = member(s, "stream_descriptor");
    if (desc == nullptr || !desc->IsObject())
      throw StateProblem(fmt::format("{} has no 'stream_descriptor' object", where));
    const auto* name = member(*desc, "name");
    if (name == nullptr || !name->IsString())
      throw StateProblem(fmt::format("{}: 'stream_descriptor.name' must be a string", where));
    std::string ns;
    if (const auto* n = member(*desc, "namespace"); n != nullptr && !n->IsNull()) {
      if (!n->IsString()) throw StateProblem(fmt::format("{}: 'stream_descriptor.namespace' must be a string", where));
      ns = as_string(*n);
    }
    // Like the Go connector: an entry without namespace belongs to the config's database.
    if (ns.empty()) ns = catalog_.default_namespace;
    add(ns, as_string(*name), member(s, "stream_state"));
  }

  static std::optional<StreamState> parse_stream_state(const rapidjson::Value* v, const std::string& label) {
    if (v == nullptr || v->IsNull()) return std::nullopt;  // null stream_state = reset
    if (!v->IsObject())
      throw StateProblem(fmt::format("{} must be an object, got {}", label, detail::json_type_name(*v)));
    if (v->ObjectEmpty()) return std::nullopt;
    const auto* shards = member(*v, "shards");
    if (shards == nullptr) {
      reject_cdc(*v, label);
      throw StateProblem(fmt::format(
          "{} has no 'shards' object (expected {{\"shards\":{{\"<shard>\":{{\"cursor\":\"<base64>\"}}}}}})", label));
    }
    if (shards->IsNull()) return std::nullopt;
    if (!shards->IsObject()) {
      throw StateProblem(fmt::format("{}: 'shards' must be an object, got {}", label, detail::json_type_name(*shards)));
    }
    StreamState state;
    for (auto it = shards->MemberBegin(); it != shards->MemberEnd(); ++it) {
      const std::string shard = as_string(it->name);
      const auto* cursor = it->value.IsObject() ? member(it->value, "cursor") : nullptr;
      if (cursor == nullptr || !cursor->IsString()) {
        throw StateProblem(fmt::format("{}, shard '{}': expected {{\"cursor\":\"<base64>\"}}", label, shard));
      }
      std::string text = as_string(*cursor);
      if (text.empty() || !sv::base64_decode(text).ok()) {
        throw StateProblem(fmt::format("{}, shard '{}': the cursor is not valid base64", label, shard));
      }
      state.shards[shard] = std::move(text);
    }
    // No shards would make the Go connector read nothing at all for the stream; starting over
    // loses nothing.
    if (state.shards.empty()) return std::nullopt;
    return state;
  }

  const ConfiguredCatalog& catalog_;
  InputState result_;
};

}  // namespace

const char* to_string(StateShape s) {
  switch (s) {
    case StateShape::none: return "none";
    case StateShape::stream_array: return "stream_array";
    case StateShape::global: return "global";
    case StateShape::legacy_streams: return "legacy_streams";
    case StateShape::legacy_data: return "legacy_data";
  }
  return "none";
}

Result<InputState> parse_state(std::string_view text, const ConfiguredCatalog& catalog) {
  Collector collector(catalog);
  if (detail::is_blank(text)) return collector.take();
  auto doc = detail::parse_json(text, "the state");
  if (!doc) return doc.error();
  try {
    const auto& root = *doc;
    if (root.IsNull()) return collector.take();
    if (root.IsArray()) {
      std::size_t i = 0;
      for (const auto& msg : root.GetArray()) collector.add_message(msg, fmt::format("state entry #{}", ++i));
    } else if (root.IsObject()) {
      if (root.ObjectEmpty()) return collector.take();
      if (member(root, "type") != nullptr || member(root, "stream") != nullptr || member(root, "global") != nullptr) {
        collector.add_message(root, "the state message");
      } else if (const auto* data = member(root, "data")) {
        collector.add_legacy_data(*data, "the state's 'data'");
        collector.set_shape(StateShape::legacy_data);
      } else {
        collector.add_legacy_data(root, "the state");
        collector.set_shape(StateShape::legacy_streams);
      }
    } else {
      throw StateProblem(fmt::format("the state must be a JSON array of state messages or an object, got {}",
                                     detail::json_type_name(root)));
    }
  } catch (const StateProblem& p) {
    return config_error(p.what(), "reset the connection's state if it cannot be repaired");
  }
  return collector.take();
}

std::string render_stream_state(const StreamState& state) {
  JsonBuffer b;
  JsonWriter w(b);
  w.StartObject();
  w.Key("shards");
  w.StartObject();
  for (const auto& [shard, cursor] : state.shards) {
    w.Key(shard.data(), static_cast<rapidjson::SizeType>(shard.size()));
    w.StartObject();
    w.Key("cursor");
    w.String(cursor.data(), static_cast<rapidjson::SizeType>(cursor.size()));
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return std::string(b.GetString(), b.GetSize());
}

std::string render_state_message(const StreamDescriptor& stream, const StreamState& state, std::uint64_t record_count) {
  std::string out;
  append_state(out, stream, render_stream_state(state), record_count);
  return out;
}

}  // namespace sv::airbyte
