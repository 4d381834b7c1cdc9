// src/engine: ShardReader — one stream's shard readers: VStream attempts from a shard's last
// committed cursor under the retry policy, bounded by the reader slots and the shard's time
// limit, decoding on the pool; and the one VStream over every shard that follows a reshard to its
// JOURNAL (for the Resharder).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/checkpoint.hpp"
#include "engine/context.hpp"
#include "engine/decoder.hpp"
#include "engine/stream_run.hpp"

namespace sv::engine {

class ShardReader {
 public:
  ShardReader(SyncContext& ctx, StreamRun& r, Checkpointer& checkpointer)
      : ctx_(ctx), r_(r), checkpointer_(checkpointer) {}

  struct Attempt {
    ReaderEnd end = ReaderEnd::done;
    std::optional<Error> error;
    bool transient = false;
    bool progressed = false;  //!< at least one chunk was committed
    std::optional<binlogdata::Journal> journal;
  };

  //! Reads one shard until its plan is done, it fails for good, its time limit passes, or
  //! `round` stops (a reshard stops it with StopCause::reshard).
  boost::asio::awaitable<ReaderEnd> read_shard(std::string shard, Scope& round);
  //! One VStream over every shard of the stream, until vtgate sends the reshard JOURNAL;
  //! stopped by the stream's scope.
  boost::asio::awaitable<Attempt> read_to_journal(const std::vector<vitess::TableCursor>& cursors, Decoder& decoder);
  //! A full_refresh stream whose copy did not finish within shard_time_limit.
  Error unfinished_copy_error() const;

 private:
  //! What an attempt reads to.
  enum class Goal {
    plan_end,  //!< every shard's plan is done (a reshard journal stops the round)
    journal,   //!< the reshard JOURNAL (ReaderEnd::done with Attempt::journal set)
  };
  //! One VStream over one shard from its cursor, until its plan is done; cancelled at `deadline`.
  boost::asio::awaitable<Attempt> read_to_end(const vitess::TableCursor& cursor, Decoder& decoder,
                                              Clock::time_point deadline, Scope& round);
  boost::asio::awaitable<Attempt> read_attempt(std::vector<ShardPlan> plans, std::vector<ShardStartPoint> starts,
                                               Decoder& decoder, Goal goal, Clock::time_point deadline, Scope& scope);
  boost::asio::awaitable<ReaderEnd> stop_at_time_limit(const std::string& shard);
  //! Warns once per column about columns the catalog does not select or whose type changed.
  boost::asio::awaitable<void> warn_schema_changes(const DecodeOutput& out);

  SyncContext& ctx_;
  StreamRun& r_;
  Checkpointer& checkpointer_;
};

}  // namespace sv::engine
