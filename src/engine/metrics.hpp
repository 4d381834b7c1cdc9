// src/engine: live figures of a running sync, for the progress display and the Prometheus
// endpoint (src/telemetry). The engine writes them and the readers read them on the same
// io_context thread, so they are plain values without locks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sv::engine {

struct ShardMetrics {
  std::uint64_t records = 0;  //!< rows handed to the output
  std::uint64_t bytes = 0;    //!< bytes of those rows as rendered (RECORD lines, JSONL or CSV)
  std::uint64_t retries = 0;  //!< VStreams of this shard reopened after a transient error
  //! Unix seconds of the newest source event seen (row, heartbeat, VGTID); 0 = none yet. Lag is
  //! now minus this, meaningful once the shard replicates (copy rows carry no event time).
  std::int64_t last_event_time = 0;
  bool copying = true;  //!< the shard's cursor is still inside a table copy
  bool done = false;    //!< the shard reached its stop for this sync
};

enum class StreamPhase { pending, running, complete, incomplete };

struct StreamMetrics {
  std::string name;
  std::string ns;
  std::optional<std::uint64_t> row_estimate;  //!< information_schema rows, when known
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
  std::uint64_t checkpoints = 0;
  StreamPhase phase = StreamPhase::pending;
  std::chrono::steady_clock::time_point started_at{};
  std::chrono::steady_clock::time_point ended_at{};
  std::map<std::string, ShardMetrics> shards;  //!< by shard name
};

struct Metrics {
  std::vector<StreamMetrics> streams;  //!< in configured catalog order
  std::size_t readers_active = 0;      //!< VStreams open now
  std::size_t readers_waiting = 0;     //!< shard readers waiting for a max_concurrent_readers slot
  std::uint64_t retries = 0;           //!< all retries (shard VStreams and position peeks)
  //! Events queued in the output (the emitter's channel); set by the engine.
  std::function<std::size_t()> output_queue;
  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
};

}  // namespace sv::engine
