// src/vitess: VStreamRequests as the Go connector builds them (tablet type, flags, one filter rule
// per table, one ShardGtid per shard). Pure functions; no gRPC call.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "binlogdata.pb.h"
#include "vtgate.pb.h"

namespace sv::vitess {

//! Source tablet type, from the config's use_replica / use_rdonly (rdonly wins, as in Go).
enum class TabletType { primary, replica, rdonly };
TabletType tablet_type_from(bool use_replica, bool use_rdonly);

//! The cells the Go connector sends for PlanetScale.
inline constexpr std::string_view kPlanetScaleCells = "planetscale_operator_default";

//! Cells to request for a host: PlanetScale's operator cell for `*.psdb.cloud` hosts (what the Go
//! connector always sends), otherwise empty = the vtgate's own cell. A stock Vitess vtgate has no
//! cell named planetscale_operator_default and would find no tablet.
std::string default_cells_for_host(std::string_view host);

//! Where one shard starts.
struct ShardStart {
  std::string keyspace;
  std::string shard;
  std::string gtid;  //!< "" = copy from the start, "current" = now, else `MySQL56/...`
  //! Copy progress per table (table_name + lastpk), sent back verbatim (Go: the cursor's
  //! last_known_pk under the stream's table name).
  std::vector<binlogdata::TableLastPK> table_p_ks;
};

//! Request-wide options.
struct VStreamRequestOptions {
  TabletType tablet_type = TabletType::primary;
  std::string cells;                             //!< VStreamFlags.cells (see default_cells_for_host)
  bool minimize_skew = true;                     //!< as Go
  std::uint32_t heartbeat_interval_seconds = 0;  //!< 0 = none (Go sends none)
  bool stop_on_reshard = false;
};

//! `SELECT * FROM `t`` with backticks inside the name doubled.
std::string select_all_filter(std::string_view table);

//! A VStreamRequest as the Go connector builds it: tablet type, flags {minimize_skew, cells},
//! one filter rule per table (match = table, filter = select_all_filter(table)), and one
//! ShardGtid per shard with its gtid and table_p_ks.
vtgate::VStreamRequest build_vstream_request(std::span<const ShardStart> shards, std::span<const std::string> tables,
                                             const VStreamRequestOptions& options);

}  // namespace sv::vitess
