// src/vitess: the gRPC channel to one vtgate: TLS per tls_mode (CA or system roots, SNI name),
// keepalive, 100 MiB messages, a fixed HTTP/2 look-ahead, identity/gzip responses only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "util/result.hpp"
#include "util/tls_mode.hpp"

namespace sv::vitess {

using sv::TlsMode;

struct ChannelOptions {
  std::string host;
  std::uint16_t port = 443;
  TlsMode tls_mode = TlsMode::verify_identity;
  std::string ca_certificate;   //!< PEM; empty = system roots
  std::string tls_server_name;  //!< name for SNI and the hostname check; empty = host
  std::string username;
  std::string password;
  std::chrono::milliseconds keepalive_time{30'000};
  std::chrono::milliseconds keepalive_timeout{10'000};
  int max_message_bytes = 100 * 1024 * 1024;
};

//! "host:port", with a bare IPv6 literal in brackets ("[::1]:15991").
std::string channel_target(const std::string& host, std::uint16_t port);

//! The channel for `options` (connects lazily). config_error when ca_certificate is not valid
//! PEM for a verifying tls_mode, or when gRPC cannot build the TLS credentials.
Result<std::shared_ptr<grpc::Channel>> make_channel(const ChannelOptions& options);

}  // namespace sv::vitess
