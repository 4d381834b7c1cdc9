// src/cli: `read`'s sync (see read_command.hpp).
#include "cli/read_command.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "airbyte/emitter.hpp"
#include "engine/output.hpp"
#include "socket/socket_output.hpp"

namespace sv::cli {

namespace asio = boost::asio;

int run_sync(const engine::ReadInputs& inputs, engine::ShardSource& source, airbyte::MessageWriter& out,
             const engine::EngineOptions& options, engine::Metrics* metrics, const CompanionOptions* companions,
             SocketChannel* channel) {
  asio::io_context io(1);
  std::vector<airbyte::StreamDescriptor> descriptors;
  for (const auto& s : inputs.catalog.streams) descriptors.push_back(s.descriptor());
  airbyte::EmitterOptions eo;
  eo.queue_capacity = options.emitter_queue;
  if (options.clock_ms) eo.clock = options.clock_ms;
  airbyte::Emitter emitter(io.get_executor(), descriptors, out, eo);
  int exit_code = 1;
  asio::co_spawn(io, emitter.run(), [&](std::exception_ptr e, int code) { exit_code = e ? 1 : code; });
  std::unique_ptr<engine::SyncOutput> output;
  if (channel) {
    socket::SocketOutputOptions so;
    so.format = channel->format;
    if (options.clock_ms) so.clock = options.clock_ms;
    auto sockets = std::make_unique<socket::SocketOutput>(io, emitter, inputs.catalog, std::move(channel->sockets), so);
    sockets->start();
    output = std::move(sockets);
  } else {
    output = std::make_unique<engine::AirbyteOutput>(emitter);
  }
  engine::Metrics own_metrics;
  if (!metrics) metrics = &own_metrics;
  {
    engine::Engine engine(io, inputs, source, *output, options, metrics);
    std::unique_ptr<Companions> beside;
    if (companions) {
      auto started = Companions::start(io, engine, *metrics, *companions);
      if (started) {
        beside = std::move(*started);
      } else {
        // Reported in protocol form: every stream ends INCOMPLETE with this config_error.
        engine.stop(started.error());
      }
    }
    // Once every stream ended, the companions stop too, so that io.run() returns.
    asio::co_spawn(io, engine.run(), [&](std::exception_ptr) {
      if (beside) beside->finish();
    });
    io.run();
  }
  return exit_code;
}

}  // namespace sv::cli
