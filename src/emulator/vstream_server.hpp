//! src/emulator/vstream_server.hpp — the emulated vtgate: serves vtgateservice.Vitess/VStream
//! over gRPC (callback API, raw ByteBuffer method so pre-encoded bytes can be replayed) and turns
//! a Backend's data into the exact event sequences vtgate sends.
//!
//! Threads: gRPC's own threads only run reactions, which post into the io_context; all stream
//! logic (one coroutine per stream + one per shard + heartbeat) runs on the io_context thread.
//! shutdown() must be called off the io_context thread (grpc::Server::Shutdown can block).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "emulator/backend.hpp"
#include "emulator/faults.hpp"
#include "util/result.hpp"

namespace sv::emulator {

//! TLS material (PEM text, not paths).
struct TlsFiles {
  std::string cert_chain;
  std::string private_key;
};

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  //!< host:port; port 0 = pick a free one
  std::string user;                    //!< empty = no authentication
  std::string password;
  std::optional<TlsFiles> tls;
  bool enum_set_labels = true;             //!< v20+ (labels) vs older vtgates (index / bitmask)
  bool pre_encoded = false;                //!< cache encoded copy-phase ROW events and replay them
  std::size_t copy_packet_bytes = 250000;  //!< rowstreamer packet size (vstream_packet_size)
  std::chrono::milliseconds poll{100};     //!< longest wait on a backend before re-checking state
};

//! Stream counters for the control API.
struct ServerStats {
  std::uint64_t streams_started = 0;
  std::uint64_t streams_active = 0;
  std::uint64_t events_sent = 0;
  std::uint64_t responses_sent = 0;
  std::uint64_t bytes_sent = 0;  //!< serialized VStreamResponse bytes (before gRPC/HTTP/2 framing)
  std::uint64_t cache_hits = 0;
};

class VStreamServer {
 public:
  VStreamServer(boost::asio::io_context& io, Backend& backend, ServerOptions options);
  ~VStreamServer();
  VStreamServer(const VStreamServer&) = delete;
  VStreamServer& operator=(const VStreamServer&) = delete;

  //! Binds and starts serving; returns the bound port.
  sv::Result<int> start();
  //! Stops accepting, cancels streams, waits for gRPC. Never call on the io_context thread.
  void shutdown();

  //! Installs the hook that drops a client's TCP connection given gRPC's peer string
  //! ("ipv4:127.0.0.1:PORT"); returns false when it cannot (then "drop" resets the stream only).
  void set_connection_dropper(std::function<bool(const std::string& peer)> dropper);
  //! Ends every active stream now the given way (io_context thread only).
  void end_streams(EndMode mode);
  //! Fault settings (io_context thread only).
  Faults& faults();
  //! Counters (io_context thread only).
  const ServerStats& stats() const;
  Backend& backend();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sv::emulator
