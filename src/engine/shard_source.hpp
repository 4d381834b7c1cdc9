// src/engine: the narrow seam between the sync engine and Vitess. The engine opens VStreams and
// peeks positions only through ShardSource, so unit tests drive it with an in-memory fake and
// production plugs in the gRPC client (vstream_source.hpp).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "binlogdata.pb.h"
#include "query.pb.h"
#include "util/result.hpp"
#include "vitess/wire_response.hpp"
#include "vtgate.pb.h"

namespace sv::engine {

//! The server ended the stream with OK (vtgate: after a JOURNAL with stop_on_reshard, or a
//! stream closed without status by a proxy).
struct SourceEof {};

//! Why a stream ended with an error, where the engine acts on it (never on the error's text).
enum class SourceCause {
  other,
  //! vtgate met a reshard JOURNAL whose participant shards are not all in the stream: the
  //! stream must follow the reshard over every shard (vtgate's "not all journaling participants
  //! are in the stream").
  reshard_journal,
  //! The tablet cannot stream a column of the request's select list (vstreamer's "column X not
  //! found in table T"): a selected column was dropped or renamed. `column` names it.
  missing_column,
};

//! The stream ended with an error. `error.type == transient_error` means a retry from the last
//! cursor may succeed (UNAVAILABLE, DEADLINE_EXCEEDED, reset connection, idle timeout).
struct SourceError {
  Error error;
  SourceCause cause = SourceCause::other;
  std::string column = {};  //!< missing_column: the column vttablet did not find
  bool transient() const { return error.type == FailureType::transient_error; }
};

//! What EventStream::next() yields: a response as a generated message (the in-memory fake source)
//! or in wire form (the gRPC source: Decoder::process_wire renders its rows from the bytes), or
//! the end.
using SourceItem = std::variant<vtgate::VStreamResponse, SourceEof, SourceError, vitess::WireResponse>;

//! One open VStream. Destroying it cancels the call.
class EventStream {
 public:
  virtual ~EventStream() = default;
  //! The next response, or the end. After the end it keeps returning the end.
  virtual boost::asio::awaitable<SourceItem> next() = 0;
  //! Stops the call; a pending or later next() returns an end.
  virtual void cancel() = 0;
};

//! Where one shard of a stream starts.
struct ShardStartPoint {
  std::string shard;
  std::string gtid;                          //!< "" = copy from the start, "current", or `MySQL56/…`
  std::optional<query::QueryResult> lastpk;  //!< copy progress of the stream's table
};

//! One VStream: one table, one keyspace, one or more shards.
struct StreamRequest {
  std::string keyspace;
  std::string table;
  std::vector<ShardStartPoint> shards;
  //! The columns to stream (the filter rule's select list, see select_list in plan.hpp); empty =
  //! every column (`SELECT *`).
  std::vector<std::string> columns;
  bool stop_on_reshard = false;
  std::uint32_t heartbeat_interval_seconds = 0;
};

//! Vitess as the engine sees it. All calls are made on the engine's io_context thread.
class ShardSource {
 public:
  virtual ~ShardSource() = default;

  //! Opens a VStream. Errors surface from the stream's first next().
  virtual boost::asio::awaitable<std::unique_ptr<EventStream>> open(const StreamRequest& request) = 0;

  //! The current position (gtid "current") of each serving shard of `keyspace`, as the first
  //! VGTID of a stream over all shards reports it: shard → `MySQL56/…`. The keys are the serving
  //! shards, so this doubles as shard discovery.
  virtual boost::asio::awaitable<Result<std::map<std::string, std::string>>> current_positions(
      const std::string& keyspace, const std::string& table) = 0;
};

}  // namespace sv::engine
