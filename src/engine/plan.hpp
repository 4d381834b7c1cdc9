// src/engine: planning — which shards a stream reads, from which cursor, and where each stops.
// Pure functions of the config, the saved state and the positions peeked at the start (no I/O),
// so they are unit-tested on their own (tests/engine/test_plan.cpp).
#pragma once

// First: Asio must be parsed before the protobuf namespace `query` exists (its query() trait).
// clang-format off
#include "engine/shard_source.hpp"
// clang-format on

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "airbyte/config.hpp"
#include "airbyte/state.hpp"
#include "engine/decoder.hpp"
#include "util/result.hpp"
#include "vitess/cursor.hpp"
#include "vitess/discovery.hpp"
#include "vitess/gtid.hpp"

namespace sv::engine {

//! Serving shard → its position when the sync started (ShardSource::current_positions).
using Positions = std::map<std::string, std::string>;
//! Shard → the last cursor a STATE may name.
using Cursors = std::map<std::string, vitess::TableCursor>;

//! How a stream's shards end in this sync.
struct ReadMode {
  bool full_refresh = false;  //!< ends when the copy completes
  bool follow = false;        //!< incremental, never ends (extract --follow)
};

//! What a stream's plan starts from.
struct PlanInputs {
  const airbyte::Config& config;
  const std::string& stream;  //!< the table (stream name)
  const std::string& keyspace;
  ReadMode mode;
  const std::optional<airbyte::StreamState>& saved;  //!< the stream's state, if any
  const Positions& current;
};

//! Every shard's starting cursor: the saved state's cursors when it has any (config_error when
//! one does not decode or its position is not a GTID set), else the config's `shards` (or every
//! serving shard) from `starting_gtids` (incremental) or from the copy.
Result<Cursors> plan_cursors(const PlanInputs& in);

//! Every starting_gtids position of `keyspace` names a serving shard and is "current" or a real
//! GTID set (a typo would otherwise be ignored, or fail later as an unexplained vtgate error).
Status check_starting_gtids(const std::string& keyspace, const Positions& current,
                            const std::map<std::string, std::string>& starts);

//! The position at which an incremental shard has nothing left to read in this sync.
std::optional<vitess::GtidSet> stop_of(const Positions& current, const std::string& shard);

//! True when a shard has nothing left to read in this sync.
bool shard_finished(ReadMode mode, const Positions& current, const vitess::TableCursor& c);

//! What the decoder needs to know of one shard of a read (where it is done).
ShardPlan plan_for(ReadMode mode, const Positions& current, const vitess::TableCursor& c);
//! The same while following a reshard journal: read until the JOURNAL, never done before it.
ShardPlan plan_until_journal(const vitess::TableCursor& c);

//! What a stream's VStream asks vtgate for: the select list of its filter rule, and the table's
//! columns left out of it that the catalog does not select either.
struct ColumnSelection {
  std::vector<std::string> select_list;  //!< empty = `SELECT *`
  std::vector<std::string> unselected;   //!< the table's columns outside the catalog, table order
};

//! The columns a stream streams. `table` = the table as information_schema described it at the
//! sync's start (nullptr = unknown). A select list (the catalog's columns in catalog order, then the
//! table's primary key columns it lacks) only when the catalog selects a strict subset of the
//! table's columns; `SELECT *` when the columns are unknown, the catalog has no properties,
//! selects every column, or names one the table does not have (the FIELD event then gives the
//! decoder's "no longer has the column(s)" error, as before). The Go connector's computed columns
//! (`_ab_cdc_*`, `_planetscale_metadata`) are never table columns.
ColumnSelection select_columns(const airbyte::ConfiguredStream& stream, const vitess::TableInfo* table);

//! Where a shard's VStream starts from its cursor.
ShardStartPoint start_point(const vitess::TableCursor& c, bool use_gtid_with_table_pks);

//! Whether two shards' key ranges ("-80", "40-80", "c0-": lower-case hex bounds, empty = open)
//! overlap. Names that are not ranges ("0", an unsharded keyspace) cover everything.
bool ranges_overlap(const std::string& a, const std::string& b);

template <class Map>
std::vector<std::string> keys(const Map& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

}  // namespace sv::engine
