// src/engine: checkpointing of one stream (see checkpoint.hpp and docs/state.md).
#include "engine/checkpoint.hpp"

#include "airbyte/emitter.hpp"
#include "vitess/cursor.hpp"

namespace sv::engine {

using boost::asio::awaitable;

awaitable<bool> Checkpointer::commit(Commit& c) {
  if (r_.failed()) co_return false;
  async::Permit turn = co_await r_.push_lock->acquire();
  const bool copy_ended = vitess::copy_pending(r_.cursors[c.shard]) && !vitess::copy_pending(c.cursor);
  const auto& config = ctx_.in.config;
  const bool due = r_.records_since_state + c.count >= config.checkpoint_interval_records ||
                   Clock::now() - r_.last_state >= std::chrono::seconds(config.checkpoint_interval_seconds) ||
                   (ctx_.opt.checkpoint_at_copy_end && copy_ended);
  auto& m = ctx_.metrics_of(r_);
  auto& sm = m.shards[c.shard];
  sm.records += c.count;
  sm.bytes += c.lines.size();
  sm.copying = vitess::copy_pending(c.cursor);
  m.records += c.count;
  m.bytes += c.lines.size();
  if (!due) {
    if (c.count > 0) {
      Batch batch(r_.index, std::move(c.lines), c.count, c.shard);
      if (!co_await ctx_.out.push(std::move(batch))) co_return ctx_.output_refused();
    }
    // Only now: a STATE built from here on may name this cursor, its rows are queued before it.
    r_.cursors[c.shard] = c.cursor;
    r_.records_since_state += c.count;
    r_.changed_since_state = true;
    co_return true;
  }
  r_.cursors[c.shard] = c.cursor;
  Batch batch = state_batch(std::move(c.lines), c.count);
  batch.shard = c.shard;
  if (!co_await ctx_.out.push(std::move(batch))) co_return ctx_.output_refused();
  co_return true;
}

//! `lines` followed by the stream's STATE (fresh cursors when `blank`); the stream's
//! checkpoint bookkeeping starts over from here.
Batch Checkpointer::state_batch(std::string lines, std::uint64_t count, bool blank) {
  Batch batch(r_.index, std::move(lines), count, {}, state_of(blank));
  r_.records_since_state = 0;
  r_.changed_since_state = false;
  r_.last_state = Clock::now();
  ++r_.states;
  ++ctx_.metrics_of(r_).checkpoints;
  return batch;
}

airbyte::StreamState Checkpointer::state_of(bool blank) const {
  std::map<std::string, std::string> shards;
  for (const auto& [shard, c] : r_.cursors) {
    shards[shard] = vitess::encode_cursor(blank ? vitess::make_cursor(c.keyspace(), c.shard()) : c);
  }
  return airbyte::StreamState(std::move(shards));
}

awaitable<void> Checkpointer::checkpoint(bool blank) {
  async::Permit turn = co_await r_.push_lock->acquire();
  Batch batch = state_batch(std::string(), 0, blank);
  if (!co_await ctx_.out.push(std::move(batch))) ctx_.output_refused();
}

}  // namespace sv::engine
