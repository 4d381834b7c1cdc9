// src/emulator/synthetic_backend.cpp — serves the deterministic Dataset through the Backend seam.
#include "emulator/synthetic_backend.hpp"

#include <algorithm>
#include <cmath>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sv::emulator {
namespace asio = boost::asio;

namespace {

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class SyntheticCopyCursor final : public CopyCursor {
 public:
  SyntheticCopyCursor(const Dataset& ds, std::size_t table, std::string shard, std::uint64_t g, std::uint64_t after_key,
                      GtidSet position)
      : ds_(ds),
        table_(table),
        shard_(std::move(shard)),
        g_(g),
        next_key_(after_key + 1),
        end_key_(ds.max_key(table, g)),
        position_(std::move(position)),
        schema_(ds.schema(table, g)),
        range_(*Dataset::parse_shard(shard_)) {}

  const GtidSet& position() const override { return position_; }
  const TableSchemaPtr& schema() const override { return schema_; }

  asio::awaitable<sv::Result<std::vector<query::Row>>> next(std::size_t max_rows) override {
    std::vector<query::Row> rows;
    while (rows.size() < max_rows && next_key_ <= end_key_) {
      const std::uint64_t k = next_key_++;
      if (!range_.contains(ds_.keyspace_id(table_, k))) continue;
      auto gen = ds_.generation(table_, k, g_);
      if (!gen) continue;
      rows.push_back(ds_.row_at(table_, k, *gen, *schema_, ds_.last_write(table_, k, g_)));
    }
    co_return rows;
  }

 private:
  const Dataset& ds_;
  std::size_t table_;
  std::string shard_;
  std::uint64_t g_;
  std::uint64_t next_key_;
  std::uint64_t end_key_;
  GtidSet position_;
  TableSchemaPtr schema_;
  KeyRange range_;
};

class SyntheticReplicationCursor final : public ReplicationCursor {
 public:
  SyntheticReplicationCursor(SyntheticBackend& backend, std::string shard, std::size_t next)
      : backend_(backend), shard_(std::move(shard)), next_(next) {}

  asio::awaitable<sv::Result<std::optional<Transaction>>> next(std::chrono::milliseconds max_wait) override {
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
      const auto& log = backend_.binlog(shard_);  // also applies due timed writes
      if (next_ < log.size()) {
        co_return std::optional<Transaction>(backend_.transaction(shard_, next_++));
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) co_return std::optional<Transaction>();
      // Poll: writes arrive from the timed load or the control API; 5 ms keeps latency low and
      // costs nothing measurable per idle stream.
      timer.expires_after(std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(5)));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

 private:
  SyntheticBackend& backend_;
  std::string shard_;
  std::size_t next_;
};

}  // namespace

SyntheticBackend::SyntheticBackend(asio::any_io_executor ex, DatasetConfig config, WriteLoad load)
    : ex_(std::move(ex)), dataset_(std::move(config)), load_(load), load_start_(std::chrono::steady_clock::now()) {
  for (const auto& s : dataset_.config().shards) binlogs_[s];
}

void SyntheticBackend::append_op(std::uint64_t g) {
  Op o = dataset_.op(g);
  // Op g runs after g-1 ops: route with the shard set serving at that time.
  std::string shard = dataset_.shard_of(o.table, o.key, g - 1);
  binlogs_[shard].push_back({Entry::Kind::op, g, 0, now_seconds()});
}

void SyntheticBackend::sync() {
  if (load_.ops_per_second <= 0) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start_).count();
  std::uint64_t due = timed_base_ + static_cast<std::uint64_t>(std::floor(elapsed * load_.ops_per_second));
  if (load_.max_ops > 0) due = std::min(due, load_.max_ops);
  while (timed_done_ < due) {
    ++timed_done_;
    append_op(++ops_done_);
  }
}

void SyntheticBackend::apply_writes(std::uint64_t count) {
  sync();
  for (std::uint64_t i = 0; i < count; ++i) append_op(++ops_done_);
}

void SyntheticBackend::set_rate(double ops_per_second) {
  sync();
  timed_base_ = timed_done_;
  load_start_ = std::chrono::steady_clock::now();
  load_.ops_per_second = ops_per_second;
}

std::uint64_t SyntheticBackend::ops_done() {
  sync();
  return ops_done_;
}

const std::vector<SyntheticBackend::Entry>& SyntheticBackend::binlog(const std::string& shard) {
  sync();
  return binlogs_[shard];
}

bool SyntheticBackend::known_shard(const std::string& shard) const { return binlogs_.count(shard) != 0; }

GtidSet SyntheticBackend::position_after(const std::string& shard, std::size_t n) const {
  return GtidSet::single(dataset_.shard_uuid(shard), Dataset::kInitialSeq + n);
}

std::uint64_t SyntheticBackend::snapshot_g(const std::string& shard) {
  sync();
  auto it = retired_at_.find(shard);
  return it == retired_at_.end() ? ops_done_ : std::min(ops_done_, it->second);
}

Transaction SyntheticBackend::transaction(const std::string& shard, std::size_t index) const {
  const Entry& e = binlogs_.at(shard)[index];
  Transaction tx;
  tx.position = position_after(shard, index + 1);
  tx.timestamp = e.timestamp;
  switch (e.kind) {
    case Entry::Kind::op: {
      const Op o = dataset_.op(e.g);
      TableRows rows;
      rows.schema = dataset_.schema(o.table, e.g - 1);
      RowChange change;
      if (o.kind != OpKind::insert) {
        change.before =
            dataset_.row_at(o.table, o.key, o.gen_before, *rows.schema, dataset_.last_write(o.table, o.key, e.g - 1));
      }
      if (o.kind != OpKind::remove) {
        change.after = dataset_.row_at(o.table, o.key, o.gen_after, *rows.schema, e.g);
      }
      rows.changes.push_back(std::move(change));
      tx.kind = Transaction::Kind::rows;
      tx.rows.push_back(std::move(rows));
      break;
    }
    case Entry::Kind::ddl: {
      const auto& d = dataset_.ddls()[e.index];
      tx.kind = Transaction::Kind::ddl;
      tx.statement = d.statement;
      tx.new_schema = dataset_.schema(d.table, d.g);
      break;
    }
    case Entry::Kind::journal: {
      const auto& r = dataset_.reshards()[e.index];
      JournalInfo j;
      j.id = static_cast<std::int64_t>(1000 + e.index);
      j.shards_migration = true;
      for (const auto& s : r.to) {
        j.targets.push_back({dataset_.config().keyspace, s, position_after(s, 0)});
      }
      j.participants = r.from;
      j.source_workflows = {"reshard_" + std::to_string(e.index + 1)};
      tx.kind = Transaction::Kind::journal;
      tx.journal = std::move(j);
      break;
    }
  }
  return tx;
}

std::vector<KeyspaceInfo> SyntheticBackend::catalog() const {
  // const: the timed load is applied lazily by the non-const calls; the catalog only depends on
  // recorded history (DDLs, reshards), which is applied eagerly.
  KeyspaceInfo ks;
  ks.name = dataset_.config().keyspace;
  std::uint64_t g = ops_done_;
  ks.shards = dataset_.shards_at(g);
  for (std::size_t t = 0; t < dataset_.table_count(); ++t) ks.tables.push_back(dataset_.schema(t, g));
  std::sort(ks.tables.begin(), ks.tables.end(),
            [](const TableSchemaPtr& a, const TableSchemaPtr& b) { return a->name < b->name; });
  return {ks};
}

asio::awaitable<sv::Result<GtidSet>> SyntheticBackend::current_position(const std::string& keyspace,
                                                                        const std::string& shard) {
  if (keyspace != dataset_.config().keyspace || !known_shard(shard)) {
    co_return sv::config_error("unknown shard " + keyspace + "/" + shard);
  }
  co_return position_after(shard, binlog(shard).size());
}

asio::awaitable<sv::Result<std::unique_ptr<CopyCursor>>> SyntheticBackend::open_copy(const std::string& keyspace,
                                                                                     const std::string& shard,
                                                                                     const std::string& table,
                                                                                     const query::Row* lastpk) {
  auto t = dataset_.table_index(table);
  if (keyspace != dataset_.config().keyspace || !known_shard(shard) || !t) {
    co_return sv::config_error("unknown table " + keyspace + "/" + shard + "." + table);
  }
  std::uint64_t after = 0;
  if (lastpk) {
    auto k = dataset_.floor_key_of_pk(*t, *lastpk);
    if (!k) co_return sv::config_error("lastpk for table " + table + " does not match its primary key");
    after = *k;
  }
  const std::uint64_t g = snapshot_g(shard);
  GtidSet pos = position_after(shard, binlogs_[shard].size());
  co_return std::unique_ptr<CopyCursor>(
      std::make_unique<SyntheticCopyCursor>(dataset_, *t, shard, g, after, std::move(pos)));
}

asio::awaitable<sv::Result<std::unique_ptr<ReplicationCursor>>> SyntheticBackend::open_replication(
    const std::string& keyspace, const std::string& shard, const GtidSet& from) {
  if (keyspace != dataset_.config().keyspace || !known_shard(shard)) {
    co_return sv::config_error("unknown shard " + keyspace + "/" + shard);
  }
  const std::string uuid = dataset_.shard_uuid(shard);
  const std::size_t have = binlog(shard).size();
  const std::uint64_t n = from.last(uuid);
  // MySQL's own binlog-dump checks (errno 1236), as vstreamer wraps them (vitessio/vitess
  // go/vt/vttablet/tabletserver/vstreamer/vstreamer.go, wrapError); vtgate passes them on as
  // UNKNOWN. The server already refused positions ahead of the source (GTIDSet Mismatch).
  if (!position_after(shard, have).contains(from)) {
    co_return sv::system_error(
        mysql_binlog_error(from,
                           "Replica has more GTIDs than the source has, using the source's SERVER_UUID. This may "
                           "indicate that the end of the binary log was truncated or that the last binary log file "
                           "was lost"));
  }
  // The binlog starts after the schema setup (uuid:1-kInitialSeq): older positions are purged.
  if (n < Dataset::kInitialSeq || from != GtidSet::single(uuid, n)) {
    co_return sv::system_error(mysql_binlog_error(from, kPurgedBinlogs));
  }
  co_return std::unique_ptr<ReplicationCursor>(
      std::make_unique<SyntheticReplicationCursor>(*this, shard, static_cast<std::size_t>(n - Dataset::kInitialSeq)));
}

sv::Result<std::vector<ShardStart>> SyntheticBackend::reshard(const std::string& keyspace,
                                                              const std::vector<std::string>& new_shards) {
  if (keyspace != dataset_.config().keyspace) return sv::config_error("unknown keyspace " + keyspace);
  sync();
  const auto old = dataset_.shards_at(ops_done_);
  for (const auto& s : new_shards) {
    if (known_shard(s)) return sv::config_error("shard " + s + " already exists");
  }
  if (!dataset_.add_reshard(ops_done_, new_shards)) return sv::config_error("invalid shard names");
  const std::size_t idx = dataset_.reshards().size() - 1;
  for (const auto& s : old) {
    binlogs_[s].push_back({Entry::Kind::journal, ops_done_, idx, now_seconds()});
    retired_at_[s] = ops_done_;
  }
  std::vector<ShardStart> out;
  for (const auto& s : new_shards) {
    binlogs_[s];
    out.push_back({keyspace, s, position_after(s, 0)});
  }
  return out;
}

sv::Result<std::string> SyntheticBackend::alter_table(const std::string& keyspace, const std::string& table) {
  auto t = dataset_.table_index(table);
  if (keyspace != dataset_.config().keyspace || !t) return sv::config_error("unknown table " + keyspace + "." + table);
  sync();
  std::string stmt = dataset_.add_ddl(*t, ops_done_);
  const std::size_t idx = dataset_.ddls().size() - 1;
  for (const auto& s : dataset_.shards_at(ops_done_)) {
    binlogs_[s].push_back({Entry::Kind::ddl, ops_done_, idx, now_seconds()});
  }
  return stmt;
}

}  // namespace sv::emulator
