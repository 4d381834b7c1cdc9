// tests/vitess: VStreamResponses on the wire for the raw walker's tests (test_raw_response.cpp,
// tests/engine/test_raw_decoder.cpp): a protobuf wire encoder of our own, so tests can write the
// encodings vtgate never sends but protobuf allows (unpacked or split lengths, repeated message
// fields that merge, unknown fields and groups, fields out of order); a seeded generator of random
// responses in such encodings; and both decoders reduced to one comparable form. The reference is
// always the generated parser run on the same bytes, never the generator's intent.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "binlogdata.pb.h"
#include "util/result.hpp"
#include "vitess/raw_response.hpp"
#include "vtgate.pb.h"

namespace wire {

inline void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline void tag(std::string& out, std::uint32_t field, std::uint32_t wire_type) {
  varint(out, (static_cast<std::uint64_t>(field) << 3) | wire_type);
}
inline void varint_field(std::string& out, std::uint32_t field, std::uint64_t v) {
  tag(out, field, 0);
  varint(out, v);
}
inline void bytes_field(std::string& out, std::uint32_t field, std::string_view b) {
  tag(out, field, 2);
  varint(out, b.size());
  out.append(b);
}
inline std::string packed_lengths(const std::vector<std::int64_t>& lengths, std::size_t from, std::size_t to) {
  std::string s;
  for (std::size_t i = from; i < to; ++i) varint(s, zigzag(lengths[i]));
  return s;
}

}  // namespace wire

namespace vstream_wire {

//! One row image as both decoders see it.
struct Image {
  bool present = false;
  std::vector<std::int64_t> lengths;
  std::string values;
  bool operator==(const Image&) const = default;
};

//! One event as both decoders see it: the header, and for ROW events the row changes; for the
//! others the event re-serialized by the generated class (so its bytes were found whole).
struct Event {
  std::int32_t type = 0;
  std::int64_t timestamp = 0;
  std::string keyspace;
  std::string shard;
  std::string table_name;
  std::vector<std::pair<Image, Image>> changes;
  std::string other;
  bool operator==(const Event&) const = default;
};

inline Image from_generated(bool present, const query::Row& row) {
  Image i;
  i.present = present;
  if (!present) return i;
  i.lengths.assign(row.lengths().begin(), row.lengths().end());
  i.values = row.values();
  return i;
}

//! The generated parser's view of `bytes`; nullopt when it rejects them.
inline std::optional<std::vector<Event>> decode_generated(std::string_view bytes) {
  vtgate::VStreamResponse r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  std::vector<Event> out;
  for (const auto& ev : r.events()) {
    Event e;
    e.type = static_cast<std::int32_t>(ev.type());
    e.timestamp = ev.timestamp();
    e.keyspace = ev.keyspace();
    e.shard = ev.shard();
    if (ev.type() == binlogdata::ROW) {
      e.table_name = ev.row_event().table_name();
      for (const auto& c : ev.row_event().row_changes()) {
        e.changes.emplace_back(from_generated(c.has_before(), c.before()), from_generated(c.has_after(), c.after()));
      }
    } else {
      e.other = ev.SerializeAsString();
    }
    out.push_back(std::move(e));
  }
  return out;
}

inline Image from_raw(const sv::vitess::raw::RowImage& image) {
  Image i;
  i.present = image.present;
  if (!image.present) return i;
  const char* p = image.row.lengths.data();
  const char* const end = p + image.row.lengths.size();
  for (std::size_t k = 0; k < image.row.count; ++k) {
    std::int64_t len = 0;
    p = sv::vitess::read_packed_length(p, end, len);
    if (p == nullptr) throw std::runtime_error("the walker counted more lengths than its bytes hold");
    i.lengths.push_back(len);
  }
  if (p != end) throw std::runtime_error("the walker's lengths hold more bytes than it counted");
  i.values = image.row.values;
  return i;
}

//! The raw walker's view of `bytes` (non-ROW events parsed from their slice, as a decoder would).
inline sv::Result<std::vector<Event>> decode_raw(std::string_view bytes) {
  sv::vitess::raw::ResponseReader reader(bytes);
  sv::vitess::raw::RowChangeReader rows;
  std::vector<Event> out;
  for (;;) {
    sv::vitess::raw::EventHeader h;
    auto more = reader.next(h);
    if (!more) return more.error();
    if (!*more) break;
    Event e;
    e.type = h.type;
    e.timestamp = h.timestamp;
    e.keyspace = h.keyspace;
    e.shard = h.shard;
    if (h.type == binlogdata::ROW) {
      // From the header (the decoder's way), and, for the same result, from the event's bytes.
      if (auto st = rows.open(h.bytes); !st) return st.error();
      const std::string from_bytes(rows.table_name());
      if (auto st = rows.open(h); !st) return st.error();
      e.table_name = rows.table_name();
      if (e.table_name != from_bytes) throw std::runtime_error("open(header) and open(bytes) name different tables");
      for (;;) {
        sv::vitess::raw::RowChangeView c;
        auto next = rows.next(c);
        if (!next) return next.error();
        if (!*next) break;
        e.changes.emplace_back(from_raw(c.before), from_raw(c.after));
      }
    } else {
      binlogdata::VEvent ev;
      if (!ev.ParseFromArray(h.bytes.data(), static_cast<int>(h.bytes.size()))) {
        return sv::system_error("the generated parser rejects an event the walker accepts");
      }
      e.other = ev.SerializeAsString();
    }
    out.push_back(std::move(e));
  }
  return out;
}

// ---- the seeded generator ------------------------------------------------------------------------

//! Random responses in every encoding protobuf accepts. Deterministic for a seed (the engine's
//! raw output only, no std distributions, whose results differ between standard libraries).
class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  //! How often (percent of row images) a row breaks the row-level rules on purpose.
  int broken_row_percent = 3;

  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(int percent) { return below(100) < static_cast<std::uint64_t>(percent); }

  //! Cell bytes: empty, ASCII digits, text with invalid UTF-8, binary with NULs, or long.
  std::string cell() {
    switch (below(6)) {
      case 0: return "";
      case 1: return std::to_string(static_cast<std::int64_t>(rng_()));
      case 2: return "h\xc3\xa9llo\xff\xfe";  // valid, then invalid UTF-8
      case 3: {
        std::string s;
        for (std::uint64_t i = below(12); i > 0; --i) s.push_back(static_cast<char>(below(256)));
        return s;
      }
      case 4: return std::string(static_cast<std::size_t>(130 + below(300)), 'x');  // lengths of two varint bytes
      default: return "2024-01-02 03:04:05.123456";
    }
  }

  //! A row image: lengths + values, in a random legal encoding, appended to `row_change` as one
  //! or (merged) two occurrences of `field`. Rarely it breaks the row-level rules on purpose
  //! (lengths that do not add up, -2): the wire is still valid, both decoders must agree on it.
  void image(std::string& row_change, std::uint32_t field, std::size_t columns) {
    std::vector<std::int64_t> lengths;
    std::string values;
    for (std::size_t i = 0; i < columns; ++i) {
      if (chance(20)) {
        lengths.push_back(-1);
        continue;
      }
      std::string c = cell();
      lengths.push_back(static_cast<std::int64_t>(c.size()));
      values += c;
    }
    if (chance(broken_row_percent) && !lengths.empty()) lengths[below(lengths.size())] = chance(50) ? -2 : 7;
    const int occurrences = chance(10) ? 2 : 1;
    const std::size_t split = lengths.empty() ? 0 : static_cast<std::size_t>(below(lengths.size() + 1));
    for (int k = 0; k < occurrences; ++k) {
      const std::size_t from = occurrences == 1 ? 0 : (k == 0 ? 0 : split);
      const std::size_t to = occurrences == 1 ? lengths.size() : (k == 0 ? split : lengths.size());
      std::string row;
      // values last wins: an earlier occurrence may carry junk values
      const bool values_here = k == occurrences - 1;
      if (values_here && chance(20)) wire::bytes_field(row, 2, "junk");
      if (values_here && chance(30)) wire::bytes_field(row, 2, values);
      lengths_field(row, lengths, from, to);
      if (!values_here && chance(50)) wire::bytes_field(row, 2, "junk");
      if (values_here) wire::bytes_field(row, 2, values);
      unknown(row);
      wire::bytes_field(row_change, field, row);
    }
  }

  std::string row_change(std::size_t columns) {
    std::string c;
    const int kind = static_cast<int>(below(4));  // insert, update, delete, neither
    if (chance(10)) unknown(c);
    if (kind == 1 || kind == 2) image(c, 1, columns);
    if (kind == 0 || kind == 1) image(c, 2, columns);
    if (chance(15)) {  // data_columns bitmap (RowChange 3): known to protobuf, skipped by the walker
      std::string bitmap;
      wire::varint_field(bitmap, 1, columns);
      wire::bytes_field(bitmap, 2, "\xff");
      wire::bytes_field(c, 3, bitmap);
    }
    return c;
  }

  std::string row_event_body(const std::string& table, std::size_t columns, std::size_t changes) {
    std::string re;
    if (chance(10)) wire::bytes_field(re, 1, "ks.other");  // the last table_name wins
    wire::bytes_field(re, 1, table);
    for (std::size_t i = 0; i < changes; ++i) wire::bytes_field(re, 2, row_change(columns));
    if (chance(30)) wire::bytes_field(re, 3, "ks");
    if (chance(30)) wire::bytes_field(re, 4, "-80");
    if (chance(20)) wire::varint_field(re, 5, 1);
    unknown(re);
    return re;
  }

  std::string event() {
    std::string ev;
    const std::int64_t ts =
        chance(10) ? -static_cast<std::int64_t>(below(1000)) : static_cast<std::int64_t>(below(2000000000));
    switch (below(10)) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4: {  // ROW, the hot path, in every encoding
        const std::string table = chance(80) ? "ks.t" : "t";
        const std::size_t columns = static_cast<std::size_t>(below(8));
        const std::size_t changes = static_cast<std::size_t>(below(5));
        if (chance(50)) wire::bytes_field(ev, 23, shard());
        if (chance(15)) {  // row_event in two occurrences: row changes appended
          wire::bytes_field(ev, 5, row_event_body(table, columns, changes));
          wire::varint_field(ev, 1, binlogdata::ROW);
          wire::bytes_field(ev, 5, row_event_body(table, columns, 1));
        } else {
          wire::varint_field(ev, 1, binlogdata::ROW);
          if (chance(80)) wire::varint_field(ev, 2, static_cast<std::uint64_t>(ts));
          wire::bytes_field(ev, 5, row_event_body(table, columns, changes));
        }
        if (chance(50)) wire::bytes_field(ev, 22, "ks");
        if (chance(20)) wire::varint_field(ev, 20, 1725982713403592000ULL);
        if (chance(10)) wire::bytes_field(ev, 23, shard());  // the last shard wins
        unknown(ev);
        return ev;
      }
      default: break;
    }
    binlogdata::VEvent e;
    e.set_timestamp(ts);
    e.set_keyspace("ks");
    e.set_shard(shard());
    switch (below(6)) {
      case 0: {
        e.set_type(binlogdata::FIELD);
        auto* fe = e.mutable_field_event();
        fe->set_table_name("ks.t");
        auto* f = fe->add_fields();
        f->set_name("id");
        f->set_type(query::INT64);
        f->set_column_type("bigint");
        break;
      }
      case 1: {
        e.set_type(binlogdata::VGTID);
        auto* sg = e.mutable_vgtid()->add_shard_gtids();
        sg->set_keyspace("ks");
        sg->set_shard(e.shard());
        sg->set_gtid("MySQL56/00000000-0000-0000-0000-000000000001:1-" + std::to_string(1 + below(100)));
        break;
      }
      case 2: e.set_type(binlogdata::COPY_COMPLETED); break;
      case 3: e.set_type(binlogdata::BEGIN); break;
      case 4: {
        e.set_type(binlogdata::JOURNAL);
        e.mutable_journal()->set_id(7);
        e.mutable_journal()->add_participants()->set_shard("-80");
        break;
      }
      default:
        e.set_type(static_cast<binlogdata::VEventType>(99));  // a type newer than our protos
        break;
    }
    if (chance(10)) {  // a ROW event's body on another type: only the type decides
      wire::bytes_field(ev, 5, row_event_body("ks.t", 1, 1));
    }
    ev += e.SerializeAsString();
    return ev;
  }

  //! One response of up to `max_events` events.
  std::string response(std::size_t max_events = 6) {
    std::string r;
    for (std::uint64_t n = below(max_events + 1); n > 0; --n) {
      wire::bytes_field(r, 1, event());
      if (chance(5)) unknown(r);
    }
    return r;
  }

 private:
  std::string shard() { return chance(50) ? "-80" : "80-"; }

  //! Row.lengths (field 1) for lengths[from, to): one packed chunk (vtgate's form), unpacked
  //! varints, several chunks, or a mix.
  void lengths_field(std::string& row, const std::vector<std::int64_t>& lengths, std::size_t from, std::size_t to) {
    switch (below(5)) {
      case 0:
        for (std::size_t i = from; i < to; ++i) wire::varint_field(row, 1, wire::zigzag(lengths[i]));
        break;
      case 1: {
        const std::size_t mid = from + static_cast<std::size_t>(below(to - from + 1));
        wire::bytes_field(row, 1, wire::packed_lengths(lengths, from, mid));
        for (std::size_t i = mid; i < to; ++i) wire::varint_field(row, 1, wire::zigzag(lengths[i]));
        break;
      }
      case 2: {
        const std::size_t mid = from + static_cast<std::size_t>(below(to - from + 1));
        wire::bytes_field(row, 1, wire::packed_lengths(lengths, from, mid));
        wire::bytes_field(row, 1, wire::packed_lengths(lengths, mid, to));
        break;
      }
      default:
        if (from != to || chance(50)) wire::bytes_field(row, 1, wire::packed_lengths(lengths, from, to));
        break;
    }
  }

  //! Maybe an unknown field of any wire type, groups included.
  void unknown(std::string& out) {
    if (!chance(25)) return;
    const std::uint32_t field = 1000 + static_cast<std::uint32_t>(below(100));
    switch (below(5)) {
      case 0: wire::varint_field(out, field, rng_()); break;
      case 1:
        wire::tag(out, field, 1);
        out.append("12345678");
        break;
      case 2:
        wire::tag(out, field, 5);
        out.append("1234");
        break;
      case 3: wire::bytes_field(out, field, "unknown"); break;
      default:  // a group holding a varint and a nested group
        wire::tag(out, field, 3);
        wire::varint_field(out, 1, 5);
        wire::tag(out, 2, 3);
        wire::tag(out, 2, 4);
        wire::tag(out, field, 4);
        break;
    }
  }

  std::mt19937_64 rng_;
};

}  // namespace vstream_wire
