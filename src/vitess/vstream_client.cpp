// src/vitess: VStream gRPC client — channel setup, the reactor↔Asio bridge, status classification.
#include "vitess/vstream_client.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <deque>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "util/base64.hpp"
#include "util/pem.hpp"
#include "vitess/tls_probe.hpp"

namespace sv::vitess {

// ---- requests ---------------------------------------------------------------------------------

TabletType tablet_type_from(bool use_replica, bool use_rdonly) {
  if (use_rdonly) return TabletType::rdonly;
  if (use_replica) return TabletType::replica;
  return TabletType::primary;
}

std::string default_cells_for_host(std::string_view host) {
  constexpr std::string_view kSuffix = ".psdb.cloud";
  if (host.size() >= kSuffix.size() && host.substr(host.size() - kSuffix.size()) == kSuffix) {
    return std::string(kPlanetScaleCells);
  }
  return {};
}

std::string select_all_filter(std::string_view table) {
  std::string out = "SELECT * FROM `";
  for (char c : table) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

vtgate::VStreamRequest build_vstream_request(std::span<const ShardStart> shards, std::span<const std::string> tables,
                                             const VStreamRequestOptions& options) {
  vtgate::VStreamRequest req;
  switch (options.tablet_type) {
    case TabletType::primary: req.set_tablet_type(topodata::PRIMARY); break;
    case TabletType::replica: req.set_tablet_type(topodata::REPLICA); break;
    case TabletType::rdonly: req.set_tablet_type(topodata::RDONLY); break;
  }
  auto* vgtid = req.mutable_vgtid();
  for (const auto& s : shards) {
    auto* sg = vgtid->add_shard_gtids();
    sg->set_keyspace(s.keyspace);
    sg->set_shard(s.shard);
    sg->set_gtid(s.gtid);
    for (const auto& pk : s.table_p_ks) *sg->add_table_p_ks() = pk;
  }
  auto* filter = req.mutable_filter();
  for (const auto& t : tables) {
    auto* rule = filter->add_rules();
    rule->set_match(t);
    rule->set_filter(select_all_filter(t));
  }
  auto* flags = req.mutable_flags();
  flags->set_minimize_skew(options.minimize_skew);
  flags->set_cells(options.cells);
  flags->set_heartbeat_interval(options.heartbeat_interval_seconds);
  flags->set_stop_on_reshard(options.stop_on_reshard);
  return req;
}

// ---- TLS mode, status names -------------------------------------------------------------------

Result<TlsMode> parse_tls_mode(std::string_view text) {
  if (text == "disabled") return TlsMode::disabled;
  if (text == "required") return TlsMode::required;
  if (text == "verify_ca") return TlsMode::verify_ca;
  if (text == "verify_identity") return TlsMode::verify_identity;
  return config_error(fmt::format(
      "tls_mode '{}' is not one of disabled, required, verify_ca, verify_identity", text));
}

std::string_view to_string(TlsMode mode) {
  switch (mode) {
    case TlsMode::disabled: return "disabled";
    case TlsMode::required: return "required";
    case TlsMode::verify_ca: return "verify_ca";
    case TlsMode::verify_identity: return "verify_identity";
  }
  return "verify_identity";
}

std::string_view to_string(EndCause cause) {
  switch (cause) {
    case EndCause::server: return "server";
    case EndCause::deadline: return "deadline";
    case EndCause::idle_timeout: return "idle_timeout";
    case EndCause::cancelled: return "cancelled";
  }
  return "server";
}

std::string_view status_code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

namespace {

bool contains_ci(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    bool match = true;
    for (std::size_t j = 0; j < needle.size() && match; ++j) {
      char a = haystack[i + j], b = needle[j];
      if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
      match = a == b;
    }
    if (match) return true;
  }
  return false;
}

bool any_of_ci(std::string_view text, std::initializer_list<std::string_view> needles) {
  for (auto n : needles) {
    if (contains_ci(text, n)) return true;
  }
  return false;
}

// TLS verification failures surface as UNAVAILABLE handshake errors; retrying cannot fix them.
bool tls_verification_failure(std::string_view m) {
  return any_of_ci(m, {"certificate_verify_failed", "certificate verify failed", "hostname verification",
                       "peer name", "custom verification check failed", "unable to get local issuer"});
}

// vtgate answers that name a cause the user must act on, whatever status code carries them
// (vtgate's code depends on its version and on how many tablets it tried first).
struct KnownAnswer {
  std::array<std::string_view, 4> needles;  //!< any of them (the non-empty ones), case-insensitive
  std::string_view advice;

  bool matches(std::string_view message) const {
    return std::any_of(needles.begin(), needles.end(),
                       [&](std::string_view n) { return !n.empty() && contains_ci(message, n); });
  }
};

const KnownAnswer kKnownAnswers[] = {
    // vttablet refuses a start position its server does not contain (uvstreamer.go,
    // setStreamStartPosition: INVALID_ARGUMENT "GTIDSet Mismatch: requested source position:…,
    // current target vrep position: …"); MySQL's binlog dump says the same as errno 1236
    // ER_SLAVE_HAS_MORE_GTIDS_THAN_MASTER ("…has more GTIDs than the source has…").
    {{"gtidset mismatch", "gtid set mismatch", "more gtids than the", "fewer gtids than the"},
     "The position names transactions this shard's server does not have: the server was "
     "restored from a backup or failed over to one with fewer transactions, or the position "
     "comes from another database. Reset the stream to copy it again (with use_replica or "
     "use_rdonly a lagging replica can answer this too: retry the sync first)"},
    // MySQL errno 1236 / 1789 through vstreamer's "stream (at source tablet) error @ <pos>: …",
    // code UNKNOWN (vstreamer.go wrapError; discovery/utils.go ShouldRetryTabletError).
    {{"purged required binary logs", "purged required gtids", "errno 1789"},
     "The shard's server no longer has the binary logs this position needs (they were purged). "
     "Reset the stream to copy it again, and sync more often than the server keeps its binary "
     "logs"},
    // vtgate's vstream_manager.go keyspaceHasBeenResharded: FAILED_PRECONDITION.
    {{"shard provided in vgtid"},
     "vtgate does not know this shard of the keyspace: fix the config's shards or "
     "starting_gtids, or reset a stream whose saved state names shards that no longer exist"},
    // vstreamer / rowstreamer in copy mode: UNKNOWN "table X is not present in the database".
    {{"is not present in the database"},
     "The table does not exist in the keyspace: refresh the source schema in Airbyte and "
     "deselect the stream (or recreate the table)"},
};

}  // namespace

// Classification (also in the report):
//   OK                         → (not an error)
//   CANCELLED                  → transient (server-side cancel) / ours when cause = cancelled
//   UNKNOWN                    → transient if the message names a transport failure
//                                ("transport", "connection reset", "broken pipe", "eof",
//                                "stream terminated", "connection closed"), else system_error
//   INVALID_ARGUMENT           → config_error (bad table, keyspace or position in the request)
//   DEADLINE_EXCEEDED          → transient (our deadline or the server's)
//   NOT_FOUND                  → config_error (keyspace/shard/table does not exist)
//   ALREADY_EXISTS             → system_error
//   PERMISSION_DENIED          → config_error
//   RESOURCE_EXHAUSTED         → transient, except "larger than max" message size → system_error
//   FAILED_PRECONDITION        → config_error when the position is gone (purged binlogs, GTID
//                                set mismatch), else transient (tablet not serving, reparenting)
//   ABORTED                    → transient
//   OUT_OF_RANGE               → system_error
//   UNIMPLEMENTED              → config_error (not a vtgate / VStream not served on this port)
//   INTERNAL                   → transient on stream resets ("rst_stream", "stream reset",
//                                "transport", "connection reset", "goaway"), else system_error
//   UNAVAILABLE                → transient, except TLS certificate verification → config_error
//   DATA_LOSS                  → system_error
//   UNAUTHENTICATED            → config_error
// Whatever the code, a message of kKnownAnswers (a position the shard does not have, purged
// binlogs, an unknown shard or table) is a config_error with the advice appended.
StreamError classify_status(const grpc::Status& status, EndCause cause) {
  StreamError e;
  e.code = status.error_code();
  e.message = status.error_message();
  e.cause = cause;
  const std::string& m = e.message;
  using C = grpc::StatusCode;
  FailureType t = FailureType::system_error;
  switch (e.code) {
    case C::OK: t = FailureType::system_error; break;
    case C::CANCELLED: t = FailureType::transient_error; break;
    case C::UNKNOWN:
      t = any_of_ci(m, {"transport", "connection reset", "broken pipe", "eof", "stream terminated",
                        "connection closed"})
              ? FailureType::transient_error
              : FailureType::system_error;
      break;
    case C::INVALID_ARGUMENT: t = FailureType::config_error; break;
    case C::DEADLINE_EXCEEDED: t = FailureType::transient_error; break;
    case C::NOT_FOUND: t = FailureType::config_error; break;
    case C::ALREADY_EXISTS: t = FailureType::system_error; break;
    case C::PERMISSION_DENIED: t = FailureType::config_error; break;
    case C::RESOURCE_EXHAUSTED:
      t = contains_ci(m, "larger than max") ? FailureType::system_error : FailureType::transient_error;
      break;
    case C::FAILED_PRECONDITION:
      t = any_of_ci(m, {"purged", "gtidset mismatch", "gtid set mismatch"}) ? FailureType::config_error
                                                                             : FailureType::transient_error;
      break;
    case C::ABORTED: t = FailureType::transient_error; break;
    case C::OUT_OF_RANGE: t = FailureType::system_error; break;
    case C::UNIMPLEMENTED: t = FailureType::config_error; break;
    case C::INTERNAL:
      t = any_of_ci(m, {"rst_stream", "stream reset", "transport", "connection reset", "goaway"})
              ? FailureType::transient_error
              : FailureType::system_error;
      break;
    case C::UNAVAILABLE:
      t = tls_verification_failure(m) ? FailureType::config_error : FailureType::transient_error;
      break;
    case C::DATA_LOSS: t = FailureType::system_error; break;
    case C::UNAUTHENTICATED: t = FailureType::config_error; break;
    default: t = FailureType::system_error; break;
  }
  if (e.code != C::OK) {
    for (const auto& known : kKnownAnswers) {
      if (!known.matches(m)) continue;
      t = FailureType::config_error;
      e.advice = known.advice;
      break;
    }
  }
  e.failure_type = t;
  return e;
}

sv::Error StreamError::to_error() const {
  std::string what;
  switch (cause) {
    case EndCause::server: what = fmt::format("VStream failed: {}: {}", status_code_name(code), message); break;
    case EndCause::deadline: what = fmt::format("VStream call deadline passed: {}", message); break;
    case EndCause::idle_timeout: what = fmt::format("VStream idle: {}", message); break;
    case EndCause::cancelled: what = fmt::format("VStream cancelled: {}", message); break;
  }
  if (!advice.empty()) what += fmt::format(". {}", advice);
  return sv::Error{failure_type, std::move(what), fmt::format("grpc status {} ({}), cause {}",
                                                              static_cast<int>(code), status_code_name(code),
                                                              to_string(cause))};
}

// ---- the reactor ------------------------------------------------------------------------------

namespace detail {

//! One completion handed from a gRPC thread to the stream's executor.
struct Delivery {
  std::unique_ptr<vtgate::VStreamResponse> message;  //!< a read completed
  std::optional<grpc::Status> status;                //!< the call is over (OnDone)
};

//! A tiny thread-safe mailbox: gRPC threads push, the Asio side awaits one item at a time.
//! Unlike an asio channel it is not registered with the io_context, so the reactor that owns it
//! may be destroyed on a gRPC thread, even after the io_context is gone (an abandoned stream).
//! The queue holds at most two items (one read-ahead message and the final status).
// Counts the calls of one client that gRPC has not finished (OnDone not yet run). The client's
// destructor waits for it: a call dropped while being cancelled still gets callbacks on gRPC's
// threads, and letting the process exit under them aborted inside gRPC (ref_counted.h).
struct CallTracker {
  std::mutex mu;
  std::condition_variable cv;
  int active = 0;

  void started() {
    std::lock_guard lock(mu);
    ++active;
  }
  void finished() {
    std::lock_guard lock(mu);
    if (--active == 0) cv.notify_all();
  }
  //! Bounded: a call gRPC never finishes must not hang the process.
  void wait_idle(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, limit, [&] { return active == 0; });
  }
};

class Mailbox {
 public:
  // Any thread.
  void push(Delivery d) {
    std::unique_ptr<Waiter> w;
    {
      std::lock_guard lock(mu_);
      if (!waiter_) {
        queue_.push_back(std::move(d));
        return;
      }
      w = std::move(waiter_);
    }
    w->complete(std::move(d));
  }

  // Asio side: one pending pop at a time; completes on `ex` (the stream's executor).
  template <class Token>
  auto async_pop(asio::any_io_executor ex, Token&& token) {
    return asio::async_initiate<Token, void(Delivery)>(
        [this, ex](auto handler) {
          auto w = std::make_unique<WaiterImpl<decltype(handler)>>(std::move(handler), ex);
          std::unique_lock lock(mu_);
          if (queue_.empty()) {
            waiter_ = std::move(w);
            return;
          }
          Delivery d = std::move(queue_.front());
          queue_.pop_front();
          lock.unlock();
          w->complete(std::move(d));
        },
        token);
  }

 private:
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void complete(Delivery d) = 0;
  };
  template <class Handler>
  struct WaiterImpl final : Waiter {
    WaiterImpl(Handler h, asio::any_io_executor ex)
        : handler(std::move(h)), work(asio::make_work_guard(ex)) {}  // keeps run() alive
    void complete(Delivery d) override {
      // Never run the consumer inline on a gRPC thread: post it to the stream's executor. The
      // work guard travels with it and ends on the Asio thread: ending it here could let run()
      // return and the io_context be destroyed while this thread is still inside it.
      auto ex = work.get_executor();
      asio::post(ex, [h = std::move(handler), d = std::move(d), w = std::move(work)]() mutable {
        std::move(h)(std::move(d));
      });
    }
    Handler handler;
    asio::executor_work_guard<asio::any_io_executor> work;
  };

  std::mutex mu_;
  std::deque<Delivery> queue_;
  std::unique_ptr<Waiter> waiter_;
};

// Lifetime: shared by the VStream handle and by itself (self_) from start until OnDone, the last
// reaction, so gRPC never sees a dangling reactor even if the handle goes first.
//
// Holds: reads are started from the Asio side (outside reactions), so the call holds one
// AddHold() from start until either a read fails (the call is over) or the handle closes the
// stream while no read is in flight. release_hold() runs that RemoveHold() exactly once.
class VStreamCall final : public grpc::ClientReadReactor<vtgate::VStreamResponse> {
 public:
  VStreamCall() = default;

  void start(std::shared_ptr<VStreamCall> self, vtgateservice::Vitess::Stub& stub) {
    self_ = std::move(self);
    stub.async()->VStream(&ctx_, &request_, this);
    AddHold();
    start_read();  // the first read ahead; later ones after the consumer took a message
    StartCall();
  }

  // Asio side only, and only while the hold is held (after a successful read, before closing).
  void start_read() {
    pending_ = std::make_unique<vtgate::VStreamResponse>();
    in_flight_.store(true);
    StartRead(pending_.get());
  }

  // Asio side: stop the call; the first cause wins. `abandon` = the handle is going away and
  // nobody will receive the end.
  void close(EndCause cause, bool abandon = false) {
    if (abandon) abandoned_.store(true);
    if (closing_.exchange(true)) return;
    close_cause_ = cause;
    ctx_.TryCancel();
    if (!in_flight_.load()) release_hold();
  }

  bool closing() const { return closing_.load(); }
  EndCause close_cause() const { return close_cause_; }

  //! Bumped whenever a next() wait ends, so a late idle-timer or cancellation callback from an
  //! earlier wait does nothing. Asio side only.
  std::uint64_t wait_generation_ = 0;

  grpc::ClientContext ctx_;
  vtgate::VStreamRequest request_;
  Mailbox mailbox_;

 private:
  void OnReadDone(bool ok) override {
    in_flight_.store(false);
    if (ok && !closing_.load()) {
      mailbox_.push(Delivery{std::move(pending_), std::nullopt});
      return;
    }
    pending_.reset();
    release_hold();  // a failed read means the call is over: let OnDone come
  }

  void OnDone(const grpc::Status& status) override {
    if (!abandoned_.load()) mailbox_.push(Delivery{nullptr, status});
    std::shared_ptr<CallTracker> tracker = std::move(tracker_);
    { auto last = std::move(self_); }  // may destroy *this; nothing touches it after
    if (tracker) tracker->finished();
  }

  void release_hold() {
    if (!hold_released_.exchange(true)) RemoveHold();
  }

  std::shared_ptr<VStreamCall> self_;
  std::unique_ptr<vtgate::VStreamResponse> pending_;

 public:
  std::shared_ptr<CallTracker> tracker_;  //!< set by VStreamClient::open before start()

 private:
  std::atomic<bool> in_flight_{false};
  std::atomic<bool> closing_{false};
  std::atomic<bool> abandoned_{false};
  std::atomic<bool> hold_released_{false};
  EndCause close_cause_ = EndCause::server;  // Asio side only
};

}  // namespace detail

// ---- VStream ----------------------------------------------------------------------------------

VStream::VStream(asio::any_io_executor ex, std::shared_ptr<detail::VStreamCall> call,
                 CallOptions options, std::shared_ptr<const detail::Endpoint> endpoint)
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

StreamItem VStream::end_item(const grpc::Status& status, EndCause cause) {
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

asio::awaitable<StreamItem> VStream::next() {
  if (end_) co_return *end_;
  co_await asio::this_coro::throw_if_cancelled(false);
  std::shared_ptr<detail::VStreamCall> call = call_;
  const std::uint64_t generation = call->wait_generation_;

  // Cancelling the awaiting coroutine cancels the call; its end then arrives through the mailbox
  // like any other completion.
  asio::cancellation_slot slot = (co_await asio::this_coro::cancellation_state).slot();
  if (slot.is_connected()) {
    slot.assign([call, generation](asio::cancellation_type type) {
      if (type != asio::cancellation_type::none && call->wait_generation_ == generation) {
        call->close(EndCause::cancelled);
      }
    });
  }
  if (options_.idle_timeout.count() > 0 && !call->closing()) {
    timer_->expires_after(options_.idle_timeout);
    timer_->async_wait([call, generation](boost::system::error_code ec) {
      if (!ec && call->wait_generation_ == generation) call->close(EndCause::idle_timeout);
    });
  }
  auto stop_waiting = [&] {
    ++call->wait_generation_;
    if (options_.idle_timeout.count() > 0) timer_->cancel();
    if (slot.is_connected()) slot.clear();
  };

  for (;;) {
    detail::Delivery d = co_await call->mailbox_.async_pop(timer_->get_executor(), asio::use_awaitable);
    if (d.status) {
      stop_waiting();
      StreamItem end =
          end_item(*d.status, call->closing() ? call->close_cause() : EndCause::server);
      if (auto* error = std::get_if<StreamError>(&end); error && !received_)
        co_await explain_connect_failure(*error);
      end_ = std::make_unique<StreamItem>(std::move(end));
      co_return *end_;
    }
    if (call->closing()) continue;  // closed while this message was queued: wait for the end
    stop_waiting();
    received_ = true;
    StreamItem item{std::in_place_index<0>, std::move(*d.message)};
    call->start_read();  // read N+1 only now that the consumer has N
    co_return item;
  }
}

// A connection that fails because client and server disagree about TLS fails the same way on
// every retry: the user has to change tls_mode. gRPC names the TLS-client-to-plaintext-server
// case ("Tls handshake failed: ... wrong version number": the answer to the ClientHello was not
// TLS), but a plaintext client to a TLS server only sees "Socket closed", like a restarting
// vtgate would; there one TLS handshake attempt decides.
asio::awaitable<void> VStream::explain_connect_failure(StreamError& e) const {
  if (!endpoint_ || e.cause != EndCause::server || e.code != grpc::StatusCode::UNAVAILABLE)
    co_return;
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
  // Only the verifying modes use the CA. gRPC loads whatever roots it is given even when it does
  // not verify, and an unparsable PEM then fails every connect ("Failed to create security
  // handshaker"), so `required` never hands it over.
  const bool uses_ca = !o.ca_certificate.empty() &&
                       (o.tls_mode == TlsMode::verify_ca || o.tls_mode == TlsMode::verify_identity);
  if (uses_ca) {
    if (o.ca_certificate.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return config_error(
          "ca_certificate is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)");
    }
    if (auto pem = check_pem_certificates(o.ca_certificate); !pem) {
      return config_error(fmt::format("ca_certificate is not valid PEM: {}", pem.error().message));
    }
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.tls_mode == TlsMode::disabled) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::experimental::TlsChannelCredentialsOptions tls;
    if (uses_ca) {
      tls.set_certificate_provider(
          std::make_shared<grpc::experimental::StaticDataCertificateProvider>(o.ca_certificate));
      tls.watch_root_certs();
    }  // else: gRPC uses the system roots
    switch (o.tls_mode) {
      case TlsMode::verify_identity:
        tls.set_verify_server_certs(true);
        tls.set_certificate_verifier(std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
        tls.set_check_call_host(true);
        break;
      case TlsMode::verify_ca:
        // The chain is verified against the roots; the post-handshake verifier (where the
        // hostname check lives) accepts any name.
        tls.set_verify_server_certs(true);
        tls.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
        tls.set_check_call_host(false);
        break;
      default:  // required: encrypted, unverified
        tls.set_verify_server_certs(false);
        tls.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
        tls.set_check_call_host(false);
        break;
    }
    creds = grpc::experimental::TlsCredentials(tls);
    if (!creds) return config_error("could not create TLS credentials for the gRPC channel");
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(o.max_message_bytes);
  args.SetMaxSendMessageSize(o.max_message_bytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(o.keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(o.keepalive_timeout.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // keep pinging a quiet stream
  // Bounded memory: without these, HTTP/2 BDP probing grows each stream's flow-control window
  // with the transfer, and a fast vtgate fills it faster than stdout drains (peak RSS grew with
  // table size, 95-495 MiB in docs/benchmarks.md). A fixed 1 MiB look-ahead per stream keeps the
  // pipe full on loopback and on a LAN while a slow consumer stops the server.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1 << 20);
  // Requests go uncompressed; responses may be identity or gzip (gRPC C++ has no snappy, which
  // PlanetScale's Go client uses).
  args.SetInt(GRPC_COMPRESSION_CHANNEL_ENABLED_ALGORITHMS_BITSET, (1 << GRPC_COMPRESS_NONE) | (1 << GRPC_COMPRESS_GZIP));
  args.SetCompressionAlgorithm(GRPC_COMPRESS_NONE);
  args.SetUserAgentPrefix("source-vitess/" SOURCE_VITESS_VERSION);
  if (o.tls_mode != TlsMode::disabled && !o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);

  std::shared_ptr<VStreamClient> c(new VStreamClient());
  c->target_ = o.host.find(':') != std::string::npos && o.host.front() != '['
                   ? fmt::format("[{}]:{}", o.host, o.port)  // bare IPv6 literal
                   : fmt::format("{}:{}", o.host, o.port);
  c->endpoint_ =
      std::make_shared<const detail::Endpoint>(detail::Endpoint{o.host, o.port, o.tls_mode});
  c->auth_header_ = basic_auth_header(o.username, o.password);
  c->channel_ = grpc::CreateCustomChannel(c->target_, creds, args);
  c->stub_ = vtgateservice::Vitess::NewStub(c->channel_);
  return c;
}

VStreamClient::VStreamClient() : tracker_(std::make_shared<detail::CallTracker>()) {}

VStreamClient::~VStreamClient() { tracker_->wait_idle(std::chrono::seconds(10)); }

VStream VStreamClient::open(asio::any_io_executor ex, const vtgate::VStreamRequest& request, const CallOptions& call) {
  auto c = std::make_shared<detail::VStreamCall>();
  c->request_ = request;
  c->ctx_.AddMetadata("authorization", auth_header_);
  if (call.deadline.count() > 0) c->ctx_.set_deadline(std::chrono::system_clock::now() + call.deadline);
  c->tracker_ = tracker_;
  tracker_->started();
  VStream stream(ex, c, call, endpoint_);
  c->start(c, *stub_);
  return stream;
}

asio::awaitable<Result<std::string>> VStreamClient::peek_current_position(
    asio::any_io_executor ex, std::string keyspace, std::string shard, std::vector<std::string> tables,
    VStreamRequestOptions options, std::chrono::milliseconds timeout) {
  ShardStart start{keyspace, shard, "current", {}};
  auto request = build_vstream_request(std::span(&start, 1), tables, options);
  VStream stream = open(ex, request, CallOptions{timeout, {}});
  const std::string where = fmt::format("{}/{}", keyspace, shard);
  for (;;) {
    StreamItem item = co_await stream.next();
    if (auto* err = std::get_if<StreamError>(&item)) {
      sv::Error e = err->to_error();
      e.message = fmt::format("could not read the current position of {}: {}", where, e.message);
      co_return e;
    }
    if (std::holds_alternative<StreamEof>(item)) {
      co_return transient_error(fmt::format("VStream for {} ended before reporting a position", where));
    }
    const auto& response = std::get<vtgate::VStreamResponse>(item);
    if (response.events_size() == 0) continue;
    for (const auto& ev : response.events()) {
      if (ev.type() != binlogdata::VGTID) continue;
      const auto& sgs = ev.vgtid().shard_gtids();
      for (const auto& sg : sgs) {
        if (sg.keyspace() == keyspace && sg.shard() == shard) co_return sg.gtid();
      }
      if (sgs.size() == 1) co_return sgs[0].gtid();
      co_return system_error(fmt::format("VGTID of the 'current' peek does not name {}", where));
    }
    co_return system_error(
        fmt::format("the first VStream response for {} at 'current' has events but no VGTID", where));
  }
}

}  // namespace sv::vitess
