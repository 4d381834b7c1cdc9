// src/engine: ShardSource over the VStream gRPC client (see vstream_source.hpp).
#include "engine/vstream_source.hpp"

#include <boost/asio/this_coro.hpp>

#include <fmt/format.h>

#include <regex>
#include <string_view>

namespace sv::engine {

namespace asio = boost::asio;

namespace {

//! vtgate's answer when a stream that does not contain every shard of a reshard meets the
//! journal (vitessio/vitess go/vt/vtgate/vstream_manager.go, getJournalEvent: an UNKNOWN error
//! in older releases, INTERNAL in newer ones, so only the text identifies it).
constexpr std::string_view kJournalParticipants = "not all journaling participants are in the stream";

//! vttablet's answer to a select list naming a column its table does not have (vitessio/vitess
//! go/vt/vttablet/tabletserver/vstreamer/planbuilder.go, findColumn: FAILED_PRECONDITION
//! "column %s not found in table %s"), when the copy starts (rowstreamer.buildPlan) or at the
//! table's next binlog TABLE_MAP after the DDL (vstreamer.buildTablePlan). vtgate retries
//! FAILED_PRECONDITION on another tablet, then passes the error on with its tablet prefix.
const std::regex& missing_column_pattern() {
  static const std::regex re("column (`(?:[^`]|``)+`|\\S+) not found in table ");
  return re;
}

}  // namespace

SourceError to_source_error(const vitess::StreamError& error) {
  SourceError e;
  e.error = error.to_error();
  std::smatch m;
  if (error.message.find(kJournalParticipants) != std::string::npos) {
    e.cause = SourceCause::reshard_journal;
  } else if (error.code == grpc::StatusCode::FAILED_PRECONDITION &&
             std::regex_search(error.message, m, missing_column_pattern())) {
    e.cause = SourceCause::missing_column;
    std::string name = m[1].str();
    // sqlparser.String(IdentifierCI) backtick-quotes names that need it, doubling backticks.
    if (name.size() >= 2 && name.front() == '`') {
      std::string bare;
      for (std::size_t i = 1; i + 1 < name.size(); ++i) {
        bare.push_back(name[i]);
        if (name[i] == '`') ++i;
      }
      name = bare;
    }
    e.column = name;
  }
  return e;
}

namespace {

class GrpcEventStream final : public EventStream {
 public:
  explicit GrpcEventStream(vitess::VStream stream) : stream_(std::move(stream)) {}
  asio::awaitable<SourceItem> next() override {
    vitess::WireItem item = co_await stream_.next_wire();
    if (auto* r = std::get_if<vitess::WireResponse>(&item)) co_return SourceItem(std::move(*r));
    if (std::holds_alternative<vitess::StreamEof>(item)) co_return SourceItem(SourceEof{});
    co_return SourceItem(to_source_error(std::get<vitess::StreamError>(item)));
  }
  void cancel() override { stream_.cancel(); }

 private:
  vitess::VStream stream_;
};

}  // namespace

VStreamSource::VStreamSource(std::shared_ptr<vitess::VStreamClient> client, VStreamSourceOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

vtgate::VStreamRequest VStreamSource::build_request(const StreamRequest& request) const {
  std::vector<vitess::ShardStart> starts;
  for (const auto& s : request.shards) {
    vitess::ShardStart st;
    st.keyspace = request.keyspace;
    st.shard = s.shard;
    st.gtid = s.gtid;
    if (s.lastpk) {
      binlogdata::TableLastPK pk;
      pk.set_table_name(request.table);
      *pk.mutable_lastpk() = *s.lastpk;
      st.table_p_ks.push_back(std::move(pk));
    }
    starts.push_back(std::move(st));
  }
  vitess::VStreamRequestOptions ro = options_.request;
  ro.heartbeat_interval_seconds = request.heartbeat_interval_seconds;
  ro.stop_on_reshard = request.stop_on_reshard;
  std::vector<std::string> tables{request.table};
  std::vector<std::vector<std::string>> columns{request.columns};
  return vitess::build_vstream_request(starts, tables, ro, columns);
}

asio::awaitable<std::unique_ptr<EventStream>> VStreamSource::open(const StreamRequest& request) {
  auto ex = co_await asio::this_coro::executor;
  vitess::CallOptions call;
  call.idle_timeout = options_.idle_timeout;
  auto req = build_request(request);
  co_return std::make_unique<GrpcEventStream>(client_->open(ex, req, call));
}

asio::awaitable<Result<std::map<std::string, std::string>>> VStreamSource::current_positions(
    const std::string& keyspace, const std::string& table) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::string> tables{table};
  co_return co_await client_->peek_current_positions(ex, keyspace, tables, options_.request, options_.peek_timeout);
}

}  // namespace sv::engine
