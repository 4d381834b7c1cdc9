// src/vitess: channel and TLS setup (see grpc_channel.hpp).
#include "vitess/grpc_channel.hpp"

#include <fmt/format.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/channel_arguments.h>

#include "util/pem.hpp"

namespace sv::vitess {

std::string channel_target(const std::string& host, std::uint16_t port) {
  return host.find(':') != std::string::npos && host.front() != '['
             ? fmt::format("[{}]:{}", host, port)  // bare IPv6 literal
             : fmt::format("{}:{}", host, port);
}

Result<std::shared_ptr<grpc::Channel>> make_channel(const ChannelOptions& o) {
  // Only the verifying modes use the CA. gRPC loads whatever roots it is given even when it does
  // not verify, and an unparsable PEM then fails every connect ("Failed to create security
  // handshaker"), so `required` never hands it over.
  const bool uses_ca =
      !o.ca_certificate.empty() && (o.tls_mode == TlsMode::verify_ca || o.tls_mode == TlsMode::verify_identity);
  if (uses_ca) {
    if (o.ca_certificate.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return config_error("ca_certificate is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)");
    }
    if (auto pem = check_pem_certificates(o.ca_certificate); !pem) {
      return config_error(fmt::format("ca_certificate is not valid PEM: {}", pem.error().message));
    }
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.tls_mode == TlsMode::disabled) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::experimental::TlsChannelCredentialsOptions tls;
    if (uses_ca) {
      tls.set_certificate_provider(
          std::make_shared<grpc::experimental::StaticDataCertificateProvider>(o.ca_certificate));
      tls.watch_root_certs();
    }  // else: gRPC uses the system roots
    switch (o.tls_mode) {
      case TlsMode::verify_identity:
        tls.set_verify_server_certs(true);
        tls.set_certificate_verifier(std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
        tls.set_check_call_host(true);
        break;
      case TlsMode::verify_ca:
        // The chain is verified against the roots; the post-handshake verifier (where the
        // hostname check lives) accepts any name.
        tls.set_verify_server_certs(true);
        tls.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
        tls.set_check_call_host(false);
        break;
      default:  // required: encrypted, unverified
        tls.set_verify_server_certs(false);
        tls.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
        tls.set_check_call_host(false);
        break;
    }
    creds = grpc::experimental::TlsCredentials(tls);
    if (!creds) return config_error("could not create TLS credentials for the gRPC channel");
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(o.max_message_bytes);
  args.SetMaxSendMessageSize(o.max_message_bytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(o.keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(o.keepalive_timeout.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // keep pinging a quiet stream
  // Bounded memory: without these, HTTP/2 BDP probing grows each stream's flow-control window
  // with the transfer, and a fast vtgate fills it faster than stdout drains (peak RSS grew with
  // table size, 95-495 MiB in docs/benchmarks.md). A fixed 1 MiB look-ahead per stream keeps the
  // pipe full on loopback and on a LAN while a slow consumer stops the server.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1 << 20);
  // Requests go uncompressed; responses may be identity or gzip (gRPC C++ has no snappy, which
  // PlanetScale's Go client uses).
  args.SetInt(GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET,
              (1 << GRPC_COMPRESS_NONE) | (1 << GRPC_COMPRESS_GZIP));
  args.SetCompressionAlgorithm(GRPC_COMPRESS_NONE);
  args.SetUserAgentPrefix("source-vitess/" SOURCE_VITESS_VERSION);
  if (o.tls_mode != TlsMode::disabled && !o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);
  return grpc::CreateCustomChannel(channel_target(o.host, o.port), creds, args);
}

}  // namespace sv::vitess
