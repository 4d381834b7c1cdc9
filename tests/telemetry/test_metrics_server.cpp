// tests/telemetry: the metrics endpoint over real HTTP on 127.0.0.1 (port 0), client and server
// coroutines on one io_context; every test runs the io_context for a bounded time.
#include <doctest/doctest.h>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <exception>
#include <string>
#include <vector>

#include "fixture.hpp"
#include "telemetry/metrics_server.hpp"
#include "telemetry/prometheus.hpp"

using namespace sv;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

namespace {

//! Runs `body` on `io` for at most 20 s and requires it to have finished without an exception,
//! and io.run() to have returned on its own (nothing of the server left pending).
void run_bounded(asio::io_context& io, asio::awaitable<void> body) {
  bool done = false;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
    done = true;
    error = e;
  });
  io.run_for(20s);
  REQUIRE(done);
  if (error) std::rethrow_exception(error);
  CHECK(io.stopped());  // io.run() returned because no work was left, not because of the time limit
}

struct Fixture {
  asio::io_context io;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  engine::Metrics metrics = telemetry::test::fixture_metrics(start);

  std::unique_ptr<telemetry::MetricsServer> start_server(telemetry::MetricsServerOptions options = {}) {
    options.steady_now = [this] { return start + 12500ms; };
    options.unix_now = [] { return telemetry::test::fixture_unix_now; };
    auto server = telemetry::MetricsServer::start(io, "127.0.0.1:0", metrics, std::move(options));
    REQUIRE_MESSAGE(server.ok(), server.error().message);
    REQUIRE((*server)->port() != 0);
    return std::move(*server);
  }

  std::string expected_metrics() const {
    return telemetry::render_prometheus(metrics, start + 12500ms, telemetry::test::fixture_unix_now);
  }
};

asio::awaitable<beast::tcp_stream> connect(unsigned short port) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(5s);
  co_await stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), asio::use_awaitable);
  co_return stream;
}

asio::awaitable<Response> request(beast::tcp_stream& stream, http::verb verb, std::string target,
                                  bool keep_alive = true) {
  http::request<http::string_body> req(verb, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(keep_alive);
  req.prepare_payload();
  stream.expires_after(5s);
  co_await http::async_write(stream, req, asio::use_awaitable);
  http::response_parser<http::string_body> parser;
  parser.skip(verb == http::verb::head);  // a HEAD answer has a Content-Length but no body
  beast::flat_buffer buffer;
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  co_return parser.release();
}

//! Reads until the server closes; true when it did so within 5 s.
asio::awaitable<bool> closed_by_server(beast::tcp_stream& stream) {
  stream.expires_after(5s);
  char byte;
  boost::system::error_code ec;
  co_await stream.async_read_some(asio::buffer(&byte, 1), asio::redirect_error(asio::use_awaitable, ec));
  co_return ec == asio::error::eof || ec == asio::error::connection_reset;
}

}  // namespace

TEST_CASE_FIXTURE(Fixture, "GET /metrics: 200, Prometheus content type, the rendered metrics; keep-alive") {
  auto server = start_server();
  CHECK(server->url() == "http://127.0.0.1:" + std::to_string(server->port()) + "/metrics");
  run_bounded(io, [&]() -> asio::awaitable<void> {
    auto stream = co_await connect(server->port());
    auto first = co_await request(stream, http::verb::get, "/metrics");
    CHECK(first.result() == http::status::ok);
    CHECK(first[http::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(first.keep_alive());
    CHECK(first.body() == expected_metrics());
    CHECK(first.body().find(
              "source_vitess_records_total{stream=\"customers\",namespace=\"commerce\",shard=\"-80\"} 200\n") !=
          std::string::npos);
    // The same connection again, after the engine moved on: the answer is live.
    metrics.streams[0].shards["-80"].records = 201;
    auto second = co_await request(stream, http::verb::get, "/metrics?name[]=x");
    CHECK(second.result() == http::status::ok);
    CHECK(second.body() == expected_metrics());
    CHECK(second.body().find("shard=\"-80\"} 201\n") != std::string::npos);
    server->stop();
    CHECK(co_await closed_by_server(stream));
  }());
}

TEST_CASE_FIXTURE(Fixture, "GET /, unknown paths, other methods, HEAD, Connection: close, garbage") {
  auto server = start_server();
  run_bounded(io, [&]() -> asio::awaitable<void> {
    auto stream = co_await connect(server->port());
    struct Case {
      http::verb verb;
      const char* target;
      http::status status;
      const char* body;
    };
    for (const auto& c :
         {Case{http::verb::get, "/", http::status::ok, "source-vitess: Prometheus metrics are at /metrics\n"},
          Case{http::verb::get, "/metricsx", http::status::not_found, "not found: the metrics are at /metrics\n"},
          Case{http::verb::post, "/metrics", http::status::method_not_allowed, "method not allowed: use GET\n"}}) {
      CAPTURE(c.target);
      auto res = co_await request(stream, c.verb, c.target);
      CHECK(res.result() == c.status);
      CHECK(res[http::field::content_type] == "text/plain; charset=utf-8");
      CHECK(res[http::field::allow] == (c.verb == http::verb::post ? "GET, HEAD" : ""));
      CHECK(res.body() == c.body);
    }

    auto head = co_await request(stream, http::verb::head, "/metrics");
    CHECK(head.result() == http::status::ok);
    CHECK(head[http::field::content_length] == std::to_string(expected_metrics().size()));
    CHECK(head.body().empty());

    // The connection survived all of that; now ask it to close.
    auto last = co_await request(stream, http::verb::get, "/metrics", false);
    CHECK(last.result() == http::status::ok);
    CHECK(!last.keep_alive());
    CHECK(co_await closed_by_server(stream));

    auto garbage = co_await connect(server->port());
    co_await asio::async_write(garbage, asio::buffer(std::string_view("NOT HTTP AT ALL\r\n\r\n")), asio::use_awaitable);
    http::response_parser<http::string_body> parser;
    beast::flat_buffer buffer;
    co_await http::async_read(garbage, buffer, parser, asio::use_awaitable);
    CHECK(parser.get().result() == http::status::bad_request);
    CHECK(co_await closed_by_server(garbage));
    server->stop();
  }());
}

TEST_CASE_FIXTURE(Fixture, "an idle connection is closed after the timeout; extra connections are refused") {
  telemetry::MetricsServerOptions options;
  options.idle_timeout = 200ms;
  options.max_connections = 1;
  auto server = start_server(options);
  run_bounded(io, [&]() -> asio::awaitable<void> {
    auto idle = co_await connect(server->port());
    // Give the server time to accept the first one so it counts against max_connections.
    asio::steady_timer pause(co_await asio::this_coro::executor, 50ms);
    co_await pause.async_wait(asio::use_awaitable);
    auto extra = co_await connect(server->port());
    CHECK(co_await closed_by_server(extra));
    const auto before = std::chrono::steady_clock::now();
    CHECK(co_await closed_by_server(idle));  // sent nothing: dropped after ~200 ms
    CHECK(std::chrono::steady_clock::now() - before < 3s);
    // The slot is free again.
    auto again = co_await connect(server->port());
    auto res = co_await request(again, http::verb::get, "/metrics");
    CHECK(res.result() == http::status::ok);
    server->stop();
  }());
}

TEST_CASE_FIXTURE(Fixture, "stop() closes the listener and open connections so io.run() returns") {
  auto server = start_server();  // idle timeout 30 s: only stop() can end the open connection
  const auto port = server->port();
  bool connected = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto stream = co_await connect(port);
        connected = true;
        server->stop();
        server->stop();  // idempotent
        CHECK(co_await closed_by_server(stream));
      },
      asio::detached);
  const auto before = std::chrono::steady_clock::now();
  io.run_for(20s);
  CHECK(connected);
  CHECK(io.stopped());
  CHECK(std::chrono::steady_clock::now() - before < 5s);
  // Nobody listens there any more.
  io.restart();
  boost::system::error_code ec;
  tcp::socket probe(io);
  probe.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  CHECK(ec == asio::error::connection_refused);
}

TEST_CASE_FIXTURE(Fixture, "destroying the server without stop() also lets io.run() return") {
  auto server = start_server();
  const auto port = server->port();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto stream = co_await connect(port);
        server.reset();
        CHECK(co_await closed_by_server(stream));
      },
      asio::detached);
  io.run_for(20s);
  CHECK(io.stopped());
}

TEST_CASE_FIXTURE(Fixture, "start() errors: a bad address, a port in use") {
  auto bad = telemetry::MetricsServer::start(io, "127.0.0.1:99999", metrics);
  REQUIRE(!bad.ok());
  CHECK(bad.error().type == FailureType::config_error);
  CHECK(bad.error().message ==
        "invalid metrics address '127.0.0.1:99999': the port must be a number from 0 to 65535 (0 picks a free port)");

  tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto address = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
  auto busy = telemetry::MetricsServer::start(io, address, metrics);
  REQUIRE(!busy.ok());
  CHECK(busy.error().type == FailureType::config_error);
  CHECK(busy.error().message == "cannot listen on metrics address " + address + ": Address already in use");
}

TEST_CASE_FIXTURE(Fixture, "localhost and [::1] listen on loopback; the URL is logged, no warning") {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(10);
  sink->set_pattern("%l %v");
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  auto v4 = telemetry::MetricsServer::start(io, "localhost:0", metrics);
  spdlog::set_default_logger(previous);
  REQUIRE(v4.ok());
  CHECK((*v4)->url() == "http://127.0.0.1:" + std::to_string((*v4)->port()) + "/metrics");
  CHECK(sink->last_formatted() ==
        std::vector<std::string>{"info serving Prometheus metrics at " + (*v4)->url() + "\n"});
  auto v6 = telemetry::MetricsServer::start(io, "[::1]:0", metrics);
  if (!v6.ok()) {
    MESSAGE("no IPv6 loopback here: " << v6.error().message);
    return;
  }
  CHECK((*v6)->url() == "http://[::1]:" + std::to_string((*v6)->port()) + "/metrics");
}
