// src/engine: Checkpointer — one stream's checkpointing: committed chunks go to the output in
// order, and the stream's STATE (its shards' last cursors, in the Go connector's shape) follows
// them when a checkpoint is due (docs/state.md).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>

#include "airbyte/state.hpp"
#include "engine/context.hpp"
#include "engine/decoder.hpp"
#include "engine/output.hpp"
#include "engine/stream_run.hpp"

namespace sv::engine {

class Checkpointer {
 public:
  Checkpointer(SyncContext& ctx, StreamRun& r) : ctx_(ctx), r_(r) {}

  //! Hands a committed chunk to the output; adds the stream's STATE when a checkpoint is due.
  //! False when the stream failed or the output refused the chunk.
  boost::asio::awaitable<bool> commit(Commit& c);
  //! A STATE of the stream's cursors now (fresh cursors when `blank`).
  boost::asio::awaitable<void> checkpoint(bool blank = false);

 private:
  Batch state_batch(std::string lines, std::uint64_t count, bool blank = false);
  airbyte::StreamState state_of(bool blank) const;

  SyncContext& ctx_;
  StreamRun& r_;
};

}  // namespace sv::engine
