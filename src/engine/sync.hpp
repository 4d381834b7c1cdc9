// src/engine: the sync engine behind `source-vitess read` — a scheduler of one reader coroutine
// per (stream × shard) on one io_context thread, bounded by max_concurrent_readers (FIFO slots, so
// no reader starves), row decoding and RECORD serialization on a small thread pool, a per-stream
// coordinator that merges shard cursors into the Go connector's state shape and checkpoints, and
// retries / schema-change / reshard handling. Everything reaches stdout through the ordered
// airbyte::Emitter. Vitess is reached only through ShardSource (shard_source.hpp).
// docs/state.md describes the state format, checkpoints and delivery guarantees.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "airbyte/catalog.hpp"
#include "airbyte/config.hpp"
#include "airbyte/message_writer.hpp"
#include "airbyte/state.hpp"
#include "engine/shard_source.hpp"

namespace sv::engine {

//! Engine knobs that are not part of the connector config (tests pin them).
struct EngineOptions {
  std::chrono::milliseconds retry_base{500};     //!< first backoff; doubles per failure
  std::chrono::milliseconds retry_max{15'000};   //!< backoff cap (before jitter)
  std::size_t worker_threads = 2;                //!< decode/serialize pool
  std::size_t emitter_queue = 16;                //!< emitter channel capacity (events)
  std::uint32_t heartbeat_interval_seconds = 10; //!< asked of vtgate, keeps idle streams alive
  std::function<std::int64_t()> clock_ms;        //!< emitted_at; default airbyte::now_ms
  std::function<std::int64_t()> clock_ns;        //!< metadata extracted_at; default system clock
  std::uint64_t jitter_seed = 0;                 //!< 0 = random
};

//! What `read` needs besides the source.
struct ReadInputs {
  const airbyte::Config& config;
  const airbyte::ConfiguredCatalog& catalog;
  const airbyte::InputState& state;
  //! Rows per configured stream (index into catalog.streams) for the ESTIMATE trace, when known
  //! (information_schema); streams without an entry get no estimate.
  std::map<std::size_t, std::uint64_t> row_estimates = {};
};

//! Runs a whole read: every configured stream, all their shards, to the emitter on `out`.
//! Returns the process exit code (0 = every stream COMPLETE).
int run_read(const ReadInputs& inputs, ShardSource& source, airbyte::MessageWriter& out,
             const EngineOptions& options = {});

}  // namespace sv::engine
