#include "cli/live_commands.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <optional>

#include "airbyte/discovered_catalog.hpp"
#include "airbyte/messages.hpp"
#include "util/json.hpp"
#include "vitess/values.hpp"

namespace sv::cli {
namespace asio = boost::asio;

vitess::ChannelOptions channel_options(const airbyte::Config& config) {
  vitess::ChannelOptions channel;
  channel.host = config.host;
  channel.port = static_cast<std::uint16_t>(config.grpc_port);
  channel.tls_mode = config.tls_mode;
  channel.ca_certificate = config.ca_certificate;
  channel.username = config.username;
  channel.password = config.password;
  return channel;
}

vitess::MysqlOptions mysql_options(const airbyte::Config& config) {
  vitess::MysqlOptions o;
  o.host = config.host;
  o.port = static_cast<std::uint16_t>(config.mysql_port);
  o.username = config.username;
  o.password = config.password;
  o.database = config.database;
  o.tablet_type = vitess::tablet_type_from(config.use_replica, config.use_rdonly);
  o.tls_mode = config.tls_mode;
  o.ca_certificate = config.ca_certificate;
  return o;
}

std::string stream_json(const vitess::TableInfo& table, const airbyte::Config& config) {
  vitess::ValueOptions value_options;
  value_options.tiny_int_as_boolean = !config.do_not_treat_tiny_int_as_boolean;
  value_options.invalid_dates_as_null = config.invalid_dates_as_null;
  airbyte::DiscoveredStream stream;
  stream.name = table.name;
  stream.ns = config.database;
  stream.primary_key = table.primary_key;
  stream.cdc_columns = config.capture_deletes;
  stream.metadata_column = config.include_metadata;
  for (const auto& c : table.columns) {
    JsonBuffer schema;
    JsonWriter w(schema);
    vitess::write_property_schema(w, vitess::property_schema(c.column_type, c.nullable, value_options));
    stream.columns.push_back({c.name, std::string(schema.GetString(), schema.GetSize())});
  }
  return airbyte::stream_json(stream);
}

vitess::VStreamRequestOptions vstream_request_options(const airbyte::Config& config) {
  vitess::VStreamRequestOptions request;
  request.tablet_type = vitess::tablet_type_from(config.use_replica, config.use_rdonly);
  request.cells = vitess::default_cells_for_host(config.host);
  return request;
}

Result<std::string> check_connection(const airbyte::Config& config) {
  auto session = vitess::MysqlSession::connect(mysql_options(config));
  if (!session) return session.error();
  if (auto ping = session->query("SELECT 1"); !ping) return ping.error();

  auto shards = vitess::list_shards(*session, config.database);
  if (!shards) return shards.error();
  for (const auto& wanted : config.shards)
    if (std::find(shards->begin(), shards->end(), wanted) == shards->end())
      return config_error(
          fmt::format("shard {} does not exist on the source database (shards: {})", wanted, fmt::join(*shards, ",")));

  auto client = vitess::VStreamClient::create(channel_options(config));
  if (!client) return client.error();
  const vitess::VStreamRequestOptions request = vstream_request_options(config);

  asio::io_context io;
  std::optional<Result<std::map<std::string, std::string>>> positions;
  std::string keyspace = config.database;
  std::vector<std::string> tables;  // no table filter: the peek only needs positions
  auto peek = [&]() -> asio::awaitable<void> {
    positions.emplace(co_await (*client)->peek_current_positions(io.get_executor(), keyspace, tables, request,
                                                                 std::chrono::seconds(20)));
  };
  asio::co_spawn(io, peek(), [&](std::exception_ptr e) {
    if (e) positions.emplace(system_error("VStream check failed unexpectedly"));
  });
  io.run();
  if (!positions || !*positions) {
    Error error = positions ? positions->error() : system_error("VStream check did not finish");
    error.message = "VStream is not usable: " + error.message;
    return error;
  }
  // The first shard MySQL listed; vtgate's VGTID names the same shards.
  std::string shard = shards->front();
  auto position = (*positions)->find(shard);
  if (position == (*positions)->end()) position = (*positions)->begin();
  return fmt::format(
      "Successfully connected to database {} at host {} with username {}: {} shard(s), "
      "VStream position of shard {} is {}",
      config.database, config.host, config.username, shards->size(), position->first, position->second);
}

Status discover_catalog(const airbyte::Config& config, airbyte::MessageWriter& out) {
  auto session = vitess::MysqlSession::connect(mysql_options(config));
  if (!session) return session.error();
  auto tables = vitess::discover_tables(*session, config.database);
  if (!tables) return tables.error();
  std::vector<std::string> streams;
  streams.reserve(tables->size());
  for (const auto& table : *tables) streams.push_back(stream_json(table, config));
  std::string line;
  airbyte::append_catalog(line, streams);
  return out.write_now(line);
}

Result<std::unique_ptr<engine::VStreamSource>> make_vstream_source(const airbyte::Config& config) {
  auto client = vitess::VStreamClient::create(channel_options(config));
  if (!client) return client.error();
  engine::VStreamSourceOptions options;
  options.request = vstream_request_options(config);
  // A silent stream (no heartbeat either) is broken; timeout_seconds is the sync's time limit per
  // shard instead (engine::EngineOptions::shard_time_limit).
  options.idle_timeout = std::chrono::seconds(config.idle_timeout_seconds);
  return std::make_unique<engine::VStreamSource>(std::move(*client), options);
}

RowEstimates row_estimates(const airbyte::Config& config) {
  RowEstimates estimates;
  auto options = mysql_options(config);
  options.connect_timeout = std::chrono::seconds(5);
  auto session = vitess::MysqlSession::connect(options);
  if (!session) {
    estimates.unavailable = fmt::format("No row estimates (MySQL connection failed: {})", session.error().message);
    spdlog::warn("{}", estimates.unavailable);
    return estimates;
  }
  auto rows = session->query("SELECT table_name, table_rows FROM information_schema.tables WHERE table_schema = " +
                             session->quote(config.database));
  if (!rows) {
    estimates.unavailable = fmt::format("No row estimates: {}", rows.error().message);
    spdlog::warn("{}", estimates.unavailable);
    return estimates;
  }
  for (const auto& row : rows->rows)
    if (row.size() > 1 && row[0] && row[1] && !row[1]->empty() &&
        std::all_of(row[1]->begin(), row[1]->end(), [](char c) { return c >= '0' && c <= '9'; }))
      estimates.rows[*row[0]] = std::stoull(*row[1]);
  // The columns let a stream that selects some of them ask vtgate for only those (best effort
  // too: without them every stream reads `SELECT *`, as the Go connector does).
  if (auto tables = vitess::discover_tables(*session, config.database)) {
    for (auto& t : *tables) estimates.tables.emplace(t.name, std::move(t));
  } else {
    spdlog::info("no column lists for the VStream select lists: {}", tables.error().message);
  }
  return estimates;
}

}  // namespace sv::cli
