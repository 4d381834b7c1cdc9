// src/engine: ShardSource over the VStream gRPC client (see vstream_source.hpp).
#include "engine/vstream_source.hpp"

#include <boost/asio/this_coro.hpp>

#include <fmt/format.h>

#include <string_view>

namespace sv::engine {

namespace asio = boost::asio;

namespace {

//! vtgate's answer when a stream that does not contain every shard of a reshard meets the
//! journal (vitessio/vitess go/vt/vtgate/vstream_manager.go, getJournalEvent: an UNKNOWN error
//! in older releases, INTERNAL in newer ones, so only the text identifies it).
constexpr std::string_view kJournalParticipants = "not all journaling participants are in the stream";

}  // namespace

SourceError to_source_error(const vitess::StreamError& error) {
  SourceError e;
  e.error = error.to_error();
  if (error.message.find(kJournalParticipants) != std::string::npos) {
    e.cause = SourceCause::reshard_journal;
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
  return vitess::build_vstream_request(starts, tables, ro);
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
