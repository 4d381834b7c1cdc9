//! src/emulator/tcp_proxy.hpp — an optional loopback TCP proxy in front of the gRPC port, so a
//! fault can drop a client's TCP connection outright (closed socket, no HTTP/2 GOAWAY/RST_STREAM,
//! no status), which
//! gRPC's own API cannot do. Runs on the io_context thread; costs one copy of every byte.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "util/result.hpp"

namespace sv::emulator {

class TcpProxy {
 public:
  explicit TcpProxy(boost::asio::io_context& io);
  ~TcpProxy();
  //! Listens on `listen` (host:port, port 0 = any) and forwards to 127.0.0.1:`upstream_port`.
  sv::Result<int> start(const std::string& listen, int upstream_port);
  //! Closes the client connection whose upstream socket has this local port (the port gRPC
  //! reports as the peer). Returns false if no such connection.
  bool drop(int upstream_local_port);
  //! Closes the listener and every connection.
  void stop();

  struct Conn;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sv::emulator
