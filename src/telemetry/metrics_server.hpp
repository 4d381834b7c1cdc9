// src/telemetry: the --metrics-address HTTP endpoint (Boost.Beast, coroutines on the caller's
// io_context, no threads). GET /metrics answers render_prometheus of the live engine::Metrics.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/metrics.hpp"
#include "util/result.hpp"

namespace sv::telemetry {

//! A parsed --metrics-address.
struct ListenAddress {
  boost::asio::ip::address address;
  unsigned short port = 0;  //!< 0 = let the OS pick one
  bool operator==(const ListenAddress&) const = default;
};

//! Parses `HOST:PORT` where HOST is an IPv4 literal, `localhost` (127.0.0.1) or `[IPv6]`, and
//! PORT is 0-65535 (0 = any free port). Host names other than localhost are refused (no DNS).
Result<ListenAddress> parse_listen_address(std::string_view text);

struct MetricsServerOptions {
  //! A connection idle (no complete request read, or a response not written) this long is closed.
  std::chrono::milliseconds idle_timeout{30'000};
  //! Connections served at once; further ones are closed right after accept.
  std::size_t max_connections = 32;
  //! Clocks for uptime and lag; unset = the real ones (tests pin them for exact answers).
  std::function<std::chrono::steady_clock::time_point()> steady_now;
  std::function<std::int64_t()> unix_now;
};

//! Serves GET/HEAD /metrics (Prometheus text 0.0.4), GET / (a pointer to /metrics), 404 for other
//! paths and 405 for other methods, with keep-alive. Everything runs on the io_context given to
//! start(); `metrics` is read there, so it must be updated on that thread and outlive the server.
class MetricsServer {
 public:
  //! Parses `address`, listens on it and starts the accept loop. Logs the URL (info) and, when the
  //! host is not a loopback address, a warning that the metrics are reachable from other machines.
  //! Errors (bad address, cannot listen) are config_error values.
  static Result<std::unique_ptr<MetricsServer>> start(boost::asio::io_context& io, std::string_view address,
                                                      const engine::Metrics& metrics,
                                                      MetricsServerOptions options = {});

  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  //! The port listened on (the OS's pick when the address said port 0).
  unsigned short port() const;
  //! The URL of the metrics, e.g. http://127.0.0.1:9100/metrics.
  std::string url() const;
  //! Closes the listener and every open connection, so the server's coroutines end and io.run()
  //! can return. Idempotent; the destructor calls it.
  void stop();

  struct State;  //!< shared with the accept loop and the connections (they may outlive *this)

 private:
  explicit MetricsServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace sv::telemetry
