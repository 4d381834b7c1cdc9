// src/engine: resharding — a stream whose keyspace reshards follows vtgate's JOURNAL over all its
// shards to the new shards' positions, or, when the table was still being copied, starts the
// copy again on the new shards (see sync_impl.hpp and docs/state.md "Resharding").
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "engine/sync_impl.hpp"

namespace sv::engine {

using boost::asio::awaitable;

namespace {

//! The stream's shards that the start-of-read peek did not list (saved state of an older shard
//! layout, or of another keyspace).
std::vector<std::string> unserved_shards(const StreamRun& r) {
  std::vector<std::string> out;
  for (const auto& [shard, c] : r.cursors) {
    if (!r.current.count(shard)) out.push_back(shard);
  }
  return out;
}

//! Why following a reshard of shards the saved state names can fail, and what to change.
std::string unserved_advice(const StreamRun& r, const std::vector<std::string>& unserved) {
  return fmt::format(
      " (the saved state of stream '{}' names shard(s) {} that keyspace '{}' does not serve; "
      "serving shards: {}. If those shards were deleted after a reshard, or the state belongs "
      "to another keyspace, reset the stream '{}')",
      r.cfg->name, fmt::join(unserved, ","), r.cfg->keyspace, fmt::join(keys(r.current), ","), r.cfg->name);
}

}  // namespace

void Sync::start_reshard(StreamRun& r) {
  if (r.resharding) return;
  r.resharding = true;
  r.cancel_streams();
}

//! Follows a reshard: one VStream over every shard of the stream (from their cursors, with
//! stop_on_reshard) until vtgate sends the JOURNAL, then the journal's new shards replace the
//! participants, and fresh stop positions are peeked.
awaitable<bool> Sync::migrate(StreamRun& r) {
  std::vector<vitess::TableCursor> cursors;
  for (const auto& [shard, c] : r.cursors) {
    if (vitess::copy_pending(c)) co_return co_await restart_copy_on_new_shards(r);
    cursors.push_back(c);
  }
  Decoder decoder(r.decoder);
  RetryBudget budget(retry_);
  std::optional<binlogdata::Journal> journal;
  for (;;) {
    if (r.failure) co_return false;
    Attempt attempt;
    {
      async::Permit permit = co_await slots_.acquire();
      std::vector<vitess::TableCursor> now;
      for (const auto& c : cursors) now.push_back(r.cursors.at(c.shard()));
      attempt = co_await read_to_journal(r, now, decoder);
    }
    if (attempt.journal) {
      journal = attempt.journal;
      break;
    }
    if (r.failure) co_return false;
    Error e = attempt.error.value_or(system_error("the VStream following the reshard ended without a journal"));
    budget.failed(attempt.progressed);
    if (!budget.may_retry(attempt.transient)) {
      e.message = fmt::format("following the reshard of '{}': {}", r.cfg->keyspace, e.message);
      if (auto unserved = unserved_shards(r); !unserved.empty()) e.message += unserved_advice(r, unserved);
      co_await fail_stream(r, e);
      co_return false;
    }
    co_await backoff(budget.failures());
  }
  std::set<std::string> participants;
  for (const auto& p : journal->participants()) participants.insert(p.shard());
  std::vector<std::string> gone;
  for (const auto& [shard, c] : r.cursors) {
    if (participants.count(shard)) gone.push_back(shard);
  }
  for (const auto& s : gone) r.cursors.erase(s);
  for (const auto& sg : journal->shard_gtids()) {
    if (!sg.keyspace().empty() && sg.keyspace() != r.cfg->keyspace) continue;
    r.cursors[sg.shard()] = vitess::make_cursor(r.cfg->keyspace, sg.shard(), sg.gtid());
  }
  spdlog::info("stream {}: shards {} replaced by {} (journal {})", r.cfg->name, fmt::join(gone, ","),
               fmt::join(keys(r.cursors), ","), journal->id());
  co_await checkpoint(r);
  // Stop positions of the new shards.
  auto positions = co_await peek_positions(r);
  if (!positions) {
    co_await fail_stream(r, positions.error());
    co_return false;
  }
  for (auto& [shard, pos] : *positions) r.current[shard] = pos;
  co_return true;
}

//! A reshard met while the table is still being copied: the copy cannot follow the journal.
//! vtgate ends a stop_on_reshard stream at the JOURNAL (vitessio/vitess
//! go/vt/vtgate/vstream_manager.go), before the old shards' copy finished, and an old shard's
//! lastpk does not bound what a new shard still has to copy (the rows are spread by keyspace id,
//! not by primary key). So the shards that are no longer served are replaced by the serving
//! shards that replaced them, each with a fresh cursor: the table is copied again from scratch
//! there. Rows the old shards already delivered come again (at-least-once, docs/state.md
//! "Resharding"); shards the reshard did not touch keep their cursors.
awaitable<bool> Sync::restart_copy_on_new_shards(StreamRun& r) {
  auto positions = co_await peek_positions(r);
  if (!positions) {
    co_await fail_stream(r, positions.error());
    co_return false;
  }
  std::vector<std::string> gone, added;
  for (const auto& [shard, c] : r.cursors) {
    if (!positions->count(shard)) gone.push_back(shard);
  }
  // The new shards are the serving ones that cover a gone shard's key range (not the serving
  // shards the stream never read, e.g. left out by the config's `shards`).
  for (const auto& [shard, pos] : *positions) {
    const bool covers = std::any_of(gone.begin(), gone.end(), [&](const auto& g) { return ranges_overlap(g, shard); });
    if (!r.cursors.count(shard) && covers) added.push_back(shard);
  }
  if (gone.empty() || added.empty()) {
    // The journal came before vtgate serves the new shards: the next attempt finds them.
    co_await fail_stream(r, transient_error(fmt::format(
                                "keyspace '{}' is being resharded while table '{}' is copied, and vtgate does not "
                                "serve the new shards yet (serving: {}); the next attempt continues the copy there",
                                r.cfg->keyspace, r.cfg->name, fmt::join(keys(*positions), ","))));
    co_return false;
  }
  for (const auto& shard : gone) r.cursors.erase(shard);
  for (const auto& shard : added) r.cursors[shard] = vitess::make_cursor(r.cfg->keyspace, shard);
  for (const auto& [shard, pos] : *positions) r.current[shard] = pos;
  co_await warn_user(
      fmt::format("stream {}: keyspace '{}' was resharded while table '{}' was being copied; the copy starts "
                  "again on the new "
                  "shards {} (replacing {}), so rows already sent from the old shards are sent again",
                  r.cfg->name, r.cfg->keyspace, r.cfg->name, fmt::join(added, ","), fmt::join(gone, ",")));
  co_await checkpoint(r);  // fresh cursors of the new shards: a resumed sync copies them too
  co_return true;
}

}  // namespace sv::engine
