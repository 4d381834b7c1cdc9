// src/emulator/vstream_server.cpp — VStream over gRPC: request validation as vtgate does it, the
// per-shard copy / catch-up / replication event sequences, the merged VGTID, heartbeats,
// journals, faults and the pre-encoded copy cache.
#include "emulator/vstream_server.hpp"

#include "emulator/dataset.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <list>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "binlogdata.pb.h"
#include "vtgate.pb.h"
#include "vtgateservice.grpc.pb.h"

namespace sv::emulator {
namespace asio = boost::asio;
using asio::use_awaitable;
using namespace std::chrono_literals;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

//! Serialized bytes of one or more `VStreamResponse.events` entries (field 1), with the end
//! offset of each event so a fault can cut a response after exactly N events.
struct Piece {
  std::shared_ptr<const std::string> bytes;
  std::shared_ptr<const std::vector<std::uint32_t>> ends;
  std::size_t events() const { return ends->size(); }
};

struct PieceBuilder {
  std::string bytes;
  std::vector<std::uint32_t> ends;
  void add(const binlogdata::VEvent& ev) {
    const std::size_t n = ev.ByteSizeLong();
    bytes.push_back(0x0A);  // field 1, length-delimited
    put_varint(bytes, n);
    const std::size_t at = bytes.size();
    bytes.resize(at + n);
    ev.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(bytes.data() + at));
    ends.push_back(static_cast<std::uint32_t>(bytes.size()));
  }
  bool empty() const { return ends.empty(); }
  Piece take() {
    Piece p{std::make_shared<const std::string>(std::move(bytes)),
            std::make_shared<const std::vector<std::uint32_t>>(std::move(ends))};
    bytes.clear();
    ends.clear();
    return p;
  }
};

//! One VStreamResponse to send.
struct Outgoing {
  std::vector<Piece> pieces;
  bool end_after = false;  // the stream ends (OK) once this response is written
  std::size_t events() const {
    std::size_t n = 0;
    for (const auto& p : pieces) n += p.events();
    return n;
  }
};

grpc::ByteBuffer to_buffer(const Outgoing& out, std::size_t max_events) {
  std::vector<grpc::Slice> slices;
  for (const auto& p : out.pieces) {
    if (max_events == 0) break;
    std::size_t take = std::min(max_events, p.events());
    max_events -= take;
    std::size_t len = (*p.ends)[take - 1];
    // Zero-copy: the slice keeps the shared bytes alive.
    auto* keep = new std::shared_ptr<const std::string>(p.bytes);
    slices.emplace_back(
        const_cast<char*>(p.bytes->data()), len,
        [](void* k) { delete static_cast<std::shared_ptr<const std::string>*>(k); }, keep);
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

grpc::Status to_status(const sv::Error& e) {
  switch (e.type) {
    case FailureType::config_error: return {grpc::StatusCode::INVALID_ARGUMENT, e.message};
    case FailureType::transient_error: return {grpc::StatusCode::UNAVAILABLE, e.message};
    case FailureType::system_error: return {grpc::StatusCode::UNKNOWN, e.message};
  }
  return {grpc::StatusCode::UNKNOWN, e.message};
}

//! Go's grpc status code names, as `rpc error: code = <Name> desc = …` prints them.
const char* go_code_name(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::CANCELLED: return "Canceled";
    case grpc::StatusCode::INVALID_ARGUMENT: return "InvalidArgument";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FailedPrecondition";
    case grpc::StatusCode::UNAVAILABLE: return "Unavailable";
    case grpc::StatusCode::INTERNAL: return "Internal";
    case grpc::StatusCode::NOT_FOUND: return "NotFound";
    default: return "Unknown";
  }
}

//! A ShardGtid as vtgate prints it with `%+v` (Go's compact prototext: fields at their zero
//! value are left out). A table_p_ks entry is shown by its table name only (its lastpk, a
//! QueryResult, is left out: no client reads it back from an error text).
std::string go_text(const binlogdata::ShardGtid& sg) {
  std::string out;
  auto field = [&](const char* name, const std::string& v) {
    if (v.empty()) return;
    if (!out.empty()) out += ' ';
    out += name;
    out += ":\"";
    out += v;
    out += '"';
  };
  field("keyspace", sg.keyspace());
  field("shard", sg.shard());
  field("gtid", sg.gtid());
  for (const auto& pk : sg.table_p_ks()) {
    if (!out.empty()) out += ' ';
    out += "table_p_ks:{table_name:\"";
    out += pk.table_name();
    out += "\"}";
  }
  return out;
}

std::string go_text(const binlogdata::VGtid& v) {
  std::string out;
  for (const auto& sg : v.shard_gtids()) {
    if (!out.empty()) out += ' ';
    out += "shard_gtids:{";
    out += go_text(sg);
    out += '}';
  }
  return out;
}

//! The cell the emulator's tablets live in (the MySQL front's SHOW VITESS_TABLETS says the same).
constexpr const char* kCell = "zone1";

//! vtgate's wrapping of a per-shard error (vitessio/vitess go/vt/vtgate/vstream_manager.go):
//! startOneStream prefixes "error starting stream from shard GTID <sgtid>"; streamFromTablet
//! either gives up at once ("error in vstream for K/S on tablet T", for INVALID_ARGUMENT and
//! INTERNAL: shouldRetry) or after three attempts ("persistent error in vstream for K/S on tablet
//! T; giving up", for FAILED_PRECONDITION, UNAVAILABLE and non-SQL errors); the tablet's own
//! status arrives through tabletconn.ErrorFromGRPC as "vttablet: rpc error: code = … desc = …".
//! The status code stays the tablet's.
grpc::Status vtgate_shard_error(const binlogdata::ShardGtid& sg, const std::string& tablet, grpc::StatusCode code,
                                const std::string& tablet_message) {
  const bool retried = code != grpc::StatusCode::INVALID_ARGUMENT && code != grpc::StatusCode::INTERNAL;
  std::string where = sg.keyspace() + "/" + sg.shard() + " on tablet " + tablet;
  std::string msg = "error starting stream from shard GTID " + go_text(sg) + ": ";
  msg +=
      retried ? "persistent error in vstream for " + where + "; giving up: " : "error in vstream for " + where + ": ";
  msg += "vttablet: rpc error: code = ";
  msg += go_code_name(code);
  msg += " desc = ";
  msg += tablet_message;
  return {code, msg};
}

bool is_integral(query::Type t) { return (static_cast<int>(t) & static_cast<int>(query::ISINTEGRAL)) != 0; }
bool is_unsigned(query::Type t) { return (static_cast<int>(t) & static_cast<int>(query::ISUNSIGNED)) != 0; }

//! Compares two values of a column type the way MySQL orders PKs (numbers numerically).
int compare_value(query::Type type, const std::string& a, const std::string& b) {
  if (is_integral(type)) {
    if (is_unsigned(type)) {
      std::uint64_t x = 0, y = 0;
      std::from_chars(a.data(), a.data() + a.size(), x);
      std::from_chars(b.data(), b.data() + b.size(), y);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    std::int64_t x = 0, y = 0;
    std::from_chars(a.data(), a.data() + a.size(), x);
    std::from_chars(b.data(), b.data() + b.size(), y);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

//! Labels → 1-based index (ENUM) or bitmask (SET), as vtgates before v20 sent them.
query::Row enum_set_to_numbers(const query::Row& row, const TableSchema& schema) {
  std::vector<std::optional<std::string>> cells;
  std::size_t off = 0;
  for (int i = 0; i < row.lengths_size(); ++i) {
    const std::int64_t len = row.lengths(i);
    if (len < 0) {
      cells.emplace_back(std::nullopt);
      continue;
    }
    std::string v = row.values().substr(off, static_cast<std::size_t>(len));
    off += static_cast<std::size_t>(len);
    const auto& f = schema.fields[static_cast<std::size_t>(i)];
    if (f.type() == query::ENUM) {
      auto labels = enum_labels(f.column_type());
      auto it = std::find(labels.begin(), labels.end(), v);
      v = std::to_string(it == labels.end() ? 0 : (it - labels.begin()) + 1);
    } else if (f.type() == query::SET) {
      auto labels = enum_labels(f.column_type());
      std::uint64_t mask = 0;
      for (std::size_t bit = 0; bit < labels.size(); ++bit) {
        // SET values are the members in definition order joined by ','; members cannot contain ','.
        std::size_t start = 0;
        while (start <= v.size()) {
          std::size_t comma = v.find(',', start);
          std::string member = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          if (!v.empty() && member == labels[bit]) mask |= (1ULL << bit);
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      }
      v = std::to_string(mask);
    }
    cells.emplace_back(std::move(v));
  }
  query::Row out;
  for (const auto& c : cells) {
    out.add_lengths(c ? static_cast<std::int64_t>(c->size()) : -1);
    if (c) out.mutable_values()->append(*c);
  }
  return out;
}

//! Builds an event list without an initializer_list (GCC 12 mis-compiles those inside co_await).
template <class... E>
std::vector<binlogdata::VEvent> evlist(E&&... e) {
  std::vector<binlogdata::VEvent> v;
  v.reserve(sizeof...(e));
  (v.push_back(std::forward<E>(e)), ...);
  return v;
}

struct Rule {
  std::string match;
  std::optional<std::regex> re;
  bool matches(const std::string& table) const { return re ? std::regex_match(table, *re) : table == match; }
};

}  // namespace

//---------------------------------------------------------------------------------------------
// Reactor: the gRPC side of one stream. Reactions run on gRPC threads and only post.

class StreamReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  StreamReactor(asio::any_io_executor ex, grpc::CallbackServerContext* ctx)
      : ex_(ex), ctx_(ctx), write_done_(ex, 1), done_(ex, 1) {}

  //! Writes one response; false when the client is gone. io thread; one write at a time.
  asio::awaitable<bool> write(grpc::ByteBuffer buf) {
    buf_ = std::move(buf);
    StartWrite(&buf_);
    auto [ec, ok] = co_await write_done_.async_receive(asio::as_tuple(use_awaitable));
    co_return !ec && ok;
  }

  //! Finishes the RPC and waits until gRPC is done with the reactor (then it may be deleted).
  asio::awaitable<void> finish(grpc::Status status, bool drop) {
    if (drop) ctx_->TryCancel();  // RST_STREAM: the client gets no status from us
    Finish(status);
    co_await done_.async_receive(asio::as_tuple(use_awaitable));
  }

  void set_on_cancel(std::function<void()> f) { on_cancel_ = std::move(f); }

  // Reactions run on gRPC threads: they only hand the result to the io thread.
  void OnWriteDone(bool ok) override {
    asio::post(ex_, [this, ok] { write_done_.try_send(boost::system::error_code{}, ok); });
  }
  void OnCancel() override {
    if (on_cancel_) asio::post(ex_, on_cancel_);
  }
  void OnDone() override {
    asio::post(ex_, [this] { done_.try_send(boost::system::error_code{}, true); });
  }

 private:
  using Signal = asio::experimental::channel<void(boost::system::error_code, bool)>;
  asio::any_io_executor ex_;
  grpc::CallbackServerContext* ctx_;
  grpc::ByteBuffer buf_;
  Signal write_done_;
  Signal done_;
  std::function<void()> on_cancel_;
};

//---------------------------------------------------------------------------------------------

class Session;

class VStreamServer::Impl final
    : public vtgateservice::Vitess::WithRawCallbackMethod_VStream<vtgateservice::Vitess::Service> {
 public:
  Impl(asio::io_context& io, Backend& backend, ServerOptions options)
      : io_(io), backend_(backend), options_(std::move(options)) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* VStream(grpc::CallbackServerContext* ctx,
                                                      const grpc::ByteBuffer* request) override;

  asio::io_context& io_;
  Backend& backend_;
  ServerOptions options_;
  Faults faults_;
  ServerStats stats_;
  std::unique_ptr<grpc::Server> server_;
  std::list<std::weak_ptr<Session>> sessions_;  // io thread only
  std::uint64_t next_id_ = 1;
  std::function<bool(const std::string&)> dropper_;

  struct CachedBatch {
    Piece rows;
    query::Row lastpk;
  };
  using CachedTable = std::vector<CachedBatch>;
  std::map<std::string, std::shared_ptr<const CachedTable>> cache_;  // pre-encoded copy batches

  bool check_auth(const grpc::CallbackServerContext* ctx) const;
};

//---------------------------------------------------------------------------------------------
// Session: one VStream call. All members are touched on the io thread only.

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Channel = asio::experimental::channel<void(boost::system::error_code, Outgoing)>;

  Session(VStreamServer::Impl& server, StreamReactor* reactor, vtgate::VStreamRequest req, std::uint64_t id,
          std::string peer)
      : srv_(server),
        reactor_(reactor),
        req_(std::move(req)),
        id_(id),
        peer_(std::move(peer)),
        ch_(server.io_.get_executor(), 4),
        last_send_(std::chrono::steady_clock::now()),
        kill_seen_(server.faults_.kill_generation) {}

  asio::awaitable<void> run();
  void stop(grpc::Status status, bool drop = false) {
    if (end_) return;
    end_ = std::move(status);
    drop_ = drop;
    close_channel();
  }
  bool ended() const { return end_.has_value(); }
  std::uint64_t id() const { return id_; }

 private:
  struct Shard {
    std::string keyspace;
    std::string shard;
    std::map<std::string, std::uint64_t> fields_sent;  // table → schema version in last FIELD
  };
  //! What a catch-up / fast-forward passes: copied tables fully, the current one up to lastpk.
  struct CopyFilter {
    std::set<std::string> copied;
    std::string current;
    std::optional<query::QueryResult> current_lastpk;
  };

  asio::awaitable<void> writer();
  asio::awaitable<void> heartbeat();
  asio::awaitable<void> shard_main(std::shared_ptr<Shard> sh, std::string gtid,
                                   std::vector<binlogdata::TableLastPK> pks);
  asio::awaitable<bool> copy_phase(Shard& sh, std::optional<GtidSet>& pos, std::vector<binlogdata::TableLastPK> pks);
  asio::awaitable<bool> copy_table(Shard& sh, std::optional<GtidSet>& pos, const std::string& table,
                                   std::optional<query::QueryResult> lastpk, CopyFilter& filter);
  asio::awaitable<bool> replicate(Shard& sh, GtidSet pos, std::optional<GtidSet> until, const CopyFilter* copy_filter);
  asio::awaitable<bool> push(Outgoing out, const std::string& shard);
  asio::awaitable<bool> push_events(const std::vector<binlogdata::VEvent>& evs, const std::string& shard,
                                    bool end_after = false);
  //! A backend error of one shard's stream, as vtgate passes the tablet's error on.
  void fail(Shard& sh, const sv::Error& e) {
    stop(vtgate_shard_error(*shard_gtid(sh), tablet_of(sh.keyspace, sh.shard), to_status(e).error_code(), e.message));
  }
  std::string tablet_of(const std::string& keyspace, const std::string& shard) const;
  //! Ends the channel for both sides. close() alone (Boost 1.81 channel_service::close) wakes only
  //! a waiting receiver: a shard blocked in async_send on the full channel (the writer stalled, cut
  //! or gone) would stay suspended forever, and with it the Session and the shard's backend cursor
  //! (the MariaDB backend's binlog dump and schema connections). cancel() first completes waiting
  //! senders with channel_cancelled; it must run before close(), which changes the state cancel()
  //! reads to tell senders from receivers.
  void close_channel() {
    ch_.cancel();
    ch_.close();
  }

  binlogdata::ShardGtid* shard_gtid(const Shard& sh);
  binlogdata::VEvent make(binlogdata::VEventType type, const Shard* sh) const;
  binlogdata::VEvent vgtid_event(const Shard& sh) const;
  binlogdata::VEvent field_event(const Shard& sh, const TableSchema& schema) const;
  std::string table_name(const Shard& sh, const std::string& table) const;
  bool table_selected(const std::string& table) const;
  bool row_passes(const TableSchema& schema, const RowChange& ch, const CopyFilter* f) const;
  asio::awaitable<void> on_journal(Shard& sh, const JournalInfo& j, std::int64_t ts, const GtidSet& pos);
  void spawn_shard(std::shared_ptr<Shard> sh, std::string gtid, std::vector<binlogdata::TableLastPK> pks);

  VStreamServer::Impl& srv_;
  StreamReactor* reactor_;
  vtgate::VStreamRequest req_;
  std::uint64_t id_;
  std::string peer_;
  Channel ch_;
  std::optional<grpc::Status> end_;
  bool drop_ = false;
  std::vector<Rule> rules_;
  binlogdata::VGtid vgtid_;
  std::chrono::steady_clock::time_point last_send_;
  std::uint64_t events_sent_ = 0;
  bool stalled_once_ = false;
  std::uint64_t kill_seen_;
  mutable std::map<std::string, std::string> tablets_;  // "keyspace/shard" → tablet alias
  std::set<std::string> copy_completed_;                // "keyspace/shard" of the shards that sent COPY_COMPLETED
  std::map<std::int64_t, std::set<std::string>> journal_arrivals_;
};

bool VStreamServer::Impl::check_auth(const grpc::CallbackServerContext* ctx) const {
  if (options_.user.empty()) return true;
  const auto& md = ctx->client_metadata();
  // PlanetScale's psdb client: "authorization: Basic base64(user:pass)".
  auto it = md.find("authorization");
  if (it != md.end()) {
    std::string v(it->second.data(), it->second.size());
    static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const std::string plain = options_.user + ":" + options_.password;
    std::string enc;
    std::size_t i = 0;
    for (; i + 2 < plain.size(); i += 3) {
      unsigned n = (static_cast<unsigned char>(plain[i]) << 16) | (static_cast<unsigned char>(plain[i + 1]) << 8) |
                   static_cast<unsigned char>(plain[i + 2]);
      enc += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], kB64[(n >> 6) & 63], kB64[n & 63]};
    }
    if (i + 1 == plain.size()) {
      unsigned n = static_cast<unsigned char>(plain[i]) << 16;
      enc += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], '=', '='};
    } else if (i + 2 == plain.size()) {
      unsigned n = (static_cast<unsigned char>(plain[i]) << 16) | (static_cast<unsigned char>(plain[i + 1]) << 8);
      enc += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], kB64[(n >> 6) & 63], '='};
    }
    return v == "Basic " + enc;
  }
  // Vitess' static gRPC auth plugin: "username" / "password" metadata.
  auto u = md.find("username");
  auto p = md.find("password");
  return u != md.end() && p != md.end() && std::string(u->second.data(), u->second.size()) == options_.user &&
         std::string(p->second.data(), p->second.size()) == options_.password;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* VStreamServer::Impl::VStream(grpc::CallbackServerContext* ctx,
                                                                         const grpc::ByteBuffer* request) {
  auto* reactor = new StreamReactor(io_.get_executor(), ctx);
  const bool auth_ok = check_auth(ctx);
  vtgate::VStreamRequest req;
  bool parsed = false;
  if (auth_ok) {
    std::vector<grpc::Slice> slices;
    if (request->Dump(&slices).ok()) {
      std::string bytes;
      for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      parsed = req.ParseFromString(bytes);
    }
  }
  std::string peer = ctx->peer();
  asio::post(io_, [this, reactor, auth_ok, parsed, req = std::move(req), peer]() mutable {
    if (!auth_ok || !parsed) {
      grpc::Status st = !auth_ok ? grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid credentials")
                                 : grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cannot parse VStreamRequest");
      spdlog::warn("vstream from {} rejected: {}", peer, st.error_message());
      asio::co_spawn(
          io_,
          [reactor, st]() -> asio::awaitable<void> {
            co_await reactor->finish(st, false);
            delete reactor;
          },
          asio::detached);
      return;
    }
    auto session = std::make_shared<Session>(*this, reactor, std::move(req), next_id_++, peer);
    sessions_.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
    sessions_.push_back(session);
    std::weak_ptr<Session> weak = session;
    reactor->set_on_cancel([weak] {
      if (auto s = weak.lock()) s->stop(grpc::Status(grpc::StatusCode::CANCELLED, "context canceled"));
    });
    spdlog::info("vstream #{} from {}", session->id(), peer);
    asio::co_spawn(
        io_, [session]() { return session->run(); }, asio::detached);
  });
  return reactor;
}

//---------------------------------------------------------------------------------------------

binlogdata::ShardGtid* Session::shard_gtid(const Shard& sh) {
  for (auto& sg : *vgtid_.mutable_shard_gtids()) {
    if (sg.keyspace() == sh.keyspace && sg.shard() == sh.shard) return &sg;
  }
  auto* sg = vgtid_.add_shard_gtids();
  sg->set_keyspace(sh.keyspace);
  sg->set_shard(sh.shard);
  return sg;
}

std::string Session::tablet_of(const std::string& keyspace, const std::string& shard) const {
  // One PRIMARY per shard, uid 100 + the shard's index (as the MySQL front's SHOW VITESS_TABLETS),
  // remembered from the stream's start: a reshard takes the old shards out of the catalog.
  auto known = tablets_.find(keyspace + "/" + shard);
  if (known != tablets_.end()) return known->second;
  std::size_t index = 0;
  for (const auto& k : srv_.backend_.catalog()) {
    if (k.name != keyspace) continue;
    auto it = std::find(k.shards.begin(), k.shards.end(), shard);
    index = static_cast<std::size_t>(it - k.shards.begin());
  }
  return tablets_[keyspace + "/" + shard] = fmt::format("{}-{:010d}", kCell, 100 + index);
}

binlogdata::VEvent Session::make(binlogdata::VEventType type, const Shard* sh) const {
  binlogdata::VEvent ev;
  ev.set_type(type);
  ev.set_current_time(now_ns());
  if (sh) {
    ev.set_keyspace(sh->keyspace);
    ev.set_shard(sh->shard);
  }
  return ev;
}

binlogdata::VEvent Session::vgtid_event(const Shard& sh) const {
  auto ev = make(binlogdata::VGTID, &sh);
  *ev.mutable_vgtid() = vgtid_;
  return ev;
}

std::string Session::table_name(const Shard& sh, const std::string& table) const {
  return req_.flags().exclude_keyspace_from_table_name() ? table : sh.keyspace + "." + table;
}

binlogdata::VEvent Session::field_event(const Shard& sh, const TableSchema& schema) const {
  auto ev = make(binlogdata::FIELD, &sh);
  auto* fe = ev.mutable_field_event();
  fe->set_table_name(table_name(sh, schema.name));
  for (const auto& f : schema.fields) *fe->add_fields() = f;
  fe->set_keyspace(sh.keyspace);
  fe->set_shard(sh.shard);
  fe->set_enum_set_string_values(srv_.options_.enum_set_labels);
  return ev;
}

bool Session::table_selected(const std::string& table) const {
  for (const auto& r : rules_) {
    if (r.matches(table)) return true;
  }
  return false;
}

bool Session::row_passes(const TableSchema& schema, const RowChange& ch, const CopyFilter* f) const {
  if (!f) return true;
  if (f->copied.count(schema.name)) return true;
  if (schema.name != f->current || !f->current_lastpk || f->current_lastpk->rows_size() != 1) return false;
  const query::Row& image = ch.after ? *ch.after : *ch.before;
  // Compare the row's PK with lastpk: only rows already copied get their changes streamed.
  std::vector<std::string> vals;
  std::size_t off = 0;
  std::vector<std::pair<std::int64_t, std::size_t>> spans;
  for (int i = 0; i < image.lengths_size(); ++i) {
    spans.emplace_back(image.lengths(i), off);
    if (image.lengths(i) > 0) off += static_cast<std::size_t>(image.lengths(i));
  }
  const query::Row& lp = f->current_lastpk->rows(0);
  std::size_t lp_off = 0;
  for (std::size_t n = 0; n < schema.pk_columns.size(); ++n) {
    const std::size_t col = schema.pk_columns[n];
    const auto [len, at] = spans[col];
    std::string v = len > 0 ? image.values().substr(at, static_cast<std::size_t>(len)) : std::string();
    const std::int64_t lp_len = n < static_cast<std::size_t>(lp.lengths_size()) ? lp.lengths(static_cast<int>(n)) : 0;
    std::string w = lp_len > 0 ? lp.values().substr(lp_off, static_cast<std::size_t>(lp_len)) : std::string();
    if (lp_len > 0) lp_off += static_cast<std::size_t>(lp_len);
    int c = compare_value(schema.fields[col].type(), v, w);
    if (c != 0) return c < 0;
  }
  return true;  // equal PK: that row was copied
}

asio::awaitable<bool> Session::push(Outgoing out, const std::string& shard) {
  if (end_) co_return false;
  auto slow = srv_.faults_.slow_shards.find(shard);
  if (slow != srv_.faults_.slow_shards.end() && slow->second.count() > 0) {
    asio::steady_timer t(srv_.io_, slow->second);
    co_await t.async_wait(asio::as_tuple(use_awaitable));
    if (end_) co_return false;
  }
  auto [ec] = co_await ch_.async_send(boost::system::error_code{}, std::move(out), asio::as_tuple(use_awaitable));
  co_return !ec && !end_;
}

asio::awaitable<bool> Session::push_events(const std::vector<binlogdata::VEvent>& evs, const std::string& shard,
                                           bool end_after) {
  PieceBuilder b;
  for (const auto& e : evs) b.add(e);
  Outgoing out;
  out.pieces.push_back(b.take());
  out.end_after = end_after;
  co_return co_await push(std::move(out), shard);
}

asio::awaitable<void> Session::writer() {
  auto& faults = srv_.faults_;
  asio::steady_timer timer(srv_.io_);
  for (;;) {
    auto [ec, out] = co_await ch_.async_receive(asio::as_tuple(use_awaitable));
    if (ec || end_) break;
    // A stall holds everything, heartbeats included: the client sees a silent server.
    while (!end_ && std::chrono::steady_clock::now() < faults.stall_until) {
      timer.expires_at(std::min(faults.stall_until, std::chrono::steady_clock::now() + 100ms));
      co_await timer.async_wait(asio::as_tuple(use_awaitable));
    }
    if (end_) break;
    if (faults.kill_generation != kill_seen_) {
      stop(end_status(faults.kill_mode, "stream ended by fault injection"), faults.kill_mode == EndMode::drop);
      break;
    }
    std::size_t n = out.events();
    bool cut = false;
    if (faults.end_after_events) {
      const std::uint64_t budget =
          *faults.end_after_events > events_sent_ ? *faults.end_after_events - events_sent_ : 0;
      if (n >= budget) {
        n = static_cast<std::size_t>(budget);
        cut = true;
      }
    }
    if (n > 0) {
      bool ok = co_await reactor_->write(to_buffer(out, n));
      if (!ok) {
        stop(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
        break;
      }
      events_sent_ += n;
      srv_.stats_.events_sent += n;
      srv_.stats_.responses_sent += 1;
      last_send_ = std::chrono::steady_clock::now();
    }
    if (cut) {
      stop(end_status(faults.end_mode, "stream closed after " + std::to_string(events_sent_) + " events"),
           faults.end_mode == EndMode::drop);
      break;
    }
    if (out.end_after) {
      stop(grpc::Status::OK);
      break;
    }
    if (faults.stall_after_events && !stalled_once_ && events_sent_ >= *faults.stall_after_events) {
      stalled_once_ = true;
      auto until = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(faults.stall_seconds));
      while (!end_ && std::chrono::steady_clock::now() < until) {
        timer.expires_at(std::min(until, std::chrono::steady_clock::now() + 100ms));
        co_await timer.async_wait(asio::as_tuple(use_awaitable));
      }
    }
  }
}

asio::awaitable<void> Session::heartbeat() {
  const auto interval = std::chrono::seconds(req_.flags().heartbeat_interval());
  asio::steady_timer timer(srv_.io_);
  while (!end_) {
    timer.expires_at(std::min(last_send_ + interval, std::chrono::steady_clock::now() + srv_.options_.poll));
    co_await timer.async_wait(asio::as_tuple(use_awaitable));
    if (end_) break;
    if (std::chrono::steady_clock::now() < last_send_ + interval) continue;
    auto ev = make(binlogdata::HEARTBEAT, nullptr);
    ev.set_timestamp(ev.current_time() / 1000000000);
    last_send_ = std::chrono::steady_clock::now();  // one heartbeat per idle interval
    if (!co_await push_events(evlist(ev), std::string())) break;
  }
}

asio::awaitable<void> Session::run() {
  auto self = shared_from_this();
  ++srv_.stats_.streams_started;
  ++srv_.stats_.streams_active;
  auto& faults = srv_.faults_;
  std::vector<std::tuple<std::shared_ptr<Shard>, std::string, std::vector<binlogdata::TableLastPK>>> starts;

  // ---- validate and resolve as vtgate's resolveParams does
  auto catalog = srv_.backend_.catalog();
  auto find_ks = [&](const std::string& name) -> const KeyspaceInfo* {
    for (const auto& k : catalog) {
      if (k.name == name) return &k;
    }
    return nullptr;
  };
  std::optional<grpc::Status> error;
  if (faults.fail_streams > 0) {
    --faults.fail_streams;
    error = end_status(faults.fail_mode, "injected failure at stream start");
    if (faults.fail_mode == EndMode::drop) drop_ = true;
  }
  if (!error) {
    for (const auto& r : req_.filter().rules()) {
      Rule rule{r.match(), std::nullopt};
      if (!r.match().empty() && r.match()[0] == '/') {
        try {
          rule.re.emplace(r.match().substr(1));
        } catch (const std::regex_error&) {
          error = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "invalid regular expression in rule: " + r.match());
        }
      }
      rules_.push_back(std::move(rule));
    }
    if (req_.filter().rules_size() == 0) rules_.push_back({"/.*", std::regex(".*")});
  }
  // resolveParams (vitessio/vitess go/vt/vtgate/vstream_manager.go): every error it returns is
  // wrapped by VStream as "failed to resolve vstream parameters: …", keeping its code.
  const auto& in = req_.vgtid();
  auto resolve_error = [](grpc::StatusCode code, const std::string& why) {
    return grpc::Status(code, "failed to resolve vstream parameters: " + why);
  };
  if (!error && in.shard_gtids_size() == 0) {
    error = resolve_error(grpc::StatusCode::INVALID_ARGUMENT,
                          "vgtid must have at least one value with a starting position in ShardGtids");
  }
  std::vector<binlogdata::ShardGtid> sgs(in.shard_gtids().begin(), in.shard_gtids().end());
  // A single ShardGtid with an empty keyspace ("current" only) or a /regex keyspace stands for
  // every matching keyspace; the shard it names is dropped (all shards of each keyspace).
  if (!error && sgs.size() == 1 && (sgs[0].keyspace().empty() || sgs[0].keyspace()[0] == '/')) {
    const std::string ks = sgs[0].keyspace();
    const std::string gtid = sgs[0].gtid();
    std::optional<std::regex> re;
    if (ks.empty() && gtid != "current") {
      error = resolve_error(grpc::StatusCode::INVALID_ARGUMENT,
                            "for an empty keyspace, the Gtid value must be 'current': " + go_text(in));
    } else if (!ks.empty()) {
      // Go trims every leading and trailing '/' (strings.Trim).
      const auto b = ks.find_first_not_of('/');
      const auto e = ks.find_last_not_of('/');
      const std::string body = b == std::string::npos ? std::string() : ks.substr(b, e - b + 1);
      try {
        re.emplace(body);
      } catch (const std::regex_error& x) {
        error = resolve_error(grpc::StatusCode::UNKNOWN,
                              "failed to compile regexp using " + ks + ": error parsing regexp: " + x.what());
      }
    }
    if (!error) {
      std::vector<binlogdata::ShardGtid> all;
      for (const auto& k : catalog) {
        if (re && !std::regex_search(k.name, *re)) continue;  // Go's MatchString: unanchored
        binlogdata::ShardGtid sg;
        sg.set_keyspace(k.name);
        sg.set_gtid(gtid);
        all.push_back(sg);
      }
      sgs = all;
    }
  }
  for (std::size_t i = 0; !error && i < sgs.size(); ++i) {
    auto& sg = sgs[i];
    const std::string& gtid = sg.gtid();
    std::vector<std::string> shards;
    if (sg.shard().empty()) {
      if (gtid != "" && gtid != "current") {
        error =
            resolve_error(grpc::StatusCode::INVALID_ARGUMENT,
                          "if shards are unspecified, the Gtid value must be 'current' or empty; got: " + go_text(in));
        break;
      }
      const auto* k = find_ks(sg.keyspace());
      if (!k) {
        // srvtopo Resolver.GetKeyspaceShards: UNKNOWN "keyspace K fetch error: <topo error>".
        error = resolve_error(grpc::StatusCode::UNKNOWN,
                              "failed to get shards in keyspace " + sg.keyspace() + ": keyspace " + sg.keyspace() +
                                  " fetch error: node doesn't exist: keyspaces/" + sg.keyspace() + "/SrvKeyspace");
        break;
      }
      shards = k->shards;
    } else {
      shards = {sg.shard()};
    }
    for (const auto& s : shards) {
      auto sh = std::make_shared<Shard>();
      sh->keyspace = sg.keyspace();
      sh->shard = s;
      std::vector<binlogdata::TableLastPK> pks(sg.table_p_ks().begin(), sg.table_p_ks().end());
      starts.emplace_back(sh, gtid, std::move(pks));
    }
  }
  // What each shard's stream meets first (startOneStream / streamFromTablet, then the tablet):
  // the reshard check, the tablet, the start position, the copy's table plan. The first error
  // ends the whole VStream.
  for (std::size_t i = 0; !error && i < starts.size(); ++i) {
    const auto& [sh, gtid, pks] = starts[i];
    binlogdata::ShardGtid sg;
    sg.set_keyspace(sh->keyspace);
    sg.set_shard(sh->shard);
    sg.set_gtid(gtid);
    for (const auto& pk : pks) *sg.add_table_p_ks() = pk;
    const std::string prefix = "error starting stream from shard GTID " + go_text(sg) + ": ";
    const auto* k = find_ks(sh->keyspace);
    if (!k) {
      // keyspaceHasBeenResharded → topo FindAllShardsInKeyspace on a keyspace that does not
      // exist (the topo root, e.g. /vitess/global, precedes the path on a real cluster).
      error = grpc::Status(grpc::StatusCode::UNKNOWN, prefix + "failed to determine if keyspace " + sh->keyspace +
                                                          " has been resharded: FindAllShardsInKeyspace(" +
                                                          sh->keyspace + "): List: node doesn't exist: keyspaces/" +
                                                          sh->keyspace + "/shards");
      break;
    }
    bool serving = std::find(k->shards.begin(), k->shards.end(), sh->shard) != k->shards.end();
    // Old shards stay in the keyspace after a reshard until deleted (their binlog ends in a
    // journal). From a position they stay readable: replication, or a copy resumed with its
    // position, whose catch-up meets the journal before the copy goes on (vitessio/vitess
    // go/vt/vttablet/tabletserver/vstreamer/copy.go, catchupAndCopy). Without one
    // they have no serving tablet.
    bool retired = false;
    if (!serving) retired = (co_await srv_.backend_.current_position(sh->keyspace, sh->shard)).ok();
    if (!serving && !retired) {
      // keyspaceHasBeenResharded: FAILED_PRECONDITION, returned without a retry.
      error = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                           prefix + "failed to determine if keyspace " + sh->keyspace +
                               " has been resharded: shard provided in VGTID, " + sh->shard + ", not found in the " +
                               sh->keyspace + " keyspace");
      break;
    }
    if (!serving && (gtid == "" || gtid == "current")) {
      error = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           "no healthy tablet available for 'keyspace:\"" + sh->keyspace + "\" shard:\"" + sh->shard +
                               "\" tablet_type:" + topodata::TabletType_Name(req_.tablet_type()) + "'");
      break;
    }
    const std::string tablet = tablet_of(sh->keyspace, sh->shard);
    if (gtid != "" && gtid != "current") {
      // uvstreamer.setStreamStartPosition: "could not decode position: …" (INTERNAL, from
      // replication.DecodePosition / ParsePosition / ParseMysql56GTIDSet), not retried by vtgate.
      const auto slash = gtid.find('/');
      const std::string flavor = slash == std::string::npos ? std::string() : gtid.substr(0, slash);
      if (flavor != "MySQL56" && flavor != "MariaDB" && flavor != "FilePos") {
        error = vtgate_shard_error(sg, tablet, grpc::StatusCode::INTERNAL,
                                   "could not decode position: parse error: unknown GTIDSet flavor \"" + flavor + "\"");
        break;
      }
      if (flavor == "MySQL56") {
        const std::string set = gtid.substr(slash + 1);
        auto parsed = GtidSet::parse(gtid);
        if (!parsed) {
          const bool has_interval = set.find(':') != std::string::npos;
          error = vtgate_shard_error(sg, tablet, grpc::StatusCode::INTERNAL,
                                     "could not decode position: invalid MySQL 5.6 GTID set (\"" + set + "\")" +
                                         (has_interval ? ": " + parsed.error().message : ": expected uuid:interval"));
          break;
        }
      }
      // Another flavor parses in Vitess but is never contained in a MySQL56 server position:
      // shard_main answers the GTIDSet Mismatch as for any position the server does not have.
    }
    if (gtid.empty() || !pks.empty()) {
      // uvstreamer.buildTablePlan: a rule naming a table the schema engine does not know. Not an
      // SQL error, so vtgate retries it three times before giving up (shouldRetry).
      for (const auto& r : rules_) {
        if (r.re) continue;
        bool known = std::any_of(k->tables.begin(), k->tables.end(),
                                 [&](const TableSchemaPtr& t) { return t->name == r.match; });
        if (!known) {
          error = vtgate_shard_error(sg, tablet, grpc::StatusCode::UNKNOWN,
                                     "table " + r.match + " is not present in the database");
          break;
        }
      }
    }
  }
  if (error) {
    spdlog::info("vstream #{} rejected: {} {}", id_, static_cast<int>(error->error_code()), error->error_message());
    end_ = *error;
  } else {
    for (auto& [sh, gtid, pks] : starts) {
      auto* sg = shard_gtid(*sh);
      sg->set_gtid(gtid);
      for (const auto& pk : pks) *sg->add_table_p_ks() = pk;
    }
    for (auto& [sh, gtid, pks] : starts) (void)tablet_of(sh->keyspace, sh->shard);  // fixes the aliases
    for (auto& [sh, gtid, pks] : starts) spawn_shard(sh, gtid, pks);
    if (req_.flags().heartbeat_interval() > 0) {
      asio::co_spawn(
          srv_.io_, [self]() { return self->heartbeat(); }, asio::detached);
    }
    co_await writer();
  }

  grpc::Status status = end_.value_or(grpc::Status::OK);
  close_channel();
  spdlog::info("vstream #{} ends: code {} '{}'{} after {} events", id_, static_cast<int>(status.error_code()),
               status.error_message(), drop_ ? " (dropped)" : "", events_sent_);
  // A dropped connection: with the TCP proxy the client's socket is reset (no HTTP/2 frames at
  // all); without it the stream is reset with RST_STREAM.
  bool dropped_tcp = false;
  if (drop_ && srv_.dropper_) {
    // Let the bytes already written reach the client first, so it sees exactly the events sent.
    asio::steady_timer settle(srv_.io_, 100ms);
    co_await settle.async_wait(asio::as_tuple(use_awaitable));
    dropped_tcp = srv_.dropper_(peer_);
  }
  co_await reactor_->finish(status, drop_ && !dropped_tcp);
  delete reactor_;
  reactor_ = nullptr;
  --srv_.stats_.streams_active;
}

void Session::spawn_shard(std::shared_ptr<Shard> sh, std::string gtid, std::vector<binlogdata::TableLastPK> pks) {
  auto self = shared_from_this();
  asio::co_spawn(
      srv_.io_,
      [self, sh, gtid = std::move(gtid), pks = std::move(pks)]() mutable {
        return self->shard_main(sh, std::move(gtid), std::move(pks));
      },
      [self](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("vstream #{}: shard stream failed: {}", self->id_, ex.what());
          self->stop(grpc::Status(grpc::StatusCode::INTERNAL, ex.what()));
        }
      });
}

asio::awaitable<void> Session::shard_main(std::shared_ptr<Shard> sh, std::string gtid,
                                          std::vector<binlogdata::TableLastPK> pks) {
  auto self = shared_from_this();
  Backend& be = srv_.backend_;
  std::optional<GtidSet> pos;
  if (gtid == "current") {
    auto cur = co_await be.current_position(sh->keyspace, sh->shard);
    if (!cur) co_return fail(*sh, cur.error());
    pos = *cur;
    shard_gtid(*sh)->set_gtid(pos->to_string());
    // The tablet reports its start position right away (GTID + OTHER).
    if (!co_await push_events(evlist(vgtid_event(*sh), make(binlogdata::OTHER, sh.get())), sh->shard)) co_return;
  } else if (!gtid.empty()) {
    // vttablet refuses a start position its server does not contain before reading any binlog
    // (vitessio/vitess go/vt/vttablet/tabletserver/vstreamer/uvstreamer.go,
    // setStreamStartPosition): a restore, a failover to a server with fewer transactions, a
    // position of another server, or of another flavor (MariaDB/…, FilePos/…: run() let only
    // those and valid MySQL56 positions through). The INVALID_ARGUMENT reaches the client as the
    // tablet said it (docs/emulator.md: vtgate would first try the shard's other tablets).
    auto parsed = GtidSet::parse(gtid);
    auto cur = co_await be.current_position(sh->keyspace, sh->shard);
    if (!cur) co_return fail(*sh, cur.error());
    if (!parsed || !cur->contains(*parsed)) {
      co_return stop(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "GTIDSet Mismatch: requested source position:" + (parsed ? parsed->to_string() : gtid) +
                           ", current target vrep position: " + cur->to_string()));
    }
    pos = *parsed;
  }
  if (gtid.empty() || !pks.empty()) {
    if (!co_await copy_phase(*sh, pos, std::move(pks))) co_return;
  }
  co_await replicate(*sh, *pos, std::nullopt, nullptr);
}

asio::awaitable<bool> Session::copy_phase(Shard& sh, std::optional<GtidSet>& pos,
                                          std::vector<binlogdata::TableLastPK> pks) {
  auto catalog = srv_.backend_.catalog();
  std::vector<std::string> tables;
  for (const auto& k : catalog) {
    if (k.name != sh.keyspace) continue;
    for (const auto& t : k.tables) {
      if (!table_selected(t->name)) continue;
      const auto& only = req_.flags().tables_to_copy();
      if (!only.empty() && std::find(only.begin(), only.end(), t->name) == only.end()) continue;
      tables.push_back(t->name);
    }
  }
  std::sort(tables.begin(), tables.end());
  CopyFilter filter;
  // Tables named in table_p_ks go first (they were in progress), then the others from scratch.
  for (const auto& table : tables) {
    std::optional<query::QueryResult> lastpk;
    for (const auto& pk : pks) {
      if (pk.table_name() == table && pk.has_lastpk() && pk.lastpk().rows_size() > 0) lastpk = pk.lastpk();
    }
    if (!co_await copy_table(sh, pos, table, lastpk, filter)) co_return false;
    filter.copied.insert(table);
  }
  auto done = make(binlogdata::COPY_COMPLETED, &sh);
  std::vector<binlogdata::VEvent> evs{done};
  // vtgate adds its own marker, without keyspace and shard, to the batch of the shard that
  // completes the set: once every shard of the VGTID has sent COPY_COMPLETED
  // (vstream_manager.go, isCopyFullyCompleted). A shard that started from a position never
  // copies, so a stream mixing both never gets the final marker.
  copy_completed_.insert(sh.keyspace + "/" + sh.shard);
  const bool all_copied = std::all_of(
      vgtid_.shard_gtids().begin(), vgtid_.shard_gtids().end(),
      [&](const binlogdata::ShardGtid& s) { return copy_completed_.count(s.keyspace() + "/" + s.shard()) > 0; });
  if (all_copied) {
    auto all = make(binlogdata::COPY_COMPLETED, nullptr);
    evs.push_back(all);
  }
  co_return co_await push_events(evs, sh.shard);
}

asio::awaitable<bool> Session::copy_table(Shard& sh, std::optional<GtidSet>& pos, const std::string& table,
                                          std::optional<query::QueryResult> lastpk, CopyFilter& filter) {
  Backend& be = srv_.backend_;
  filter.current = table;
  filter.current_lastpk = lastpk;
  // Catch up on what changed since the saved position (rows already copied only).
  if (pos) {
    auto cur = co_await be.current_position(sh.keyspace, sh.shard);
    if (!cur) co_return (fail(sh, cur.error()), false);
    if (!pos->contains(*cur) && !co_await replicate(sh, *pos, *cur, &filter)) co_return false;
    *pos = *cur;
  }
  // Pre-encoded mode: replay a whole table copy when the same snapshot was copied before.
  TableSchemaPtr schema;
  for (const auto& k : be.catalog()) {
    if (k.name != sh.keyspace) continue;
    for (const auto& t : k.tables) {
      if (t->name == table) schema = t;
    }
  }
  if (!schema) co_return (fail(sh, system_error("table " + table + " is not present in the database")), false);
  const bool use_cache = srv_.options_.pre_encoded && be.deterministic_copy();
  std::string key;
  std::shared_ptr<const VStreamServer::Impl::CachedTable> cached;
  GtidSet snapshot;
  std::unique_ptr<CopyCursor> cursor;
  if (use_cache) {
    auto cur = co_await be.current_position(sh.keyspace, sh.shard);
    if (!cur) co_return (fail(sh, cur.error()), false);
    snapshot = *cur;
    key = sh.keyspace + "|" + sh.shard + "|" + table + "|" + std::to_string(schema->version) + "|" +
          snapshot.to_string() + "|" + (lastpk ? lastpk->rows(0).SerializeAsString() : std::string()) + "|" +
          std::to_string(srv_.options_.copy_packet_bytes) +
          (req_.flags().exclude_keyspace_from_table_name() ? "|t" : "|kt");
    auto it = srv_.cache_.find(key);
    if (it != srv_.cache_.end()) {
      cached = it->second;
      ++srv_.stats_.cache_hits;
    }
  }
  if (!cached) {
    const query::Row* lp = lastpk ? &lastpk->rows(0) : nullptr;
    auto c = co_await be.open_copy(sh.keyspace, sh.shard, table, lp);
    if (!c) co_return (fail(sh, c.error()), false);
    cursor = std::move(*c);
    schema = cursor->schema();
    // Fast-forward: changes between our position and the snapshot, for rows already copied.
    if (pos && !pos->contains(cursor->position()) && !co_await replicate(sh, *pos, cursor->position(), &filter)) {
      co_return false;
    }
    snapshot = cursor->position();
  }
  pos = snapshot;
  auto* sg = shard_gtid(sh);
  sg->set_gtid(snapshot.to_string());
  // BEGIN, FIELD, VGTID (with the lastpk reached so far, if any)
  if (!co_await push_events(evlist(make(binlogdata::BEGIN, &sh), field_event(sh, *schema), vgtid_event(sh)), sh.shard))
    co_return false;
  sh.fields_sent[table] = schema->version;

  // The rowstreamer's pkfields carry a PK column's name and type only (vitessio/vitess
  // go/vt/vttablet/tabletserver/vstreamer/rowstreamer.go, streamQuery).
  query::QueryResult pk_template;
  for (std::size_t c : schema->pk_columns) {
    auto* f = pk_template.add_fields();
    f->set_name(schema->fields[c].name());
    f->set_type(schema->fields[c].type());
  }
  auto set_lastpk = [&](const query::Row& pkrow) {
    query::QueryResult qr = pk_template;
    *qr.add_rows() = pkrow;
    binlogdata::TableLastPK* slot = nullptr;
    for (auto& t : *sg->mutable_table_p_ks()) {
      if (t.table_name() == table) slot = &t;
    }
    if (!slot) {
      slot = sg->add_table_p_ks();
      slot->set_table_name(table);
    }
    *slot->mutable_lastpk() = qr;
    filter.current_lastpk = qr;
  };
  // One response per batch: [BEGIN (all but the first batch)] ROW... VGTID(lastpk) COMMIT.
  auto finish_batch = [&](Piece rows, const query::Row& pkrow, bool begin) -> asio::awaitable<bool> {
    set_lastpk(pkrow);
    PieceBuilder tail;
    tail.add(vgtid_event(sh));
    tail.add(make(binlogdata::COMMIT, &sh));
    Outgoing out;
    if (begin) {
      PieceBuilder head;
      head.add(make(binlogdata::BEGIN, &sh));
      out.pieces.push_back(head.take());
    }
    out.pieces.push_back(std::move(rows));
    out.pieces.push_back(tail.take());
    co_return co_await push(std::move(out), sh.shard);
  };

  bool first = true;
  if (cached) {
    for (const auto& b : *cached) {
      if (!co_await finish_batch(b.rows, b.lastpk, !first)) co_return false;
      first = false;
    }
  } else {
    auto recording = use_cache ? std::make_shared<VStreamServer::Impl::CachedTable>() : nullptr;
    const std::string tname = table_name(sh, table);
    for (;;) {
      PieceBuilder rows;
      query::Row last;
      std::size_t count = 0;
      while (rows.bytes.size() < srv_.options_.copy_packet_bytes) {
        // Ask for about as many rows as still fit in the packet (rows seen so far give the size).
        const std::size_t left = srv_.options_.copy_packet_bytes - rows.bytes.size();
        const std::size_t avg = count > 0 ? rows.bytes.size() / count : 0;
        const std::size_t want = avg == 0 ? 4 : std::clamp<std::size_t>(left / avg + 1, 1, 256);
        auto batch = co_await cursor->next(want);
        if (!batch) co_return (fail(sh, batch.error()), false);
        if (end_) co_return false;
        if (batch->empty()) break;
        for (auto& r : *batch) {
          // One ROW event per copied row, as the tablet's rowstreamer sends them.
          binlogdata::VEvent ev;
          ev.set_type(binlogdata::ROW);
          ev.set_keyspace(sh.keyspace);
          ev.set_shard(sh.shard);
          auto* re = ev.mutable_row_event();
          re->set_table_name(tname);
          re->set_keyspace(sh.keyspace);
          re->set_shard(sh.shard);
          *re->add_row_changes()->mutable_after() = r;
          rows.add(ev);
          ++count;
          last = std::move(r);
        }
      }
      if (count == 0) break;
      query::Row pkrow;
      {
        std::size_t off = 0;
        std::vector<std::pair<std::int64_t, std::size_t>> spans;
        for (int i = 0; i < last.lengths_size(); ++i) {
          spans.emplace_back(last.lengths(i), off);
          if (last.lengths(i) > 0) off += static_cast<std::size_t>(last.lengths(i));
        }
        for (std::size_t c : schema->pk_columns) {
          pkrow.add_lengths(spans[c].first);
          if (spans[c].first > 0)
            pkrow.mutable_values()->append(last.values(), spans[c].second, static_cast<std::size_t>(spans[c].first));
        }
      }
      Piece piece = rows.take();
      if (recording) recording->push_back({piece, pkrow});
      if (!co_await finish_batch(std::move(piece), pkrow, !first)) co_return false;
      first = false;
    }
    if (recording) srv_.cache_[key] = recording;
  }
  // Table done: its entry leaves table_p_ks (LASTPK completed → VGTID without it).
  auto& pks = *sg->mutable_table_p_ks();
  for (int i = 0; i < pks.size(); ++i) {
    if (pks[i].table_name() == table) {
      pks.DeleteSubrange(i, 1);
      break;
    }
  }
  co_return co_await push_events(evlist(make(binlogdata::BEGIN, &sh), vgtid_event(sh), make(binlogdata::COMMIT, &sh)),
                                 sh.shard);
}

asio::awaitable<bool> Session::replicate(Shard& sh, GtidSet pos, std::optional<GtidSet> until,
                                         const CopyFilter* copy_filter) {
  Backend& be = srv_.backend_;
  auto opened = co_await be.open_replication(sh.keyspace, sh.shard, pos);
  if (!opened) co_return (fail(sh, opened.error()), false);
  auto cursor = std::move(*opened);
  auto* sg = shard_gtid(sh);
  while (!end_) {
    if (until && pos.contains(*until)) co_return true;
    auto next = co_await cursor->next(srv_.options_.poll);
    if (!next) co_return (fail(sh, next.error()), false);
    if (end_) co_return false;
    if (!*next) continue;
    Transaction& tx = **next;
    pos = tx.position;
    auto stamp = [&](binlogdata::VEvent ev) {
      ev.set_timestamp(tx.timestamp);
      return ev;
    };
    std::vector<binlogdata::VEvent> evs;
    switch (tx.kind) {
      case Transaction::Kind::rows: {
        evs.push_back(stamp(make(binlogdata::BEGIN, &sh)));
        for (const auto& tr : tx.rows) {
          if (!table_selected(tr.schema->name)) continue;
          binlogdata::VEvent ev = stamp(make(binlogdata::ROW, &sh));
          auto* re = ev.mutable_row_event();
          re->set_table_name(table_name(sh, tr.schema->name));
          re->set_keyspace(sh.keyspace);
          re->set_shard(sh.shard);
          re->set_flags(1);  // STMT_END_F, as MySQL sets it on the last rows event of a statement
          for (const auto& ch : tr.changes) {
            if (!row_passes(*tr.schema, ch, copy_filter)) continue;
            auto* rc = re->add_row_changes();
            auto conv = [&](const query::Row& r) {
              return srv_.options_.enum_set_labels ? r : enum_set_to_numbers(r, *tr.schema);
            };
            if (ch.before) *rc->mutable_before() = conv(*ch.before);
            if (ch.after) *rc->mutable_after() = conv(*ch.after);
          }
          if (re->row_changes_size() == 0) continue;
          auto sent = sh.fields_sent.find(tr.schema->name);
          if (sent == sh.fields_sent.end() || sent->second != tr.schema->version) {
            evs.push_back(stamp(field_event(sh, *tr.schema)));
            sh.fields_sent[tr.schema->name] = tr.schema->version;
          }
          evs.push_back(std::move(ev));
        }
        sg->set_gtid(pos.to_string());
        evs.push_back(stamp(vgtid_event(sh)));
        evs.push_back(stamp(make(binlogdata::COMMIT, &sh)));
        break;
      }
      case Transaction::Kind::ddl: {
        sg->set_gtid(pos.to_string());
        evs.push_back(stamp(vgtid_event(sh)));
        const bool mine = tx.new_schema && table_selected(tx.new_schema->name);
        auto ev = stamp(make(mine ? binlogdata::DDL : binlogdata::OTHER, &sh));
        if (mine) {
          ev.set_statement(tx.statement);
          sh.fields_sent.erase(tx.new_schema->name);  // the next ROW of that table gets a FIELD
        }
        evs.push_back(std::move(ev));
        break;
      }
      case Transaction::Kind::other: {
        sg->set_gtid(pos.to_string());
        evs.push_back(stamp(vgtid_event(sh)));
        evs.push_back(stamp(make(binlogdata::OTHER, &sh)));
        break;
      }
      case Transaction::Kind::journal: {
        if (tx.journal) co_await on_journal(sh, *tx.journal, tx.timestamp, pos);
        co_return false;  // this shard's stream is over either way
      }
    }
    if (!co_await push_events(evs, sh.shard)) co_return false;
  }
  co_return false;
}

asio::awaitable<void> Session::on_journal(Shard& sh, const JournalInfo& j, std::int64_t ts, const GtidSet& pos) {
  // vitessio/vitess go/vt/vtgate/vstream_manager.go, streamFromTablet and getJournalEvent.
  auto* sg = shard_gtid(sh);
  const auto& flags = req_.flags();
  // A SHARDS journal is passed on, per participant as each reaches it, with the events that
  // follow it in the tablet's batch up to the COMMIT (the journal row's own transaction) when
  // stop_on_reshard or include_reshard_journal_events is set; otherwise vtgate keeps it.
  if (j.shards_migration && (flags.stop_on_reshard() || flags.include_reshard_journal_events())) {
    binlogdata::VEvent ev = make(binlogdata::JOURNAL, &sh);
    ev.set_timestamp(ts);
    auto* jr = ev.mutable_journal();
    jr->set_id(j.id);
    jr->set_migration_type(binlogdata::SHARDS);
    for (const auto& t : j.tables) jr->add_tables(t);
    jr->set_local_position(sg->gtid());
    for (const auto& t : j.targets) {
      auto* target = jr->add_shard_gtids();
      target->set_keyspace(t.keyspace);
      target->set_shard(t.shard);
      target->set_gtid(t.position.to_string());
    }
    for (const auto& p : j.participants) {
      auto* ks = jr->add_participants();
      ks->set_keyspace(sh.keyspace);
      ks->set_shard(p);
    }
    for (const auto& w : j.source_workflows) jr->add_source_workflows(w);
    sg->set_gtid(pos.to_string());  // the journal row's transaction
    auto begin = make(binlogdata::BEGIN, &sh);
    auto vgtid = vgtid_event(sh);
    auto commit = make(binlogdata::COMMIT, &sh);
    begin.set_timestamp(ts);
    vgtid.set_timestamp(ts);
    commit.set_timestamp(ts);
    if (!co_await push_events(evlist(begin, ev, vgtid, commit), sh.shard)) co_return;
  }
  // getJournalEvent ignores TABLES migrations (MoveTables): the stream of that shard goes on in
  // Vitess; the emulator's backends write no such journal.
  if (!j.shards_migration) co_return;

  // Every participant must be in this stream, else vtgate cannot migrate it: INTERNAL, not
  // retried (shouldRetry).
  std::set<std::string> in_stream;
  for (const auto& s : vgtid_.shard_gtids()) {
    if (s.keyspace() == sh.keyspace) in_stream.insert(s.shard());
  }
  std::size_t present = 0;
  for (const auto& p : j.participants) present += in_stream.count(p);
  if (present != j.participants.size()) {
    std::string parts, stream;
    for (const auto& p : j.participants) {
      parts += (parts.empty() ? "" : " ") + std::string("keyspace:\"") + sh.keyspace + "\" shard:\"" + p + "\"";
    }
    for (const auto& s : vgtid_.shard_gtids()) stream += (stream.empty() ? "" : " ") + go_text(s);
    const std::string tablet = tablet_of(sh.keyspace, sh.shard);
    const std::string at = go_text(*sg);
    stop(grpc::Status(grpc::StatusCode::INTERNAL,
                      "error starting stream from shard GTID " + at + ": error in vstream for " + sh.keyspace + "/" +
                          sh.shard + " on tablet " + tablet + ": error getting journal event for shard GTID " + at +
                          " on tablet " + tablet + ": not all journaling participants are in the stream: journal: [" +
                          parts + "], stream: [" + stream + "]"));
    co_return;
  }
  auto& arrived = journal_arrivals_[j.id];
  arrived.insert(sh.shard);
  if (arrived.size() < j.participants.size()) co_return;  // the last participant does the switch

  if (flags.stop_on_reshard()) {
    // No new streams; the participants' streams end (EOF) at least stopOnReshardDelay (500 ms)
    // after the journal, and the VStream ends once no other shard streams.
    bool others = false;
    for (const auto& s : vgtid_.shard_gtids()) {
      if (s.keyspace() != sh.keyspace ||
          std::find(j.participants.begin(), j.participants.end(), s.shard()) == j.participants.end()) {
        others = true;
      }
    }
    if (others) co_return;
    asio::steady_timer delay(srv_.io_, 500ms);
    co_await delay.async_wait(asio::as_tuple(use_awaitable));
    Outgoing end;
    end.end_after = true;
    co_await push(std::move(end), sh.shard);
    co_return;
  }
  // Migrate: replace the participants by the new shards and go on streaming from there.
  auto* list = vgtid_.mutable_shard_gtids();
  for (int i = list->size() - 1; i >= 0; --i) {
    const auto& s = (*list)[i];
    if (s.keyspace() == sh.keyspace &&
        std::find(j.participants.begin(), j.participants.end(), s.shard()) != j.participants.end()) {
      list->DeleteSubrange(i, 1);
    }
  }
  for (const auto& t : j.targets) {
    auto* s = list->Add();
    s->set_keyspace(t.keyspace);
    s->set_shard(t.shard);
    s->set_gtid(t.position.to_string());
    auto nsh = std::make_shared<Shard>();
    nsh->keyspace = t.keyspace;
    nsh->shard = t.shard;
    spawn_shard(nsh, t.position.to_string(), {});
  }
}

//---------------------------------------------------------------------------------------------

VStreamServer::VStreamServer(asio::io_context& io, Backend& backend, ServerOptions options)
    : impl_(std::make_unique<Impl>(io, backend, std::move(options))) {}

VStreamServer::~VStreamServer() = default;

sv::Result<int> VStreamServer::start() {
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (impl_->options_.tls) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({impl_->options_.tls->private_key, impl_->options_.tls->cert_chain});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  int port = 0;
  builder.AddListeningPort(impl_->options_.listen, creds, &port);
  builder.RegisterService(impl_.get());
  builder.SetMaxSendMessageSize(100 * 1024 * 1024);
  builder.SetMaxReceiveMessageSize(100 * 1024 * 1024);
  impl_->server_ = builder.BuildAndStart();
  if (!impl_->server_ || port == 0) {
    return sv::config_error("cannot listen on " + impl_->options_.listen);
  }
  return port;
}

void VStreamServer::shutdown() {
  if (!impl_->server_) return;
  // End every stream from the io thread, then let gRPC drain (with a deadline) from this thread.
  asio::post(impl_->io_, [impl = impl_.get()] {
    for (auto& w : impl->sessions_) {
      if (auto s = w.lock()) s->stop(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
    }
  });
  impl_->server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  impl_->server_.reset();
}

void VStreamServer::end_streams(EndMode mode) {
  for (auto it = impl_->sessions_.begin(); it != impl_->sessions_.end();) {
    if (auto s = it->lock()) {
      s->stop(end_status(mode, "stream ended by fault injection"), mode == EndMode::drop);
      ++it;
    } else {
      it = impl_->sessions_.erase(it);
    }
  }
}

void VStreamServer::set_connection_dropper(std::function<bool(const std::string& peer)> dropper) {
  impl_->dropper_ = std::move(dropper);
}

Faults& VStreamServer::faults() { return impl_->faults_; }
const ServerStats& VStreamServer::stats() const { return impl_->stats_; }
Backend& VStreamServer::backend() { return impl_->backend_; }

}  // namespace sv::emulator
