// src/vitess: the VStream gRPC client. One channel per vtgate (TLS per tls_mode, basic auth per
// call, keepalive, 100 MiB messages, identity/gzip only), streams opened from VStreamRequests
// built as the Go connector builds them, and a coroutine surface for the engine:
// `co_await stream.next()` yields the next VStreamResponse or a typed end.
//
// Bridge: gRPC's callback reactor (gRPC threads) hands each completion to the stream's
// io_context through a small thread-safe mailbox. A read is only started after the consumer
// took the previous message (one message read ahead), so a slow consumer stops reading and HTTP/2
// flow control slows the server down. No threads of our own.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "binlogdata.pb.h"
#include "util/result.hpp"
#include "vtgate.pb.h"
#include "vtgateservice.grpc.pb.h"

namespace sv::vitess {

namespace asio = boost::asio;

// ---- requests ---------------------------------------------------------------------------------

//! Source tablet type, from the config's use_replica / use_rdonly (rdonly wins, as in Go).
enum class TabletType { primary, replica, rdonly };
TabletType tablet_type_from(bool use_replica, bool use_rdonly);

//! The cells the Go connector sends for PlanetScale.
inline constexpr std::string_view kPlanetScaleCells = "planetscale_operator_default";

//! Cells to request for a host: PlanetScale's operator cell for `*.psdb.cloud` hosts (what the Go
//! connector always sends), otherwise empty = the vtgate's own cell. A stock Vitess vtgate has no
//! cell named planetscale_operator_default and would find no tablet.
std::string default_cells_for_host(std::string_view host);

//! Where one shard starts.
struct ShardStart {
  std::string keyspace;
  std::string shard;
  std::string gtid;  //!< "" = copy from the start, "current" = now, else `MySQL56/...`
  //! Copy progress per table (table_name + lastpk), sent back verbatim (Go: the cursor's
  //! last_known_pk under the stream's table name).
  std::vector<binlogdata::TableLastPK> table_p_ks;
};

//! Request-wide options.
struct VStreamRequestOptions {
  TabletType tablet_type = TabletType::primary;
  std::string cells;           //!< VStreamFlags.cells (see default_cells_for_host)
  bool minimize_skew = true;   //!< as Go
  std::uint32_t heartbeat_interval_seconds = 0;  //!< 0 = none (Go sends none)
  bool stop_on_reshard = false;
};

//! `SELECT * FROM `t`` with backticks inside the name doubled.
std::string select_all_filter(std::string_view table);

//! A VStreamRequest as the Go connector builds it: tablet type, flags {minimize_skew, cells},
//! one filter rule per table (match = table, filter = select_all_filter(table)), and one
//! ShardGtid per shard with its gtid and table_p_ks.
vtgate::VStreamRequest build_vstream_request(std::span<const ShardStart> shards,
                                             std::span<const std::string> tables,
                                             const VStreamRequestOptions& options);

// ---- channel ----------------------------------------------------------------------------------

//! TLS policy, named as in the connector's config.
enum class TlsMode {
  disabled,         //!< plaintext HTTP/2
  required,         //!< TLS, server certificate not verified
  verify_ca,        //!< TLS, chain verified against the CA (or system roots); hostname not checked
  verify_identity,  //!< TLS, chain verified and the certificate must name the host
};
Result<TlsMode> parse_tls_mode(std::string_view text);
std::string_view to_string(TlsMode mode);

struct ChannelOptions {
  std::string host;
  std::uint16_t port = 443;
  TlsMode tls_mode = TlsMode::verify_identity;
  std::string ca_certificate;   //!< PEM; empty = system roots
  std::string tls_server_name;  //!< name for SNI and the hostname check; empty = host
  std::string username;
  std::string password;
  std::chrono::milliseconds keepalive_time{30'000};
  std::chrono::milliseconds keepalive_timeout{10'000};
  int max_message_bytes = 100 * 1024 * 1024;
};

//! Per-stream limits.
struct CallOptions {
  std::chrono::milliseconds deadline{0};      //!< whole call; 0 = none
  std::chrono::milliseconds idle_timeout{0};  //!< max wait in next() for a message; 0 = none
};

// ---- stream results ---------------------------------------------------------------------------

//! Why a stream ended with an error.
enum class EndCause {
  server,        //!< the server or the transport ended the call with this status
  deadline,      //!< CallOptions::deadline passed
  idle_timeout,  //!< no message within CallOptions::idle_timeout
  cancelled,     //!< VStream::cancel() or cancellation of the awaiting coroutine
};
std::string_view to_string(EndCause cause);

//! The server finished the call with OK.
struct StreamEof {
  bool operator==(const StreamEof&) const = default;
};

//! The call ended with a non-OK status.
struct StreamError {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;  //!< the gRPC status message (or ours for idle timeout)
  EndCause cause = EndCause::server;
  FailureType failure_type = FailureType::system_error;
  //! What the user must do, for vtgate answers whose cause is known (a position the shard does
  //! not have, purged binlogs, an unknown shard or table); empty otherwise.
  std::string_view advice;

  bool transient() const { return failure_type == FailureType::transient_error; }
  //! "VStream failed: UNAVAILABLE: <message>" (". <advice>" appended) with the failure type.
  sv::Error to_error() const;
};

//! What next() yields.
using StreamItem = std::variant<vtgate::VStreamResponse, StreamEof, StreamError>;

//! Classifies a final gRPC status (see docs/type-mapping.md's sibling table in the report and
//! the comment in vstream_client.cpp). OK is not an error; passing it returns system_error.
StreamError classify_status(const grpc::Status& status, EndCause cause = EndCause::server);

std::string_view status_code_name(grpc::StatusCode code);

namespace detail {
class VStreamCall;
struct CallTracker;
//! Where a client's streams go, for messages that say which tls_mode to set.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  TlsMode tls_mode = TlsMode::verify_identity;
};
}  // namespace detail

//! One open VStream call. Move-only; destroying it cancels the call. Use and destroy it on the
//! executor it was opened with, before that io_context is destroyed.
class VStream {
 public:
  VStream(VStream&&) noexcept;
  VStream& operator=(VStream&&) noexcept;
  VStream(const VStream&) = delete;
  VStream& operator=(const VStream&) = delete;
  ~VStream();

  //! The next response, or the end (StreamEof / StreamError). After the end, keeps returning it.
  asio::awaitable<StreamItem> next();
  //! Cancels the call (TryCancel); a pending or later next() yields StreamError{CANCELLED,
  //! cause cancelled}.
  void cancel();

 private:
  friend class VStreamClient;
  VStream(asio::any_io_executor ex, std::shared_ptr<detail::VStreamCall> call, CallOptions options,
          std::shared_ptr<const detail::Endpoint> endpoint);
  StreamItem end_item(const grpc::Status& status, EndCause cause);
  asio::awaitable<void> explain_connect_failure(StreamError& error) const;

  std::shared_ptr<detail::VStreamCall> call_;
  std::shared_ptr<const detail::Endpoint> endpoint_;
  bool received_ = false;  //!< a message arrived: the connection was fine
  std::unique_ptr<asio::steady_timer> timer_;
  CallOptions options_;
  std::chrono::steady_clock::time_point deadline_at_{};
  std::unique_ptr<StreamItem> end_;  //!< set once ended
};

//! A channel to one vtgate and the streams opened on it. Thread-safe; cheap to share by pointer.
class VStreamClient {
 public:
  //! Validates the options and creates the channel (connects lazily).
  static Result<std::shared_ptr<VStreamClient>> create(const ChannelOptions& options);

  //! Starts a VStream call; messages are delivered on `ex`.
  VStream open(asio::any_io_executor ex, const vtgate::VStreamRequest& request, const CallOptions& call = {});

  //! Opens a stream at gtid "current" for one shard (with the same filter the read would use)
  //! and returns that shard's position from the first VGTID event. Errors: the stream error's
  //! classification, a timeout (transient), a first response with events but no VGTID
  //! (system_error, as Go), or an end before any position.
  //! Note for callers (GCC 12): pass lvalues, not braced temporaries like `{}`, in the co_await
  //! expression; GCC 12 miscompiles aggregate prvalues that live across a co_await.
  asio::awaitable<Result<std::string>> peek_current_position(
      asio::any_io_executor ex, std::string keyspace, std::string shard, std::vector<std::string> tables,
      VStreamRequestOptions options, std::chrono::milliseconds timeout = std::chrono::seconds(45));

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
  std::unique_ptr<vtgateservice::Vitess::Stub> stub_;
  std::shared_ptr<detail::CallTracker> tracker_;
};

}  // namespace sv::vitess
