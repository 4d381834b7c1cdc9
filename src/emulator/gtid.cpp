// src/emulator/gtid.cpp — MySQL56 GTID set parsing, merging and printing.
#include "emulator/gtid.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sv::emulator {
namespace {

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A transaction number (GNO) is a signed 64-bit integer in MySQL, and Vitess parses interval ends
// with strconv.ParseUint(s, 10, 63) (go/mysql/replication/mysql56_gtid_set.go, parseInterval), so a
// number beyond 2^63-1 is refused as it is by a real vtgate (and by the connector's parser).
constexpr std::uint64_t kMaxGno = 0x7fffffffffffffffULL;

bool parse_gno(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out <= kMaxGno;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

bool GtidSet::valid_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

sv::Result<GtidSet> GtidSet::parse(std::string_view position) {
  std::size_t slash = position.find('/');
  if (slash == std::string_view::npos) {
    return sv::config_error("position '" + std::string(position) + "' has no flavor prefix (expected MySQL56/...)");
  }
  std::string_view flavor = position.substr(0, slash);
  if (flavor != "MySQL56") {
    return sv::config_error("position '" + std::string(position) + "' has unsupported flavor '" + std::string(flavor) +
                            "'");
  }
  return parse_set(position.substr(slash + 1));
}

sv::Result<GtidSet> GtidSet::parse_set(std::string_view text) {
  GtidSet set;
  text = trim(text);
  if (text.empty()) return set;
  for (std::string_view block : split(text, ',')) {
    block = trim(block);
    auto parts = split(block, ':');
    if (parts.size() < 2 || !valid_uuid(parts[0])) {
      return sv::config_error("invalid GTID set element '" + std::string(block) + "'");
    }
    for (std::size_t i = 1; i < parts.size(); ++i) {
      std::string_view iv = parts[i];
      std::size_t dash = iv.find('-');
      std::uint64_t first = 0;
      std::uint64_t last = 0;
      bool ok = dash == std::string_view::npos
                    ? parse_gno(iv, first) && (last = first, true)
                    : parse_gno(iv.substr(0, dash), first) && parse_gno(iv.substr(dash + 1), last);
      if (!ok || first == 0 || last < first) {
        return sv::config_error("invalid GTID interval '" + std::string(iv) + "' in '" + std::string(block) + "'");
      }
      set.add(parts[0], first, last);
    }
  }
  return set;
}

GtidSet GtidSet::single(std::string_view uuid, std::uint64_t last) {
  GtidSet set;
  if (last > 0) set.add(uuid, 1, last);
  return set;
}

void GtidSet::add(std::string_view uuid, std::uint64_t first, std::uint64_t last) {
  if (first == 0 || last < first) return;
  auto& ivs = sets_[lower(uuid)];
  ivs.push_back({first, last});
  std::sort(ivs.begin(), ivs.end(), [](const GtidInterval& a, const GtidInterval& b) { return a.first < b.first; });
  std::vector<GtidInterval> merged;
  for (const auto& iv : ivs) {
    // Adjacent intervals merge too: 1-5 and 6-9 print as 1-9, as Vitess does.
    if (!merged.empty() && iv.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, iv.last);
    } else {
      merged.push_back(iv);
    }
  }
  ivs = std::move(merged);
}

void GtidSet::add(const GtidSet& other) {
  for (const auto& [uuid, ivs] : other.sets_) {
    for (const auto& iv : ivs) add(uuid, iv.first, iv.last);
  }
}

bool GtidSet::contains(std::string_view uuid, std::uint64_t seq) const {
  auto it = sets_.find(lower(uuid));
  if (it == sets_.end()) return false;
  for (const auto& iv : it->second) {
    if (seq >= iv.first && seq <= iv.last) return true;
  }
  return false;
}

bool GtidSet::contains(const GtidSet& other) const {
  for (const auto& [uuid, ivs] : other.sets_) {
    auto it = sets_.find(uuid);
    if (it == sets_.end()) return false;
    for (const auto& need : ivs) {
      bool covered = std::any_of(it->second.begin(), it->second.end(), [&](const GtidInterval& have) {
        return need.first >= have.first && need.last <= have.last;
      });
      if (!covered) return false;
    }
  }
  return true;
}

std::uint64_t GtidSet::last(std::string_view uuid) const {
  auto it = sets_.find(lower(uuid));
  if (it == sets_.end() || it->second.empty()) return 0;
  return it->second.back().last;
}

std::string GtidSet::set_string() const {
  std::string out;
  for (const auto& [uuid, ivs] : sets_) {
    if (!out.empty()) out += ',';
    out += uuid;
    for (const auto& iv : ivs) {
      out += ':';
      out += std::to_string(iv.first);
      if (iv.last != iv.first) {
        out += '-';
        out += std::to_string(iv.last);
      }
    }
  }
  return out;
}

std::string GtidSet::to_string() const { return std::string(kFlavorPrefix) + set_string(); }

std::string mysql_binlog_error(const GtidSet& position, std::string_view text) {
  // vstreamer.go wrapError: "stream (at source tablet) error @ %v: %v"; the SQL error prints its
  // number and state after the text (sqlerror.SQLError.Error()).
  return "stream (at source tablet) error @ " + position.set_string() + ": " + std::string(text) +
         " (errno 1236) (sqlstate HY000)";
}

}  // namespace sv::emulator
