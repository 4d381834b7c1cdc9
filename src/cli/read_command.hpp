// src/cli: `read`'s sync — the engine on its own io_context, writing the Airbyte protocol to
// `out` through the ordered emitter, with the CLI's companions (signals, metrics endpoint,
// progress display) beside it.
#pragma once

#include "airbyte/message_writer.hpp"
#include "cli/companions.hpp"
#include "engine/metrics.hpp"
#include "engine/shard_source.hpp"
#include "engine/sync.hpp"

namespace sv::cli {

//! Runs a whole read: every configured stream, all their shards, to the emitter on `out`.
//! Returns the process exit code (0 = every stream COMPLETE). `metrics`, when given, is kept up
//! to date on the read's thread. `companions`, when given, run beside the engine from before the
//! read starts until every stream ended; a metrics endpoint that cannot listen stops the read
//! (every stream INCOMPLETE with that config_error).
int run_sync(const engine::ReadInputs& inputs, engine::ShardSource& source, airbyte::MessageWriter& out,
             const engine::EngineOptions& options = {}, engine::Metrics* metrics = nullptr,
             const CompanionOptions* companions = nullptr);

}  // namespace sv::cli
