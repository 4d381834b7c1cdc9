#include "cli/live_commands.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "airbyte/messages.hpp"
#include "util/json.hpp"
#include "vitess/values.hpp"

namespace sv::cli {
namespace asio = boost::asio;

vitess::TlsMode tls_mode_of(const airbyte::Config& config) {
  switch (config.tls_mode) {
    case airbyte::TlsMode::disabled: return vitess::TlsMode::disabled;
    case airbyte::TlsMode::required: return vitess::TlsMode::required;
    case airbyte::TlsMode::verify_ca: return vitess::TlsMode::verify_ca;
    case airbyte::TlsMode::verify_identity: return vitess::TlsMode::verify_identity;
  }
  return vitess::TlsMode::verify_identity;
}

vitess::ChannelOptions channel_options(const airbyte::Config& config) {
  vitess::ChannelOptions channel;
  channel.host = config.host;
  channel.port = static_cast<std::uint16_t>(config.grpc_port);
  channel.tls_mode = tls_mode_of(config);
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
  o.tls_mode = tls_mode_of(config);
  o.ca_certificate = config.ca_certificate;
  return o;
}

namespace {

void write_string(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

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

std::string stream_json(const vitess::TableInfo& table, const airbyte::Config& config) {
  vitess::ValueOptions value_options;
  value_options.tiny_int_as_boolean = !config.do_not_treat_tiny_int_as_boolean;
  value_options.invalid_dates_as_null = config.invalid_dates_as_null;

  // Properties sorted by name, as the Go connector writes them (its schema is a Go map).
  std::vector<const vitess::ColumnInfo*> columns;
  for (const auto& c : table.columns) columns.push_back(&c);
  std::sort(columns.begin(), columns.end(), [](auto* a, auto* b) { return a->name < b->name; });

  JsonBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("name");
  write_string(w, table.name);
  w.Key("json_schema");
  w.StartObject();
  w.Key("type");
  w.String("object");
  w.Key("properties");
  w.StartObject();
  for (const auto* c : columns) {
    w.Key(c->name.data(), static_cast<rapidjson::SizeType>(c->name.size()));
    vitess::write_property_schema(w, vitess::property_schema(c->column_type, c->nullable, value_options));
  }
  if (config.capture_deletes) {
    w.Key("_ab_cdc_deleted_at");
    write_nullable_timestamp(w);
    w.Key("_ab_cdc_updated_at");
    write_nullable_timestamp(w);
  }
  if (config.include_metadata) {
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
  write_string(w, config.database);
  w.Key("source_defined_primary_key");
  w.StartArray();
  for (const auto& key : table.primary_key) {
    w.StartArray();
    write_string(w, key);
    w.EndArray();
  }
  w.EndArray();
  w.Key("source_defined_cursor");
  w.Bool(true);
  w.Key("default_cursor_field");
  w.StartArray();
  if (!table.primary_key.empty()) write_string(w, table.primary_key.back());
  w.EndArray();
  w.Key("is_resumable");
  w.Bool(true);
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
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
      return config_error(fmt::format("shard {} does not exist on the source database (shards: {})", wanted,
                                      fmt::join(*shards, ",")));

  auto client = vitess::VStreamClient::create(channel_options(config));
  if (!client) return client.error();
  const vitess::VStreamRequestOptions request = vstream_request_options(config);

  asio::io_context io;
  std::optional<Result<std::string>> position;
  std::string keyspace = config.database;
  std::string shard = shards->front();
  std::vector<std::string> tables;  // no table filter: the peek only needs a position
  auto peek = [&]() -> asio::awaitable<void> {
    position.emplace(co_await (*client)->peek_current_position(io.get_executor(), keyspace, shard, tables,
                                                               request, std::chrono::seconds(20)));
  };
  asio::co_spawn(io, peek(), [&](std::exception_ptr e) {
    if (e) position.emplace(system_error("VStream check failed unexpectedly"));
  });
  io.run();
  if (!position || !*position) {
    Error error = position ? position->error() : system_error("VStream check did not finish");
    error.message = "VStream is not usable: " + error.message;
    return error;
  }
  return fmt::format("Successfully connected to database {} at host {} with username {}: {} shard(s), "
                     "VStream position of shard {} is {}",
                     config.database, config.host, config.username, shards->size(), shard, position->value());
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
  return estimates;
}

}  // namespace sv::cli
