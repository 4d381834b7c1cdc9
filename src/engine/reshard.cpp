// src/engine: resharding of one stream (see reshard.hpp and docs/state.md "Resharding").
#include "engine/reshard.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

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

//! Follows a reshard: one VStream over every shard of the stream (from their cursors, with
//! stop_on_reshard) until vtgate sends the JOURNAL, then the journal's new shards replace the
//! participants, and fresh stop positions are peeked.
awaitable<bool> Resharder::migrate() {
  std::vector<vitess::TableCursor> cursors;
  for (const auto& [shard, c] : r_.cursors) {
    if (vitess::copy_pending(c)) co_return co_await restart_copy_on_new_shards();
    cursors.push_back(c);
  }
  Decoder decoder(r_.decoder);
  RetryBudget budget(ctx_.retry);
  std::optional<binlogdata::Journal> journal;
  for (;;) {
    if (r_.failed()) co_return false;
    ShardReader::Attempt attempt;
    {
      async::Permit permit = co_await ctx_.slots.acquire();
      std::vector<vitess::TableCursor> now;
      for (const auto& c : cursors) now.push_back(r_.cursors.at(c.shard()));
      attempt = co_await reader_.read_to_journal(now, decoder);
    }
    if (attempt.journal) {
      journal = attempt.journal;
      break;
    }
    if (r_.failed()) co_return false;
    Error e = attempt.error.value_or(system_error("the VStream following the reshard ended without a journal"));
    budget.failed(attempt.progressed);
    if (!budget.may_retry(attempt.transient)) {
      e.message = fmt::format("following the reshard of '{}': {}", r_.cfg->keyspace, e.message);
      if (auto unserved = unserved_shards(r_); !unserved.empty()) e.message += unserved_advice(r_, unserved);
      r_.fail(e);
      co_return false;
    }
    co_await ctx_.backoff(budget.failures(), r_.stop);
  }
  std::set<std::string> participants;
  for (const auto& p : journal->participants()) participants.insert(p.shard());
  std::vector<std::string> gone;
  for (const auto& [shard, c] : r_.cursors) {
    if (participants.count(shard)) gone.push_back(shard);
  }
  for (const auto& s : gone) r_.cursors.erase(s);
  for (const auto& sg : journal->shard_gtids()) {
    if (!sg.keyspace().empty() && sg.keyspace() != r_.cfg->keyspace) continue;
    r_.cursors[sg.shard()] = vitess::make_cursor(r_.cfg->keyspace, sg.shard(), sg.gtid());
  }
  spdlog::info("stream {}: shards {} replaced by {} (journal {})", r_.cfg->name, fmt::join(gone, ","),
               fmt::join(keys(r_.cursors), ","), journal->id());
  co_await checkpointer_.checkpoint();
  // Stop positions of the new shards.
  auto positions = co_await ctx_.peek_positions(r_);
  if (!positions) {
    r_.fail(positions.error());
    co_return false;
  }
  for (auto& [shard, pos] : *positions) r_.current[shard] = pos;
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
awaitable<bool> Resharder::restart_copy_on_new_shards() {
  auto positions = co_await ctx_.peek_positions(r_);
  if (!positions) {
    r_.fail(positions.error());
    co_return false;
  }
  std::vector<std::string> gone, added;
  for (const auto& [shard, c] : r_.cursors) {
    if (!positions->count(shard)) gone.push_back(shard);
  }
  // The new shards are the serving ones that cover a gone shard's key range (not the serving
  // shards the stream never read, e.g. left out by the config's `shards`).
  for (const auto& entry : *positions) {
    // A named reference, not a structured binding: clang 14 (the sanitizer build) cannot capture those.
    const std::string& shard = entry.first;
    const bool covers = std::any_of(gone.begin(), gone.end(), [&](const auto& g) { return ranges_overlap(g, shard); });
    if (!r_.cursors.count(shard) && covers) added.push_back(shard);
  }
  if (gone.empty() || added.empty()) {
    // The journal came before vtgate serves the new shards: the next attempt finds them.
    r_.fail(
        transient_error(fmt::format("keyspace '{}' is being resharded while table '{}' is copied, and vtgate does not "
                                    "serve the new shards yet (serving: {}); the next attempt continues the copy there",
                                    r_.cfg->keyspace, r_.cfg->name, fmt::join(keys(*positions), ","))));
    co_return false;
  }
  for (const auto& shard : gone) r_.cursors.erase(shard);
  for (const auto& shard : added) r_.cursors[shard] = vitess::make_cursor(r_.cfg->keyspace, shard);
  for (const auto& [shard, pos] : *positions) r_.current[shard] = pos;
  co_await ctx_.warn_user(
      fmt::format("stream {}: keyspace '{}' was resharded while table '{}' was being copied; the copy starts "
                  "again on the new "
                  "shards {} (replacing {}), so rows already sent from the old shards are sent again",
                  r_.cfg->name, r_.cfg->keyspace, r_.cfg->name, fmt::join(added, ","), fmt::join(gone, ",")));
  co_await checkpointer_.checkpoint();  // fresh cursors of the new shards: a resumed sync copies them too
  co_return true;
}

}  // namespace sv::engine
