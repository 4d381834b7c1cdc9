// src/engine: what the engine keeps per configured stream during a sync (its cursors, its
// checkpoint bookkeeping, its stop scope), shared by the classes that each do one job on it, and
// the reasons a scope of the engine stops.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "airbyte/catalog.hpp"
#include "engine/decoder.hpp"
#include "engine/plan.hpp"
#include "util/async.hpp"
#include "util/result.hpp"

namespace sv::engine {

using Clock = std::chrono::steady_clock;

//! How a shard reader ended.
enum class ReaderEnd { done, failed, interrupted, reshard, time_limit };

//! Why a scope of the engine stopped. The scopes nest: the sync, each stream (a child of the
//! sync), and under a stream the readers of one round and the idle checkpoints.
enum class StopCause {
  stopped,  //!< Engine::stop(), or the output refused an event: the whole sync ends
  failed,   //!< the stream failed; it ends incomplete with the error
  reshard,  //!< the keyspace reshards: the round's readers stop and the stream follows the journal
  ended,    //!< the stream ended: its idle checkpoints stop
};

//! A stop request: its cause, and for `stopped` and `failed` the error the stream ends with.
struct StopReason {
  StopReason(StopCause c, std::optional<Error> e = std::nullopt) : cause(c), error(std::move(e)) {}
  StopCause cause;
  std::optional<Error> error;
};

//! The engine's one cancellation mechanism: a stop scope, and a registration that cancels a
//! pending VStream, timer or peek when its scope stops.
using Scope = async::StopSource<StopReason>;
using OnStop = async::StopCallback<StopReason>;

struct StreamRun {
  //! `sync`: the sync's scope; the stream's scope is its child.
  explicit StreamRun(Scope& sync) : stop(sync) {}
  StreamRun(const StreamRun&) = delete;
  StreamRun& operator=(const StreamRun&) = delete;

  std::size_t index = 0;
  const airbyte::ConfiguredStream* cfg = nullptr;
  ReadMode mode;
  DecoderOptions decoder;
  //! Last cursor per shard whose rows are in the emitter's queue (what a STATE may name).
  Cursors cursors;
  Positions current;  //!< shard → position peeked at the start
  std::uint64_t records_since_state = 0;
  bool changed_since_state = false;
  std::uint64_t states = 0;  //!< STATE messages pushed
  Clock::time_point last_state = Clock::now();
  std::set<std::string> warned_columns;
  std::set<std::string> warned_types;  //!< `column (column_type)` reported as no longer matching the catalog
  std::set<std::string> time_limited;  //!< shards stopped by EngineOptions::shard_time_limit
  //! One push of this stream at a time: a STATE must not overtake rows that another shard of the
  //! stream is still handing to the emitter (they would be printed before it, uncovered).
  std::unique_ptr<async::Slots> push_lock;
  //! Stopped when the stream failed or the sync stopped (its reason then holds the error the
  //! stream ends with); everything the stream has pending is registered on it or on a child.
  Scope stop;

  bool full_refresh() const { return mode.full_refresh; }
  bool failed() const { return stop.stop_requested(); }
  //! The error the stream ends with; only when failed().
  const Error& failure() const { return *stop.reason().error; }
  //! The stream fails with `error` (unless it already ended so): every reader stops.
  void fail(Error error) {
    if (failed()) return;
    spdlog::error("stream {}: {}", cfg->name, error.message);
    (void)stop.request_stop(StopReason(StopCause::failed, std::move(error)));
  }
};

}  // namespace sv::engine
