// src/engine: planning (see plan.hpp).
#include "engine/plan.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "engine/row_writer.hpp"

namespace sv::engine {

namespace {

Result<Cursors> cursors_from_state(const PlanInputs& in, const airbyte::StreamState& saved) {
  Cursors cursors;
  for (const auto& [shard, text] : saved.shards) {
    auto c = vitess::decode_cursor(text);
    if (!c) {
      return config_error(fmt::format("the saved state of stream '{}' has an invalid cursor for shard '{}': {}",
                                      in.stream, shard, c.error().message));
    }
    if (c->shard().empty()) c->set_shard(shard);
    if (c->keyspace().empty()) c->set_keyspace(in.keyspace);
    // An empty position means "copy not finished"; anything else must be a real GTID set, or
    // vtgate would answer a malformed one with an unexplained error (and "current" would
    // silently skip every change since the state was saved).
    if (!c->position().empty()) {
      if (auto g = vitess::GtidSet::parse(c->position()); !g) {
        return config_error(
            fmt::format("the saved state of stream '{}' has an invalid position for shard "
                        "'{}': {}; reset the stream '{}'",
                        in.stream, shard, g.error().message, in.stream));
      }
    }
    cursors[shard] = std::move(*c);
  }
  return cursors;
}

const std::map<std::string, std::string>* starting_gtids_of(const airbyte::Config& config,
                                                            const std::string& keyspace) {
  auto ks = config.starting_gtids.find(keyspace);
  return ks == config.starting_gtids.end() ? nullptr : &ks->second;
}

}  // namespace

Result<Cursors> plan_cursors(const PlanInputs& in) {
  if (in.saved && !in.saved->shards.empty()) return cursors_from_state(in, *in.saved);
  std::vector<std::string> shards;
  if (!in.config.shards.empty()) {
    for (const auto& sh : in.config.shards) {
      if (!in.current.count(sh)) {
        return config_error(fmt::format("shard {} does not exist on the source database (serving shards of '{}': {})",
                                        sh, in.keyspace, fmt::join(keys(in.current), ",")));
      }
      shards.push_back(sh);
    }
  } else {
    shards = keys(in.current);
  }
  const auto* starts = in.mode.full_refresh ? nullptr : starting_gtids_of(in.config, in.keyspace);
  if (starts) {
    if (auto checked = check_starting_gtids(in.keyspace, in.current, *starts); !checked) return checked.error();
  }
  Cursors cursors;
  for (const auto& sh : shards) {
    std::string start;
    if (starts) {
      if (auto g = starts->find(sh); g != starts->end()) start = g->second;
    }
    // "current" means "from now on": the peeked position, so that no STATE ever carries the
    // keyword (a sync resumed from it would skip the changes made in between).
    if (start == "current") start = in.current.at(sh);
    cursors[sh] = vitess::make_cursor(in.keyspace, sh, start);
  }
  return cursors;
}

Status check_starting_gtids(const std::string& keyspace, const Positions& current,
                            const std::map<std::string, std::string>& starts) {
  for (const auto& [shard, position] : starts) {
    if (!current.count(shard)) {
      return config_error(
          fmt::format("config field 'starting_gtids' names shard {} of keyspace '{}', which "
                      "vtgate does not serve (serving shards: {})",
                      shard, keyspace, fmt::join(keys(current), ",")));
    }
    if (position == "current") continue;
    if (auto g = vitess::GtidSet::parse(position); !g) {
      return config_error(
          fmt::format("config field 'starting_gtids' has an invalid position for shard {} of "
                      "keyspace '{}': {}",
                      shard, keyspace, g.error().message));
    }
  }
  return Ok{};
}

std::optional<vitess::GtidSet> stop_of(const Positions& current, const std::string& shard) {
  auto it = current.find(shard);
  if (it == current.end()) return std::nullopt;
  auto g = vitess::GtidSet::parse(it->second);
  if (!g) return std::nullopt;
  return *g;
}

bool shard_finished(ReadMode mode, const Positions& current, const vitess::TableCursor& c) {
  if (mode.full_refresh) return !vitess::copy_pending(c);  // copy finished earlier
  if (vitess::copy_pending(c)) return false;
  if (mode.follow) return false;
  auto stop = stop_of(current, c.shard());
  if (!stop) return false;
  auto pos = vitess::GtidSet::parse(c.position());
  // Only a position equal to the shard's current one has nothing to read. One that contains
  // more is ahead of the server (a restore, or a failover to a server with fewer transactions):
  // only vtgate can judge it, and it must fail loudly rather than end the stream with nothing.
  return pos && *pos == *stop;
}

ShardPlan plan_for(ReadMode mode, const Positions& current, const vitess::TableCursor& c) {
  ShardPlan p;
  p.shard = c.shard();
  p.cursor = c;
  p.copying = vitess::copy_pending(c);
  p.stop_after_copy = mode.full_refresh;
  if (!mode.full_refresh && !mode.follow) p.stop = stop_of(current, c.shard());
  return p;
}

ShardPlan plan_until_journal(const vitess::TableCursor& c) {
  ShardPlan p;
  p.shard = c.shard();
  p.cursor = c;
  p.copying = vitess::copy_pending(c);
  return p;
}

ShardStartPoint start_point(const vitess::TableCursor& c, bool use_gtid_with_table_pks) {
  ShardStartPoint sp;
  sp.shard = c.shard();
  sp.gtid = c.position();
  if (vitess::has_last_pk(c)) {
    sp.lastpk = c.last_known_pk();
    // The Go connector's default: resume a copy from a fresh snapshot after lastpk.
    if (!use_gtid_with_table_pks) sp.gtid.clear();
  }
  return sp;
}

bool ranges_overlap(const std::string& a, const std::string& b) {
  const auto da = a.find('-');
  const auto db = b.find('-');
  if (da == std::string::npos || db == std::string::npos) return true;
  const std::string a_start = a.substr(0, da), a_end = a.substr(da + 1);
  const std::string b_start = b.substr(0, db), b_end = b.substr(db + 1);
  // Hex strings (even length) compare like the key bytes they encode.
  return (b_end.empty() || a_start < b_end) && (a_end.empty() || b_start < a_end);
}

}  // namespace sv::engine

namespace sv::engine {

ColumnSelection select_columns(const airbyte::ConfiguredStream& stream, const vitess::TableInfo* table) {
  ColumnSelection out;
  if (!table || stream.columns.empty()) return out;
  auto in_table = [&](const std::string& name) {
    return std::any_of(table->columns.begin(), table->columns.end(),
                       [&](const vitess::ColumnInfo& c) { return c.name == name; });
  };
  std::vector<std::string> list;
  for (const auto& c : stream.columns) {
    if (c == kUpdatedAtColumn || c == kDeletedAtColumn || c == kMetadataColumn) continue;
    if (!in_table(c)) return out;  // the decoder names it when the FIELD event arrives
    if (std::find(list.begin(), list.end(), c) == list.end()) list.push_back(c);
  }
  // The primary key always travels: the table's, and any top-level field the catalog keys on.
  std::vector<std::string> keys = table->primary_key;
  for (const auto& path : stream.primary_key) {
    if (path.size() == 1) keys.push_back(path[0]);
  }
  for (const auto& k : keys) {
    if (in_table(k) && std::find(list.begin(), list.end(), k) == list.end()) list.push_back(k);
  }
  if (list.size() >= table->columns.size()) return out;  // every column: `SELECT *` says it shorter
  for (const auto& c : table->columns) {
    if (std::find(stream.columns.begin(), stream.columns.end(), c.name) == stream.columns.end()) {
      out.unselected.push_back(c.name);
    }
  }
  out.select_list = std::move(list);
  return out;
}

}  // namespace sv::engine
