// src/emulator/vstream_session.hpp — internal to the VStream service (vstream_*.cpp): the gRPC
// reactor of one stream, VStreamServer::Impl, the Session class (one VStream call) and the small
// types and helpers its files share (response encoding, PK comparison, ENUM/SET numbering).
#pragma once

#include "emulator/vstream_server.hpp"
#include "emulator/vtgate_errors.hpp"

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

namespace detail {

std::int64_t now_ns();
void put_varint(std::string& out, std::uint64_t v);

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

grpc::ByteBuffer to_buffer(const Outgoing& out, std::size_t max_events);

bool is_integral(query::Type t);
bool is_unsigned(query::Type t);
//! Compares two values of a column type the way MySQL orders PKs (numbers numerically).
int compare_value(query::Type type, const std::string& a, const std::string& b);

//! Labels → 1-based index (ENUM) or bitmask (SET), as vtgates before v20 sent them.
query::Row enum_set_to_numbers(const query::Row& row, const TableSchema& schema);

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
  //! The filter's select list (`SELECT `a`, b FROM t`), names as written; nullopt = every column
  //! (`SELECT * FROM t`, an empty filter, a /regex rule, or a filter the emulator does not parse,
  //! such as one with a WHERE clause: those were always streamed whole).
  std::optional<std::vector<std::string>> columns;
  bool matches(const std::string& table) const { return re ? std::regex_match(table, *re) : table == match; }
};

//! The select list of a rule's filter: `SELECT <*|col, col…> FROM <table>` (keywords in any case,
//! identifiers bare or backtick-quoted with doubled backticks); nullopt for `*` or any other text.
std::optional<std::vector<std::string>> parse_select_list(std::string_view filter);

//! Which of a table's columns a stream sends, in select order; nullopt = all of them.
using Projection = std::optional<std::vector<std::size_t>>;

//! The projection of `rule` onto `schema`, as vttablet's vstreamer plans it (vitessio/vitess
//! go/vt/vttablet/tabletserver/vstreamer/planbuilder.go, analyzeExpr/findColumn: names match
//! case-insensitively; a name the table lacks is FAILED_PRECONDITION "column X not found in
//! table T", X as sqlparser prints an identifier: bare, or backtick-quoted when it needs it).
sv::Result<Projection> project_schema(const Rule& rule, const TableSchema& schema);
//! The columns of `row` that `p` selects (lengths and values), or `row` itself for nullopt.
query::Row project_row(const query::Row& row, const Projection& p);

}  // namespace detail

using detail::compare_value;
using detail::enum_set_to_numbers;
using detail::evlist;
using detail::go_text;
using detail::kCell;
using detail::now_ns;
using detail::Outgoing;
using detail::Piece;
using detail::PieceBuilder;
using detail::project_row;
using detail::project_schema;
using detail::Projection;
using detail::Rule;
using detail::to_buffer;
using detail::to_status;
using detail::vtgate_shard_error;

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
    std::map<std::string, Projection> projections;     // table → its columns in that FIELD
  };
  //! What a catch-up / fast-forward passes: copied tables fully; a table whose copy has started
  //! (the current one, or one the request resumes with a lastpk in table_p_ks) up to its lastpk;
  //! nothing of a table not copied yet (its copy reads a later snapshot). vttablet sends every
  //! event of a table with a lastpk (vitessio/vitess go/vt/vttablet/tabletserver/vstreamer/
  //! uvstreamer.go, shouldSendEventForTable); the rows after lastpk it adds come again in the copy.
  struct CopyFilter {
    std::set<std::string> copied;
    std::map<std::string, query::QueryResult> lastpks;  // table → its lastpk (one row)
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
  binlogdata::VEvent field_event(const Shard& sh, const TableSchema& schema, const Projection& p) const;
  //! The first rule matching `table` (vstreamer's buildPlan takes the first), or nullptr.
  const Rule* rule_for(const std::string& table) const;
  //! project_schema for the rule of `schema`'s table; on an unknown column the shard's stream
  //! fails as vtgate passes the tablet's error on, and the result is nullopt.
  std::optional<Projection> projection_or_fail(Shard& sh, const TableSchema& schema);
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

}  // namespace sv::emulator
