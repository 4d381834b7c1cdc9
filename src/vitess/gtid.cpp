// src/vitess: GTID set parsing, printing and set algebra.
#include "vitess/gtid.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <iterator>

namespace sv::vitess {
namespace {

constexpr std::uint64_t kMaxGno = 0x7fffffffffffffffULL;  // MySQL's GNO is a signed 64-bit int

// ASCII whitespace as Go's strings.TrimSpace sees it, which Vitess applies to every uuid set
// (go/mysql/replication/mysql56_gtid_set.go, ParseMysql56GTIDSet): \v and \f included.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a positive decimal transaction number; false on empty, non-digit or overflow.
bool parse_gno(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  // Leading zeros do not count toward the 19 digits (Go's strconv.ParseUint in Vitess accepts them).
  while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
  if (s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > kMaxGno) return false;
  out = v;
  return true;
}

// Inserts [first,last] into sorted, merged intervals, merging overlapping and adjacent ranges.
void insert_interval(std::vector<GtidInterval>& iv, std::uint64_t first, std::uint64_t last) {
  auto it = std::lower_bound(iv.begin(), iv.end(), first,
                             [](const GtidInterval& x, std::uint64_t f) { return x.last + 1 < f; });
  // `it` is the first interval that ends at or after first-1 (so it may touch or overlap).
  if (it == iv.end() || it->first > last + 1) {
    iv.insert(it, GtidInterval{first, last});
    return;
  }
  it->first = std::min(it->first, first);
  it->last = std::max(it->last, last);
  auto next = it + 1;
  while (next != iv.end() && next->first <= it->last + 1) {
    it->last = std::max(it->last, next->last);
    ++next;
  }
  iv.erase(it + 1, next);
}

// Is every number of `inner` inside `outer`? Both canonical.
bool intervals_contain(const std::vector<GtidInterval>& outer, const std::vector<GtidInterval>& inner) {
  auto o = outer.begin();
  for (const auto& i : inner) {
    while (o != outer.end() && o->last < i.first) ++o;
    if (o == outer.end() || o->first > i.first || o->last < i.last) return false;
  }
  return true;
}

}  // namespace

Result<Uuid> Uuid::parse(std::string_view text) {
  auto bad = [&] {
    return config_error(fmt::format("invalid server UUID '{}' in GTID set (expected 8-4-4-4-12 hex digits)", text));
  };
  if (text.size() != 36) return bad();
  Uuid u;
  std::size_t b = 0;
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return bad();
      ++i;
      continue;
    }
    int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    u.bytes[b++] = static_cast<std::uint8_t>(hi * 16 + lo);
    i += 2;
  }
  return u;
}

std::string Uuid::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[bytes[i] >> 4]);
    s.push_back(kHex[bytes[i] & 15]);
  }
  return s;
}

Result<GtidSet> GtidSet::parse(std::string_view text) {
  std::string_view body = trim(text);
  if (body.empty()) return config_error("empty GTID position");
  if (body == "current") return config_error("'current' is a VStream request keyword, not a GTID set");
  if (auto slash = body.find('/'); slash != std::string_view::npos) {
    std::string_view flavor = body.substr(0, slash);
    if (flavor != kFlavor) {
      return config_error(
          fmt::format("unsupported GTID flavor '{}' in position '{}' (only MySQL56 is supported)", flavor, text));
    }
    body = body.substr(slash + 1);
  }
  GtidSet set;
  while (true) {
    std::size_t comma = body.find(',');
    std::string_view block = trim(body.substr(0, comma));
    if (!block.empty()) {
      std::size_t colon = block.find(':');
      if (colon == std::string_view::npos) {
        return config_error(fmt::format("GTID block '{}' has no ':<interval>' part in '{}'", block, text));
      }
      auto uuid = Uuid::parse(trim(block.substr(0, colon)));
      if (!uuid) return config_error(uuid.error().message + fmt::format(" in '{}'", text));
      std::string_view rest = block.substr(colon + 1);
      while (true) {
        std::size_t next = rest.find(':');
        std::string_view iv = trim(rest.substr(0, next));
        std::size_t dash = iv.find('-');
        std::uint64_t first = 0, last = 0;
        bool ok = dash == std::string_view::npos
                      ? parse_gno(iv, first) && (last = first, true)
                      : parse_gno(trim(iv.substr(0, dash)), first) && parse_gno(trim(iv.substr(dash + 1)), last);
        if (!ok) {
          bool tagged = !iv.empty() && (std::isalpha(static_cast<unsigned char>(iv[0])) || iv[0] == '_');
          return config_error(fmt::format("invalid GTID interval '{}' in '{}'{}", iv, text,
                                          tagged ? " (tagged GTIDs are not supported)" : ""));
        }
        if (first == 0)
          return config_error(fmt::format("GTID interval '{}' starts at 0 in '{}' (numbers start at 1)", iv, text));
        if (first > last) return config_error(fmt::format("GTID interval '{}' is reversed in '{}'", iv, text));
        set.add(*uuid, first, last);
        if (next == std::string_view::npos) break;
        rest = rest.substr(next + 1);
      }
    }
    if (comma == std::string_view::npos) break;
    body = body.substr(comma + 1);
  }
  return set;
}

void GtidSet::add(const Uuid& uuid, std::uint64_t first, std::uint64_t last) {
  auto it =
      std::lower_bound(sids_.begin(), sids_.end(), uuid, [](const GtidSid& s, const Uuid& u) { return s.uuid < u; });
  if (it == sids_.end() || it->uuid != uuid) it = sids_.insert(it, GtidSid{uuid, {}});
  insert_interval(it->intervals, first, last);
}

void GtidSet::add(const GtidSet& other) {
  for (const auto& sid : other.sids_) {
    for (const auto& iv : sid.intervals) add(sid.uuid, iv.first, iv.last);
  }
}

bool GtidSet::contains(const GtidSet& other) const {
  auto mine = sids_.begin();
  for (const auto& sid : other.sids_) {
    while (mine != sids_.end() && mine->uuid < sid.uuid) ++mine;
    if (mine == sids_.end() || mine->uuid != sid.uuid) return false;
    if (!intervals_contain(mine->intervals, sid.intervals)) return false;
  }
  return true;
}

std::string GtidSet::to_set_string() const {
  std::string out;
  for (const auto& sid : sids_) {
    if (!out.empty()) out.push_back(',');
    out += sid.uuid.to_string();
    for (const auto& iv : sid.intervals) {
      if (iv.first == iv.last) {
        fmt::format_to(std::back_inserter(out), ":{}", iv.first);
      } else {
        fmt::format_to(std::back_inserter(out), ":{}-{}", iv.first, iv.last);
      }
    }
  }
  return out;
}

std::string GtidSet::to_string() const { return std::string(kFlavor) + "/" + to_set_string(); }

GtidSet set_union(const GtidSet& a, const GtidSet& b) {
  GtidSet out = a;
  out.add(b);
  return out;
}

Result<bool> position_contains(std::string_view a, std::string_view b) {
  auto pa = GtidSet::parse(a);
  if (!pa) return pa.error();
  auto pb = GtidSet::parse(b);
  if (!pb) return pb.error();
  return pa->contains(*pb);
}

}  // namespace sv::vitess
