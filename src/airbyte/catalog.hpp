// src/airbyte: the configured catalog (`read --catalog`) parsed into typed values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airbyte/messages.hpp"
#include "util/result.hpp"

namespace sv::airbyte {

enum class SyncMode { full_refresh, incremental };
const char* to_string(SyncMode m);

//! The type a configured catalog's property declares (json_schema.properties.<column>).
struct PropertyType {
  std::vector<std::string> types;  //!< `type` (string or array) without "null"; empty = not said
  std::string format;              //!< "" = absent
  std::string airbyte_type;        //!< "" = absent
};

//! One entry of the configured catalog, in catalog order.
struct ConfiguredStream {
  std::string name;
  //! The namespace exactly as configured (may be empty). Used in every message about the
  //! stream, because the platform matches messages to streams by (name, namespace).
  std::string ns;
  //! Where the table lives: `ns`, or the config's `database` when `ns` is empty (as the Go
  //! connector resolves it). Also the `<keyspace>:<table>` key of the Go connector's state.
  std::string keyspace;
  //! Property names of stream.json_schema in document order = the columns to emit. Empty when
  //! the schema has no properties (the engine then emits every column, like the Go connector).
  std::vector<std::string> columns;
  std::vector<PropertyType> column_types;  //!< the declared type of each of `columns`
  SyncMode sync_mode = SyncMode::full_refresh;
  std::string destination_sync_mode;  //!< informational for a source; passed through as given
  std::vector<std::string> cursor_field;
  std::vector<std::vector<std::string>> primary_key;
  std::optional<std::int64_t> generation_id;
  std::optional<std::int64_t> minimum_generation_id;
  std::optional<std::int64_t> sync_id;

  StreamDescriptor descriptor() const { return {name, ns}; }
  //! `<keyspace>:<name>`, the stream key of the Go connector's legacy state.
  std::string legacy_key() const { return keyspace + ":" + name; }
};

struct ConfiguredCatalog {
  std::vector<ConfiguredStream> streams;
  //! The config's database: the keyspace of streams (and state entries) without a namespace.
  std::string default_namespace;
  //! Index of the stream with this keyspace and name, if configured.
  std::optional<std::size_t> find(std::string_view keyspace, std::string_view name) const;
};

//! Parses a ConfiguredAirbyteCatalog. `default_namespace` = the config's database. Errors
//! (config_error): invalid JSON (with location), no streams, a stream without a name, a
//! sync_mode other than full_refresh/incremental (naming the stream), a field of the wrong type,
//! the same stream configured twice.
Result<ConfiguredCatalog> parse_configured_catalog(std::string_view text, const std::string& default_namespace);

}  // namespace sv::airbyte
