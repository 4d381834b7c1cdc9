// src/cli: signals, metrics endpoint and progress display beside the engine (see companions.hpp).
#include "cli/companions.hpp"

#include <signal.h>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <fmt/format.h>

namespace sv::cli {

namespace asio = boost::asio;

Companions::Companions(asio::io_context& io, const engine::Metrics& metrics, const CompanionOptions& options)
    : signals_(io, SIGINT, SIGTERM), progress_(io, metrics, options.progress) {}

Companions::~Companions() { finish(); }

Result<std::unique_ptr<Companions>> Companions::start(asio::io_context& io, engine::Engine& engine,
                                                      const engine::Metrics& metrics, const CompanionOptions& options) {
  std::unique_ptr<Companions> c(new Companions(io, metrics, options));
  if (options.metrics_address) {
    auto server = telemetry::MetricsServer::start(io, *options.metrics_address, metrics);
    if (!server) return server.error();
    c->server_ = std::move(*server);
  }
  Companions* self = c.get();
  // A second signal while stopping changes nothing: the stop already ends every stream after a
  // final checkpoint, which is quick; killing harder is what SIGKILL is for.
  c->signals_.async_wait([self, &engine](const boost::system::error_code& ec, int number) {
    if (ec) return;
    self->signal_ = number;
    const char* name = number == SIGINT ? "SIGINT" : "SIGTERM";
    engine.stop(transient_error(fmt::format("interrupted by {}", name)));
  });
  asio::co_spawn(io, c->progress_.run(), asio::detached);
  return c;
}

void Companions::finish() {
  if (finished_) return;
  finished_ = true;
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  signals_.clear(ignored);
  if (server_) server_->stop();
  progress_.stop();
}

}  // namespace sv::cli
