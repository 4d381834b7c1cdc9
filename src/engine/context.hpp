// src/engine: what every job of one sync shares, passed by reference — the inputs, the source, the
// output, the options and metrics, the retry policy, the decode pool, the reader slots and the
// sync's stop scope — and the few services they all use: the stoppable backoff, the retried
// position peek, warnings to the user, and stopping the sync when the output refuses an event.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <exception>
#include <random>
#include <string>

#include "engine/metrics.hpp"
#include "engine/output.hpp"
#include "engine/plan.hpp"
#include "engine/retry.hpp"
#include "engine/shard_source.hpp"
#include "engine/stream_run.hpp"
#include "engine/sync.hpp"
#include "util/async.hpp"

namespace sv::engine {

struct SyncContext {
  SyncContext(boost::asio::io_context& io, const ReadInputs& in, ShardSource& source, SyncOutput& out,
              const EngineOptions& opt, Metrics& metrics);
  ~SyncContext();
  SyncContext(const SyncContext&) = delete;
  SyncContext& operator=(const SyncContext&) = delete;

  boost::asio::io_context& io;
  const ReadInputs& in;
  ShardSource& source;
  SyncOutput& out;
  const EngineOptions& opt;
  Metrics& metrics;
  RetryPolicy retry;
  boost::asio::thread_pool pool;  //!< decoding and serialization
  async::Slots slots;             //!< max_concurrent_readers, FIFO
  std::mt19937_64 rng;            //!< backoff jitter
  //! The sync's scope: Engine::stop() and a refused output stop it; each stream's is a child.
  Scope stop;

  StreamMetrics& metrics_of(const StreamRun& r) { return metrics.streams[r.index]; }
  //! The output refused an event (see context.cpp): the sync stops; always false.
  bool output_refused();
  //! A warning the user should act on: on stderr, and through the output (a LOG on stdout in
  //! `read`).
  boost::asio::awaitable<void> warn_user(std::string message);
  //! Waits out the backoff after `failures` failures in a row; cut short when `scope` stops.
  boost::asio::awaitable<void> backoff(std::uint32_t failures, Scope& scope);
  //! The serving shards of the stream's keyspace and their positions, retried under the policy;
  //! the stream's stop cancels the peek in flight and its backoff.
  boost::asio::awaitable<Result<Positions>> peek_positions(StreamRun& r);

 private:
  boost::asio::awaitable<Result<Positions>> stoppable_peek(StreamRun& r);
};

//! Logs (critical) what escaped a coroutine of the engine: it ended, the rest goes on.
void log_escaped(std::exception_ptr e, const char* what);

}  // namespace sv::engine
