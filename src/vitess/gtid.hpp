// src/vitess: GTID sets in Vitess's MySQL56 position format (`MySQL56/<uuid>:1-5:7-9,<uuid2>:1-3`).
// The engine stops an incremental read when the stream's position *contains* the stop position,
// so positions are compared as sets, never as strings.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace sv::vitess {

//! A server UUID (source_id of a GTID), kept as 16 raw bytes so ordering is cheap and canonical.
struct Uuid {
  std::array<std::uint8_t, 16> bytes{};

  //! Parses `8-4-4-4-12` hex (either case). Returns an error naming the offending text.
  static Result<Uuid> parse(std::string_view text);
  //! Lower-case `8-4-4-4-12` form.
  std::string to_string() const;

  auto operator<=>(const Uuid&) const = default;
  bool operator==(const Uuid&) const = default;
};

//! A closed range of transaction numbers [first, last], 1 <= first <= last.
struct GtidInterval {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  bool operator==(const GtidInterval&) const = default;
};

//! The transactions of one server: a UUID and its sorted, merged (non-adjacent) intervals.
struct GtidSid {
  Uuid uuid;
  std::vector<GtidInterval> intervals;
  bool operator==(const GtidSid&) const = default;
};

//! A set of GTIDs, always in canonical form: sids sorted by UUID, intervals ascending, merged
//! (overlapping and adjacent ranges joined), no sid without intervals.
class GtidSet {
 public:
  //! The flavor prefix Vitess uses for MySQL 5.6+ positions.
  static constexpr std::string_view kFlavor = "MySQL56";

  GtidSet() = default;

  //! Parses `MySQL56/<set>` or a bare `<set>` (as in @@gtid_executed). Whitespace around tokens
  //! is allowed and empty comma-separated blocks are skipped (MySQL does the same); `MySQL56/` alone
  //! is the empty set. Malformed input gives a config_error (positions usually come from the
  //! user's starting_gtids or saved state; callers re-classify server-sent text) naming the
  //! problem: the empty string, `current`, other flavors (`MariaDB/`, `FilePos/`), bad UUIDs,
  //! tagged GTIDs (`uuid:tag:1-5`), zero or reversed intervals, numbers beyond 2^63-1.
  static Result<GtidSet> parse(std::string_view text);

  //! `MySQL56/<canonical set>`, the form Vitess accepts as a VStream start position.
  std::string to_string() const;
  //! The canonical set without flavor (`uuid:1-5:7,uuid2:1-3`); empty string for the empty set.
  std::string to_set_string() const;

  //! Adds transactions [first, last] of `uuid` (first <= last, first >= 1), keeping canonical form.
  void add(const Uuid& uuid, std::uint64_t first, std::uint64_t last);
  //! Adds every transaction of `other`.
  void add(const GtidSet& other);

  //! True when every transaction of `other` is in this set (Vitess `AtLeast`).
  bool contains(const GtidSet& other) const;
  bool empty() const { return sids_.empty(); }
  const std::vector<GtidSid>& sids() const { return sids_; }

  bool operator==(const GtidSet&) const = default;

 private:
  std::vector<GtidSid> sids_;
};

//! a ⊇ b.
inline bool contains(const GtidSet& a, const GtidSet& b) { return a.contains(b); }
//! a ∪ b.
GtidSet set_union(const GtidSet& a, const GtidSet& b);

//! Convenience for positions kept as strings: does position `a` contain position `b`? Either
//! failing to parse is an error (the caller decides; the Go connector silently says "no").
Result<bool> position_contains(std::string_view a, std::string_view b);

}  // namespace sv::vitess
