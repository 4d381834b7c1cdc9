//! src/emulator/gtid.hpp — MySQL56 GTID positions for the emulator (own code; the connector keeps
//! its own GTID code in src/vitess and the emulator must not depend on it).
//!
//! A position reads `MySQL56/<uuid>:<interval>[:<interval>...][,<uuid>:...]`, intervals `N` or
//! `N-M` (1 <= N <= M). GtidSet keeps uuids sorted and intervals merged, and prints them the way
//! Vitess does, so positions compare equal as strings iff they are equal as sets.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace sv::emulator {

//! Closed interval [first, last] of transaction numbers, 1 <= first <= last.
struct GtidInterval {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  bool operator==(const GtidInterval&) const = default;
};

//! A set of GTIDs (uuid → merged ascending intervals) with the MySQL56 text form.
class GtidSet {
 public:
  static constexpr std::string_view kFlavorPrefix = "MySQL56/";

  //! Parses `MySQL56/<set>`. Rejects a missing or other flavor, bad uuids, bad or reversed
  //! intervals. `MySQL56/` alone is the empty set. Errors are config_error with the reason.
  static sv::Result<GtidSet> parse(std::string_view position);
  //! Parses the part after the flavor prefix (`uuid:1-5,uuid2:3`).
  static sv::Result<GtidSet> parse_set(std::string_view set);
  //! `MySQL56/<uuid>:1-<last>` (the empty set when last == 0).
  static GtidSet single(std::string_view uuid, std::uint64_t last);

  //! True when `s` is a lower-case (or upper-case) 8-4-4-4-12 hex uuid.
  static bool valid_uuid(std::string_view s);

  //! Adds transactions [first, last] of `uuid` (merged with what is there). uuid is lower-cased.
  void add(std::string_view uuid, std::uint64_t first, std::uint64_t last);
  //! Adds one transaction.
  void add(std::string_view uuid, std::uint64_t seq) { add(uuid, seq, seq); }
  //! Adds every GTID of `other`.
  void add(const GtidSet& other);

  //! Every GTID of `other` is in this set (Vitess Position.AtLeast).
  bool contains(const GtidSet& other) const;
  //! One GTID is in the set.
  bool contains(std::string_view uuid, std::uint64_t seq) const;
  //! Highest transaction number of `uuid`, 0 if none.
  std::uint64_t last(std::string_view uuid) const;
  //! `contains(other) && *this != other` (what the Go connector calls "after").
  bool after(const GtidSet& other) const { return contains(other) && *this != other; }

  bool empty() const { return sets_.empty(); }
  const std::map<std::string, std::vector<GtidInterval>>& sets() const { return sets_; }

  //! The set without the flavor: `uuid:1-5:7,uuid2:1-3`.
  std::string set_string() const;
  //! `MySQL56/` + set_string().
  std::string to_string() const;

  bool operator==(const GtidSet&) const = default;

 private:
  std::map<std::string, std::vector<GtidInterval>> sets_;
};

//! MySQL's errno 1236 text for a position whose binlogs were purged (MySQL 8.0.26+ wording, the
//! variant for sets too long to print).
inline constexpr std::string_view kPurgedBinlogs =
    "Cannot replicate because the source purged required binary logs. Replicate the missing "
    "transactions from elsewhere, or provision a new replica from backup. Consider increasing the "
    "source's binary log expiration period. The GTID sets and the missing purged transactions are "
    "too long to print in this message. For more information, please see the source's error log "
    "or the manual for GTID_SUBTRACT";

//! A MySQL binlog-dump error (errno 1236) as vttablet's vstreamer reports it:
//! `stream (at source tablet) error @ <set>: <text> (errno 1236) (sqlstate HY000)`.
std::string mysql_binlog_error(const GtidSet& position, std::string_view text);

}  // namespace sv::emulator
