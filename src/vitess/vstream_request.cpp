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

std::string select_all_filter(std::string_view table) {
  std::string out = "SELECT * FROM `";
  for (char c : table) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

vtgate::VStreamRequest build_vstream_request(std::span<const ShardStart> shards, std::span<const std::string> tables,
                                             const VStreamRequestOptions& options) {
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
  for (const auto& t : tables) {
    auto* rule = filter->add_rules();
    rule->set_match(t);
    rule->set_filter(select_all_filter(t));
  }
  auto* flags = req.mutable_flags();
  flags->set_minimize_skew(options.minimize_skew);
  flags->set_cells(options.cells);
  flags->set_heartbeat_interval(options.heartbeat_interval_seconds);
  flags->set_stop_on_reshard(options.stop_on_reshard);
  return req;
}

}  // namespace sv::vitess
