//! src/emulator/synthetic_backend.hpp — a Backend that serves a Dataset (dataset.hpp) with an
//! optional deterministic write load, plus reshard and DDL faults.
//!
//! Writes are the Dataset's global op sequence. They happen either at a steady rate (ops per
//! second since start) or on demand (apply_writes, used by the control API and tests). Each op is
//! appended to the binlog of the shard that owns the row at that time; a shard's position is
//! `<uuid>:1-<Dataset::kInitialSeq + binlog length>`.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "emulator/backend.hpp"
#include "emulator/dataset.hpp"

namespace sv::emulator {

//! Write load settings.
struct WriteLoad {
  double ops_per_second = 0;  //!< 0 = no timed load
  std::uint64_t max_ops = 0;  //!< stop the timed load after this many ops (0 = unbounded)
};

class SyntheticBackend final : public Backend {
 public:
  SyntheticBackend(boost::asio::any_io_executor ex, DatasetConfig config, WriteLoad load);

  std::string name() const override { return "synthetic"; }
  std::vector<KeyspaceInfo> catalog() const override;
  boost::asio::awaitable<sv::Result<GtidSet>> current_position(const std::string& keyspace,
                                                               const std::string& shard) override;
  boost::asio::awaitable<sv::Result<std::unique_ptr<CopyCursor>>> open_copy(const std::string& keyspace,
                                                                            const std::string& shard,
                                                                            const std::string& table,
                                                                            const query::Row* lastpk) override;
  boost::asio::awaitable<sv::Result<std::unique_ptr<ReplicationCursor>>> open_replication(const std::string& keyspace,
                                                                                          const std::string& shard,
                                                                                          const GtidSet& from) override;
  bool deterministic_copy() const override { return true; }
  sv::Result<std::vector<ShardStart>> reshard(const std::string& keyspace,
                                              const std::vector<std::string>& new_shards) override;
  sv::Result<std::string> alter_table(const std::string& keyspace, const std::string& table) override;

  //! Applies `count` ops now (on top of the timed load).
  void apply_writes(std::uint64_t count);
  //! Changes the timed load rate from now on (ops already due stay applied).
  void set_rate(double ops_per_second);
  //! Global ops applied so far (after catching up with the timed load).
  std::uint64_t ops_done();
  const Dataset& dataset() const { return dataset_; }

  //! One binlog entry of a shard.
  struct Entry {
    enum class Kind { op, ddl, journal } kind = Kind::op;
    std::uint64_t g = 0;         //!< op number, or op count at which the DDL/journal happened
    std::size_t index = 0;       //!< ddl / reshard index in the dataset history
    std::int64_t timestamp = 0;  //!< commit time, Unix seconds
  };
  //! Binlog of a shard (for tests and status).
  const std::vector<Entry>& binlog(const std::string& shard);
  //! Builds the Transaction of a binlog entry (position = after it).
  Transaction transaction(const std::string& shard, std::size_t index) const;
  //! The shard's position after its first n binlog entries.
  GtidSet position_after(const std::string& shard, std::size_t n) const;
  //! Op count whose state a snapshot of `shard` reflects now (frozen for retired shards).
  std::uint64_t snapshot_g(const std::string& shard);

 private:
  void sync();  // applies ops that the timed load made due
  void append_op(std::uint64_t g);
  bool known_shard(const std::string& shard) const;

  boost::asio::any_io_executor ex_;
  Dataset dataset_;
  WriteLoad load_;
  std::chrono::steady_clock::time_point load_start_;
  std::uint64_t timed_base_ = 0;  // timed ops applied before load_start_ (after set_rate)
  std::uint64_t timed_done_ = 0;  // timed ops applied
  std::uint64_t ops_done_ = 0;    // total ops applied
  std::map<std::string, std::vector<Entry>> binlogs_;
  std::map<std::string, std::uint64_t> retired_at_;  // shard → op count when it stopped serving
};

}  // namespace sv::emulator
