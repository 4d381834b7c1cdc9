// src/engine: one shard's reader — VStream attempts from the shard's last committed cursor under
// the retry policy, bounded by the reader slots and the shard's time limit, decoding on the pool
// (see sync_impl.hpp).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <set>

#include "engine/sync_impl.hpp"

namespace sv::engine {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

awaitable<ReaderEnd> Sync::read_shard(StreamRun& r, std::string shard) {
  Decoder decoder(r.decoder);
  RetryBudget budget(retry_);
  std::optional<Clock::time_point> deadline;  // shard_time_limit, counted from the first VStream
  for (;;) {
    if (r.interrupted()) co_return ReaderEnd::interrupted;
    Attempt attempt;
    {
      ++m_.readers_waiting;
      async::Permit permit = co_await slots_.acquire();
      --m_.readers_waiting;
      if (r.interrupted()) co_return ReaderEnd::interrupted;
      if (!deadline && opt_.shard_time_limit.count() > 0) deadline = Clock::now() + opt_.shard_time_limit;
      if (deadline && Clock::now() >= *deadline) {
        permit.reset();
        co_return co_await stop_at_time_limit(r, shard);
      }
      attempt = co_await read_to_end(r, r.cursors.at(shard), decoder, deadline.value_or(Clock::time_point::max()));
    }  // the slot is free again: checkpoints and backoffs below do not hold it
    if (attempt.end == ReaderEnd::time_limit) co_return co_await stop_at_time_limit(r, shard);
    if (attempt.end == ReaderEnd::done && r.changed_since_state && !r.failure) {
      co_await checkpoint(r);  // a finished shard is checkpointed right away
    }
    if (attempt.end == ReaderEnd::done) metrics_of(r).shards[shard].done = true;
    if (attempt.end != ReaderEnd::failed || !attempt.error) co_return attempt.end;
    if (r.interrupted()) co_return ReaderEnd::interrupted;
    budget.failed(attempt.progressed);
    if (!budget.may_retry(attempt.transient)) {
      Error e = *attempt.error;
      if (attempt.transient) {
        e.message += fmt::format(" (gave up after {} attempt(s) without progress)", budget.failures());
      }
      co_await fail_stream(r, e);
      co_return ReaderEnd::failed;
    }
    spdlog::warn("stream {} shard {}: {}; retrying from the last cursor ({}/{})", r.cfg->name, shard,
                 attempt.error->message, budget.failures(), budget.allowed());
    ++metrics_of(r).shards[shard].retries;
    ++m_.retries;
    co_await backoff(budget.failures());
  }
}

awaitable<Sync::Attempt> Sync::read_to_end(StreamRun& r, const vitess::TableCursor& cursor, Decoder& decoder,
                                           Clock::time_point deadline) {
  std::vector<ShardPlan> plans{plan_for(r.mode, r.current, cursor)};
  std::vector<ShardStartPoint> starts{start_point(cursor, in_.config.use_gtid_with_table_pks)};
  co_return co_await read_attempt(r, std::move(plans), std::move(starts), decoder, Goal::plan_end, deadline);
}

awaitable<Sync::Attempt> Sync::read_to_journal(StreamRun& r, const std::vector<vitess::TableCursor>& cursors,
                                               Decoder& decoder) {
  std::vector<ShardPlan> plans;
  std::vector<ShardStartPoint> starts;
  for (const auto& c : cursors) {
    plans.push_back(plan_until_journal(c));
    starts.push_back(start_point(c, in_.config.use_gtid_with_table_pks));
  }
  co_return co_await read_attempt(r, std::move(plans), std::move(starts), decoder, Goal::journal,
                                  Clock::time_point::max());
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

awaitable<Sync::Attempt> Sync::read_attempt(StreamRun& r, std::vector<ShardPlan> plans,
                                            std::vector<ShardStartPoint> starts, Decoder& decoder, Goal goal,
                                            Clock::time_point deadline) {
  Attempt result;
  StreamRequest req;
  req.keyspace = r.cfg->keyspace;
  req.table = r.cfg->name;
  req.heartbeat_interval_seconds = opt_.heartbeat_interval_seconds;
  req.stop_on_reshard = true;
  req.shards = std::move(starts);
  decoder.reset(plans);
  auto stream = co_await source_.open(req);
  r.open_streams.insert(stream.get());
  ++m_.readers_active;
  struct Unregister {
    StreamRun& r;
    EventStream* s;
    std::size_t& active;
    ~Unregister() {
      r.open_streams.erase(s);
      --active;
    }
  } unregister{r, stream.get(), m_.readers_active};
  if (r.failure) stream->cancel();                      // stopped while the stream was being opened
  auto limit = watch_deadline(io_, deadline, *stream);  // after `stream`: destroyed before it
  std::set<std::string> journaled;                      // participants whose JOURNAL arrived

  for (;;) {
    SourceItem item = co_await stream->next();
    if (r.interrupted()) {
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
        result.end = ReaderEnd::reshard;
        start_reshard(r);
        co_return result;
      }
      result.end = ReaderEnd::failed;
      result.error = err->error;
      result.transient = err->transient();
      co_return result;
    }
    if (std::holds_alternative<SourceEof>(item)) {
      result.end = ReaderEnd::failed;
      result.error = transient_error(
          fmt::format("VStream of '{}.{}' ended before the read was complete", r.cfg->keyspace, r.cfg->name));
      result.transient = true;
      co_return result;
    }
    auto& response = std::get<vtgate::VStreamResponse>(item);
    const std::int64_t emitted_at = opt_.clock_ms();
    const std::int64_t now_ns = opt_.clock_ns();
    // Decoding and serialization run on the pool; the decoder is only touched there meanwhile.
    DecodeOutput out = co_await asio::co_spawn(
        pool_, [&]() -> awaitable<DecodeOutput> { co_return decoder.process(response, emitted_at, now_ns); },
        use_awaitable);
    if (out.last_event_time > 0) {
      for (const auto& p : plans) {
        auto& t = metrics_of(r).shards[p.shard].last_event_time;
        t = std::max(t, out.last_event_time);
      }
    }
    co_await warn_schema_changes(r, out);
    for (auto& c : out.commits) {
      if (!co_await commit(r, c)) {
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
        result.end = ReaderEnd::reshard;
        start_reshard(r);
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

awaitable<void> Sync::warn_schema_changes(StreamRun& r, const DecodeOutput& out) {
  // Before the rows that leave the new columns out, so the warning precedes them on stdout.
  std::vector<std::string> fresh;
  for (const auto& c : out.new_columns) {
    if (r.warned_columns.insert(c).second) fresh.push_back(c);
  }
  if (!fresh.empty()) {
    co_await warn_user(
        fmt::format("stream {}: table '{}.{}' has column(s) {} that the configured catalog does "
                    "not select; they are left "
                    "out. Refresh the source schema in Airbyte to sync them.",
                    r.cfg->name, r.cfg->keyspace, r.cfg->name, fmt::join(fresh, ", ")));
  }
  std::vector<std::string> retyped;
  for (const auto& c : out.changed_types) {
    if (r.warned_types.insert(c).second) retyped.push_back(c);
  }
  if (!retyped.empty()) {
    co_await warn_user(
        fmt::format("stream {}: column(s) {} of table '{}.{}' no longer have the type the "
                    "configured catalog declares; "
                    "their values follow the new type. Refresh the source schema in Airbyte so the "
                    "destination expects it.",
                    r.cfg->name, fmt::join(retyped, ", "), r.cfg->keyspace, r.cfg->name));
  }
}

}  // namespace sv::engine
