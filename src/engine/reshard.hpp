// src/engine: Resharder — one stream's resharding: it follows vtgate's JOURNAL over all the
// stream's shards to the new shards' positions, or, when the table was still being copied, starts
// the copy again on the new shards (docs/state.md "Resharding").
#pragma once

#include <boost/asio/awaitable.hpp>

#include "engine/checkpoint.hpp"
#include "engine/context.hpp"
#include "engine/shard_reader.hpp"
#include "engine/stream_run.hpp"

namespace sv::engine {

class Resharder {
 public:
  Resharder(SyncContext& ctx, StreamRun& r, ShardReader& reader, Checkpointer& checkpointer)
      : ctx_(ctx), r_(r), reader_(reader), checkpointer_(checkpointer) {}

  //! Moves the stream's cursors from the shards that reshard to the shards that replace them;
  //! false when the stream failed (it says why) or stopped.
  boost::asio::awaitable<bool> migrate();

 private:
  boost::asio::awaitable<bool> restart_copy_on_new_shards();

  SyncContext& ctx_;
  StreamRun& r_;
  ShardReader& reader_;
  Checkpointer& checkpointer_;
};

}  // namespace sv::engine
