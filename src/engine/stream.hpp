// src/engine: StreamDriver — one stream from its plan to COMPLETE or INCOMPLETE: the plan, rounds
// of shard readers (a reshard stops a round and the Resharder moves the stream to the new shards
// before the next), idle checkpoints in follow mode, and the end. It owns the stream's state and
// the objects that do its jobs.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>

#include "engine/checkpoint.hpp"
#include "engine/context.hpp"
#include "engine/reshard.hpp"
#include "engine/shard_reader.hpp"
#include "engine/stream_run.hpp"

namespace sv::engine {

class StreamDriver {
 public:
  //! The `index`-th stream of the configured catalog; its scope is a child of the sync's.
  StreamDriver(SyncContext& ctx, std::size_t index);
  StreamDriver(const StreamDriver&) = delete;
  StreamDriver& operator=(const StreamDriver&) = delete;

  boost::asio::awaitable<void> run();

 private:
  //! Shards, cursors and stop positions of the stream.
  boost::asio::awaitable<Status> plan();
  //! One reader per unfinished shard, in a scope of their own, until all ended; true when the
  //! round stopped because the keyspace reshards.
  boost::asio::awaitable<bool> read_round();
  boost::asio::awaitable<void> idle_checkpoints(Scope& idle);
  boost::asio::awaitable<void> finish();

  SyncContext& ctx_;
  StreamRun r_;
  Checkpointer checkpointer_;
  ShardReader reader_;
  Resharder resharder_;
};

}  // namespace sv::engine
