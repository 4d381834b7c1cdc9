// src/emulator/mysql: MariaDB backend (see mariadb_backend.hpp).
#include "emulator/mysql/mariadb_backend.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "emulator/mysql/binlog_reader.hpp"
#include "emulator/mysql/snapshot_reader.hpp"

namespace sv::emulator::mysql {
namespace asio = boost::asio;

namespace {

class MariaCopyCursor final : public CopyCursor {
 public:
  MariaCopyCursor(MariaDbBackend& backend, std::unique_ptr<SnapshotReader> reader, GtidSet position)
      : backend_(backend), reader_(std::move(reader)), position_(std::move(position)), schema_(reader_->schema()) {}
  const GtidSet& position() const override { return position_; }
  const TableSchemaPtr& schema() const override { return schema_; }
  asio::awaitable<Result<std::vector<query::Row>>> next(std::size_t max_rows) override {
    SnapshotReader* r = reader_.get();
    // Named job and result: GCC 12 double-destroys temporaries inside `co_return co_await`.
    auto job = [r, max_rows] { return r->next(max_rows); };
    auto rows = co_await backend_.offload(std::move(job));
    co_return rows;
  }

 private:
  MariaDbBackend& backend_;
  std::unique_ptr<SnapshotReader> reader_;
  GtidSet position_;
  TableSchemaPtr schema_;
};

class MariaReplicationCursor final : public ReplicationCursor {
 public:
  MariaReplicationCursor(MariaDbBackend& backend, std::unique_ptr<BinlogReader> reader, std::string uuid,
                         std::string database)
      : backend_(backend), reader_(std::move(reader)), uuid_(std::move(uuid)), database_(std::move(database)) {}

  asio::awaitable<Result<std::optional<Transaction>>> next(std::chrono::milliseconds max_wait) override {
    BinlogReader* r = reader_.get();
    auto job = [r, max_wait] { return r->next(max_wait); };
    auto got = co_await backend_.offload(std::move(job));
    if (!got) co_return got.error();
    if (!*got) co_return std::optional<Transaction>{};
    BinlogTransaction& b = **got;
    Transaction t;
    t.position = position_for(uuid_, b.gtid.seq);
    t.timestamp = b.timestamp;
    if (b.is_ddl) {
      // DDL of another database or of a dropped table: the server sends OTHER (no new_schema).
      t.kind = Transaction::Kind::ddl;
      t.statement = std::move(b.statement);
      t.new_schema = b.new_schema;
    } else if (b.rows.empty()) {
      t.kind = Transaction::Kind::other;
    } else {
      t.kind = Transaction::Kind::rows;
      t.rows = std::move(b.rows);
    }
    co_return std::optional<Transaction>(std::move(t));
  }

 private:
  MariaDbBackend& backend_;
  std::unique_ptr<BinlogReader> reader_;
  std::string uuid_;
  std::string database_;
};

}  // namespace

MariaDbBackend::MariaDbBackend(asio::any_io_executor ex, MariaDbBackendOptions options)
    : ex_(std::move(ex)), options_(std::move(options)), pool_(options_.threads == 0 ? 16 : options_.threads) {
  for (const auto& s : options_.shards)
    shards_.push_back(
        ShardState{s, shard_uuid(options_.keyspace, s.name), std::make_shared<SchemaRegistry>(options_.keyspace)});
}

MariaDbBackend::~MariaDbBackend() {
  *alive_ = false;
  if (refresh_timer_) refresh_timer_->cancel();
  pool_.join();
}

std::string MariaDbBackend::uuid_of(const std::string& shard) const {
  for (const auto& s : shards_)
    if (s.config.name == shard) return s.uuid;
  return {};
}

ConnParams MariaDbBackend::params(const ShardState& s) const {
  ConnParams p = s.config.conn;
  p.database.clear();
  return p;
}

const MariaDbBackend::ShardState* MariaDbBackend::find(const std::string& keyspace, const std::string& shard) const {
  if (keyspace != options_.keyspace) return nullptr;
  for (const auto& s : shards_)
    if (s.config.name == shard) return &s;
  return nullptr;
}

Status MariaDbBackend::start() {
  for (auto& s : shards_) {
    auto c = Connection::open(params(s));
    if (!c) return c.error();
    auto all = s.schemas->reload_all(*c);
    if (!all) return all.error();
  }
  if (options_.catalog_refresh.count() > 0) {
    refresh_timer_ = std::make_unique<asio::steady_timer>(ex_);
    asio::co_spawn(ex_, refresh_loop(alive_), asio::detached);
  }
  return Ok{};
}

asio::awaitable<void> MariaDbBackend::refresh_loop(std::shared_ptr<bool> alive) {
  for (;;) {
    boost::system::error_code ec;
    refresh_timer_->expires_after(options_.catalog_refresh);
    co_await refresh_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive || ec) co_return;
    auto st = co_await refresh();
    if (!*alive) co_return;
    if (!st) spdlog::warn("mariadb backend: catalog refresh failed: {}", st.error().message);
  }
}

asio::awaitable<Status> MariaDbBackend::refresh() {
  // Copies only: the backend may go away while a job runs (the loop checks `alive` after).
  std::vector<std::pair<ConnParams, std::shared_ptr<SchemaRegistry>>> work;
  for (auto& s : shards_) work.emplace_back(params(s), s.schemas);
  for (auto& [p, reg] : work) {
    auto job = [p = p, reg = reg]() -> Status {
      auto c = Connection::open(p);
      if (!c) return c.error();
      auto all = reg->reload_all(*c);
      if (!all) return all.error();
      return Ok{};
    };
    auto st = co_await offload(std::move(job));
    if (!st) co_return st;
  }
  co_return Ok{};
}

std::vector<KeyspaceInfo> MariaDbBackend::catalog() const {
  KeyspaceInfo ks;
  ks.name = options_.keyspace;
  for (const auto& s : shards_) ks.shards.push_back(s.config.name);
  // Vitess keeps one schema per keyspace; shard 0 speaks for all (they are created alike).
  if (!shards_.empty()) {
    for (auto& t : shards_[0].schemas->all()) ks.tables.push_back(t);
  }
  return {ks};
}

asio::awaitable<Result<GtidSet>> MariaDbBackend::current_position(const std::string& keyspace,
                                                                  const std::string& shard) {
  const ShardState* s = find(keyspace, shard);
  if (s == nullptr) co_return config_error(fmt::format("unknown shard {}/{}", keyspace, shard));
  auto p = params(*s);
  const uint32_t domain = s->config.domain_id;
  const std::string uuid = s->uuid;
  auto job = [p, domain, uuid]() -> Result<GtidSet> {
    auto c = Connection::open(p);
    if (!c) return c.error();
    auto pos = c->scalar("SELECT @@GLOBAL.gtid_binlog_pos");
    if (!pos) return pos.error();
    auto seq = seq_in_gtid_list(pos->value_or(""), domain);
    if (!seq) return seq.error();
    return position_for(uuid, *seq);
  };
  auto position = co_await offload(std::move(job));
  co_return position;
}

asio::awaitable<Result<std::unique_ptr<CopyCursor>>> MariaDbBackend::open_copy(const std::string& keyspace,
                                                                               const std::string& shard,
                                                                               const std::string& table,
                                                                               const query::Row* lastpk) {
  const ShardState* s = find(keyspace, shard);
  if (s == nullptr) co_return config_error(fmt::format("unknown shard {}/{}", keyspace, shard));
  auto p = params(*s);
  auto reg = s->schemas;
  const uint32_t domain = s->config.domain_id;
  std::optional<query::Row> pk;
  if (lastpk != nullptr) pk = *lastpk;
  auto job = [p, reg, table, domain, pk]() { return SnapshotReader::open(p, reg, table, domain, pk ? &*pk : nullptr); };
  auto reader = co_await offload(std::move(job));
  if (!reader) co_return reader.error();
  GtidSet position = position_for(s->uuid, (*reader)->snapshot_seq());
  co_return std::unique_ptr<CopyCursor>(new MariaCopyCursor(*this, std::move(*reader), std::move(position)));
}

asio::awaitable<Result<std::unique_ptr<ReplicationCursor>>> MariaDbBackend::open_replication(
    const std::string& keyspace, const std::string& shard, const GtidSet& from) {
  const ShardState* s = find(keyspace, shard);
  if (s == nullptr) co_return config_error(fmt::format("unknown shard {}/{}", keyspace, shard));
  auto seq = seq_of_position(from, s->uuid);
  if (!seq) co_return seq.error();
  BinlogReader::Options o;
  o.conn = params(*s);
  o.schemas = s->schemas;
  o.domain_id = s->config.domain_id;
  o.server_id = s->config.server_id;
  o.start_seq = *seq;
  o.uuid = s->uuid;
  o.heartbeat = options_.heartbeat;
  auto job = [o]() { return BinlogReader::open(o); };
  auto reader = co_await offload(std::move(job));
  if (!reader) co_return reader.error();
  co_return std::unique_ptr<ReplicationCursor>(
      new MariaReplicationCursor(*this, std::move(*reader), s->uuid, options_.keyspace));
}

}  // namespace sv::emulator::mysql
