// src/extract: DIR/_state.json, the extract's resume record. It holds the settings a rerun must
// repeat, and per table the Airbyte stream_state of its last checkpoint (the same object `read`
// writes in STATE messages) together with the length and row count every open file had at that
// checkpoint. Written atomically (tmp file, fsync, rename, directory fsync). docs/extract.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airbyte/state.hpp"
#include "extract/file_sink.hpp"
#include "util/result.hpp"

namespace sv::extract {

enum class Format { jsonl, csv };
const char* to_string(Format f);

//! What a rerun on the same directory must repeat (a mismatch is a config_error).
struct Settings {
  Format format = Format::jsonl;
  Compression compress = Compression::none;
  bool split_per_shard = false;
  bool follow = false;
  bool operator==(const Settings&) const = default;
};

//! "jsonl", "csv.gz", "jsonl.zst", …
std::string file_extension(const Settings& settings);

//! One output file as of the last checkpoint.
struct FileRecord {
  std::string name;         //!< final name inside DIR (without ".part")
  std::uint64_t bytes = 0;  //!< length of the .part file at the checkpoint
  std::uint64_t rows = 0;   //!< rows in it at the checkpoint
  bool complete = false;    //!< renamed to `name`
  bool operator==(const FileRecord&) const = default;
};

//! The files of one file key (a shard with --split-per-shard, else the whole table, key "").
struct FileKeyRecord {
  FileRecord base;                   //!< <table>[.<shard>].<ext>
  std::uint64_t next_change = 1;     //!< number of the next change file (--follow)
  std::optional<FileRecord> change;  //!< the open change file, if any
  bool operator==(const FileKeyRecord&) const = default;
};

struct TableRecord {
  std::string name;
  bool complete = false;
  std::vector<std::string> columns;
  std::optional<airbyte::StreamState> state;   //!< nullopt before the first checkpoint
  std::map<std::string, FileKeyRecord> files;  //!< by file key
  bool operator==(const TableRecord&) const = default;
};

struct ExtractState {
  int version = 1;
  std::string keyspace;
  Settings settings;
  std::vector<TableRecord> tables;  //!< in the order they were first extracted

  TableRecord* find(std::string_view table);
  const TableRecord* find(std::string_view table) const;
  bool operator==(const ExtractState&) const = default;
};

//! The compact JSON text of a state (see docs/extract.md for the fields).
std::string render_state(const ExtractState& state);
//! Parses a rendered stream_state object (`{"shards":{…}}`); config_error on a bad shape.
Result<airbyte::StreamState> parse_stream_state(std::string_view json);
//! Parses _state.json text; errors (config_error) name `path` and the problem.
Result<ExtractState> parse_state(std::string_view text, const std::string& path);
//! Reads DIR/_state.json: nullopt when it does not exist.
Result<std::optional<ExtractState>> load_state(const std::string& dir);
//! Writes DIR/_state.json atomically (DIR/_state.json.tmp, fsync, rename, directory fsync).
Status save_state(const std::string& dir, const ExtractState& state);
//! config_error naming the first setting (or the keyspace) that differs, with both values.
Status check_resumable(const ExtractState& saved, const std::string& keyspace, const Settings& wanted,
                       const std::string& dir);

}  // namespace sv::extract
