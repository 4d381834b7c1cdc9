// src/vitess: a TLS handshake probe. gRPC reports a plaintext client talking to a TLS server only
// as "Socket closed", which a restarting vtgate or a proxy without backends produce too; one
// handshake attempt tells the wrong tls_mode (a config_error) from an outage (retried).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace sv::vitess {

//! True when host:port completes a TLS handshake within `limit` (nothing verified: the question
//! is only whether the server speaks TLS). False on any failure, refusal or timeout.
boost::asio::awaitable<bool> server_speaks_tls(std::string host, std::uint16_t port, std::chrono::milliseconds limit);

}  // namespace sv::vitess
