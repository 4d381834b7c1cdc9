// src/engine: one stream from its plan to COMPLETE or INCOMPLETE (see stream.hpp).
#include "engine/stream.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sv::engine {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

StreamDriver::StreamDriver(SyncContext& ctx, std::size_t index)
    : ctx_(ctx),
      r_(ctx.stop),
      checkpointer_(ctx, r_),
      reader_(ctx, r_, checkpointer_),
      resharder_(ctx, r_, reader_, checkpointer_) {
  const auto& s = ctx.in.catalog.streams[index];
  const auto& config = ctx.in.config;
  r_.index = index;
  r_.cfg = &s;
  r_.mode.full_refresh = s.sync_mode == airbyte::SyncMode::full_refresh;
  r_.mode.follow = ctx.opt.follow;
  r_.decoder.descriptor = s.descriptor();
  r_.decoder.keyspace = s.keyspace;
  r_.decoder.table = s.name;
  r_.decoder.columns = s.columns;
  r_.decoder.column_types = s.column_types;
  {
    const auto table = ctx.in.tables.find(index);
    auto selection = select_columns(s, table == ctx.in.tables.end() ? nullptr : &table->second);
    r_.decoder.select_list = std::move(selection.select_list);
    r_.decoder.unselected_columns = std::move(selection.unselected);
  }
  r_.decoder.include_metadata = config.include_metadata;
  r_.decoder.capture_deletes = config.capture_deletes;
  r_.decoder.values.tiny_int_as_boolean = !config.do_not_treat_tiny_int_as_boolean;
  r_.decoder.values.invalid_dates_as_null = config.invalid_dates_as_null;
  r_.decoder.row_writer = [&out = ctx.out, &s] { return out.row_writer(s.descriptor(), s.columns); };
  r_.push_lock = std::make_unique<async::Slots>(ctx.io.get_executor(), 1);
}

awaitable<void> StreamDriver::run() {
  auto& metrics = ctx_.metrics_of(r_);
  co_await ctx_.out.started(r_.index);
  metrics.phase = StreamPhase::running;
  metrics.started_at = Clock::now();
  auto planned = co_await plan();
  for (const auto& [shard, c] : r_.cursors) {
    auto& sm = metrics.shards[shard];
    sm.copying = vitess::copy_pending(c);
    sm.done = shard_finished(r_.mode, r_.current, c);
  }
  if (!planned) {
    r_.fail(planned.error());
    co_await finish();
    co_return;
  }
  // An ESTIMATE only for a stream that is about to copy its table.
  bool copies = false;
  for (const auto& [shard, c] : r_.cursors) copies = copies || vitess::copy_pending(c);
  if (auto est = ctx_.in.row_estimates.find(r_.index); est != ctx_.in.row_estimates.end()) {
    // information_schema behind vtgate answers from one shard of the keyspace, so its count is
    // one shard's share: the table is about that many rows on each shard read.
    const std::uint64_t rows = est->second * std::max<std::size_t>(r_.cursors.size(), 1);
    metrics.row_estimate = rows;
    if (copies) co_await ctx_.out.estimate(r_.index, rows, 0);
  }
  // A state whose shards are no longer served: follow the reshard journal first.
  bool need_migration = false;
  for (const auto& [shard, c] : r_.cursors) {
    if (!r_.current.count(shard)) need_migration = true;
  }
  // follow mode: the idle checkpoints run beside the rounds, in a scope that the stream's end
  // (or its failure) stops, and the stream ends only after them.
  Scope idle(r_.stop);
  async::Latch idle_ended(ctx_.io.get_executor());
  if (ctx_.opt.follow) {
    idle_ended.add();
    asio::co_spawn(ctx_.io, idle_checkpoints(idle), [&idle_ended](std::exception_ptr e) {
      log_escaped(e, "idle checkpoints failed");
      idle_ended.done();
    });
  }
  while (!r_.failed()) {
    if (need_migration && !co_await resharder_.migrate()) break;
    need_migration = co_await read_round();
    if (!need_migration) break;
    spdlog::info("stream {}: keyspace resharded, following the journal", r_.cfg->name);
  }
  if (r_.full_refresh() && !r_.time_limited.empty()) {
    (void)r_.stop.request_stop(StopReason(StopCause::failed, reader_.unfinished_copy_error()));
  }
  (void)idle.request_stop(StopReason(StopCause::ended));
  co_await finish();
  co_await idle_ended.wait();
}

awaitable<Status> StreamDriver::plan() {
  const auto& saved = r_.index < ctx_.in.state.streams.size() ? ctx_.in.state.streams[r_.index] : std::nullopt;
  auto positions = co_await ctx_.peek_positions(r_);
  if (!positions) co_return positions.error();
  r_.current = std::move(*positions);
  auto cursors = plan_cursors(PlanInputs{ctx_.in.config, r_.cfg->name, r_.cfg->keyspace, r_.mode, saved, r_.current});
  if (!cursors) co_return cursors.error();
  r_.cursors = std::move(*cursors);
  co_return Ok{};
}

awaitable<bool> StreamDriver::read_round() {
  // The round's readers stop together: a reshard stops this scope, a failure its parent.
  Scope round(r_.stop);
  async::Latch shards(ctx_.io.get_executor());
  for (const auto& [shard, c] : r_.cursors) {
    if (shard_finished(r_.mode, r_.current, c) || r_.time_limited.count(shard)) continue;
    shards.add();
    asio::co_spawn(ctx_.io, reader_.read_shard(shard, round), [this, &shards](std::exception_ptr e, ReaderEnd) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          (void)r_.stop.request_stop(
              StopReason(StopCause::failed, system_error("internal error in a shard reader", ex.what())));
        }
      }
      shards.done();
    });
  }
  co_await shards.wait();
  co_return round.stop_requested() && round.reason().cause == StopCause::reshard;
}

//! follow mode: a quiet source produces no rows, so nothing else would checkpoint; the output
//! (extract) still needs one every checkpoint_interval_seconds to close its change files.
awaitable<void> StreamDriver::idle_checkpoints(Scope& idle) {
  const auto interval = std::chrono::seconds(std::max<std::uint32_t>(ctx_.in.config.checkpoint_interval_seconds, 1));
  asio::steady_timer timer(ctx_.io);
  OnStop wake(idle, [&timer] { timer.cancel(); });
  while (!idle.stop_requested()) {
    timer.expires_at(r_.last_state + interval);
    co_await timer.async_wait(asio::as_tuple(use_awaitable));
    if (idle.stop_requested()) break;
    if (Clock::now() - r_.last_state >= interval) co_await checkpointer_.checkpoint();
  }
}

awaitable<void> StreamDriver::finish() {
  auto& metrics = ctx_.metrics_of(r_);
  // Full refresh ends with fresh cursors: the next sync copies the table again. Incremental
  // ends with the positions reached.
  // (No repeat of an identical last STATE: the platform distrusts consecutive duplicates.)
  if (!r_.failed() && (r_.full_refresh() || r_.changed_since_state || r_.states == 0))
    co_await checkpointer_.checkpoint(r_.full_refresh());
  // Complete only once the output took the COMPLETE (the extract's files are renamed by then).
  if (!r_.failed() && !co_await ctx_.out.complete(r_.index)) ctx_.output_refused();
  if (r_.failed()) {
    // Keep what was read: the next attempt resumes from here.
    if (r_.changed_since_state) co_await checkpointer_.checkpoint();
    Error e = r_.failure();
    metrics.phase = StreamPhase::incomplete;
    metrics.ended_at = Clock::now();
    co_await ctx_.out.incomplete(r_.index, std::move(e));
    co_return;
  }
  metrics.phase = StreamPhase::complete;
  metrics.ended_at = Clock::now();
}

}  // namespace sv::engine
