// src/cli: `read`'s sync — the engine on its own io_context, writing the Airbyte protocol to
// `out` through the ordered emitter, with the CLI's companions (signals, metrics endpoint,
// progress display) beside it.
#pragma once

#include "airbyte/message_writer.hpp"
#include "cli/companions.hpp"
#include "engine/metrics.hpp"
#include "engine/shard_source.hpp"
#include "engine/sync.hpp"
#include "socket/data_channel.hpp"

namespace sv::cli {

//! Socket mode (docs/speed-mode.md): the connected data channel sockets and their format.
struct SocketChannel {
  socket::Format format = socket::Format::jsonl;
  std::vector<socket::ConnectedSocket> sockets;
};

//! Runs a whole read: every configured stream, all their shards, to the emitter on `out`.
//! Returns the process exit code (0 = every stream COMPLETE). `metrics`, when given, is kept up
//! to date on the read's thread. `companions`, when given, run beside the engine from before the
//! read starts until every stream ended; a metrics endpoint that cannot listen stops the read
//! (every stream INCOMPLETE with that config_error). `channel`, when given, takes the records
//! (socket::SocketOutput; it owns the sockets from here on), and `out` the rest of the protocol.
int run_sync(const engine::ReadInputs& inputs, engine::ShardSource& source, airbyte::MessageWriter& out,
             const engine::EngineOptions& options = {}, engine::Metrics* metrics = nullptr,
             const CompanionOptions* companions = nullptr, SocketChannel* channel = nullptr);

}  // namespace sv::cli
