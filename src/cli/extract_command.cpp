// src/cli: `source-vitess extract` (see extract_command.hpp and docs/extract.md).
#include "cli/extract_command.hpp"

#include <sys/stat.h>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "airbyte/catalog.hpp"
#include "airbyte/config.hpp"
#include "airbyte/discovered_catalog.hpp"
#include "airbyte/json_input.hpp"
#include "airbyte/state.hpp"
#include "cli/args.hpp"
#include "cli/companions.hpp"
#include "cli/live_commands.hpp"
#include "engine/decoder.hpp"
#include "engine/sync.hpp"
#include "extract/file_output.hpp"
#include "extract/state_file.hpp"
#include "telemetry/progress_terminal.hpp"
#include "util/json.hpp"
#include "util/strings.hpp"
#include "util/utf8.hpp"
#include "vitess/discovery.hpp"
#include "vitess/mysql_session.hpp"

namespace sv::cli {
namespace {

namespace asio = boost::asio;

constexpr std::string_view kExtractUsage =
    "usage: source-vitess extract --config <file> --output-dir <dir> [options]\n"
    "\n"
    "Copies every table of the config's keyspace (all shards at once) into files in <dir>: one file\n"
    "per table, renamed from <name>.part when complete. Rerun the same command to resume.\n"
    "\n"
    "options:\n"
    "  --tables a,b,c              only these tables (default: every table)\n"
    "  --catalog <file>            take the tables and columns from this Airbyte catalog (the output of\n"
    "                              `discover`, or a configured catalog) instead of asking MySQL\n"
    "  --format jsonl|csv          one JSON object per line (default), or RFC 4180 CSV with a header\n"
    "  --compress none|gzip|zstd   compress the files (default none)\n"
    "  --split-per-shard           one file per table and shard\n"
    "  --follow                    after the copy, keep writing changes into rolling change files\n"
    "                              until SIGINT/SIGTERM\n"
    "  --roll-seconds N            --follow: start a new change file after N seconds (default 60)\n"
    "  --roll-rows N               --follow: ... or after N rows (default 1000000)\n"
    "  --metrics-address HOST:PORT serve Prometheus metrics at http://HOST:PORT/metrics\n"
    "  --progress-interval N       seconds between progress updates (default: 1 on a terminal, 5 otherwise)\n"
    "Progress goes to stderr; one JSON summary line goes to stdout at the end.\n";

struct ExtractArgs {
  std::optional<std::string> config, output_dir, tables, metrics_address, catalog;
  extract::Settings settings;
  std::uint64_t roll_seconds = 60;
  std::uint64_t roll_rows = 1'000'000;
  std::optional<std::uint64_t> progress_interval;
  bool help = false;
};

Result<std::uint64_t> parse_count(std::string_view name, const std::string& text, std::uint64_t min) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-' || v < min) {
    return config_error(fmt::format("--{} needs a whole number of at least {}, not '{}'", name, min, text));
  }
  return static_cast<std::uint64_t>(v);
}

constexpr OptionSpec kExtractOptions[] = {
    {"help", OptionValue::none, "-h"},
    {"split-per-shard", OptionValue::none},
    {"follow", OptionValue::none},
    {"config"},
    {"output-dir"},
    {"tables"},
    {"catalog"},
    {"format"},
    {"compress"},
    {"metrics-address"},
    {"roll-seconds"},
    {"roll-rows"},
    {"progress-interval"},
};

//! extract's options (argv[2] on); the first problem is the answer.
Result<ExtractArgs> parse_extract_args(int argc, char** argv) {
  ExtractArgs a;
  for (auto& item : scan_args(std::span(argv, static_cast<std::size_t>(argc)).subspan(2), kExtractOptions)) {
    using Kind = ArgItem::Kind;
    const std::string& name = item.text;
    switch (item.kind) {
      case Kind::positional: return config_error(fmt::format("unexpected argument '{}'", name));
      case Kind::unknown_option: return config_error(fmt::format("unknown option '--{}'", name));
      case Kind::missing_value: return config_error(fmt::format("option '--{}' needs a value", name));
      case Kind::unexpected_value:
        if (name == "help") return config_error("unknown option '--help'");
        return config_error(fmt::format("option '--{}' takes no value", name));
      case Kind::option: break;
    }
    if (name == "help") {
      a.help = true;
      continue;
    }
    if (name == "split-per-shard" || name == "follow") {
      (name == "follow" ? a.settings.follow : a.settings.split_per_shard) = true;
      continue;
    }
    const std::optional<std::string>& value = item.value;
    if (name == "config") {
      a.config = *value;
    } else if (name == "output-dir") {
      a.output_dir = *value;
    } else if (name == "catalog") {
      a.catalog = *value;
    } else if (name == "tables") {
      a.tables = *value;
    } else if (name == "metrics-address") {
      a.metrics_address = *value;
    } else if (name == "format") {
      if (*value == "jsonl") {
        a.settings.format = extract::Format::jsonl;
      } else if (*value == "csv") {
        a.settings.format = extract::Format::csv;
      } else {
        return config_error(fmt::format("--format must be jsonl or csv, not '{}'", *value));
      }
    } else if (name == "compress") {
      if (*value == "none") {
        a.settings.compress = extract::Compression::none;
      } else if (*value == "gzip") {
        a.settings.compress = extract::Compression::gzip;
      } else if (*value == "zstd") {
        a.settings.compress = extract::Compression::zstd;
      } else {
        return config_error(fmt::format("--compress must be none, gzip or zstd, not '{}'", *value));
      }
    } else {
      auto n = parse_count(name, *value, name == "progress-interval" || name == "roll-rows" ? 1 : 0);
      if (!n) return n.error();
      if (name == "roll-seconds") a.roll_seconds = *n;
      if (name == "roll-rows") a.roll_rows = *n;
      if (name == "progress-interval") a.progress_interval = *n;
    }
  }
  if (a.help) return a;
  if (!a.config) return config_error("missing --config <file>");
  if (!a.output_dir || a.output_dir->empty()) return config_error("missing --output-dir <dir>");
  if (a.metrics_address) {
    if (auto address = telemetry::parse_listen_address(*a.metrics_address); !address) return address.error();
  }
  return a;
}

//! The tables to extract, in discovery order (sorted by name), or an error naming unknown ones.
Result<std::vector<vitess::TableInfo>> select_tables(std::vector<vitess::TableInfo> all,
                                                     const std::optional<std::string>& wanted,
                                                     const std::string& keyspace) {
  if (!wanted) return all;
  std::set<std::string> names;
  for (auto& n : split_list(*wanted)) names.insert(n);
  if (names.empty()) return config_error("--tables names no table");
  std::vector<std::string> unknown;
  for (const auto& n : names) {
    bool found = false;
    for (const auto& t : all) found = found || t.name == n;
    if (!found) unknown.push_back(n);
  }
  if (!unknown.empty()) {
    std::vector<std::string> known;
    for (const auto& t : all) known.push_back(t.name);
    return config_error(fmt::format("keyspace '{}' has no table {} (its tables: {})", keyspace,
                                    fmt::join(unknown, ", "), fmt::join(known, ", ")));
  }
  std::vector<vitess::TableInfo> out;
  for (auto& t : all) {
    if (names.count(t.name)) out.push_back(std::move(t));
  }
  return out;
}

//! The tables of the keyspace, over MySQL (as `discover` finds them).
Result<std::vector<vitess::TableInfo>> discover(const airbyte::Config& config) {
  auto session = vitess::MysqlSession::connect(mysql_options(config));
  if (!session) return session.error();
  return vitess::discover_tables(*session, config.database);
}

//! The tables named by a catalog file, with the columns of their json_schema in order (the
//! computed columns `_ab_cdc_*` and `_planetscale_metadata` are decided by the extract itself).
Result<std::vector<vitess::TableInfo>> tables_from_catalog(const std::string& path, const airbyte::Config& config) {
  auto text = airbyte::detail::read_file(path, "--catalog", airbyte::detail::kMaxCatalogBytes);
  if (!text) return text.error();
  // `discover` prints {"type":"CATALOG","catalog":{…}}; a configured catalog is {"streams":[…]}
  // with each stream under "stream". Accept both.
  const std::string catalog_text = airbyte::as_configured_catalog(std::move(*text));
  auto catalog = airbyte::parse_configured_catalog(catalog_text, config.database);
  if (!catalog) return config_error(fmt::format("--catalog {}: {}", path, catalog.error().message));
  std::vector<vitess::TableInfo> tables;
  for (const auto& s : catalog->streams) {
    if (s.keyspace != config.database) {
      return config_error(fmt::format("--catalog {}: stream '{}' is in keyspace '{}', not the config's database '{}'",
                                      path, s.name, s.keyspace, config.database));
    }
    vitess::TableInfo t;
    t.name = s.name;
    for (const auto& c : s.columns) {
      if (c == engine::kUpdatedAtColumn || c == engine::kDeletedAtColumn || c == engine::kMetadataColumn) continue;
      t.columns.push_back(vitess::ColumnInfo{c, "", true});
    }
    if (t.columns.empty()) {
      return config_error(fmt::format("--catalog {}: stream '{}' lists no columns in its json_schema", path, s.name));
    }
    for (const auto& k : s.primary_key) {
      if (!k.empty()) t.primary_key.push_back(k.front());
    }
    tables.push_back(std::move(t));
  }
  std::sort(tables.begin(), tables.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return tables;
}

//! The row keys of a table in the extract: its columns, the CDC columns with --follow and the
//! metadata column when the config asks for it (the same keys `read` writes).
std::vector<std::string> columns_of(const vitess::TableInfo& t, const airbyte::Config& config, bool follow) {
  std::vector<std::string> cols;
  for (const auto& c : t.columns) cols.push_back(c.name);
  if (follow) {
    cols.push_back(engine::kUpdatedAtColumn);
    cols.push_back(engine::kDeletedAtColumn);
  }
  if (config.include_metadata) cols.push_back(engine::kMetadataColumn);
  return cols;
}

//! A string of the summary: names and messages may come from argv, a catalog or a server, so
//! invalid UTF-8 becomes U+FFFD as in the protocol messages.
void write_text(JsonWriter& w, std::string_view s) {
  if (is_valid_utf8(s)) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  } else {
    const std::string valid = to_valid_utf8(s);
    w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()), true);
  }
}

//! Prints the summary line on stdout; false (after logging why) when stdout does not take it.
bool print_summary(const std::string& dir, const std::vector<extract::TableSummary>& tables,
                   const std::vector<std::string>& already_complete, bool complete) {
  JsonBuffer b;
  JsonWriter w(b);
  w.StartObject();
  w.Key("output_dir");
  write_text(w, dir);
  w.Key("tables");
  w.StartArray();
  for (const auto& t : tables) {
    w.StartObject();
    w.Key("name");
    write_text(w, t.name);
    w.Key("rows");
    w.Uint64(t.rows);
    w.Key("complete");
    w.Bool(t.complete);
    if (t.failure) {
      w.Key("error");
      write_text(w, t.failure->message);
    }
    w.Key("files");
    w.StartArray();
    for (const auto& f : t.files) write_text(w, f);
    w.EndArray();
    w.Key("open_files");
    w.StartArray();
    for (const auto& f : t.open_files) write_text(w, f);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("already_complete");
  w.StartArray();
  for (const auto& n : already_complete) write_text(w, n);
  w.EndArray();
  w.Key("complete");
  w.Bool(complete);
  w.EndObject();
  std::string line(b.GetString(), b.GetSize());
  line += '\n';
  errno = 0;
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0) {
    spdlog::error("extract: cannot write the summary to stdout: {}", std::strerror(errno != 0 ? errno : EIO));
    return false;
  }
  return true;
}

//! An --output-dir that exists must be a directory (a missing one is created later).
Status check_output_dir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOTDIR) return Ok{};
    return config_error(fmt::format("--output-dir {} is not a directory: a part of its path is a file", dir));
  }
  if (S_ISDIR(st.st_mode)) return Ok{};
  return config_error(
      fmt::format("--output-dir {} is not a directory: give a directory (it is created if missing)", dir));
}

int fail(const Error& e) {
  spdlog::error("extract: {}", e.message);
  return 1;
}

//! What this run extracts: the tables not complete yet, as an engine catalog with their saved
//! cursors, and the ones an earlier run finished.
struct Plan {
  airbyte::ConfiguredCatalog catalog;
  airbyte::InputState state;
  std::map<std::size_t, std::uint64_t> estimates;
  std::vector<extract::TableSpec> specs;
  std::vector<std::string> already_complete;
};

Plan plan_tables(const std::vector<vitess::TableInfo>& tables, const airbyte::Config& config,
                 const extract::Settings& settings, const std::optional<extract::ExtractState>& saved) {
  Plan plan;
  plan.catalog.default_namespace = config.database;
  for (const auto& t : tables) {
    const extract::TableRecord* record = saved ? saved->find(t.name) : nullptr;
    if (record && record->complete) {
      plan.already_complete.push_back(t.name);
      continue;
    }
    airbyte::ConfiguredStream s;
    s.name = t.name;
    s.ns = config.database;
    s.keyspace = config.database;
    s.columns = columns_of(t, config, settings.follow);
    s.sync_mode = settings.follow ? airbyte::SyncMode::incremental : airbyte::SyncMode::full_refresh;
    for (const auto& k : t.primary_key) s.primary_key.push_back({k});
    if (t.row_estimate) plan.estimates[plan.catalog.streams.size()] = *t.row_estimate;
    plan.state.streams.push_back(record && record->state ? std::optional<airbyte::StreamState>(*record->state)
                                                         : std::nullopt);
    plan.specs.push_back(extract::TableSpec{s.name, s.ns, s.columns});
    plan.catalog.streams.push_back(std::move(s));
  }
  return plan;
}

//! How the engine run ended.
struct RunEnd {
  std::optional<int> signal;         //!< SIGINT/SIGTERM that stopped it
  std::optional<Error> stop_reason;  //!< the stop's reason (each stopped table's failure)
};

//! Runs the engine into `output` with the signal handling, progress and metrics beside it.
Result<RunEnd> run_engine(const engine::ReadInputs& inputs, engine::ShardSource& source, extract::FileOutput& output,
                          const ExtractArgs& args) {
  engine::EngineOptions engine_options;
  engine_options.follow = args.settings.follow;
  engine_options.checkpoint_at_copy_end = args.settings.follow;  // the base file ends with the copy

  CompanionOptions companion_options;
  companion_options.metrics_address = args.metrics_address;
  companion_options.progress.mode = telemetry::default_progress_mode();
  if (companion_options.progress.mode == telemetry::ProgressMode::tty) {
    // On a terminal, log lines and the redrawn progress block share stderr: logs print above it.
    companion_options.progress.terminal = telemetry::install_progress_terminal(kLogPattern);
  }
  if (args.progress_interval) companion_options.progress.interval = std::chrono::seconds(*args.progress_interval);

  asio::io_context io(1);
  engine::Metrics metrics;
  engine::Engine engine(io, inputs, source, output, engine_options, &metrics);
  auto companions = Companions::start(io, engine, metrics, companion_options);
  if (!companions) return companions.error();
  asio::co_spawn(io, engine.run(), [&](std::exception_ptr) { (*companions)->finish(); });
  io.run();
  return RunEnd{(*companions)->signal(), engine.stop_reason()};
}

//! The exit code from the tables' outcome (see extract_command.hpp), with the line that explains it.
int outcome(const std::vector<extract::TableSummary>& summary, const RunEnd& end, bool follow, const std::string& dir) {
  bool all_complete = true;
  bool failed = false;  // a table ended for another reason than the signal's stop
  for (const auto& t : summary) {
    all_complete = all_complete && t.complete;
    if (t.failure && !(end.stop_reason && t.failure->message == end.stop_reason->message)) failed = true;
  }
  if (all_complete) {
    spdlog::info("extract: done; every table is complete in {}", dir);
    return 0;
  }
  if (end.signal && !failed && follow) {
    spdlog::info("extract: stopped by signal {} after a final checkpoint; rerun the same command to go on",
                 *end.signal);
    return 0;
  }
  if (end.signal && !failed) {
    spdlog::warn("extract: interrupted by signal {}; rerun the same command to resume from the last checkpoint",
                 *end.signal);
    return 1;
  }
  spdlog::error("extract: some tables are incomplete (see the errors above); rerun the same command to resume");
  return 1;
}

}  // namespace

int run_extract(int argc, char** argv) {
  auto args = parse_extract_args(argc, argv);
  if (!args) {
    spdlog::error("extract: {} (see source-vitess extract --help)", args.error().message);
    return 2;
  }
  if (args->help) {
    std::fwrite(kExtractUsage.data(), 1, kExtractUsage.size(), stdout);
    return 0;
  }
  const std::string dir = *args->output_dir;
  auto config_text = airbyte::detail::read_file(*args->config, "--config", airbyte::detail::kMaxConfigBytes);
  if (!config_text) return fail(config_text.error());
  auto config = airbyte::parse_config(*config_text);
  if (!config) return fail(config_error("invalid configuration: " + config.error().message));
  spdlog::info("configuration: {}", airbyte::describe(*config));

  if (auto st = check_output_dir(dir); !st) return fail(st.error());
  // The saved run first: a settings mismatch is reported before any connection is made.
  auto saved = extract::load_state(dir);
  if (!saved) return fail(saved.error());
  if (*saved) {
    if (auto ok = extract::check_resumable(**saved, config->database, args->settings, dir); !ok)
      return fail(ok.error());
  }

  auto discovered = args->catalog ? tables_from_catalog(*args->catalog, *config) : discover(*config);
  if (!discovered) return fail(discovered.error());
  auto selected = select_tables(std::move(*discovered), args->tables, config->database);
  if (!selected) return fail(selected.error());
  if (args->catalog) {
    // A catalog has no row counts; information_schema may (best effort, for the progress percent).
    const auto estimates = row_estimates(*config).rows;
    for (auto& t : *selected) {
      if (auto it = estimates.find(t.name); it != estimates.end()) t.row_estimate = it->second;
    }
  }

  Plan plan = plan_tables(*selected, *config, args->settings, *saved);
  if (!plan.already_complete.empty()) {
    spdlog::info("extract: {} table(s) already complete in {}: {}", plan.already_complete.size(), dir,
                 fmt::join(plan.already_complete, ", "));
  }
  if (plan.catalog.streams.empty()) {
    spdlog::info("extract: nothing left to do in {}", dir);
    return print_summary(dir, {}, plan.already_complete, true) ? 0 : 1;
  }

  extract::OutputOptions out_options;
  out_options.dir = dir;
  out_options.keyspace = config->database;
  out_options.settings = args->settings;
  out_options.roll_seconds = std::chrono::seconds(args->roll_seconds);
  out_options.roll_rows = args->roll_rows;
  auto output = extract::FileOutput::create(out_options, plan.specs, std::move(*saved));
  if (!output) return fail(output.error());
  auto source = make_vstream_source(*config);
  if (!source) return fail(source.error());

  spdlog::info("extract: {} table(s) of '{}' into {} (*.{} files{}{})", plan.catalog.streams.size(), config->database,
               dir, extract::file_extension(args->settings), args->settings.split_per_shard ? ", a file per shard" : "",
               args->settings.follow ? ", following changes until SIGINT/SIGTERM" : "");
  engine::ReadInputs inputs{*config, plan.catalog, plan.state, plan.estimates};
  auto end = run_engine(inputs, **source, **output, *args);
  if (!end) return fail(end.error());

  const auto summary = (*output)->summary();
  bool all_complete = true;
  for (const auto& t : summary) all_complete = all_complete && t.complete;
  const bool printed = print_summary(dir, summary, plan.already_complete, all_complete);
  // An output error was logged once, when it happened; the summary names it for each table it
  // ended.
  if ((*output)->error()) return 1;
  const int code = outcome(summary, *end, args->settings.follow, dir);
  return printed ? code : 1;
}

}  // namespace sv::cli
