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

//! `SELECT `c1`, `c2` FROM `t`` (every identifier backtick-quoted, backticks inside doubled), or
//! select_all_filter(table) when `columns` is empty. vttablet's vstreamer then sends only these
//! columns, in this order, in FIELD and ROW events (vitessio/vitess
//! go/vt/vttablet/tabletserver/vstreamer/planbuilder.go, analyzeExprs/analyzeExpr: one ColExpr
//! per selected column, `Plan.fields()` and `Plan.filter()` project the table's row onto them); a
//! name the table does not have fails the stream with FAILED_PRECONDITION "column X not found in
//! table T" (findColumn).
std::string select_filter(std::string_view table, std::span<const std::string> columns);

//! A VStreamRequest as the Go connector builds it: tablet type, flags {minimize_skew, cells},
//! one filter rule per table (match = table, filter = select_filter(table, columns[i]); the Go
//! connector always sends `SELECT * FROM `t``, as this does for a table without columns[i]), and
//! one ShardGtid per shard with its gtid and table_p_ks.
vtgate::VStreamRequest build_vstream_request(std::span<const ShardStart> shards, std::span<const std::string> tables,
                                             const VStreamRequestOptions& options,
                                             std::span<const std::vector<std::string>> columns = {});

}  // namespace sv::vitess
