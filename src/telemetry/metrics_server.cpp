// src/telemetry: the metrics HTTP endpoint. One accept-loop coroutine spawns one coroutine per
// connection; both hold the shared State, so stop() (or the server's destruction) only closes
// sockets and the coroutines end on their own once their pending operation completes.
#include "telemetry/metrics_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <map>
#include <utility>
#include <vector>

#include "telemetry/prometheus.hpp"

namespace sv::telemetry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

Result<ListenAddress> parse_listen_address(std::string_view text) {
  auto bad = [text](std::string_view why) {
    return config_error(fmt::format("invalid metrics address '{}': {}", text, why));
  };
  std::string_view host;
  std::string_view port;
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return bad("expected HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100");
    port = rest.substr(1);
    v6 = true;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("expected HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("write an IPv6 address in brackets, e.g. [::1]:9100");
  }
  unsigned value = 0;
  const bool digits = !port.empty() && port.size() <= 5 &&
                      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::from_chars(port.data(), port.data() + port.size(), value).ec != std::errc{} || value > 65535) {
    return bad("the port must be a number from 0 to 65535 (0 picks a free port)");
  }
  if (host.empty()) return bad("the host is missing (127.0.0.1 serves this machine only)");
  boost::system::error_code ec;
  ListenAddress out;
  out.port = static_cast<unsigned short>(value);
  if (v6) {
    out.address = asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return bad("the part in brackets is not an IPv6 address");
  } else if (host == "localhost") {
    out.address = asio::ip::address_v4::loopback();
  } else {
    out.address = asio::ip::make_address_v4(std::string(host), ec);
    if (ec) return bad("the host must be an IPv4 address, localhost or [IPv6] (host names are not resolved)");
  }
  return out;
}

struct MetricsServer::State {
  State(asio::io_context& io, const engine::Metrics& m, MetricsServerOptions o)
      : acceptor(io), metrics(m), options(std::move(o)) {}

  tcp::acceptor acceptor;
  const engine::Metrics& metrics;
  MetricsServerOptions options;
  std::string url;
  unsigned short port = 0;
  bool stopped = false;
  std::uint64_t next_connection = 0;
  std::map<std::uint64_t, beast::tcp_stream*> connections;  //!< open ones, so stop() can close them
};

namespace {

using State = MetricsServer::State;

void log_unexpected(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("metrics endpoint: {}", x.what());
  }
}

http::response<http::string_body> respond(const State& st, const http::request<http::string_body>& req) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "source-vitess/" SOURCE_VITESS_VERSION);
  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));  // scrapers may add parameters; none change the answer
  const bool head = req.method() == http::verb::head;
  if (req.method() != http::verb::get && !head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "method not allowed: use GET\n";
  } else if (target == "/metrics") {
    res.result(http::status::ok);
    res.set(http::field::content_type, prometheus_content_type);
    res.body() = render_prometheus(st.metrics, st.options.steady_now(), st.options.unix_now());
  } else if (target == "/") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "source-vitess: Prometheus metrics are at /metrics\n";
  } else {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "not found: the metrics are at /metrics\n";
  }
  res.prepare_payload();
  if (head) res.body().clear();  // Content-Length stays that of the GET answer
  return res;
}

asio::awaitable<void> serve_connection(std::shared_ptr<State> st, tcp::socket socket) {
  // stop() may have run between the accept and this coroutine's start; it could not close us.
  if (st->stopped) co_return;
  beast::tcp_stream stream(std::move(socket));
  const auto id = st->next_connection++;
  st->connections.emplace(id, &stream);
  struct Forget {
    State& st;
    std::uint64_t id;
    ~Forget() { st.connections.erase(id); }
  } forget{*st, id};

  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    // The timeout covers the whole read, so a client sending nothing (or a byte a minute) is dropped.
    stream.expires_after(st->options.idle_timeout);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (st->stopped) co_return;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted) break;
    http::response<http::string_body> res;
    if (ec) {
      // Not HTTP we can parse: answer 400 once and close.
      res.result(http::status::bad_request);
      res.version(11);
      res.keep_alive(false);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "bad request\n";
      res.prepare_payload();
    } else {
      res = respond(*st, parser.get());
    }
    stream.expires_after(st->options.idle_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (st->stopped) co_return;
    if (ec || !res.keep_alive()) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> accept_loop(std::shared_ptr<State> st) {
  asio::steady_timer backoff(st->acceptor.get_executor());
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await st->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (st->stopped || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // E.g. out of file descriptors: the metrics must not take the sync down, so wait and go on.
      spdlog::warn("metrics endpoint: accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(200));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (st->stopped) co_return;
      continue;
    }
    if (st->connections.size() >= st->options.max_connections) {
      socket.close(ec);
      continue;
    }
    asio::co_spawn(st->acceptor.get_executor(), serve_connection(st, std::move(socket)), log_unexpected);
  }
}

}  // namespace

MetricsServer::MetricsServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

MetricsServer::~MetricsServer() { stop(); }

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(asio::io_context& io, std::string_view address,
                                                            const engine::Metrics& metrics,
                                                            MetricsServerOptions options) {
  auto parsed = parse_listen_address(address);
  if (!parsed) return parsed.error();
  if (!options.steady_now) options.steady_now = [] { return std::chrono::steady_clock::now(); };
  if (!options.unix_now) {
    options.unix_now = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  auto st = std::make_shared<State>(io, metrics, std::move(options));
  const tcp::endpoint endpoint(parsed->address, parsed->port);
  boost::system::error_code ec;
  auto fail = [&](std::string_view step) {
    return config_error(fmt::format("cannot listen on metrics address {}: {}", address, ec.message()),
                        fmt::format("{} failed", step));
  };
  if (st->acceptor.open(endpoint.protocol(), ec); ec) return fail("open");
  if (st->acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec) return fail("setsockopt");
  if (st->acceptor.bind(endpoint, ec); ec) return fail("bind");
  if (st->acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
  const auto port = st->acceptor.local_endpoint(ec).port();
  if (ec) return fail("getsockname");
  st->port = port;
  const auto host = parsed->address.to_string();
  st->url = parsed->address.is_v6() ? fmt::format("http://[{}]:{}/metrics", host, port)
                                    : fmt::format("http://{}:{}/metrics", host, port);
  spdlog::info("serving Prometheus metrics at {}", st->url);
  if (!parsed->address.is_loopback()) {
    spdlog::warn(
        "the metrics address {} is not a loopback address: other machines can read the metrics "
        "(stream, namespace and shard names and counts; no row data)",
        host);
  }
  asio::co_spawn(io, accept_loop(st), log_unexpected);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(st)));
}

unsigned short MetricsServer::port() const { return state_->port; }

std::string MetricsServer::url() const { return state_->url; }

void MetricsServer::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
  // Closing does not run handlers inline, but copy anyway: each connection erases itself on exit.
  std::vector<beast::tcp_stream*> open;
  for (auto& [id, stream] : state_->connections) open.push_back(stream);
  for (auto* stream : open) stream->close();
}

}  // namespace sv::telemetry
