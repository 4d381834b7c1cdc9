// src/engine: one stream's shard readers and their VStream attempts (see shard_reader.hpp).
#include "engine/shard_reader.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <set>

namespace sv::engine {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

awaitable<ReaderEnd> ShardReader::read_shard(std::string shard, Scope& round) {
  Decoder decoder(r_.decoder);
  RetryBudget budget(ctx_.retry);
  std::optional<Clock::time_point> deadline;  // shard_time_limit, counted from the first VStream
  const auto limit = ctx_.opt.shard_time_limit;
  auto& shard_metrics = ctx_.metrics_of(r_).shards[shard];
  for (;;) {
    if (round.stop_requested()) co_return ReaderEnd::interrupted;
    Attempt attempt;
    {
      ++ctx_.metrics.readers_waiting;
      async::Permit permit = co_await ctx_.slots.acquire();
      --ctx_.metrics.readers_waiting;
      if (round.stop_requested()) co_return ReaderEnd::interrupted;
      if (!deadline && limit.count() > 0) deadline = Clock::now() + limit;
      if (deadline && Clock::now() >= *deadline) {
        permit.reset();
        co_return co_await stop_at_time_limit(shard);
      }
      attempt = co_await read_to_end(r_.cursors.at(shard), decoder, deadline.value_or(Clock::time_point::max()), round);
    }  // the slot is free again: checkpoints and backoffs below do not hold it
    if (attempt.end == ReaderEnd::time_limit) co_return co_await stop_at_time_limit(shard);
    if (attempt.end == ReaderEnd::done && r_.changed_since_state && !r_.failed()) {
      co_await checkpointer_.checkpoint();  // a finished shard is checkpointed right away
    }
    if (attempt.end == ReaderEnd::done) shard_metrics.done = true;
    if (attempt.end != ReaderEnd::failed || !attempt.error) co_return attempt.end;
    if (round.stop_requested()) co_return ReaderEnd::interrupted;
    budget.failed(attempt.progressed);
    if (!budget.may_retry(attempt.transient)) {
      Error e = *attempt.error;
      if (attempt.transient) {
        e.message += fmt::format(" (gave up after {} attempt(s) without progress)", budget.failures());
      }
      r_.fail(e);
      co_return ReaderEnd::failed;
    }
    spdlog::warn("stream {} shard {}: {}; retrying from the last cursor ({}/{})", r_.cfg->name, shard,
                 attempt.error->message, budget.failures(), budget.allowed());
    ++shard_metrics.retries;
    ++ctx_.metrics.retries;
    co_await ctx_.backoff(budget.failures(), round);
  }
}

awaitable<ShardReader::Attempt> ShardReader::read_to_end(const vitess::TableCursor& cursor, Decoder& decoder,
                                                         Clock::time_point deadline, Scope& round) {
  std::vector<ShardPlan> plans{plan_for(r_.mode, r_.current, cursor)};
  std::vector<ShardStartPoint> starts{start_point(cursor, ctx_.in.config.use_gtid_with_table_pks)};
  co_return co_await read_attempt(std::move(plans), std::move(starts), decoder, Goal::plan_end, deadline, round);
}

awaitable<ShardReader::Attempt> ShardReader::read_to_journal(const std::vector<vitess::TableCursor>& cursors,
                                                             Decoder& decoder) {
  std::vector<ShardPlan> plans;
  std::vector<ShardStartPoint> starts;
  for (const auto& c : cursors) {
    plans.push_back(plan_until_journal(c));
    starts.push_back(start_point(c, ctx_.in.config.use_gtid_with_table_pks));
  }
  co_return co_await read_attempt(std::move(plans), std::move(starts), decoder, Goal::journal, Clock::time_point::max(),
                                  r_.stop);
}

namespace {

//! shard_time_limit during one attempt: at `deadline` the attempt's VStream is cancelled and
//! `passed` set. Destroying it (when the attempt ends) cancels the timer, and an expiry already
//! queued then finds nothing to do, so the stream is never touched after the attempt.
struct TimeLimit {
  explicit TimeLimit(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  bool passed = false;
};

std::shared_ptr<TimeLimit> watch_deadline(asio::io_context& io, Clock::time_point deadline, EventStream& stream) {
  auto limit = std::make_shared<TimeLimit>(io);
  if (deadline == Clock::time_point::max()) return limit;
  limit->timer.expires_at(deadline);
  limit->timer.async_wait([weak = std::weak_ptr<TimeLimit>(limit), &stream](const boost::system::error_code& ec) {
    auto l = weak.lock();
    if (ec || !l) return;
    l->passed = true;
    stream.cancel();
  });
  return limit;
}

}  // namespace

//! One VStream until its goal, a failure, the time limit, or until `scope` stops (the round's
//! scope for a shard's reader, the stream's when following a journal).
awaitable<ShardReader::Attempt> ShardReader::read_attempt(std::vector<ShardPlan> plans,
                                                          std::vector<ShardStartPoint> starts, Decoder& decoder,
                                                          Goal goal, Clock::time_point deadline, Scope& scope) {
  Attempt result;
  StreamRequest req;
  req.keyspace = r_.cfg->keyspace;
  req.table = r_.cfg->name;
  req.columns = r_.decoder.select_list;
  req.heartbeat_interval_seconds = ctx_.opt.heartbeat_interval_seconds;
  req.stop_on_reshard = true;
  req.shards = std::move(starts);
  decoder.reset(plans);
  auto stream = co_await ctx_.source.open(req);
  ++ctx_.metrics.readers_active;
  struct Active {
    std::size_t& n;
    ~Active() { --n; }
  } active{ctx_.metrics.readers_active};
  // Registered after `stream`, so deregistered before it is destroyed; runs at once when the
  // scope stopped while the stream was being opened.
  OnStop cancel(scope, [s = stream.get()] { s->cancel(); });
  auto limit = watch_deadline(ctx_.io, deadline, *stream);  // after `stream`: destroyed before it
  std::set<std::string> journaled;                          // participants whose JOURNAL arrived
  // A reshard met while reading to the plan's end stops the round: every reader of the stream ends
  // and the stream follows the journal over all its shards (Resharder).
  auto reshard = [&] {
    result.end = ReaderEnd::reshard;
    (void)scope.request_stop(StopReason(StopCause::reshard));
  };

  for (;;) {
    SourceItem item = co_await stream->next();
    if (scope.stop_requested()) {
      stream->cancel();
      result.end = ReaderEnd::interrupted;
      co_return result;
    }
    if (limit->passed) {
      result.end = ReaderEnd::time_limit;  // rows after the last committed cursor go with the stream
      co_return result;
    }
    if (auto* err = std::get_if<SourceError>(&item)) {
      if (err->cause == SourceCause::reshard_journal && goal == Goal::plan_end) {
        reshard();
        co_return result;
      }
      result.end = ReaderEnd::failed;
      result.error = err->error;
      result.transient = err->transient();
      if (err->cause == SourceCause::missing_column) {
        // A DDL dropped (or renamed) a column of the select list: with `SELECT *` the FIELD event
        // would lack it and the decoder would stop with this same error. Retrying cannot help,
        // and a silent fallback to `SELECT *` would emit records without a column the
        // destination expects: the user refreshes the schema (docs/architecture.md).
        result.error = missing_columns_error(r_.decoder, {err->column});
        result.error->message += fmt::format(" ({})", err->error.message);
        result.transient = false;
      }
      co_return result;
    }
    if (std::holds_alternative<SourceEof>(item)) {
      result.end = ReaderEnd::failed;
      result.error = transient_error(
          fmt::format("VStream of '{}.{}' ended before the read was complete", r_.cfg->keyspace, r_.cfg->name));
      result.transient = true;
      co_return result;
    }
    const std::int64_t emitted_at = ctx_.opt.clock_ms();
    const std::int64_t now_ns = ctx_.opt.clock_ns();
    // A response in wire form (the gRPC source) is rendered from its bytes, which `item` keeps
    // alive until then. Big responses (a table copy's) are decoded on the pool, so the I/O thread
    // goes on receiving meanwhile; the decoder is only touched there until it is back. Small ones
    // (change events: a transaction or a heartbeat) are decoded right here: rendering a few rows
    // costs less than the two thread hand-offs. Either way this reader waits for its response's
    // output before it reads the next, so the order of commits does not change.
    const auto* wire = std::get_if<vitess::WireResponse>(&item);
    const auto* message = std::get_if<vtgate::VStreamResponse>(&item);
    auto decode = [&] {
      return wire ? decoder.process_wire(wire->bytes(), emitted_at, now_ns)
                  : decoder.process(*message, emitted_at, now_ns);
    };
    const std::size_t size = wire ? wire->bytes().size() : message->ByteSizeLong();
    DecodeOutput out;
    // Not `cond ? decode() : co_await ...`: GCC 12 destroys the result of a co_await inside a
    // conditional expression twice.
    if (size <= ctx_.opt.inline_decode_bytes) {
      out = decode();
    } else {
      out = co_await asio::co_spawn(
          ctx_.pool, [&]() -> awaitable<DecodeOutput> { co_return decode(); }, use_awaitable);
    }
    if (out.last_event_time > 0) {
      for (const auto& p : plans) {
        auto& t = ctx_.metrics_of(r_).shards[p.shard].last_event_time;
        t = std::max(t, out.last_event_time);
      }
    }
    co_await warn_schema_changes(out);
    for (auto& c : out.commits) {
      if (!co_await checkpointer_.commit(c)) {
        stream->cancel();
        result.end = ReaderEnd::interrupted;
        co_return result;
      }
      result.progressed = true;
    }
    if (out.error) {
      stream->cancel();
      result.end = ReaderEnd::failed;
      result.error = out.error;
      result.transient = false;
      co_return result;
    }
    if (out.journal && goal == Goal::journal) {
      // vtgate passes each participant's JOURNAL on as that shard reaches it (stop_on_reshard,
      // vitessio/vitess go/vt/vtgate/vstream_manager.go streamFromTablet): another participant
      // may still have transactions before its own. They are read and committed first; the
      // stream is done once every participant it reads has sent its JOURNAL.
      journaled.insert(out.journal_shard);
      bool all = !out.journal_shard.empty();
      for (const auto& p : out.journal->participants()) {
        const bool read_here =
            std::any_of(plans.begin(), plans.end(), [&](const ShardPlan& plan) { return plan.shard == p.shard(); });
        if (read_here && !journaled.count(p.shard())) all = false;
      }
      if (!all && !out.journal_shard.empty()) continue;
    }
    if (out.journal) {
      stream->cancel();
      result.journal = out.journal;
      if (goal == Goal::journal) {
        result.end = ReaderEnd::done;
      } else {
        reshard();
      }
      co_return result;
    }
    if (goal == Goal::plan_end && decoder.all_done()) {
      stream->cancel();
      result.end = ReaderEnd::done;
      co_return result;
    }
  }
}

namespace {

double seconds_of(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

}  // namespace

//! shard_time_limit passed for a shard: it stops at its last committed cursor (the rows after it
//! went with the cancelled VStream), a STATE saves that cursor now, and the next sync (or, for a
//! full_refresh stream, the next attempt) continues from there, as the Go connector does after
//! its per-attempt deadline (go-connector-reference.md §4.7).
awaitable<ReaderEnd> ShardReader::stop_at_time_limit(const std::string& shard) {
  r_.time_limited.insert(shard);
  if (r_.failed()) co_return ReaderEnd::interrupted;
  if (r_.changed_since_state) co_await checkpointer_.checkpoint();
  if (!r_.full_refresh()) {  // a full_refresh stream says it in its error (unfinished_copy_error)
    co_await ctx_.warn_user(
        fmt::format("stream {}: shard {} was read for timeout_seconds ({:g} s) without reaching "
                    "the end of this sync; it "
                    "stops at its last saved position and the next sync continues from there. "
                    "Raise timeout_seconds to read "
                    "more per sync.",
                    r_.cfg->name, shard, seconds_of(ctx_.opt.shard_time_limit)));
  }
  co_return ReaderEnd::time_limit;
}

//! A full_refresh stream whose copy did not finish within shard_time_limit: its rows are not the
//! whole table, so the stream cannot be COMPLETE; its last STATE holds the copy's progress.
Error ShardReader::unfinished_copy_error() const {
  return transient_error(
      fmt::format("stream {}: the copy of shard(s) {} did not finish within timeout_seconds ({:g} "
                  "s); its progress is saved "
                  "and the next attempt continues the copy from there. Raise timeout_seconds to "
                  "copy the table in one attempt.",
                  r_.cfg->name, fmt::join(r_.time_limited, ","), seconds_of(ctx_.opt.shard_time_limit)));
}

awaitable<void> ShardReader::warn_schema_changes(const DecodeOutput& out) {
  // Before the rows that leave the new columns out, so the warning precedes them on stdout.
  std::vector<std::string> fresh;
  for (const auto& c : out.new_columns) {
    if (r_.warned_columns.insert(c).second) fresh.push_back(c);
  }
  if (!fresh.empty()) {
    co_await ctx_.warn_user(
        fmt::format("stream {}: table '{}.{}' has column(s) {} that the configured catalog does "
                    "not select; they are left "
                    "out. Refresh the source schema in Airbyte to sync them.",
                    r_.cfg->name, r_.cfg->keyspace, r_.cfg->name, fmt::join(fresh, ", ")));
  }
  std::vector<std::string> retyped;
  for (const auto& c : out.changed_types) {
    if (r_.warned_types.insert(c).second) retyped.push_back(c);
  }
  if (!retyped.empty()) {
    co_await ctx_.warn_user(
        fmt::format("stream {}: column(s) {} of table '{}.{}' no longer have the type the "
                    "configured catalog declares; "
                    "their values follow the new type. Refresh the source schema in Airbyte so the "
                    "destination expects it.",
                    r_.cfg->name, fmt::join(retyped, ", "), r_.cfg->keyspace, r_.cfg->name));
  }
}

}  // namespace sv::engine
