// src/extract: FileOutput (see file_output.hpp). Every call runs on the output's own disk thread,
// one at a time (on_disk, at the end of this file), so compression, writes and syncs never stall
// the engine's io_context thread; the engine's decoder pool already did the row rendering.
//
// Crash safety: a file is first sealed (its last member/frame written and fsynced), then
// _state.json is saved marking it complete, and only then is X.part renamed to X. A crash
// between the two is rolled forward by the next run (roll_forward: rename what the state says is
// complete). A checkpoint saves lengths only after the files were fdatasynced, so a resume can
// always truncate each .part to its recorded length.
#include "extract/file_output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <type_traits>
#include <variant>

#include "extract/row_writers.hpp"
#include "util/csv.hpp"
#include "vitess/cursor.hpp"

namespace sv::extract {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPart = ".part";

bool is_shard_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-')) return false;
  }
  return true;
}

bool is_change_suffix(std::string_view s) {
  constexpr std::string_view prefix = "changes-";
  if (s.size() != prefix.size() + 6 || s.substr(0, prefix.size()) != prefix) return false;
  for (char c : s.substr(prefix.size())) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

//! File names come from table names, shard names and _state.json: one with a '/' would put a
//! file outside the output directory.
Status check_file_name(const std::string& name) {
  if (name.find('/') == std::string::npos && name != "." && name != "..") return Ok{};
  return config_error("'" + name +
                      "' cannot be a file name in the output directory (a table, shard or _state.json entry with "
                      "'/' in its name): leave that table out with --tables");
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

}  // namespace

Result<std::unique_ptr<FileOutput>> FileOutput::create(OutputOptions options, std::vector<TableSpec> tables,
                                                       std::optional<ExtractState> saved) {
  ExtractState state;
  if (saved) {
    if (auto st = check_resumable(*saved, options.keyspace, options.settings, options.dir); !st) return st.error();
    state = std::move(*saved);
  } else {
    state.keyspace = options.keyspace;
    state.settings = options.settings;
  }
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return config_error("cannot create directory " + options.dir + ": " + ec.message());
  std::unique_ptr<FileOutput> out(new FileOutput(std::move(options), std::move(state)));
  if (auto st = out->prepare(std::move(tables)); !st) return st.error();
  return out;
}

FileOutput::FileOutput(OutputOptions options, ExtractState state)
    : options_(std::move(options)), ext_(file_extension(options_.settings)), state_(std::move(state)) {}

FileOutput::~FileOutput() { disk_.join(); }

Status FileOutput::prepare(std::vector<TableSpec> specs) {
  for (auto& record : state_.tables) {
    if (auto st = roll_forward(record); !st) return st;
  }
  tables_.reserve(specs.size());
  for (auto& spec : specs) {
    std::size_t index = state_.tables.size();
    for (std::size_t i = 0; i < state_.tables.size(); ++i) {
      if (state_.tables[i].name == spec.name) index = i;
    }
    if (index == state_.tables.size()) {
      TableRecord record;
      record.name = spec.name;
      record.columns = spec.columns;
      state_.tables.push_back(std::move(record));
    } else {
      TableRecord& record = state_.tables[index];
      if (record.complete) {
        return system_error("table " + spec.name + " is already complete in " + options_.dir +
                            "/_state.json; leave it out of the extract");
      }
      if (record.columns != spec.columns) {
        if (options_.settings.format == Format::csv && !record.files.empty()) {
          return config_error("the columns of table " + spec.name + " changed since " + options_.dir +
                              "/_state.json was written, so its CSV files cannot be continued; delete " + options_.dir +
                              " to start over");
        }
        spdlog::warn("extract: the columns of table {} changed since the last run", spec.name);
        record.columns = spec.columns;
      }
    }
    Table t;
    t.spec = std::move(spec);
    t.record_index = index;
    t.summary.name = t.spec.name;
    const TableRecord& record = state_.tables[index];
    t.current = record.state;
    for (const auto& [key, files] : record.files) {
      Key& k = t.keys[key];
      k.record = files;
      if (!files.base.complete) {
        if (auto st = open_file(k.base, files.base, t.spec); !st) return st;
      }
      if (files.change && !files.change->complete) {
        if (auto st = open_file(k.change, *files.change, t.spec); !st) return st;
      }
    }
    if (auto st = clean_stale_parts(t); !st) return st;
    tables_.push_back(std::move(t));
  }
  return save();
}

Status FileOutput::roll_forward(TableRecord& record) {
  for (auto& [key, files] : record.files) {
    FileRecord* done[2] = {&files.base, files.change ? &*files.change : nullptr};
    for (FileRecord* r : done) {
      if (r == nullptr || !r->complete) continue;
      const std::string final_path = path(r->name);
      const std::string part = final_path + std::string(kPart);
      // A missing final file with no .part was moved away by the user (loaded change files):
      // nothing to do.
      if (exists(final_path) || !exists(part)) continue;
      if (auto st = check_file_name(r->name); !st) return st;
      auto sink = FileSink::open(part, options_.settings.compress, r->bytes);
      if (!sink) return sink.error();
      if (auto st = (*sink)->finish(final_path); !st) return st;
      spdlog::info("extract: finished the rename of {} (interrupted last run)", r->name);
    }
    if (files.change && files.change->complete) files.change.reset();
  }
  return Ok{};
}

Status FileOutput::clean_stale_parts(const Table& t) {
  const std::string prefix = t.spec.name + ".";
  const std::string suffix = ext_ + std::string(kPart);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    std::string_view mid(name);
    mid = mid.substr(prefix.size(), mid.size() - prefix.size() - suffix.size());  // "" or "x."
    if (!mid.empty()) {
      if (mid.back() != '.') continue;
      mid.remove_suffix(1);
    }
    // mid: "", shard, changes-NNNNNN or shard.changes-NNNNNN (per the settings).
    std::string_view shard = mid;
    if (auto dot = mid.rfind('.'); dot != std::string_view::npos) {
      if (!is_change_suffix(mid.substr(dot + 1))) continue;
      shard = mid.substr(0, dot);
    } else if (is_change_suffix(mid)) {
      shard = {};
    }
    if (options_.settings.split_per_shard ? !is_shard_name(shard) : !shard.empty()) continue;
    bool expected = false;
    for (const auto& [key, k] : t.keys) {
      if (!k.record.base.complete && name == k.record.base.name + std::string(kPart)) expected = true;
      if (k.record.change && !k.record.change->complete && name == k.record.change->name + std::string(kPart)) {
        expected = true;
      }
    }
    if (expected) continue;
    // Opened like every output file (no link followed, regular files only), truncated by O_TRUNC.
    auto emptied = open_output_file(entry.path().string(), O_TRUNC);
    if (!emptied) return emptied.error();
    ::close(*emptied);
    spdlog::info("extract: {} is not covered by {}/_state.json: started over", name, options_.dir);
  }
  if (ec) return config_error("cannot list " + options_.dir + ": " + ec.message());
  return Ok{};
}

std::string FileOutput::base_name(const std::string& table, const std::string& key) const {
  return table + (key.empty() ? "" : "." + key) + "." + ext_;
}

std::string FileOutput::change_name(const std::string& table, const std::string& key, std::uint64_t number) const {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(number));
  return table + (key.empty() ? "" : "." + key) + ".changes-" + digits + "." + ext_;
}

Status FileOutput::open_file(OpenFile& file, const FileRecord& record, const TableSpec& spec) {
  if (auto st = check_file_name(record.name); !st) return st;
  auto sink = FileSink::open(path(record.name + std::string(kPart)), options_.settings.compress, record.bytes);
  if (!sink) return sink.error();
  file.sink = std::move(*sink);
  file.rows = record.rows;
  file.opened_at = options_.clock();
  if (record.bytes == 0 && options_.settings.format == Format::csv) {
    scratch_.clear();
    csv::append_header(scratch_, spec.columns);
    return file.sink->write(scratch_);
  }
  return Ok{};
}

FileOutput::Key& FileOutput::key_entry(Table& t, const std::string& key) {
  auto [it, inserted] = t.keys.try_emplace(key);
  if (inserted) it->second.record.base.name = base_name(t.spec.name, key);
  return it->second;
}

Result<FileOutput::OpenFile*> FileOutput::target(Table& t, const std::string& key) {
  Key& k = key_entry(t, key);
  if (!k.record.base.complete) {
    if (!k.base.sink) {
      if (auto st = open_file(k.base, k.record.base, t.spec); !st) return st.error();
    }
    return &k.base;
  }
  if (!k.change.sink) {
    if (!k.record.change || k.record.change->complete) {
      FileRecord record;
      record.name = change_name(t.spec.name, key, k.record.next_change);
      k.record.change = record;
    }
    if (auto st = open_file(k.change, *k.record.change, t.spec); !st) return st.error();
  }
  return &k.change;
}

bool FileOutput::past_copy(const std::string& cursor) const {
  auto c = vitess::decode_cursor(cursor);
  if (!c) return false;
  return !vitess::copy_pending(*c);
}

Status FileOutput::ensure_keys(Table& t, bool only_past_copy) {
  if (options_.settings.split_per_shard) {
    if (!t.current) return Ok{};
    for (const auto& [shard, cursor] : t.current->shards) {
      if (t.keys.count(shard) == 0 && (!only_past_copy || past_copy(cursor))) key_entry(t, shard);
    }
    return Ok{};
  }
  if (t.keys.count("") != 0) return Ok{};
  if (only_past_copy) {
    if (!t.current || t.current->shards.empty()) return Ok{};
    for (const auto& [shard, cursor] : t.current->shards) {
      if (!past_copy(cursor)) return Ok{};
    }
  }
  key_entry(t, "");
  return Ok{};
}

Status FileOutput::seal(Table& t, const std::string& key, bool change, std::vector<Finishing>& out) {
  Key& k = t.keys.at(key);
  OpenFile& f = change ? k.change : k.base;
  const FileRecord& r = change ? *k.record.change : k.record.base;
  if (!f.sink) {
    if (auto st = open_file(f, r, t.spec); !st) return st;
  }
  if (auto st = f.sink->seal(); !st) return st;
  out.push_back(Finishing{&t, &f, r.name, change, key});
  return Ok{};
}

Status FileOutput::checkpoint(Table& t, bool final) {
  for (auto& [key, k] : t.keys) {
    if (k.base.sink) {
      if (auto st = k.base.sink->checkpoint(); !st) return st;
      k.record.base.bytes = k.base.sink->checkpointed_bytes();
      k.record.base.rows = k.base.rows;
    }
    if (k.change.sink) {
      if (auto st = k.change.sink->checkpoint(); !st) return st;
      k.record.change->bytes = k.change.sink->checkpointed_bytes();
      k.record.change->rows = k.change.rows;
    }
  }
  std::vector<Finishing> finishing;
  if (final) {
    if (auto st = ensure_keys(t, false); !st) return st;
    for (auto& [key, k] : t.keys) {
      if (!k.record.base.complete) {
        if (auto st = seal(t, key, false, finishing); !st) return st;
      }
      if (k.change.sink) {
        if (auto st = seal(t, key, true, finishing); !st) return st;
      }
    }
  } else if (options_.settings.follow) {
    if (auto st = ensure_keys(t, true); !st) return st;
    const auto now = options_.clock();
    for (auto& [key, k] : t.keys) {
      if (!k.record.base.complete) {
        const bool done = options_.settings.split_per_shard
                              ? t.current && t.current->shards.count(key) != 0 && past_copy(t.current->shards.at(key))
                              : [&] {
                                  if (!t.current || t.current->shards.empty()) return false;
                                  for (const auto& [shard, cursor] : t.current->shards) {
                                    if (!past_copy(cursor)) return false;
                                  }
                                  return true;
                                }();
        if (done) {
          if (auto st = seal(t, key, false, finishing); !st) return st;
        }
      }
      if (k.change.sink && (k.change.rows >= options_.roll_rows || now - k.change.opened_at >= options_.roll_seconds)) {
        if (auto st = seal(t, key, true, finishing); !st) return st;
      }
    }
  }
  return commit(t, finishing, final);
}

Status FileOutput::commit(Table& t, std::vector<Finishing>& finishing, bool table_complete) {
  for (const auto& f : finishing) {
    Key& k = t.keys.at(f.key);
    FileRecord& r = f.change ? *k.record.change : k.record.base;
    r.bytes = f.file->sink->checkpointed_bytes();
    r.rows = f.file->rows;
    r.complete = true;
    if (f.change) ++k.record.next_change;
  }
  TableRecord& record = state_.tables[t.record_index];
  record.state = t.current;
  record.complete = table_complete;
  record.files.clear();
  for (const auto& [key, k] : t.keys) record.files.emplace(key, k.record);
  if (auto st = save(); !st) return st;
  for (const auto& f : finishing) {
    if (auto st = f.file->sink->finish(path(f.final_name)); !st) return st;
    f.file->sink.reset();
    t.summary.files.push_back(f.final_name);
    if (f.change) t.keys.at(f.key).record.change.reset();
  }
  // A finished change file is forgotten once renamed (roll_forward would do the same).
  const bool any_change = std::any_of(finishing.begin(), finishing.end(), [](const Finishing& f) { return f.change; });
  if (any_change) {
    record.files.clear();
    for (const auto& [key, k] : t.keys) record.files.emplace(key, k.record);
    return save();
  }
  return Ok{};
}

Status FileOutput::end_follow(Table& t) {
  std::vector<Finishing> finishing;
  bool changed = false;
  for (auto& [key, k] : t.keys) {
    if (!k.change.sink) continue;
    // Rows after the last checkpoint are not covered by the saved state: a resume reads them
    // again, so they must not be in a finished file.
    if (auto st = k.change.sink->rollback(); !st) return st;
    t.summary.rows -= k.change.rows - k.record.change->rows;
    k.change.rows = k.record.change->rows;
    if (k.change.sink->checkpointed_bytes() == 0) {
      const std::string part = k.change.sink->path();
      k.change.sink.reset();
      std::error_code ec;
      fs::remove(part, ec);
      k.record.change.reset();
      changed = true;
      continue;
    }
    if (auto st = seal(t, key, true, finishing); !st) return st;
  }
  if (finishing.empty() && !changed) return Ok{};
  return commit(t, finishing, false);
}

Status FileOutput::save() { return save_state(options_.dir, state_); }

bool FileOutput::fail(Error error) {
  if (!error_) {
    spdlog::error("extract: {}", error.message);
    error_ = std::move(error);
  }
  return false;
}

FileOutput::Table* FileOutput::table(std::size_t stream) {
  return stream < tables_.size() ? &tables_[stream] : nullptr;
}

std::unique_ptr<engine::RowWriter> FileOutput::row_writer(const airbyte::StreamDescriptor&,
                                                          const std::vector<std::string>& columns) const {
  if (options_.settings.format == Format::csv) return make_csv_writer(columns);
  return make_jsonl_writer();
}

bool FileOutput::on_push(engine::Batch& batch) {
  if (error_) return false;
  Table* t = table(batch.stream);
  if (t == nullptr) return fail(system_error("a batch for unknown stream " + std::to_string(batch.stream)));
  if (t->ended) {
    spdlog::error("extract: {} rows of table {} arrived after it ended; dropped", batch.count, t->spec.name);
    return true;
  }
  if (batch.count > 0 || !batch.lines.empty()) {
    auto file = target(*t, options_.settings.split_per_shard ? batch.shard : std::string());
    if (!file) return fail(file.error());
    if (auto st = (*file)->sink->write(batch.lines); !st) return fail(st.error());
    (*file)->rows += batch.count;
    t->summary.rows += batch.count;
  }
  if (batch.state) {
    t->current = std::move(*batch.state);
    if (auto st = checkpoint(*t, false); !st) return fail(st.error());
  }
  return true;
}

bool FileOutput::on_complete(std::size_t stream) {
  if (error_) return false;
  Table* t = table(stream);
  if (t == nullptr) return fail(system_error("complete for unknown stream " + std::to_string(stream)));
  if (t->ended) return true;
  t->ended = true;
  if (auto st = checkpoint(*t, true); !st) return fail(st.error());
  t->summary.complete = true;
  return true;
}

bool FileOutput::on_incomplete(std::size_t stream) {
  Table* t = table(stream);
  if (t == nullptr) return fail(system_error("incomplete for unknown stream " + std::to_string(stream)));
  if (t->ended) return !error_;
  t->ended = true;
  if (!error_ && options_.settings.follow) {
    if (auto st = end_follow(*t); !st) fail(st.error());
  }
  // The .part files stay as they are: a resume truncates them to the last checkpoint.
  for (auto& [key, k] : t->keys) {
    k.base.sink.reset();
    k.change.sink.reset();
  }
  return !error_;
}

void FileOutput::on_shutdown() {
  for (std::size_t i = 0; i < tables_.size(); ++i) {
    if (!tables_[i].ended) on_incomplete(i);
  }
}

std::vector<TableSummary> FileOutput::summary() const {
  std::vector<TableSummary> out;
  out.reserve(tables_.size());
  for (const auto& t : tables_) {
    TableSummary s = t.summary;
    if (!s.complete && !s.failure && error_) s.failure = error_;  // never told incomplete: the output failed
    for (const auto& [key, k] : t.keys) {
      if (!k.record.base.complete) s.open_files.push_back(k.record.base.name + std::string(kPart));
      if (k.record.change && !k.record.change->complete) {
        s.open_files.push_back(k.record.change->name + std::string(kPart));
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

// Every call runs on the output's own disk thread (disk_), one at a time, in the order the engine
// makes them: compression, write(2), fdatasync and the _state.json saves never stall the engine's
// io_context thread, and FileOutput's members are only ever touched on that one thread.
template <class F>
boost::asio::awaitable<bool> FileOutput::on_disk(F f) {
  co_return co_await boost::asio::co_spawn(
      disk_, [&]() -> boost::asio::awaitable<bool> { co_return f(); }, boost::asio::use_awaitable);
}

boost::asio::awaitable<bool> FileOutput::started(std::size_t) {
  return on_disk([this] { return !error_; });
}

boost::asio::awaitable<bool> FileOutput::estimate(std::size_t, std::uint64_t, std::uint64_t) {
  return on_disk([this] { return !error_; });
}

boost::asio::awaitable<bool> FileOutput::push(engine::Batch batch) {
  co_return co_await on_disk([this, &batch] { return on_push(batch); });
}

boost::asio::awaitable<bool> FileOutput::complete(std::size_t stream) {
  return on_disk([this, stream] { return on_complete(stream); });
}

boost::asio::awaitable<bool> FileOutput::incomplete(std::size_t stream, Error error) {
  spdlog::debug("extract: table {} incomplete: {}", stream, error.message);
  return on_disk([this, stream, error = std::move(error)] {
    // After an output error the engine's reason is only "the output stopped": the summary names
    // the output's own error (the disk's errno text) instead.
    if (Table* t = table(stream); t != nullptr && !t->summary.failure) t->summary.failure = error_ ? *error_ : error;
    return on_incomplete(stream);
  });
}

boost::asio::awaitable<void> FileOutput::shutdown() {
  co_await on_disk([this] {
    on_shutdown();
    return true;
  });
}

}  // namespace sv::extract
