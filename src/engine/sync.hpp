// src/engine: the sync engine behind `source-vitess read` — a scheduler of one reader coroutine
// per (stream × shard) on one io_context thread, bounded by max_concurrent_readers (FIFO slots, so
// no reader starves), row decoding and RECORD serialization on a small thread pool, a per-stream
// coordinator that merges shard cursors into the Go connector's state shape and checkpoints, and
// retries / schema-change / reshard handling. Everything reaches stdout through the ordered
// airbyte::Emitter. Vitess is reached only through ShardSource (shard_source.hpp).
// The work is split by job over src/engine, one class per job (docs/architecture.md); `read` wires it to stdout in
// src/cli/read_command.cpp. docs/state.md describes the state format, checkpoints and delivery
// guarantees.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "airbyte/catalog.hpp"
#include "airbyte/config.hpp"
#include "airbyte/state.hpp"
#include "engine/decoder.hpp"
#include "engine/metrics.hpp"
#include "engine/output.hpp"
#include "engine/shard_source.hpp"
#include "vitess/discovery.hpp"

namespace boost::asio {
class io_context;
}

namespace sv::engine {

//! Engine knobs that are not part of the connector config (tests pin them).
struct EngineOptions {
  std::chrono::milliseconds retry_base{500};    //!< first backoff; doubles per failure
  std::chrono::milliseconds retry_max{15'000};  //!< backoff cap (before jitter)
  std::size_t worker_threads = 2;               //!< decode/serialize pool
  //! Responses up to this size are decoded on the I/O thread instead of the pool: a change event
  //! of a single-row transaction costs less to render than the two thread hand-offs of the pool
  //! (docs/architecture.md, "Threading rules"). 0 = every response goes to the pool.
  std::size_t inline_decode_bytes = 8 * 1024;
  std::size_t emitter_queue = 16;                 //!< emitter channel capacity (events)
  std::uint32_t heartbeat_interval_seconds = 10;  //!< asked of vtgate, keeps idle streams alive
  std::function<std::int64_t()> clock_ms;         //!< emitted_at; default airbyte::now_ms
  std::function<std::int64_t()> clock_ns;         //!< metadata extracted_at; default system clock
  std::uint64_t jitter_seed = 0;                  //!< 0 = random
  //! Incremental streams never reach a stop position: after the copy they follow the binlog
  //! until stop() (`extract --follow`).
  bool follow = false;
  //! Checkpoint as soon as a shard's table copy completes (`extract` switches files there).
  bool checkpoint_at_copy_end = false;
  //! How long one shard is read in this sync, from its first VStream (`read`: timeout_seconds, the
  //! Go connector's per-attempt deadline); 0 = no limit. When it passes, the shard stops at its
  //! last committed cursor and the next sync continues there (docs/state.md, "Time limit").
  std::chrono::milliseconds shard_time_limit{0};
};

//! What `read` needs besides the source.
struct ReadInputs {
  const airbyte::Config& config;
  const airbyte::ConfiguredCatalog& catalog;
  const airbyte::InputState& state;
  //! Rows per configured stream (index into catalog.streams) for the ESTIMATE trace, when known
  //! (information_schema); streams without an entry get no estimate. It is one shard's count (vtgate
  //! answers information_schema from one shard): the engine multiplies it by the shards it reads.
  std::map<std::size_t, std::uint64_t> row_estimates = {};
  //! The table of each configured stream (index into catalog.streams) as information_schema
  //! described it at the start, when known: streams that select a subset of its columns ask
  //! vtgate for only those (select_columns in plan.hpp); streams without an entry read `SELECT *`.
  std::map<std::size_t, vitess::TableInfo> tables = {};
};

class Scheduler;

//! The engine on a caller's io_context: every configured stream, all their shards, into `output`.
//! Everything it references must outlive it; all calls are made on the io_context's thread.
class Engine {
 public:
  Engine(boost::asio::io_context& io, const ReadInputs& inputs, ShardSource& source, SyncOutput& output,
         const EngineOptions& options = {}, Metrics* metrics = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  //! Reads until every stream ended, then calls output.shutdown(). Never throws: an internal
  //! failure is logged (critical) and the coroutine completes.
  boost::asio::awaitable<void> run();
  //! Ends the sync early (SIGINT/SIGTERM): open VStreams, position peeks in flight and retry
  //! backoffs are cancelled (none starts again), and every stream that has
  //! not ended checkpoints what it has read and ends incomplete with `reason`.
  void stop(Error reason);
  //! The reason given to the first stop(), if any.
  std::optional<Error> stop_reason() const;

 private:
  EngineOptions options_;
  std::unique_ptr<Metrics> own_metrics_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace sv::engine
