// src/extract: _state.json (see state_file.hpp). Parsed with a RapidJSON DOM (it is read once per
// run); rendered with the shared writer, the stream_state through airbyte::render_stream_state
// so it is byte-identical to the STATE `read` would write.
#include "extract/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cerrno>
#include <cstring>

#include "util/file.hpp"
#include "util/json.hpp"

namespace sv::extract {
namespace {

constexpr const char* kStateFile = "_state.json";
//! Cursors of thousands of tables × hundreds of shards fit many times over.
constexpr std::size_t kMaxStateFileBytes = std::size_t{256} << 20;

void write_file(JsonWriter& w, const FileRecord& f) {
  w.StartObject();
  w.Key("name");
  w.String(f.name);
  w.Key("bytes");
  w.Uint64(f.bytes);
  w.Key("rows");
  w.Uint64(f.rows);
  w.Key("complete");
  w.Bool(f.complete);
  w.EndObject();
}

//! Parse failures carry the JSON path of the offending field.
struct Bad {
  std::string where;
};

const rapidjson::Value& member(const rapidjson::Value& obj, const char* key, const std::string& where) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) throw Bad{where + "." + key + " is missing"};
  return it->value;
}
std::string get_string(const rapidjson::Value& obj, const char* key, const std::string& where) {
  const auto& v = member(obj, key, where);
  if (!v.IsString()) throw Bad{where + "." + key + " is not a string"};
  return {v.GetString(), v.GetStringLength()};
}
std::uint64_t get_uint(const rapidjson::Value& obj, const char* key, const std::string& where) {
  const auto& v = member(obj, key, where);
  if (!v.IsUint64()) throw Bad{where + "." + key + " is not a non-negative integer"};
  return v.GetUint64();
}
bool get_bool(const rapidjson::Value& obj, const char* key, const std::string& where) {
  const auto& v = member(obj, key, where);
  if (!v.IsBool()) throw Bad{where + "." + key + " is not a boolean"};
  return v.GetBool();
}
const rapidjson::Value& get_object(const rapidjson::Value& obj, const char* key, const std::string& where) {
  const auto& v = member(obj, key, where);
  if (!v.IsObject()) throw Bad{where + "." + key + " is not an object"};
  return v;
}
const rapidjson::Value& get_array(const rapidjson::Value& obj, const char* key, const std::string& where) {
  const auto& v = member(obj, key, where);
  if (!v.IsArray()) throw Bad{where + "." + key + " is not an array"};
  return v;
}

FileRecord read_file_record(const rapidjson::Value& v, const std::string& where) {
  if (!v.IsObject()) throw Bad{where + " is not an object"};
  FileRecord f;
  f.name = get_string(v, "name", where);
  f.bytes = get_uint(v, "bytes", where);
  f.rows = get_uint(v, "rows", where);
  f.complete = get_bool(v, "complete", where);
  return f;
}

airbyte::StreamState read_stream_state(const rapidjson::Value& v, const std::string& where) {
  if (!v.IsObject()) throw Bad{where + " is not an object"};
  airbyte::StreamState s;
  const auto& shards = get_object(v, "shards", where);
  for (const auto& m : shards.GetObject()) {
    std::string shard(m.name.GetString(), m.name.GetStringLength());
    std::string at = where + ".shards[\"" + shard + "\"]";
    if (!m.value.IsObject()) throw Bad{at + " is not an object"};
    s.shards[shard] = get_string(m.value, "cursor", at);
  }
  return s;
}

Format parse_format(const std::string& s, const std::string& where) {
  if (s == "jsonl") return Format::jsonl;
  if (s == "csv") return Format::csv;
  throw Bad{where + " is \"" + s + "\" (expected jsonl or csv)"};
}
Compression parse_compression(const std::string& s, const std::string& where) {
  if (s == "none") return Compression::none;
  if (s == "gzip") return Compression::gzip;
  if (s == "zstd") return Compression::zstd;
  throw Bad{where + " is \"" + s + "\" (expected none, gzip or zstd)"};
}

Error os_error(const std::string& what, const std::string& path, int err) {
  std::string message = what + " " + path + ": " + std::strerror(err);
  if (err == EACCES || err == EPERM || err == ENOSPC || err == EDQUOT || err == EFBIG || err == EROFS ||
      err == ENOENT || err == ENOTDIR) {
    return config_error(std::move(message));
  }
  return system_error(std::move(message));
}

}  // namespace

const char* to_string(Format f) { return f == Format::csv ? "csv" : "jsonl"; }

std::string file_extension(const Settings& settings) {
  return std::string(to_string(settings.format)) + file_suffix(settings.compress);
}

TableRecord* ExtractState::find(std::string_view table) {
  for (auto& t : tables) {
    if (t.name == table) return &t;
  }
  return nullptr;
}
const TableRecord* ExtractState::find(std::string_view table) const {
  return const_cast<ExtractState*>(this)->find(table);
}

std::string render_state(const ExtractState& state) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("version");
  w.Int(state.version);
  w.Key("keyspace");
  w.String(state.keyspace);
  w.Key("settings");
  w.StartObject();
  w.Key("format");
  w.String(to_string(state.settings.format));
  w.Key("compress");
  w.String(to_string(state.settings.compress));
  w.Key("split_per_shard");
  w.Bool(state.settings.split_per_shard);
  w.Key("follow");
  w.Bool(state.settings.follow);
  w.EndObject();
  w.Key("tables");
  w.StartArray();
  for (const auto& t : state.tables) {
    w.StartObject();
    w.Key("name");
    w.String(t.name);
    w.Key("complete");
    w.Bool(t.complete);
    w.Key("columns");
    w.StartArray();
    for (const auto& c : t.columns) w.String(c);
    w.EndArray();
    w.Key("state");
    if (t.state) {
      const std::string rendered = airbyte::render_stream_state(*t.state);
      w.RawValue(rendered.data(), rendered.size(), rapidjson::kObjectType);
    } else {
      w.Null();
    }
    w.Key("files");
    w.StartArray();
    for (const auto& [key, f] : t.files) {
      w.StartObject();
      w.Key("key");
      w.String(key);
      w.Key("base");
      write_file(w, f.base);
      w.Key("next_change");
      w.Uint64(f.next_change);
      w.Key("change");
      if (f.change) {
        write_file(w, *f.change);
      } else {
        w.Null();
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

Result<airbyte::StreamState> parse_stream_state(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return config_error(std::string("stream state is not valid JSON: ") +
                        rapidjson::GetParseError_En(doc.GetParseError()));
  }
  try {
    return read_stream_state(doc, "stream_state");
  } catch (const Bad& bad) {
    return config_error("malformed stream state: " + bad.where);
  }
}

Result<ExtractState> parse_state(std::string_view text, const std::string& path) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    return config_error(path + " is not valid JSON: " + rapidjson::GetParseError_En(doc.GetParseError()) +
                        " (at offset " + std::to_string(doc.GetErrorOffset()) + "); delete it to start over");
  }
  try {
    if (!doc.IsObject()) throw Bad{"the document is not an object"};
    ExtractState s;
    const auto version = get_uint(doc, "version", "$");
    if (version != 1) throw Bad{"$.version is " + std::to_string(version) + " (this program writes 1)"};
    s.version = 1;
    s.keyspace = get_string(doc, "keyspace", "$");
    const auto& settings = get_object(doc, "settings", "$");
    s.settings.format = parse_format(get_string(settings, "format", "$.settings"), "$.settings.format");
    s.settings.compress = parse_compression(get_string(settings, "compress", "$.settings"), "$.settings.compress");
    s.settings.split_per_shard = get_bool(settings, "split_per_shard", "$.settings");
    s.settings.follow = get_bool(settings, "follow", "$.settings");
    const auto& tables = get_array(doc, "tables", "$");
    for (rapidjson::SizeType i = 0; i < tables.Size(); ++i) {
      const std::string where = "$.tables[" + std::to_string(i) + "]";
      const auto& tv = tables[i];
      if (!tv.IsObject()) throw Bad{where + " is not an object"};
      TableRecord t;
      t.name = get_string(tv, "name", where);
      if (s.find(t.name) != nullptr) throw Bad{where + ": table " + t.name + " is listed twice"};
      t.complete = get_bool(tv, "complete", where);
      const auto& cols = get_array(tv, "columns", where);
      for (const auto& c : cols.GetArray()) {
        if (!c.IsString()) throw Bad{where + ".columns has a value that is not a string"};
        t.columns.emplace_back(c.GetString(), c.GetStringLength());
      }
      const auto& st = member(tv, "state", where);
      if (!st.IsNull()) t.state = read_stream_state(st, where + ".state");
      const auto& files = get_array(tv, "files", where);
      for (rapidjson::SizeType j = 0; j < files.Size(); ++j) {
        const std::string fw = where + ".files[" + std::to_string(j) + "]";
        const auto& fv = files[j];
        if (!fv.IsObject()) throw Bad{fw + " is not an object"};
        const std::string key = get_string(fv, "key", fw);
        FileKeyRecord f;
        f.base = read_file_record(member(fv, "base", fw), fw + ".base");
        f.next_change = get_uint(fv, "next_change", fw);
        const auto& ch = member(fv, "change", fw);
        if (!ch.IsNull()) f.change = read_file_record(ch, fw + ".change");
        if (!t.files.emplace(key, std::move(f)).second) throw Bad{fw + ": key \"" + key + "\" is listed twice"};
      }
      s.tables.push_back(std::move(t));
    }
    return s;
  } catch (const Bad& bad) {
    return config_error(path + " is malformed: " + bad.where + "; delete it to start over");
  }
}

Result<std::optional<ExtractState>> load_state(const std::string& dir) {
  const std::string path = dir + "/" + kStateFile;
  // Only a regular file, never through a link: the extract wrote it itself (save_state).
  auto file = read_whole_file(path, {kMaxStateFileBytes, true});
  if (file.error == ENOENT) return std::optional<ExtractState>{};
  if (file.not_regular) {
    return config_error(path +
                        " is not a regular file (a symbolic link, FIFO or device): extract reads only the "
                        "_state.json it wrote; remove it or choose another --output-dir");
  }
  if (file.too_large) {
    return config_error(path + " is larger than " + std::to_string(kMaxStateFileBytes >> 20) +
                        " MiB: not a _state.json extract wrote; remove it or choose another --output-dir");
  }
  if (file.error != 0) return os_error("cannot read", path, file.error);
  auto parsed = parse_state(file.text, path);
  if (!parsed) return parsed.error();
  return std::optional<ExtractState>(std::move(*parsed));
}

Status save_state(const std::string& dir, const ExtractState& state) {
  const std::string path = dir + "/" + kStateFile;
  const std::string tmp = path + ".tmp";
  const std::string text = render_state(state);
  auto opened = open_output_file(tmp, O_TRUNC);
  if (!opened) return opened.error();
  const int fd = *opened;
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return os_error("cannot write", tmp, err);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return os_error("cannot sync", tmp, err);
  }
  if (::close(fd) != 0) return os_error("cannot close", tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return os_error("cannot rename " + tmp + " to", path, errno);
  return sync_directory(dir);
}

Status check_resumable(const ExtractState& saved, const std::string& keyspace, const Settings& wanted,
                       const std::string& dir) {
  auto mismatch = [&](const std::string& what, const std::string& was, const std::string& now) -> Status {
    return config_error(dir + "/_state.json was written with " + what + " " + was + ", this run asks for " + now +
                        ": rerun with the same options or use another --output-dir");
  };
  auto flag = [](bool b) { return std::string(b ? "on" : "off"); };
  if (saved.keyspace != keyspace) return mismatch("keyspace", saved.keyspace, keyspace);
  if (saved.settings.format != wanted.format) {
    return mismatch("--format", to_string(saved.settings.format), to_string(wanted.format));
  }
  if (saved.settings.compress != wanted.compress) {
    return mismatch("--compress", to_string(saved.settings.compress), to_string(wanted.compress));
  }
  if (saved.settings.split_per_shard != wanted.split_per_shard) {
    return mismatch("--split-per-shard", flag(saved.settings.split_per_shard), flag(wanted.split_per_shard));
  }
  if (saved.settings.follow != wanted.follow) {
    return mismatch("--follow", flag(saved.settings.follow), flag(wanted.follow));
  }
  return Ok{};
}

}  // namespace sv::extract
