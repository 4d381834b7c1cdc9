// src/vitess: the VStream gRPC client. One channel per vtgate (grpc_channel.hpp), basic auth per
// call, streams opened from VStreamRequests (vstream_request.hpp), and a coroutine surface for
// the engine: `co_await stream.next()` yields the next VStreamResponse or a typed end
// (stream_status.hpp). gRPC's callback reactor reaches the stream's io_context through the
// bridge in vstream_bridge.hpp; no threads of our own.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "util/result.hpp"
#include "vitess/grpc_channel.hpp"
#include "vitess/stream_status.hpp"
#include "vitess/vstream_request.hpp"
#include "vitess/wire_response.hpp"
#include "vtgate.pb.h"
#include "vtgateservice.grpc.pb.h"

namespace sv::vitess {

namespace asio = boost::asio;

//! Per-stream limits.
struct CallOptions {
  std::chrono::milliseconds deadline{0};      //!< whole call; 0 = none
  std::chrono::milliseconds idle_timeout{0};  //!< max wait in next() for a message; 0 = none
};

namespace detail {
class VStreamCall;
class CallTracker;
//! Where a client's streams go, for messages that say which tls_mode to set.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  TlsMode tls_mode = TlsMode::verify_identity;
};
}  // namespace detail

//! What VStream::next_wire() yields: a response in wire form, or the end.
using WireItem = std::variant<WireResponse, StreamEof, StreamError>;

//! One open VStream call. Move-only; destroying it cancels the call. Use and destroy it on the
//! executor it was opened with, before that io_context is destroyed.
class VStream {
 public:
  VStream(VStream&&) noexcept;
  VStream& operator=(VStream&&) noexcept;
  VStream(const VStream&) = delete;
  VStream& operator=(const VStream&) = delete;
  ~VStream();

  //! The next response in wire form (the engine's hot path: it parses ROW events itself), or
  //! the end (StreamEof / StreamError). After the end, keeps returning it.
  asio::awaitable<WireItem> next_wire();
  //! next_wire(), parsed into the generated message. Bytes protobuf cannot parse end the stream
  //! with a StreamError (INTERNAL, system_error) and cancel the call.
  asio::awaitable<StreamItem> next();
  //! Cancels the call (TryCancel); a pending or later next() yields StreamError{CANCELLED,
  //! cause cancelled}.
  void cancel();

 private:
  friend class VStreamClient;
  VStream(asio::any_io_executor ex, std::shared_ptr<detail::VStreamCall> call, CallOptions options,
          std::shared_ptr<const detail::Endpoint> endpoint);
  WireItem end_item(const grpc::Status& status, EndCause cause);
  //! Waits until `call` has a delivery (nullopt), or returns why the wait ended first: the idle
  //! timeout passed or the awaiting coroutine was cancelled. The caller closes the call then.
  asio::awaitable<std::optional<EndCause>> wait_for_delivery(detail::VStreamCall& call);
  asio::awaitable<void> explain_connect_failure(StreamError& error) const;

  std::shared_ptr<detail::VStreamCall> call_;
  std::shared_ptr<const detail::Endpoint> endpoint_;
  bool received_ = false;  //!< a message arrived: the connection was fine
  std::unique_ptr<asio::steady_timer> timer_;
  CallOptions options_;
  std::chrono::steady_clock::time_point deadline_at_{};
  std::unique_ptr<WireItem> end_;  //!< set once ended (StreamEof or StreamError)
};

//! A channel to one vtgate and the streams opened on it. Thread-safe; cheap to share by pointer.
class VStreamClient {
 public:
  //! Validates the options and creates the channel (connects lazily).
  static Result<std::shared_ptr<VStreamClient>> create(const ChannelOptions& options);

  //! Starts a VStream call; messages are delivered on `ex`.
  VStream open(asio::any_io_executor ex, const vtgate::VStreamRequest& request, const CallOptions& call = {});

  //! The current position of each serving shard of `keyspace`, the one way `check` and the
  //! sync's stop positions are read: a VStream at gtid "current" over the whole keyspace (empty
  //! shard; `tables` as the filter, none = no filter), answered once a VGTID event names every
  //! shard with a position. Errors: the stream error's classification under "could not read the
  //! current positions of keyspace '<ks>'", the deadline `timeout` (transient), an end before the
  //! positions (transient).
  //! Note for callers (GCC 12): pass lvalues, not braced temporaries like `{}`, in the co_await
  //! expression; GCC 12 miscompiles aggregate prvalues that live across a co_await.
  asio::awaitable<Result<std::map<std::string, std::string>>> peek_current_positions(
      asio::any_io_executor ex, std::string keyspace, std::vector<std::string> tables, VStreamRequestOptions options,
      std::chrono::milliseconds timeout = std::chrono::seconds(45));

  //! "Basic <base64(user:pass)>".
  static std::string basic_auth_header(std::string_view username, std::string_view password);

  const std::string& target() const { return target_; }

  //! Waits (at most 10 s) until gRPC has finished every call this client opened, so no gRPC
  //! callback runs after the client, or the process, is gone.
  ~VStreamClient();

 private:
  VStreamClient();
  std::string target_;
  std::shared_ptr<const detail::Endpoint> endpoint_;
  std::string auth_header_;
  std::shared_ptr<grpc::Channel> channel_;
  //! vtgateservice.Vitess/VStream, registered on channel_ (as a generated stub registers it).
  std::unique_ptr<grpc::internal::RpcMethod> vstream_method_;
  std::shared_ptr<detail::CallTracker> tracker_;
};

}  // namespace sv::vitess
