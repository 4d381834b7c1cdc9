// src/cli: the parts of `check`, `discover` and `read` that talk to vtgate, joining the
// airbyte layer (config, messages) with the vitess layer (MySQL session, discovery, VStream).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "airbyte/config.hpp"
#include "airbyte/message_writer.hpp"
#include "engine/vstream_source.hpp"
#include "util/result.hpp"
#include "vitess/discovery.hpp"
#include "vitess/mysql_session.hpp"
#include "vitess/vstream_client.hpp"

namespace sv::cli {

vitess::ChannelOptions channel_options(const airbyte::Config& config);
vitess::MysqlOptions mysql_options(const airbyte::Config& config);
//! Tablet type and cells of every VStream the config asks for (check's and the sync's).
vitess::VStreamRequestOptions vstream_request_options(const airbyte::Config& config);

//! The AirbyteStream JSON of one table (airbyte::stream_json): each column's property from its
//! MySQL type and the config's value options, the CDC columns when capture_deletes is on and
//! `_planetscale_metadata` when include_metadata is on.
std::string stream_json(const vitess::TableInfo& table, const airbyte::Config& config);

//! `check`: logs in over MySQL (credentials, database), lists the keyspace's shards, and peeks
//! the keyspace's current positions as `read` does (VStream permission). Returns the SUCCEEDED
//! message.
Result<std::string> check_connection(const airbyte::Config& config);

//! `discover`: writes one CATALOG message.
Status discover_catalog(const airbyte::Config& config, airbyte::MessageWriter& out);

//! The engine's VStream source for the config (tablet type, cells, idle timeout).
Result<std::unique_ptr<engine::VStreamSource>> make_vstream_source(const airbyte::Config& config);

//! Row estimates for the ESTIMATE traces. Best effort: on any error `rows` is empty and
//! `unavailable` says why (already logged on stderr; `read` repeats it as a LOG for the UI).
struct RowEstimates {
  std::map<std::string, std::uint64_t> rows;  //!< keyed by table name
  std::string unavailable;
  //! The config database's tables with their columns and primary keys (vitess::discover_tables),
  //! keyed by name; empty when information_schema could not say (streams then read `SELECT *`).
  std::map<std::string, vitess::TableInfo> tables;
};
RowEstimates row_estimates(const airbyte::Config& config);

}  // namespace sv::cli
