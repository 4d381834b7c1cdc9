// src/cli: what runs beside the engine on its io_context in `read` and `extract`: SIGINT/SIGTERM
// handling (a clean stop with a final checkpoint), the optional Prometheus endpoint
// (--metrics-address) and the progress display on stderr.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <memory>
#include <optional>
#include <string>

#include "engine/metrics.hpp"
#include "engine/sync.hpp"
#include "telemetry/metrics_server.hpp"
#include "telemetry/progress.hpp"
#include "util/result.hpp"

namespace sv::cli {

struct CompanionOptions {
  std::optional<std::string> metrics_address;  //!< HOST:PORT; none = no endpoint
  telemetry::ProgressOptions progress;
};

class Companions {
 public:
  //! Starts the three on `io`. Fails only when the metrics endpoint cannot listen (config_error).
  static Result<std::unique_ptr<Companions>> start(boost::asio::io_context& io, engine::Engine& engine,
                                                   const engine::Metrics& metrics, const CompanionOptions& options);
  ~Companions();
  //! After the engine ended: stops the signal handling, the endpoint and the progress display
  //! (which prints its final lines), so io.run() can return.
  void finish();
  //! The signal that stopped the engine, if any.
  std::optional<int> signal() const { return signal_; }

 private:
  Companions(boost::asio::io_context& io, const engine::Metrics& metrics, const CompanionOptions& options);

  boost::asio::signal_set signals_;
  telemetry::ProgressReporter progress_;
  std::unique_ptr<telemetry::MetricsServer> server_;
  std::optional<int> signal_;
  bool finished_ = false;
};

}  // namespace sv::cli
