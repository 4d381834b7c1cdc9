// src/engine: one stream from its plan to COMPLETE or INCOMPLETE — rounds of shard readers (a
// reshard starts a new round), the time limit, idle checkpoints in follow mode, and the end
// (see sync_impl.hpp).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "engine/sync_impl.hpp"

namespace sv::engine {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

void Sync::init_stream(StreamRun& r, std::size_t index) {
  const auto& s = in_.catalog.streams[index];
  r.index = index;
  r.cfg = &s;
  r.mode.full_refresh = s.sync_mode == airbyte::SyncMode::full_refresh;
  r.mode.follow = opt_.follow;
  r.decoder.descriptor = s.descriptor();
  r.decoder.keyspace = s.keyspace;
  r.decoder.table = s.name;
  r.decoder.columns = s.columns;
  r.decoder.column_types = s.column_types;
  r.decoder.include_metadata = in_.config.include_metadata;
  r.decoder.capture_deletes = in_.config.capture_deletes;
  r.decoder.values.tiny_int_as_boolean = !in_.config.do_not_treat_tiny_int_as_boolean;
  r.decoder.values.invalid_dates_as_null = in_.config.invalid_dates_as_null;
  r.decoder.row_writer = [this, &s] { return em_.row_writer(s.descriptor(), s.columns); };
  if (stop_reason_) r.failure = stop_reason_;
  r.push_lock = std::make_unique<async::Slots>(io_.get_executor(), 1);
}

awaitable<void> Sync::run_stream(StreamRun& r) {
  co_await em_.started(r.index);
  metrics_of(r).phase = StreamPhase::running;
  metrics_of(r).started_at = Clock::now();
  auto planned = co_await plan(r);
  for (const auto& [shard, c] : r.cursors) {
    auto& sm = metrics_of(r).shards[shard];
    sm.copying = vitess::copy_pending(c);
    sm.done = shard_finished(r.mode, r.current, c);
  }
  if (!planned) {
    co_await fail_stream(r, planned.error());
    co_await finish_stream(r);
    co_return;
  }
  // An ESTIMATE only for a stream that is about to copy its table.
  bool copies = false;
  for (const auto& [shard, c] : r.cursors) copies = copies || vitess::copy_pending(c);
  if (auto est = in_.row_estimates.find(r.index); est != in_.row_estimates.end()) {
    // information_schema behind vtgate answers from one shard of the keyspace, so its count is
    // one shard's share: the table is about that many rows on each shard read.
    const std::uint64_t rows = est->second * std::max<std::size_t>(r.cursors.size(), 1);
    metrics_of(r).row_estimate = rows;
    if (copies) co_await em_.estimate(r.index, rows, 0);
  }
  // A state whose shards are no longer served: follow the reshard journal first.
  bool need_migration = false;
  for (const auto& [shard, c] : r.cursors) {
    if (!r.current.count(shard)) need_migration = true;
  }
  if (opt_.follow) {
    r.idle_timer = std::make_unique<asio::steady_timer>(io_);
    asio::co_spawn(io_, idle_checkpoints(r), asio::detached);
  }
  while (!r.failure) {
    if (need_migration || r.resharding) {
      r.resharding = false;
      if (!co_await migrate(r)) break;
      need_migration = false;
    }
    co_await read_round(r);
    if (!r.resharding) break;
    spdlog::info("stream {}: keyspace resharded, following the journal", r.cfg->name);
  }
  if (r.full_refresh() && !r.time_limited.empty() && !r.failure) r.failure = unfinished_copy_error(r);
  co_await finish_stream(r);
}

awaitable<Status> Sync::plan(StreamRun& r) {
  const auto& saved = r.index < in_.state.streams.size() ? in_.state.streams[r.index] : std::nullopt;
  auto positions = co_await peek_positions(r);
  if (!positions) co_return positions.error();
  r.current = std::move(*positions);
  auto cursors = plan_cursors(PlanInputs{in_.config, r.cfg->name, r.cfg->keyspace, r.mode, saved, r.current});
  if (!cursors) co_return cursors.error();
  r.cursors = std::move(*cursors);
  co_return Ok{};
}

awaitable<void> Sync::read_round(StreamRun& r) {
  async::Latch shards(io_.get_executor());
  for (const auto& [shard, c] : r.cursors) {
    if (shard_finished(r.mode, r.current, c) || r.time_limited.count(shard)) continue;
    shards.add();
    asio::co_spawn(io_, read_shard(r, shard), [&shards, &r](std::exception_ptr e, ReaderEnd) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          if (!r.failure) r.failure = system_error("internal error in a shard reader", ex.what());
        }
      }
      shards.done();
    });
  }
  co_await shards.wait();
}

awaitable<void> Sync::fail_stream(StreamRun& r, Error error) {
  if (r.failure) co_return;
  spdlog::error("stream {}: {}", r.cfg->name, error.message);
  r.failure = std::move(error);
  r.cancel_streams();
}

namespace {

double seconds_of(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

}  // namespace

//! shard_time_limit passed for a shard: it stops at its last committed cursor (the rows after it
//! went with the cancelled VStream), a STATE saves that cursor now, and the next sync (or, for a
//! full_refresh stream, the next attempt) continues from there, as the Go connector does after
//! its per-attempt deadline (go-connector-reference.md §4.7).
awaitable<ReaderEnd> Sync::stop_at_time_limit(StreamRun& r, const std::string& shard) {
  r.time_limited.insert(shard);
  if (r.failure) co_return ReaderEnd::interrupted;
  if (r.changed_since_state) co_await checkpoint(r);
  if (!r.full_refresh()) {  // a full_refresh stream says it in its error (unfinished_copy_error)
    co_await warn_user(
        fmt::format("stream {}: shard {} was read for timeout_seconds ({:g} s) without reaching "
                    "the end of this sync; it "
                    "stops at its last saved position and the next sync continues from there. "
                    "Raise timeout_seconds to read "
                    "more per sync.",
                    r.cfg->name, shard, seconds_of(opt_.shard_time_limit)));
  }
  co_return ReaderEnd::time_limit;
}

//! A full_refresh stream whose copy did not finish within shard_time_limit: its rows are not the
//! whole table, so the stream cannot be COMPLETE; its last STATE holds the copy's progress.
Error Sync::unfinished_copy_error(const StreamRun& r) const {
  return transient_error(
      fmt::format("stream {}: the copy of shard(s) {} did not finish within timeout_seconds ({:g} "
                  "s); its progress is saved "
                  "and the next attempt continues the copy from there. Raise timeout_seconds to "
                  "copy the table in one attempt.",
                  r.cfg->name, fmt::join(r.time_limited, ","), seconds_of(opt_.shard_time_limit)));
}

awaitable<void> Sync::warn_user(std::string message) {
  spdlog::warn("{}", message);
  co_await em_.warning(std::move(message));
}

//! follow mode: a quiet source produces no rows, so nothing else would checkpoint; the output
//! (extract) still needs one every checkpoint_interval_seconds to close its change files.
awaitable<void> Sync::idle_checkpoints(StreamRun& r) {
  const auto interval = std::chrono::seconds(std::max<std::uint32_t>(in_.config.checkpoint_interval_seconds, 1));
  while (!r.ended && !r.failure) {
    r.idle_timer->expires_at(r.last_state + interval);
    co_await r.idle_timer->async_wait(asio::as_tuple(use_awaitable));
    if (r.ended || r.failure) break;
    if (Clock::now() - r.last_state >= interval) co_await checkpoint(r);
  }
}

awaitable<void> Sync::finish_stream(StreamRun& r) {
  r.ended = true;
  if (r.idle_timer) r.idle_timer->cancel();
  // Full refresh ends with fresh cursors: the next sync copies the table again. Incremental
  // ends with the positions reached.
  // (No repeat of an identical last STATE: the platform distrusts consecutive duplicates.)
  if (!r.failure && (r.full_refresh() || r.changed_since_state || r.states == 0))
    co_await checkpoint(r, r.full_refresh());
  // Complete only once the output took the COMPLETE (the extract's files are renamed by then).
  if (!r.failure && !co_await em_.complete(r.index)) output_refused();
  if (r.failure) {
    // Keep what was read: the next attempt resumes from here.
    if (r.changed_since_state) co_await checkpoint(r);
    Error e = *r.failure;
    metrics_of(r).phase = StreamPhase::incomplete;
    metrics_of(r).ended_at = Clock::now();
    co_await em_.incomplete(r.index, std::move(e));
    co_return;
  }
  metrics_of(r).phase = StreamPhase::complete;
  metrics_of(r).ended_at = Clock::now();
}

}  // namespace sv::engine
