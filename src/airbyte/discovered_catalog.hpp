// src/airbyte: the discovered catalog: the AirbyteStream JSON `discover` prints for each table,
// and reading a `discover` answer back as a configured catalog (`extract --catalog`). Knows
// nothing of MySQL types: the caller renders each column's JSON-schema property.
#pragma once

#include <string>
#include <vector>

namespace sv::airbyte {

struct DiscoveredColumn {
  std::string name;
  std::string schema_json;  //!< the property object, e.g. {"type":["null","string"]}
};

//! One table as `discover` describes it.
struct DiscoveredStream {
  std::string name;
  std::string ns;                         //!< the namespace (the config's database)
  std::vector<DiscoveredColumn> columns;  //!< any order: written sorted by name
  std::vector<std::string> primary_key;   //!< in key order
  bool cdc_columns = false;               //!< add `_ab_cdc_deleted_at` / `_ab_cdc_updated_at` (capture_deletes)
  bool metadata_column = false;           //!< add `_planetscale_metadata` (include_metadata)
};

//! The AirbyteStream JSON of one table: the Go connector's stream (name, namespace, schema with
//! properties sorted by name as its Go map writes them, both sync modes, primary key, a
//! source-defined cursor on the last key column) plus is_resumable and the optional columns.
std::string stream_json(const DiscoveredStream& stream);

//! `text` as a configured catalog: a `discover` answer ({"type":"CATALOG","catalog":{…}}) becomes
//! {"streams":[{"stream":…,"sync_mode":"full_refresh","destination_sync_mode":"overwrite"},…]};
//! anything else (a configured catalog, or text that is not JSON) is returned as it is, for
//! parse_configured_catalog to judge.
std::string as_configured_catalog(std::string text);

}  // namespace sv::airbyte
