// src/emulator/control_api.cpp — HTTP control API over Boost.Beast (one coroutine per connection).
#include "emulator/control_api.hpp"

#include <charconv>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "util/json.hpp"

namespace sv::emulator {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      out.push_back(static_cast<char>(v));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::pair<std::string, std::map<std::string, std::string>> split_target(const std::string& target) {
  std::map<std::string, std::string> q;
  auto qm = target.find('?');
  std::string path = target.substr(0, qm);
  if (qm != std::string::npos) {
    std::string_view rest(target);
    rest.remove_prefix(qm + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      auto kv = rest.substr(0, amp);
      auto eq = kv.find('=');
      q[url_decode(kv.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  return {path, q};
}

std::string json_error(const std::string& msg) {
  sv::JsonBuffer buf;
  sv::JsonWriter w(buf);
  w.StartObject();
  w.Key("error");
  w.String(msg.c_str(), static_cast<rapidjson::SizeType>(msg.size()));
  w.EndObject();
  return buf.GetString();
}

std::optional<double> num(const std::map<std::string, std::string>& q, const std::string& k) {
  auto it = q.find(k);
  if (it == q.end()) return std::nullopt;
  try {
    std::size_t used = 0;
    double v = std::stod(it->second, &used);
    if (used != it->second.size() || v < 0) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

struct ControlApi::Impl {
  asio::io_context& io;
  VStreamServer& server;
  SyntheticBackend* synthetic;
  std::string keyspace;
  std::unique_ptr<tcp::acceptor> acceptor;
  ControlApi* owner = nullptr;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io, session(std::move(sock)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket sock);
};

ControlApi::ControlApi(asio::io_context& io, VStreamServer& server, SyntheticBackend* synthetic, std::string keyspace)
    : impl_(std::make_unique<Impl>(Impl{io, server, synthetic, std::move(keyspace), nullptr, nullptr})) {
  impl_->owner = this;
}

ControlApi::~ControlApi() = default;

sv::Result<int> ControlApi::start(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return sv::config_error("control address must be host:port, got '" + listen + "'");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) return sv::config_error("bad control host in '" + listen + "'");
  int port = std::atoi(listen.c_str() + colon + 1);
  auto acc = std::make_unique<tcp::acceptor>(impl_->io);
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return sv::config_error("cannot listen on " + listen + ": " + ec.message());
  int bound = acc->local_endpoint().port();
  impl_->acceptor = std::move(acc);
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return bound;
}

void ControlApi::stop() {
  if (impl_->acceptor) {
    boost::system::error_code ec;
    impl_->acceptor->close(ec);
  }
}

asio::awaitable<void> ControlApi::Impl::session(tcp::socket sock) {
  beast::tcp_stream stream(std::move(sock));
  beast::flat_buffer buf;
  for (;;) {
    http::request<http::string_body> req;
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buf, req, asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) break;  // end_of_stream, timeout or garbage: just close
    auto [status, body] = owner->handle(std::string(req.method_string()), std::string(req.target()));
    http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = body + "\n";
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    (void)wn;
    if (wec || !req.keep_alive()) break;
  }
  boost::system::error_code ignore;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignore);
}

std::pair<int, std::string> ControlApi::handle(const std::string& method, const std::string& target) {
  // Named members, not a structured binding: clang 14 (the sanitizer build) cannot capture those.
  auto parts = split_target(target);
  const std::string& path = parts.first;
  auto& q = parts.second;
  auto& faults = impl_->server.faults();
  auto mode_of = [&](EndMode def) -> std::optional<EndMode> {
    auto it = q.find("mode");
    return it == q.end() ? std::optional<EndMode>(def) : parse_end_mode(it->second);
  };
  const std::string ks = q.count("keyspace") ? q["keyspace"] : impl_->keyspace;
  spdlog::info("control: {} {}", method, target);

  if (path == "/status") {
    const auto& st = impl_->server.stats();
    sv::JsonBuffer buf;
    sv::JsonWriter w(buf);
    w.StartObject();
    w.Key("streams_started");
    w.Uint64(st.streams_started);
    w.Key("streams_active");
    w.Uint64(st.streams_active);
    w.Key("events_sent");
    w.Uint64(st.events_sent);
    w.Key("responses_sent");
    w.Uint64(st.responses_sent);
    w.Key("bytes_sent");
    w.Uint64(st.bytes_sent);
    w.Key("cache_hits");
    w.Uint64(st.cache_hits);
    if (impl_->synthetic) {
      w.Key("ops_done");
      w.Uint64(impl_->synthetic->ops_done());
      w.Key("positions");
      w.StartObject();
      for (const auto& s : impl_->synthetic->dataset().all_shards()) {
        w.Key(s.c_str());
        std::string p = impl_->synthetic->position_after(s, impl_->synthetic->binlog(s).size()).to_string();
        w.String(p.c_str());
      }
      w.EndObject();
    }
    w.Key("shards");
    w.StartArray();
    for (const auto& k : impl_->server.backend().catalog()) {
      for (const auto& s : k.shards) w.String((k.name + "/" + s).c_str());
    }
    w.EndArray();
    w.Key("faults");
    w.StartObject();
    if (faults.end_after_events) {
      w.Key("end_after_events");
      w.Uint64(*faults.end_after_events);
      w.Key("end_mode");
      w.String(to_string(faults.end_mode));
    }
    w.Key("fail_streams");
    w.Uint64(faults.fail_streams);
    w.Key("fail_mode");
    w.String(to_string(faults.fail_mode));
    w.Key("slow_shards");
    w.StartObject();
    for (const auto& [s, d] : faults.slow_shards) {
      w.Key(s.c_str());
      w.Int64(d.count());
    }
    w.EndObject();
    w.EndObject();
    w.EndObject();
    return {200, buf.GetString()};
  }
  if (method != "POST" && method != "PUT") return {405, json_error("use POST for " + path)};
  if (path == "/writes") {
    auto n = num(q, "count");
    if (!impl_->synthetic) return {400, json_error("writes need the synthetic backend")};
    if (!n) return {400, json_error("count=N required")};
    impl_->synthetic->apply_writes(static_cast<std::uint64_t>(*n));
    return {200, fmt::format(R"({{"ops_done":{}}})", impl_->synthetic->ops_done())};
  }
  if (path == "/rate") {
    auto r = num(q, "ops_per_second");
    if (!impl_->synthetic) return {400, json_error("rate needs the synthetic backend")};
    if (!r) return {400, json_error("ops_per_second=X required")};
    impl_->synthetic->set_rate(*r);
    return {200, fmt::format(R"({{"ops_per_second":{}}})", *r)};
  }
  if (path == "/fault/end-after") {
    auto n = num(q, "events");
    auto m = mode_of(EndMode::eof);
    if (!n || !m) return {400, json_error("events=N and mode=eof|unavailable|deadline_exceeded|internal|drop")};
    faults.end_after_events = static_cast<std::uint64_t>(*n);
    faults.end_mode = *m;
    return {200, R"({"ok":true})"};
  }
  if (path == "/fault/fail-streams") {
    auto n = num(q, "count");
    auto m = mode_of(EndMode::unavailable);
    if (!n || !m) return {400, json_error("count=N and mode=unavailable|deadline_exceeded|internal|drop")};
    faults.fail_streams = static_cast<std::uint64_t>(*n);
    faults.fail_mode = *m;
    return {200, R"({"ok":true})"};
  }
  if (path == "/fault/end-streams") {
    auto m = mode_of(EndMode::unavailable);
    if (!m) return {400, json_error("mode=eof|unavailable|deadline_exceeded|internal|drop")};
    impl_->server.end_streams(*m);
    return {200, R"({"ok":true})"};
  }
  if (path == "/fault/stall") {
    auto t = num(q, "seconds");
    if (!t) return {400, json_error("seconds=T required")};
    faults.stall_until =
        std::chrono::steady_clock::now() +
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(*t));
    return {200, R"({"ok":true})"};
  }
  if (path == "/fault/stall-after") {
    auto n = num(q, "events");
    auto t = num(q, "seconds");
    if (!n || !t) return {400, json_error("events=N and seconds=T required")};
    faults.stall_after_events = static_cast<std::uint64_t>(*n);
    faults.stall_seconds = *t;
    return {200, R"({"ok":true})"};
  }
  if (path == "/fault/slow-shard") {
    auto d = num(q, "delay_ms");
    if (!q.count("shard") || !d) return {400, json_error("shard=S and delay_ms=D required")};
    if (*d == 0) {
      faults.slow_shards.erase(q["shard"]);
    } else {
      faults.slow_shards[q["shard"]] = std::chrono::milliseconds(static_cast<std::int64_t>(*d));
    }
    return {200, R"({"ok":true})"};
  }
  if (path == "/fault/clear") {
    faults = Faults{};
    return {200, R"({"ok":true})"};
  }
  if (path == "/reshard") {
    std::vector<std::string> shards;
    std::stringstream ss(q["shards"]);
    for (std::string s; std::getline(ss, s, ',');) {
      if (!s.empty()) shards.push_back(s);
    }
    if (shards.empty()) return {400, json_error("shards=a,b,... required")};
    auto r = impl_->server.backend().reshard(ks, shards);
    if (!r) return {400, json_error(r.error().message)};
    sv::JsonBuffer buf;
    sv::JsonWriter w(buf);
    w.StartObject();
    w.Key("targets");
    w.StartArray();
    for (const auto& t : *r) {
      w.StartObject();
      w.Key("shard");
      w.String(t.shard.c_str());
      w.Key("position");
      w.String(t.position.to_string().c_str());
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return {200, buf.GetString()};
  }
  if (path == "/ddl") {
    auto r = impl_->server.backend().alter_table(ks, q["table"]);
    if (!r) return {400, json_error(r.error().message)};
    sv::JsonBuffer buf;
    sv::JsonWriter w(buf);
    w.StartObject();
    w.Key("statement");
    w.String(r->c_str());
    w.EndObject();
    return {200, buf.GetString()};
  }
  return {404, json_error("unknown path " + path)};
}

}  // namespace sv::emulator
