// src/emulator/tcp_proxy.cpp — byte pump between clients and the internal gRPC port.
#include "emulator/tcp_proxy.hpp"

#include <array>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace sv::emulator {
namespace asio = boost::asio;
using asio::ip::tcp;

struct TcpProxy::Conn {
  explicit Conn(asio::io_context& io) : client(io), upstream(io) {}
  tcp::socket client;
  tcp::socket upstream;
  void close(bool reset) {
    boost::system::error_code ec;
    if (reset) client.set_option(asio::socket_base::linger(true, 0), ec);  // RST, not FIN
    client.close(ec);
    upstream.close(ec);
  }
};

struct TcpProxy::Impl {
  asio::io_context& io;
  std::unique_ptr<tcp::acceptor> acceptor;
  tcp::endpoint upstream_ep;
  std::map<int, std::weak_ptr<Conn>> conns;  // upstream local port → connection

  static asio::awaitable<void> pump(std::shared_ptr<Conn> c, tcp::socket& from, tcp::socket& to) {
    std::array<char, 64 * 1024> buf;
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      auto [wec, m] = co_await asio::async_write(to, asio::buffer(buf.data(), n), asio::as_tuple(asio::use_awaitable));
      (void)m;
      if (wec) break;
    }
    c->close(false);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto c = std::make_shared<Conn>(io);
      auto [ec] = co_await acceptor->async_accept(c->client, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto [cec] = co_await c->upstream.async_connect(upstream_ep, asio::as_tuple(asio::use_awaitable));
      if (cec) {
        c->close(true);
        continue;
      }
      boost::system::error_code ignore;
      c->client.set_option(tcp::no_delay(true), ignore);
      c->upstream.set_option(tcp::no_delay(true), ignore);
      const int port = c->upstream.local_endpoint(ignore).port();
      for (auto it = conns.begin(); it != conns.end();) it = it->second.expired() ? conns.erase(it) : std::next(it);
      conns[port] = c;
      asio::co_spawn(io, pump(c, c->client, c->upstream), asio::detached);
      asio::co_spawn(io, pump(c, c->upstream, c->client), asio::detached);
    }
  }
};

TcpProxy::TcpProxy(asio::io_context& io) : impl_(std::make_unique<Impl>(Impl{io, nullptr, {}, {}})) {}
TcpProxy::~TcpProxy() = default;

sv::Result<int> TcpProxy::start(const std::string& listen, int upstream_port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return sv::config_error("address must be host:port, got '" + listen + "'");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) return sv::config_error("bad host in '" + listen + "'");
  tcp::endpoint ep(addr, static_cast<unsigned short>(std::atoi(listen.c_str() + colon + 1)));
  auto acc = std::make_unique<tcp::acceptor>(impl_->io);
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return sv::config_error("cannot listen on " + listen + ": " + ec.message());
  const int port = acc->local_endpoint().port();
  impl_->acceptor = std::move(acc);
  impl_->upstream_ep = tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(upstream_port));
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return port;
}

bool TcpProxy::drop(int upstream_local_port) {
  auto it = impl_->conns.find(upstream_local_port);
  if (it == impl_->conns.end()) return false;
  auto c = it->second.lock();
  impl_->conns.erase(it);
  if (!c) return false;
  spdlog::info("tcp proxy: dropping client connection (upstream port {})", upstream_local_port);
  // FIN rather than RST: a reset can make the client's kernel discard bytes it already received.
  c->close(false);
  return true;
}

void TcpProxy::stop() {
  boost::system::error_code ec;
  if (impl_->acceptor) impl_->acceptor->close(ec);
  for (auto& [port, w] : impl_->conns) {
    if (auto c = w.lock()) c->close(false);
  }
  impl_->conns.clear();
}

}  // namespace sv::emulator
