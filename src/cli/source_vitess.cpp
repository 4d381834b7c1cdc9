// source-vitess: the Airbyte source connector's program (its main is main_source_vitess.cpp). It
// parses the command line, validates --config/--catalog/--state with src/airbyte, and answers in
// the Airbyte protocol on stdout (logs on stderr). check and discover talk to vtgate through
// live_commands.*, read runs the engine's sync, extract is extract_command.*.
#include <signal.h>

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "airbyte/catalog.hpp"
#include "airbyte/config.hpp"
#include "airbyte/json_input.hpp"
#include "airbyte/message_writer.hpp"
#include "airbyte/messages.hpp"
#include "airbyte/spec.hpp"
#include "airbyte/state.hpp"
#include "cli/args.hpp"
#include "cli/companions.hpp"
#include "cli/extract_command.hpp"
#include "cli/live_commands.hpp"
#include "cli/programs.hpp"
#include "cli/read_command.hpp"
#include "engine/sync.hpp"
#include "engine/vstream_source.hpp"
#include "socket/data_channel.hpp"
#include "util/result.hpp"
#include "vitess/vstream_client.hpp"

namespace sv::cli {
namespace {

using airbyte::MessageWriter;

constexpr std::string_view kUsage =
    "usage: source-vitess <command> [options]\n"
    "\n"
    "commands (Airbyte source protocol; answers are JSON lines on stdout, logs go to stderr):\n"
    "  spec                                        print the configuration specification\n"
    "  check    --config <file>                    test the configuration and the connection\n"
    "  discover --config <file>                    list the tables as an Airbyte catalog\n"
    "  read     --config <file> --catalog <file> [--state <file>] [--metrics-address HOST:PORT]\n"
    "                                              sync the configured streams\n"
    "\n"
    "  extract  --config <file> --output-dir <dir> [options]\n"
    "                                              dump the keyspace's tables to files (JSONL or CSV),\n"
    "                                              resumable; `source-vitess extract --help` lists options\n"
    "options:\n"
    "  --version                                   print the version\n"
    "  --help, -h                                  print this help\n"
    "log level: SPDLOG_LEVEL=debug (or trace, info, warn, error)\n";

// ---------------------------------------------------------------------------------------------
// read's sync.

//! `read` after config, catalog and state are valid: run the sync, writing every message to
//! `out`; returns the process exit code.
int run_read(const airbyte::Config& config, const airbyte::ConfiguredCatalog& catalog, const airbyte::InputState& state,
             MessageWriter& out, const std::optional<std::string>& metrics_address,
             const socket::DataChannel& channel) {
  auto source = make_vstream_source(config);
  if (!source) {
    std::string line;
    airbyte::append_error_trace(line, source.error(), nullptr, airbyte::now_ms());
    (void)out.write_now(line);
    return 1;
  }
  // Shards come from the VStream itself (a stream at "current" over the whole keyspace lists the
  // serving shards); MySQL is only asked for the optional row estimates.
  engine::ReadInputs inputs{config, catalog, state};
  // ESTIMATE traces before copies: information_schema row counts, best effort.
  const auto estimates = row_estimates(config);
  for (std::size_t i = 0; i < catalog.streams.size(); ++i) {
    if (auto it = estimates.rows.find(catalog.streams[i].name); it != estimates.rows.end()) {
      inputs.row_estimates[i] = it->second;
    }
    if (auto it = estimates.tables.find(catalog.streams[i].name);
        it != estimates.tables.end() && catalog.streams[i].keyspace == config.database) {
      inputs.tables[i] = it->second;
    }
  }
  // Warnings the user should see in the Airbyte UI, not only in the log: LOG messages, written
  // before the sync's first message (no stream has started, so no stream order is at stake).
  std::vector<std::string> warnings = state.warnings;
  if (!estimates.unavailable.empty()) warnings.push_back(estimates.unavailable);
  for (const auto& w : warnings) {
    std::string line;
    airbyte::append_log(line, airbyte::LogLevel::warn, w);
    (void)out.write_now(line);
  }
  // Beside the sync: SIGINT/SIGTERM end it cleanly (final STATE, INCOMPLETE), progress lines go to
  // stderr (the platform's log) and, when asked, Prometheus metrics are served.
  engine::Metrics metrics;
  CompanionOptions companion_options;
  companion_options.metrics_address = metrics_address;
  companion_options.progress.mode = telemetry::ProgressMode::log;
  companion_options.progress.interval = std::chrono::seconds(10);
  engine::EngineOptions options;
  // The Go connector's per-attempt deadline: each shard reads at most this long per sync, then
  // stops at its last checkpoint; the next sync continues there.
  options.shard_time_limit = std::chrono::seconds(config.timeout_seconds);
  if (channel.medium == socket::Medium::socket) {
    // Socket mode: the destination connects to every path before a row is read.
    auto sockets = socket::open_data_channel(channel.paths, channel.accept_timeout);
    if (!sockets) {
      spdlog::error("{}", sockets.error().message);
      std::string line;
      airbyte::append_error_trace(line, sockets.error(), nullptr, airbyte::now_ms());
      (void)out.write_now(line);
      return 1;
    }
    spdlog::info("read: socket mode, {} records on {} socket(s)", socket::to_string(channel.format), sockets->size());
    SocketChannel sc{channel.format, std::move(*sockets)};
    return run_sync(inputs, **source, out, options, &metrics, &companion_options, &sc);
  }
  return run_sync(inputs, **source, out, options, &metrics, &companion_options);
}

// ---------------------------------------------------------------------------------------------
// Command line and input validation.

struct Args {
  std::string command;
  std::optional<std::string> config, catalog, state, metrics_address;
  bool help = false;
  bool version = false;
  std::optional<std::string> problem;  //!< a usage error, reported in the command's protocol form
};

constexpr OptionSpec kOptions[] = {
    {"help", OptionValue::none, "-h"},
    {"version", OptionValue::none},
    {"config"},
    {"catalog"},
    {"state"},
    {"metrics-address"},
};

//! The command and its options. Every problem is kept (the first one is reported, in the
//! command's protocol form); `--help=x` and `--version=x` are unknown options.
Args parse_args(int argc, char** argv) {
  Args a;
  auto problem = [&](std::string message) {
    if (!a.problem) a.problem = std::move(message);
  };
  for (auto& item : scan_args(std::span(argv, static_cast<std::size_t>(argc)).subspan(1), kOptions)) {
    using Kind = ArgItem::Kind;
    switch (item.kind) {
      case Kind::unknown_option:
      case Kind::unexpected_value: problem(fmt::format("unknown option '--{}'", item.text)); break;
      case Kind::missing_value: problem(fmt::format("option '--{}' needs a file path", item.text)); break;
      case Kind::positional:
        if (a.command.empty()) {
          a.command = std::move(item.text);
        } else {
          problem(fmt::format("unexpected argument '{}'", item.text));
        }
        break;
      case Kind::option:
        if (item.text == "help") {
          a.help = true;
        } else if (item.text == "version") {
          a.version = true;
        } else {
          std::optional<std::string>& slot = item.text == "config"    ? a.config
                                             : item.text == "catalog" ? a.catalog
                                             : item.text == "state"   ? a.state
                                                                      : a.metrics_address;
          slot = std::move(item.value);
        }
        break;
    }
  }
  return a;
}

//! Writes one line to stdout; on failure logs why and returns false.
bool emit(MessageWriter& out, std::string_view line) {
  if (auto s = out.write_now(line); !s) {
    spdlog::error("{}", s.error().message);
    return false;
  }
  return true;
}

//! The answer of discover/read (and of an unknown command) to bad input: TRACE ERROR, exit 1.
int fail_with_trace(MessageWriter& out, const Error& error) {
  spdlog::error("{}", error.message);
  std::string line;
  airbyte::append_error_trace(line, error, nullptr, airbyte::now_ms());
  emit(out, line);
  return 1;
}

//! check's answer: CONNECTION_STATUS FAILED, exit 0 (the protocol's way to report a bad config).
int fail_check(MessageWriter& out, std::string_view message) {
  spdlog::error("check failed: {}", message);
  std::string line;
  airbyte::append_connection_status(line, false, message);
  return emit(out, line) ? 0 : 1;
}

Result<airbyte::Config> load_config(const Args& a, std::string_view command) {
  if (!a.config)
    return config_error(fmt::format("missing --config <file>: '{}' needs the connector configuration", command));
  auto text = airbyte::detail::read_file(*a.config, "--config", airbyte::detail::kMaxConfigBytes);
  if (!text) return text.error();
  auto config = airbyte::parse_config(*text);
  if (!config) return config_error("invalid configuration: " + config.error().message);
  spdlog::info("configuration: {}", airbyte::describe(*config));
  return config;
}

int cmd_spec(MessageWriter& out) { return emit(out, airbyte::spec_message()) ? 0 : 1; }

int cmd_check(const Args& a, MessageWriter& out) {
  if (a.problem) return fail_check(out, *a.problem);
  auto config = load_config(a, "check");
  if (!config) return fail_check(out, config.error().message);
  auto result = check_connection(*config);
  if (!result) return fail_check(out, result.error().message);
  std::string line;
  airbyte::append_connection_status(line, true, *result);
  return emit(out, line) ? 0 : 1;
}

int cmd_discover(const Args& a, MessageWriter& out) {
  if (a.problem) return fail_with_trace(out, config_error(*a.problem));
  auto config = load_config(a, "discover");
  if (!config) return fail_with_trace(out, config.error());
  if (auto s = discover_catalog(*config, out); !s) return fail_with_trace(out, s.error());
  return out.failed() ? 1 : 0;
}

int cmd_read(const Args& a, MessageWriter& out) {
  if (a.problem) return fail_with_trace(out, config_error(*a.problem));
  // Airbyte's socket mode (docs/speed-mode.md): checked before anything else is read.
  auto channel = socket::data_channel_from_env([](const char* name) -> const char* { return std::getenv(name); });
  if (!channel) return fail_with_trace(out, channel.error());
  auto config = load_config(a, "read");
  if (!config) return fail_with_trace(out, config.error());
  if (!a.catalog)
    return fail_with_trace(out, config_error("missing --catalog <file>: 'read' needs the configured catalog"));
  auto catalog_text = airbyte::detail::read_file(*a.catalog, "--catalog", airbyte::detail::kMaxCatalogBytes);
  if (!catalog_text) return fail_with_trace(out, catalog_text.error());
  if (a.metrics_address) {
    // A bad address is the user's to fix before anything starts (a busy port shows up later, as
    // every stream's INCOMPLETE with this config_error).
    if (auto address = telemetry::parse_listen_address(*a.metrics_address); !address) {
      return fail_with_trace(out, address.error());
    }
  }
  auto catalog = airbyte::parse_configured_catalog(*catalog_text, config->database);
  if (!catalog) return fail_with_trace(out, catalog.error());
  airbyte::InputState state;
  state.streams.resize(catalog->streams.size());
  if (a.state) {
    auto state_text = airbyte::detail::read_file(*a.state, "--state", airbyte::detail::kMaxStateBytes);
    if (!state_text) return fail_with_trace(out, state_text.error());
    auto parsed = airbyte::parse_state(*state_text, *catalog);
    if (!parsed) return fail_with_trace(out, parsed.error());
    state = std::move(*parsed);
  }
  std::size_t with_state = 0;
  for (const auto& s : state.streams) with_state += s.has_value();
  spdlog::info("read: {} configured stream(s), input state shape '{}', {} stream(s) resume from saved state",
               catalog->streams.size(), airbyte::to_string(state.shape), with_state);
  return run_read(*config, *catalog, state, out, a.metrics_address, *channel);
}

int run(int argc, char** argv) {
  // extract has its own options and no Airbyte protocol on stdout.
  if (argc > 1 && std::string_view(argv[1]) == "extract") return run_extract(argc, argv);
  const Args a = parse_args(argc, argv);
  MessageWriter out(1);
  if (a.help) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    return 0;
  }
  if (a.version) {
    std::printf("source-vitess %s\n", airbyte::connector_version());
    return 0;
  }
  if (a.command == "spec") return a.problem ? fail_with_trace(out, config_error(*a.problem)) : cmd_spec(out);
  if (a.command == "check") return cmd_check(a, out);
  if (a.command == "discover") return cmd_discover(a, out);
  if (a.command == "read") return cmd_read(a, out);
  if (a.command == "extract") return run_extract(argc, argv);
  std::fwrite(kUsage.data(), 1, kUsage.size(), stderr);
  if (a.command.empty())
    return fail_with_trace(out, config_error("no command given: expected spec, check, discover, read or extract"));
  return fail_with_trace(out, config_error(fmt::format(
                                  "unknown command '{}': expected spec, check, discover, read or extract", a.command)));
}

//! gRPC's `http` and `api` tracers print every header of a call, and with them the basic-auth
//! header `authorization: Basic <base64 of username:password>`. gRPC reads GRPC_TRACE once, when
//! the first channel initializes the library, so unsetting it before any gRPC call keeps the
//! credentials out of the log (GRPC_VERBOSITY alone enables no tracer).
void drop_grpc_trace() {
  if (std::getenv("GRPC_TRACE") == nullptr) return;
  ::unsetenv("GRPC_TRACE");
  spdlog::warn(
      "GRPC_TRACE is ignored: gRPC's traces would print the password (in the basic-auth header) to "
      "the log");
}

}  // namespace

int source_vitess_main(int argc, char** argv) {
  // stdout carries only protocol messages: every log goes to stderr, from the first line on.
  auto logger = spdlog::stderr_color_mt("source-vitess");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern(kLogPattern);
  spdlog::cfg::load_env_levels();
  drop_grpc_trace();
  // A closed stdout must show up as EPIPE from write(2), which we report, not kill us silently.
  ::signal(SIGPIPE, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    // Exceptions stay inside subsystems; reaching here is a bug, still answered in protocol form.
    std::string line;
    airbyte::append_error_trace(line, system_error("internal error", e.what()), nullptr, airbyte::now_ms());
    std::fwrite(line.data(), 1, line.size(), stdout);
    spdlog::critical("internal error: {}", e.what());
    return 1;
  }
}

}  // namespace sv::cli
