// src/engine: checkpointing — committed chunks go to the output in order, and the stream's STATE
// (its shards' last cursors, in the Go connector's shape) follows them when a checkpoint is due
// (see sync_impl.hpp and docs/state.md).
#include "airbyte/emitter.hpp"
#include "engine/sync_impl.hpp"
#include "vitess/cursor.hpp"

namespace sv::engine {

using boost::asio::awaitable;

awaitable<bool> Sync::commit(StreamRun& r, Commit& c) {
  if (r.failure) co_return false;
  async::Permit turn = co_await r.push_lock->acquire();
  const bool copy_ended = vitess::copy_pending(r.cursors[c.shard]) && !vitess::copy_pending(c.cursor);
  const bool due = r.records_since_state + c.count >= in_.config.checkpoint_interval_records ||
                   Clock::now() - r.last_state >= std::chrono::seconds(in_.config.checkpoint_interval_seconds) ||
                   (opt_.checkpoint_at_copy_end && copy_ended);
  auto& sm = metrics_of(r).shards[c.shard];
  sm.records += c.count;
  sm.bytes += c.lines.size();
  sm.copying = vitess::copy_pending(c.cursor);
  metrics_of(r).records += c.count;
  metrics_of(r).bytes += c.lines.size();
  if (!due) {
    if (c.count > 0) {
      Batch batch(r.index, std::move(c.lines), c.count, c.shard);
      if (!co_await em_.push(std::move(batch))) co_return output_refused();
    }
    // Only now: a STATE built from here on may name this cursor, its rows are queued before it.
    r.cursors[c.shard] = c.cursor;
    r.records_since_state += c.count;
    r.changed_since_state = true;
    co_return true;
  }
  r.cursors[c.shard] = c.cursor;
  Batch batch = state_batch(r, std::move(c.lines), c.count);
  batch.shard = c.shard;
  if (!co_await em_.push(std::move(batch))) co_return output_refused();
  co_return true;
}

//! `lines` followed by the stream's STATE (fresh cursors when `blank`); the stream's
//! checkpoint bookkeeping starts over from here.
Batch Sync::state_batch(StreamRun& r, std::string lines, std::uint64_t count, bool blank) {
  Batch batch(r.index, std::move(lines), count, {}, state_of(r, blank));
  r.records_since_state = 0;
  r.changed_since_state = false;
  r.last_state = Clock::now();
  ++r.states;
  ++metrics_of(r).checkpoints;
  return batch;
}

airbyte::StreamState Sync::state_of(const StreamRun& r, bool blank) const {
  std::map<std::string, std::string> shards;
  for (const auto& [shard, c] : r.cursors) {
    shards[shard] = vitess::encode_cursor(blank ? vitess::make_cursor(c.keyspace(), c.shard()) : c);
  }
  return airbyte::StreamState(std::move(shards));
}

awaitable<void> Sync::checkpoint(StreamRun& r, bool blank) {
  async::Permit turn = co_await r.push_lock->acquire();
  Batch batch = state_batch(r, std::string(), 0, blank);
  if (!co_await em_.push(std::move(batch))) output_refused();
}

}  // namespace sv::engine
