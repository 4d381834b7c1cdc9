// src/extract: FileOutput, the engine's SyncOutput for `source-vitess extract`. Rows of each
// table go to <table>[.<shard>].<ext>.part; every checkpoint batch ends the files' gzip members /
// zstd frames, syncs them and saves DIR/_state.json; complete() renames the table's files to
// their final names. With --follow the base file is closed once its copy is over and later rows
// go to rolling change files. docs/extract.md describes the files and the resume rules.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/output.hpp"
#include "extract/file_sink.hpp"
#include "extract/state_file.hpp"
#include "util/result.hpp"

namespace sv::extract {

//! One table of the extract, in configured catalog order (the engine's stream index).
struct TableSpec {
  std::string name;
  std::string ns;                    //!< the keyspace
  std::vector<std::string> columns;  //!< the row keys in order (the CSV header)
};

struct OutputOptions {
  std::string dir;       //!< created if missing
  std::string keyspace;  //!< recorded in _state.json; a rerun must match it
  Settings settings;
  std::chrono::seconds roll_seconds{60};  //!< --follow: close a change file at a checkpoint once this old…
  std::uint64_t roll_rows = 1'000'000;    //!< …or once it has this many rows
  //! Age of change files; tests pin it.
  std::function<std::chrono::steady_clock::time_point()> clock = [] { return std::chrono::steady_clock::now(); };
};

//! What one table got from this run.
struct TableSummary {
  std::string name;
  std::uint64_t rows = 0;               //!< rows written by this run (including rows after the last checkpoint)
  std::vector<std::string> files;       //!< files completed (renamed) by this run, in order
  std::vector<std::string> open_files;  //!< .part files left for a resume
  bool complete = false;
  std::optional<Error> failure;  //!< why the engine ended the table incomplete, if it did
};

class FileOutput final : public engine::SyncOutput {
 public:
  //! Prepares DIR for `tables`: checks `saved` (load_state(dir)) against the options (keyspace and
  //! settings must match: config_error naming the difference), truncates the .part files of
  //! these tables to their checkpointed lengths (a shorter one is a config_error; .part files
  //! the state does not mention are emptied) and writes _state.json (so even a run stopped before
  //! its first checkpoint pins the settings). Tables complete in `saved` must not be in `tables`
  //! (leave them out of the catalog); entries of `saved` for other tables are kept as they are.
  static Result<std::unique_ptr<FileOutput>> create(OutputOptions options, std::vector<TableSpec> tables,
                                                    std::optional<ExtractState> saved);
  ~FileOutput() override;

  //! JSONL or CSV per the settings' format.
  std::unique_ptr<engine::RowWriter> row_writer(const airbyte::StreamDescriptor& stream,
                                                const std::vector<std::string>& columns) const override;
  boost::asio::awaitable<bool> started(std::size_t stream) override;
  boost::asio::awaitable<bool> estimate(std::size_t stream, std::uint64_t rows, std::uint64_t bytes) override;
  boost::asio::awaitable<bool> push(engine::Batch batch) override;
  boost::asio::awaitable<bool> complete(std::size_t stream) override;
  boost::asio::awaitable<bool> incomplete(std::size_t stream, Error error) override;
  boost::asio::awaitable<void> shutdown() override;

  //! Synchronous forms of the calls above: the awaitables run these on the output's disk thread
  //! (tests call them directly).
  bool on_push(engine::Batch& batch);
  bool on_complete(std::size_t stream);
  bool on_incomplete(std::size_t stream);
  void on_shutdown();

  //! The first I/O (or state) error; after it every call returns false.
  const std::optional<Error>& error() const { return error_; }
  //! Per table in catalog order; final after shutdown().
  std::vector<TableSummary> summary() const;
  //! The state as last saved.
  const ExtractState& state() const { return state_; }

 private:
  struct OpenFile {
    std::unique_ptr<FileSink> sink;
    std::uint64_t rows = 0;  //!< rows in the file now (the record has them as of the checkpoint)
    std::chrono::steady_clock::time_point opened_at{};
  };
  struct Key {
    FileKeyRecord record;  //!< as of this table's last checkpoint (what _state.json gets)
    OpenFile base;         //!< open while the base file is written
    OpenFile change;       //!< open while a change file is written
  };
  struct Table {
    TableSpec spec;
    std::size_t record_index = 0;  //!< into state_.tables
    std::map<std::string, Key> keys;
    std::optional<airbyte::StreamState> current;  //!< newest state seen
    bool ended = false;
    TableSummary summary;
  };

  //! A file to close and rename once the state that marks it complete is saved.
  struct Finishing {
    Table* table;
    OpenFile* file;
    std::string final_name;
    bool change = false;
    std::string key;
  };

  FileOutput(OutputOptions options, ExtractState state);
  Status prepare(std::vector<TableSpec> specs);
  Status roll_forward(TableRecord& record);
  Status clean_stale_parts(const Table& t);
  std::string base_name(const std::string& table, const std::string& key) const;
  std::string change_name(const std::string& table, const std::string& key, std::uint64_t number) const;
  std::string path(const std::string& name) const { return options_.dir + "/" + name; }
  Status open_file(OpenFile& file, const FileRecord& record, const TableSpec& spec);
  Result<OpenFile*> target(Table& t, const std::string& key);
  Key& key_entry(Table& t, const std::string& key);
  bool past_copy(const std::string& cursor) const;
  Status seal(Table& t, const std::string& key, bool change, std::vector<Finishing>& out);
  Status ensure_keys(Table& t, bool only_past_copy);
  //! final: the table is complete (every file is finished).
  Status checkpoint(Table& t, bool final);
  Status commit(Table& t, std::vector<Finishing>& finishing, bool table_complete);
  Status end_follow(Table& t);
  Status save();
  bool fail(Error error);
  //! Runs f() on disk_ and returns its answer on the caller's executor.
  template <class F>
  boost::asio::awaitable<bool> on_disk(F f);
  Table* table(std::size_t stream);

  OutputOptions options_;
  std::string ext_;
  ExtractState state_;
  std::vector<Table> tables_;
  std::optional<Error> error_;
  std::string scratch_;
  //! The one thread that does this output's file work (see on_disk in file_output.cpp).
  boost::asio::thread_pool disk_{1};
};

}  // namespace sv::extract
