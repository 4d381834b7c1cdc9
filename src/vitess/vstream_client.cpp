// src/vitess: the VStream gRPC client: streams over the reactor bridge, the connect-failure
// explanation, the position peek (see vstream_client.hpp).
#include "vitess/vstream_client.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/multiple_exceptions.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "util/base64.hpp"
#include "util/strings.hpp"
#include "vitess/tls_probe.hpp"
#include "vitess/vstream_bridge.hpp"

namespace sv::vitess {

// ---- VStream ----------------------------------------------------------------------------------

VStream::VStream(asio::any_io_executor ex, std::shared_ptr<detail::VStreamCall> call, CallOptions options,
                 std::shared_ptr<const detail::Endpoint> endpoint)
    : call_(std::move(call)),
      endpoint_(std::move(endpoint)),
      timer_(std::make_unique<asio::steady_timer>(ex)),
      options_(options) {
  if (options_.deadline.count() > 0) deadline_at_ = std::chrono::steady_clock::now() + options_.deadline;
}

VStream::VStream(VStream&&) noexcept = default;

VStream& VStream::operator=(VStream&& other) noexcept {
  if (this != &other) {
    if (call_ && !end_) call_->close(EndCause::cancelled, true);
    call_ = std::move(other.call_);
    endpoint_ = std::move(other.endpoint_);
    received_ = other.received_;
    timer_ = std::move(other.timer_);
    options_ = other.options_;
    deadline_at_ = other.deadline_at_;
    end_ = std::move(other.end_);
  }
  return *this;
}

VStream::~VStream() {
  if (call_ && !end_) call_->close(EndCause::cancelled, true);
}

void VStream::cancel() {
  if (call_ && !end_) call_->close(EndCause::cancelled);
}

WireItem VStream::end_item(const grpc::Status& status, EndCause cause) {
  if (status.ok()) return StreamEof{};
  if (cause == EndCause::server && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      options_.deadline.count() > 0 && std::chrono::steady_clock::now() >= deadline_at_) {
    cause = EndCause::deadline;
  }
  StreamError e = classify_status(status, cause);
  if (cause == EndCause::idle_timeout) {
    e.code = grpc::StatusCode::DEADLINE_EXCEEDED;
    e.message = fmt::format("no VStream message for {} ms", options_.idle_timeout.count());
    e.failure_type = FailureType::transient_error;
  } else if (cause == EndCause::cancelled) {
    e.code = grpc::StatusCode::CANCELLED;
    if (e.message.empty()) e.message = "cancelled by the client";
    e.failure_type = FailureType::transient_error;
  }
  return e;
}

asio::awaitable<WireItem> VStream::next_wire() {
  if (end_) co_return *end_;
  co_await asio::this_coro::throw_if_cancelled(false);
  std::shared_ptr<detail::VStreamCall> call = call_;  // alive across the waits
  for (;;) {
    std::optional<detail::Delivery> d = call->try_pop();
    if (!d) {
      if (auto cause = co_await wait_for_delivery(*call)) call->close(*cause);
      continue;
    }
    if (d->status) {
      WireItem end = end_item(*d->status, call->closing() ? call->close_cause() : EndCause::server);
      if (auto* error = std::get_if<StreamError>(&end); error && !received_) co_await explain_connect_failure(*error);
      end_ = std::make_unique<WireItem>(std::move(end));
      co_return *end_;
    }
    if (call->closing()) continue;  // closed while this message was queued: wait for the end
    received_ = true;
    WireItem item{std::in_place_index<0>, std::move(*d->message)};
    call->start_read();  // read N+1 only now that the consumer has N
    co_return item;
  }
}

asio::awaitable<StreamItem> VStream::next() {
  WireItem item = co_await next_wire();
  StreamItem out = StreamEof{};
  if (auto* error = std::get_if<StreamError>(&item)) {
    out = *error;
  } else if (auto* wire = std::get_if<WireResponse>(&item)) {
    vtgate::VStreamResponse response;
    if (wire->parse(response)) {
      out = std::move(response);
    } else {
      StreamError e;
      e.code = grpc::StatusCode::INTERNAL;
      e.message = "vtgate sent a VStreamResponse that protobuf cannot parse";
      e.failure_type = FailureType::system_error;
      cancel();
      end_ = std::make_unique<WireItem>(e);
      out = std::move(e);
    }
  }
  co_return out;
}

// A race of the delivery and the idle timer; cancelling the awaiting coroutine ends both waits.
// Whatever ends the wait first, a delivery stays queued for the next try_pop(); a closed call's
// end arrives as a delivery like any other completion.
asio::awaitable<std::optional<EndCause>> VStream::wait_for_delivery(detail::VStreamCall& call) {
  using namespace asio::experimental::awaitable_operators;
  // Both waits complete with an error code instead of throwing: the loser of the race is
  // cancelled on every delivery, and an exception per change event cost ~14k instructions.
  using Waited = std::tuple<boost::system::error_code>;
  auto ex = timer_->get_executor();
  auto delivery = [&call, ex]() -> asio::awaitable<Waited> {
    co_return co_await call.async_wait_ready(ex, asio::as_tuple(asio::use_awaitable));
  };
  try {
    if (options_.idle_timeout.count() <= 0 || call.closing()) {
      const auto [ec] = co_await delivery();
      co_return ec ? std::optional(EndCause::cancelled) : std::nullopt;
    }
    timer_->expires_after(options_.idle_timeout);
    auto first = co_await (delivery() || timer_->async_wait(asio::as_tuple(asio::use_awaitable)));
    const auto [ec] = first.index() == 0 ? std::get<0>(first) : std::get<1>(first);
    if (ec) co_return EndCause::cancelled;  // the wait itself was cancelled (the winner's error)
    if (first.index() == 0) co_return std::nullopt;
    co_return EndCause::idle_timeout;
  } catch (const boost::system::system_error&) {  // cancelled where an await still throws
  } catch (const asio::multiple_exceptions&) {
  }
  co_return EndCause::cancelled;
}

// A connection that fails because client and server disagree about TLS fails the same way on
// every retry: the user has to change tls_mode. gRPC names the TLS-client-to-plaintext-server
// case ("Tls handshake failed: ... wrong version number": the answer to the ClientHello was not
// TLS), but a plaintext client to a TLS server only sees "Socket closed", like a restarting
// vtgate would; there one TLS handshake attempt decides.
asio::awaitable<void> VStream::explain_connect_failure(StreamError& e) const {
  if (!endpoint_ || e.cause != EndCause::server || e.code != grpc::StatusCode::UNAVAILABLE) co_return;
  const detail::Endpoint& at = *endpoint_;
  if (at.tls_mode != TlsMode::disabled) {
    if (!contains_ci(e.message, "wrong version number")) co_return;
    e.failure_type = FailureType::config_error;
    e.message = fmt::format(
        "{}; {}:{} does not speak TLS but tls_mode is {}: enable TLS on vtgate, or set tls_mode to "
        "disabled if the network path is trusted",
        e.message, at.host, at.port, to_string(at.tls_mode));
    co_return;
  }
  if (!contains_ci(e.message, "socket closed")) co_return;
  if (!co_await server_speaks_tls(at.host, at.port, std::chrono::seconds(2))) co_return;
  e.failure_type = FailureType::config_error;
  e.message = fmt::format(
      "{}; {}:{} expects TLS but tls_mode is disabled: set tls_mode to verify_identity, "
      "verify_ca or required",
      e.message, at.host, at.port);
}

// ---- client -----------------------------------------------------------------------------------

std::string VStreamClient::basic_auth_header(std::string_view username, std::string_view password) {
  std::string plain;
  plain.reserve(username.size() + 1 + password.size());
  plain.append(username).push_back(':');
  plain.append(password);
  return "Basic " + base64_encode(plain);
}

Result<std::shared_ptr<VStreamClient>> VStreamClient::create(const ChannelOptions& o) {
  if (o.host.empty()) return config_error("host is empty");
  if (o.port == 0) return config_error("gRPC port is 0");
  auto channel = make_channel(o);
  if (!channel) return channel.error();
  std::shared_ptr<VStreamClient> c(new VStreamClient());
  c->target_ = channel_target(o.host, o.port);
  c->endpoint_ = std::make_shared<const detail::Endpoint>(detail::Endpoint{o.host, o.port, o.tls_mode});
  c->auth_header_ = basic_auth_header(o.username, o.password);
  c->channel_ = std::move(*channel);
  c->vstream_method_ = std::make_unique<grpc::internal::RpcMethod>(
      "/vtgateservice.Vitess/VStream", grpc::internal::RpcMethod::SERVER_STREAMING, c->channel_);
  return c;
}

VStreamClient::VStreamClient() : tracker_(std::make_shared<detail::CallTracker>()) {}

VStreamClient::~VStreamClient() { tracker_->wait_idle(std::chrono::seconds(10)); }

VStream VStreamClient::open(asio::any_io_executor ex, const vtgate::VStreamRequest& request, const CallOptions& call) {
  auto c = std::make_shared<detail::VStreamCall>(request, auth_header_, call.deadline, tracker_);
  VStream stream(ex, c, call, endpoint_);
  c->start(c, channel_.get(), *vstream_method_);
  return stream;
}

asio::awaitable<Result<std::map<std::string, std::string>>> VStreamClient::peek_current_positions(
    asio::any_io_executor ex, std::string keyspace, std::vector<std::string> tables, VStreamRequestOptions options,
    std::chrono::milliseconds timeout) {
  // One stream over every shard (empty shard) at "current": vtgate lists all serving shards in
  // its VGTID events, each shard's entry filled in once that shard reported its position.
  ShardStart start;
  start.keyspace = keyspace;
  start.gtid = "current";
  options.heartbeat_interval_seconds = 0;
  auto request = build_vstream_request(std::span(&start, 1), tables, options);
  VStream stream = open(ex, request, CallOptions{timeout, {}});
  std::map<std::string, std::string> positions;
  for (;;) {
    StreamItem item = co_await stream.next();
    if (auto* err = std::get_if<StreamError>(&item)) {
      sv::Error e = err->to_error();
      e.message = fmt::format("could not read the current positions of keyspace '{}': {}", keyspace, e.message);
      co_return e;
    }
    if (std::holds_alternative<StreamEof>(item)) {
      co_return transient_error(
          fmt::format("VStream at 'current' for keyspace '{}' ended before reporting positions", keyspace));
    }
    const auto& response = std::get<vtgate::VStreamResponse>(item);
    bool complete = false;
    for (const auto& ev : response.events()) {
      if (ev.type() != binlogdata::VGTID) continue;
      complete = true;
      for (const auto& sg : ev.vgtid().shard_gtids()) {
        if (!sg.keyspace().empty() && sg.keyspace() != keyspace) continue;
        if (!sg.gtid().empty() && sg.gtid() != "current") {
          positions[sg.shard()] = sg.gtid();
        } else {
          positions.try_emplace(sg.shard());
          complete = false;
        }
      }
      for (const auto& [shard, pos] : positions) {
        if (pos.empty()) complete = false;
      }
      if (complete) break;
    }
    if (complete && !positions.empty()) {
      stream.cancel();
      co_return positions;
    }
  }
}

}  // namespace sv::vitess
