// src/emulator/vtgate_errors.hpp — the error texts and gRPC statuses the emulator's VStream
// returns as vtgate and vttablet word them (vitessio/vitess go/vt/vtgate/vstream_manager.go,
// go/vt/vttablet/tabletconn): Go's %+v text of a VGTID, the per-shard error wrapping, and the
// mapping of the connector's Error to a status code.
#pragma once

#include <string>

#include <grpcpp/grpcpp.h>

#include "util/result.hpp"

#include "binlogdata.pb.h"

namespace sv::emulator::detail {

//! An Error as the status a backend failure reaches the client with.
grpc::Status to_status(const sv::Error& e);

//! A ShardGtid as vtgate prints it with `%+v` (Go's compact prototext: fields at their zero
//! value are left out). A table_p_ks entry is shown by its table name only (its lastpk, a
//! QueryResult, is left out: no client reads it back from an error text).
std::string go_text(const binlogdata::ShardGtid& sg);
std::string go_text(const binlogdata::VGtid& v);

//! The cell the emulator's tablets live in (the MySQL front's SHOW VITESS_TABLETS says the same).
constexpr const char* kCell = "zone1";

//! vtgate's wrapping of a per-shard error (vitessio/vitess go/vt/vtgate/vstream_manager.go):
//! startOneStream prefixes "error starting stream from shard GTID <sgtid>"; streamFromTablet
//! either gives up at once ("error in vstream for K/S on tablet T", for INVALID_ARGUMENT and
//! INTERNAL: shouldRetry) or after three attempts ("persistent error in vstream for K/S on tablet
//! T; giving up", for FAILED_PRECONDITION, UNAVAILABLE and non-SQL errors); the tablet's own
//! status arrives through tabletconn.ErrorFromGRPC as "vttablet: rpc error: code = … desc = …".
//! The status code stays the tablet's.
grpc::Status vtgate_shard_error(const binlogdata::ShardGtid& sg, const std::string& tablet, grpc::StatusCode code,
                                const std::string& tablet_message);

}  // namespace sv::emulator::detail
