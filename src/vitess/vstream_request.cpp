// src/vitess: building VStreamRequests (see vstream_request.hpp).
#include "vitess/vstream_request.hpp"

namespace sv::vitess {

TabletType tablet_type_from(bool use_replica, bool use_rdonly) {
  if (use_rdonly) return TabletType::rdonly;
  if (use_replica) return TabletType::replica;
  return TabletType::primary;
}

std::string default_cells_for_host(std::string_view host) {
  constexpr std::string_view kSuffix = ".psdb.cloud";
  if (host.size() >= kSuffix.size() && host.substr(host.size() - kSuffix.size()) == kSuffix) {
    return std::string(kPlanetScaleCells);
  }
  return {};
}

namespace {

void append_quoted(std::string& out, std::string_view name) {
  out.push_back('`');
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
}

}  // namespace

std::string select_all_filter(std::string_view table) {
  std::string out = "SELECT * FROM ";
  append_quoted(out, table);
  return out;
}

std::string select_filter(std::string_view table, std::span<const std::string> columns) {
  if (columns.empty()) return select_all_filter(table);
  std::string out = "SELECT ";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out += ", ";
    append_quoted(out, columns[i]);
  }
  out += " FROM ";
  append_quoted(out, table);
  return out;
}

vtgate::VStreamRequest build_vstream_request(std::span<const ShardStart> shards, std::span<const std::string> tables,
                                             const VStreamRequestOptions& options,
                                             std::span<const std::vector<std::string>> columns) {
  vtgate::VStreamRequest req;
  switch (options.tablet_type) {
    case TabletType::primary: req.set_tablet_type(topodata::PRIMARY); break;
    case TabletType::replica: req.set_tablet_type(topodata::REPLICA); break;
    case TabletType::rdonly: req.set_tablet_type(topodata::RDONLY); break;
  }
  auto* vgtid = req.mutable_vgtid();
  for (const auto& s : shards) {
    auto* sg = vgtid->add_shard_gtids();
    sg->set_keyspace(s.keyspace);
    sg->set_shard(s.shard);
    sg->set_gtid(s.gtid);
    for (const auto& pk : s.table_p_ks) *sg->add_table_p_ks() = pk;
  }
  auto* filter = req.mutable_filter();
  for (std::size_t i = 0; i < tables.size(); ++i) {
    auto* rule = filter->add_rules();
    rule->set_match(tables[i]);
    rule->set_filter(i < columns.size() ? select_filter(tables[i], columns[i]) : select_all_filter(tables[i]));
  }
  auto* flags = req.mutable_flags();
  flags->set_minimize_skew(options.minimize_skew);
  flags->set_cells(options.cells);
  flags->set_heartbeat_interval(options.heartbeat_interval_seconds);
  flags->set_stop_on_reshard(options.stop_on_reshard);
  return req;
}

}  // namespace sv::vitess
