// src/engine: what the engine keeps per configured stream during a sync (its cursors, its
// checkpoint bookkeeping, what ends it), shared by the files that each do one job on it.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "airbyte/catalog.hpp"
#include "engine/decoder.hpp"
#include "engine/plan.hpp"
#include "engine/shard_source.hpp"
#include "util/async.hpp"
#include "util/result.hpp"
#include "vitess/cursor.hpp"

namespace sv::engine {

using Clock = std::chrono::steady_clock;

//! How a shard reader ended.
enum class ReaderEnd { done, failed, interrupted, reshard, time_limit };

struct StreamRun {
  std::size_t index = 0;
  const airbyte::ConfiguredStream* cfg = nullptr;
  ReadMode mode;
  DecoderOptions decoder;
  //! Last cursor per shard whose rows are in the emitter's queue (what a STATE may name).
  Cursors cursors;
  Positions current;  //!< shard → position peeked at the start
  std::uint64_t records_since_state = 0;
  bool changed_since_state = false;
  std::uint64_t states = 0;  //!< STATE messages pushed
  Clock::time_point last_state = Clock::now();
  std::optional<Error> failure;
  bool resharding = false;
  std::set<EventStream*> open_streams;
  std::set<std::string> warned_columns;
  std::set<std::string> warned_types;  //!< `column (column_type)` reported as no longer matching the catalog
  std::set<std::string> time_limited;  //!< shards stopped by EngineOptions::shard_time_limit
  //! One push of this stream at a time: a STATE must not overtake rows that another shard of the
  //! stream is still handing to the emitter (they would be printed before it, uncovered).
  std::unique_ptr<async::Slots> push_lock;
  //! follow mode: wakes the idle checkpoints (see idle_checkpoints); cancelled when the stream
  //! ends.
  std::unique_ptr<boost::asio::steady_timer> idle_timer;
  bool ended = false;

  bool full_refresh() const { return mode.full_refresh; }
  //! Readers of this stream must stop: it failed (or the sync stopped), or it reshards.
  bool interrupted() const { return failure || resharding; }
  //! Cancels every VStream of this stream that is open.
  void cancel_streams() {
    for (auto* s : open_streams) s->cancel();
  }
};

}  // namespace sv::engine
