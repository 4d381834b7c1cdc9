// src/engine: the engine behind Engine (sync.hpp), internal to src/engine. One object per sync;
// its work is split by job over the files named in each section below:
//   engine.cpp        scheduling: streams spawned, stop()/halt(), the retry loop of the peeks
//   stream.cpp        one stream from its plan to COMPLETE/INCOMPLETE (rounds of shard readers)
//   shard_reader.cpp  one shard's reader and its VStream attempts
//   checkpoint.cpp    committed chunks to the output, STATE messages
//   reshard.cpp       following a reshard journal, restarting a copy on the new shards
// Planning is pure and lives in plan.*, the retry policy in retry.*.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <deque>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "airbyte/state.hpp"
#include "engine/decoder.hpp"
#include "engine/metrics.hpp"
#include "engine/output.hpp"
#include "engine/plan.hpp"
#include "engine/retry.hpp"
#include "engine/shard_source.hpp"
#include "engine/stream_run.hpp"
#include "engine/sync.hpp"
#include "util/async.hpp"

namespace sv::engine {

class Sync {
 public:
  Sync(boost::asio::io_context& io, const ReadInputs& in, ShardSource& source, SyncOutput& out,
       const EngineOptions& opt, Metrics& metrics);
  ~Sync();

  //! See Engine::stop().
  void stop(Error reason);
  const std::optional<Error>& stop_reason() const { return stop_reason_; }
  boost::asio::awaitable<void> run();

 private:
  template <class T>
  using awaitable = boost::asio::awaitable<T>;

  // ---- scheduling and stopping (engine.cpp) -------------------------------------------------
  //! stop() without its log line: every stream ends incomplete with `reason`.
  void halt(Error reason);
  //! The output refused an event (see engine.cpp); always false.
  bool output_refused();
  //! The serving shards of the stream's keyspace and their positions, retried under the policy.
  awaitable<Result<Positions>> peek_positions(const StreamRun& r);
  awaitable<Result<Positions>> stoppable_peek(const StreamRun& r);
  //! Waits out the backoff after `failures` failures in a row (cut short by stop()).
  awaitable<void> backoff(std::uint32_t failures);
  StreamMetrics& metrics_of(const StreamRun& r) { return m_.streams[r.index]; }

  // ---- one stream (stream.cpp) --------------------------------------------------------------
  void init_stream(StreamRun& r, std::size_t index);
  awaitable<void> run_stream(StreamRun& r);
  //! Shards, cursors and stop positions of a stream.
  awaitable<Status> plan(StreamRun& r);
  //! One reader per unfinished shard, until all ended.
  awaitable<void> read_round(StreamRun& r);
  awaitable<void> fail_stream(StreamRun& r, Error error);
  awaitable<ReaderEnd> stop_at_time_limit(StreamRun& r, const std::string& shard);
  Error unfinished_copy_error(const StreamRun& r) const;
  //! A warning the user should act on: on stderr, and through the output (a LOG on stdout in
  //! `read`).
  awaitable<void> warn_user(std::string message);
  awaitable<void> idle_checkpoints(StreamRun& r);
  awaitable<void> finish_stream(StreamRun& r);

  // ---- one shard's reader (shard_reader.cpp) ------------------------------------------------
  struct Attempt {
    ReaderEnd end = ReaderEnd::done;
    std::optional<Error> error;
    bool transient = false;
    bool progressed = false;  //!< at least one chunk was committed
    std::optional<binlogdata::Journal> journal;
  };
  //! What an attempt reads to.
  enum class Goal {
    plan_end,  //!< every shard's plan is done (a reshard journal interrupts the stream)
    journal,   //!< the reshard JOURNAL (ReaderEnd::done with Attempt::journal set)
  };
  awaitable<ReaderEnd> read_shard(StreamRun& r, std::string shard);
  //! One VStream over one shard from its cursor, until its plan is done; cancelled at `deadline`.
  awaitable<Attempt> read_to_end(StreamRun& r, const vitess::TableCursor& cursor, Decoder& decoder,
                                 Clock::time_point deadline);
  //! One VStream over every shard of the stream, until vtgate sends the reshard JOURNAL.
  awaitable<Attempt> read_to_journal(StreamRun& r, const std::vector<vitess::TableCursor>& cursors, Decoder& decoder);
  awaitable<Attempt> read_attempt(StreamRun& r, std::vector<ShardPlan> plans, std::vector<ShardStartPoint> starts,
                                  Decoder& decoder, Goal goal, Clock::time_point deadline);
  //! Warns once per column about columns the catalog does not select or whose type changed.
  awaitable<void> warn_schema_changes(StreamRun& r, const DecodeOutput& out);

  // ---- checkpointing (checkpoint.cpp) -------------------------------------------------------
  //! Hands a committed chunk to the output; adds the stream's STATE when a checkpoint is due.
  awaitable<bool> commit(StreamRun& r, Commit& c);
  Batch state_batch(StreamRun& r, std::string lines, std::uint64_t count, bool blank = false);
  airbyte::StreamState state_of(const StreamRun& r, bool blank = false) const;
  awaitable<void> checkpoint(StreamRun& r, bool blank = false);

  // ---- resharding (reshard.cpp) -------------------------------------------------------------
  void start_reshard(StreamRun& r);
  awaitable<bool> migrate(StreamRun& r);
  awaitable<bool> restart_copy_on_new_shards(StreamRun& r);

  boost::asio::io_context& io_;
  const ReadInputs& in_;
  ShardSource& source_;
  SyncOutput& em_;
  const EngineOptions& opt_;
  Metrics& m_;
  RetryPolicy retry_;
  std::optional<Error> stop_reason_;
  std::set<boost::asio::steady_timer*> sleeping_;
  std::set<boost::asio::cancellation_signal*> peeks_;  //!< position peeks in flight (see stoppable_peek)
  boost::asio::thread_pool pool_;
  async::Slots slots_;
  std::mt19937_64 rng_;
  std::deque<StreamRun> runs_;
};

}  // namespace sv::engine
