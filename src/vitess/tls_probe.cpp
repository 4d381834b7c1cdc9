// src/vitess: the TLS handshake probe (see tls_probe.hpp).
#include "vitess/tls_probe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sv::vitess {

namespace asio = boost::asio;

asio::awaitable<bool> server_speaks_tls(std::string host, std::uint16_t port, std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  auto ex = co_await asio::this_coro::executor;
  asio::ssl::context context(asio::ssl::context::tls_client);
  context.set_verify_mode(asio::ssl::verify_none);
  asio::ssl::stream<asio::ip::tcp::socket> stream(ex, context);
  boost::system::error_code not_an_address;
  (void)asio::ip::make_address(host, not_an_address);
  if (not_an_address) SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());  // SNI, as gRPC sends it

  auto handshake = [&]() -> asio::awaitable<bool> {
    asio::ip::tcp::resolver resolver(ex);
    auto [resolve_error, endpoints] =
        co_await resolver.async_resolve(host, std::to_string(port), asio::as_tuple(asio::use_awaitable));
    if (resolve_error) co_return false;
    auto [connect_error, endpoint] =
        co_await asio::async_connect(stream.next_layer(), endpoints, asio::as_tuple(asio::use_awaitable));
    if (connect_error) co_return false;
    auto [handshake_error] =
        co_await stream.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    co_return !handshake_error;
  };
  asio::steady_timer timer(ex, limit);
  auto outcome = co_await (handshake() || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  co_return outcome.index() == 0 && std::get<0>(outcome);
}

}  // namespace sv::vitess
