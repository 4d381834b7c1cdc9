// src/vitess: the VStreamResponse wire walker (see raw_response.hpp). Field numbers are Vitess's
// (subprojects/vitess-proto; /work/shared/docs/vstream-reference.md §2): VStreamResponse.events 1;
// VEvent type 1, timestamp 2, row_event 5, keyspace 22, shard 23; RowEvent table_name 1,
// row_changes 2; RowChange before 1, after 2; Row lengths 1 (sint64, packed), values 2.
#include "vitess/raw_response.hpp"

#include <fmt/format.h>

namespace sv::vitess::raw {
namespace {

constexpr std::uint32_t kVarint = 0;
constexpr std::uint32_t kFixed64 = 1;
constexpr std::uint32_t kLen = 2;
constexpr std::uint32_t kStartGroup = 3;
constexpr std::uint32_t kEndGroup = 4;
constexpr std::uint32_t kFixed32 = 5;
//! Unknown groups nest at most this deep (protobuf's own recursion limit is 100).
constexpr int kMaxGroupDepth = 64;

//! One field read from the wire. Internal errors are static texts (nullptr = fine), turned into
//! an Error only at the API, so the per-field path builds no strings.
struct Field {
  std::uint32_t number = 0;
  std::uint32_t wire = 0;
  std::uint64_t varint = 0;  //!< wire type 0: the value
  std::string_view bytes;    //!< wire type 2: the payload; wire type 0: the varint's own bytes
};

using Fail = const char*;

//! A varint at `p`; nullptr when the bytes end inside it or it is longer than ten bytes. Bits past
//! the 64th are dropped, as protobuf drops them.
inline const char* read_varint(const char* p, const char* end, std::uint64_t& out) {
  if (p < end && static_cast<std::uint8_t>(*p) < 0x80) {
    out = static_cast<std::uint8_t>(*p);
    return p + 1;
  }
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const auto byte = static_cast<std::uint8_t>(*p++);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (byte < 0x80) {
      out = v;
      return p;
    }
  }
  return nullptr;
}

Fail read_any(const char*& p, const char* end, Field& f, int depth);

//! Skips an unknown group up to its matching end-group tag.
Fail skip_group(const char*& p, const char* end, std::uint32_t number, int depth) {
  if (depth >= kMaxGroupDepth) return "groups nested too deep";
  for (;;) {
    if (p >= end) return "a group without its end-group tag";
    Field inner;
    if (Fail e = read_any(p, end, inner, depth + 1)) return e;
    if (inner.wire == kEndGroup) return inner.number == number ? nullptr : "an end-group tag of another group";
  }
}

//! Reads the field at `p` (which must be before `end`) and moves past it.
Fail read_any(const char*& p, const char* end, Field& f, int depth) {
  std::uint64_t tag = 0;
  const char* q = read_varint(p, end, tag);
  if (q == nullptr) return "a tag cut off or longer than ten bytes";
  if (tag > 0xffffffffu) return "a tag beyond 32 bits";
  f.number = static_cast<std::uint32_t>(tag >> 3);
  f.wire = static_cast<std::uint32_t>(tag & 7);
  if (f.number == 0) return "field number 0";
  switch (f.wire) {
    case kVarint: {
      const char* v = read_varint(q, end, f.varint);
      if (v == nullptr) return "a varint cut off or longer than ten bytes";
      f.bytes = std::string_view(q, static_cast<std::size_t>(v - q));
      q = v;
      break;
    }
    case kFixed64:
      if (end - q < 8) return "a fixed64 value past the end";
      q += 8;
      break;
    case kFixed32:
      if (end - q < 4) return "a fixed32 value past the end";
      q += 4;
      break;
    case kLen: {
      std::uint64_t len = 0;
      q = read_varint(q, end, len);
      if (q == nullptr) return "a length cut off or longer than ten bytes";
      if (len > static_cast<std::uint64_t>(end - q)) return "a length past the end";
      f.bytes = std::string_view(q, static_cast<std::size_t>(len));
      q += len;
      break;
    }
    case kStartGroup:
      if (Fail e = skip_group(q, end, f.number, depth)) return e;
      break;
    case kEndGroup: break;  // the caller decides: the end of a group being skipped, or an error
    default: return "wire type 6 or 7";
  }
  p = q;
  return nullptr;
}

//! The next field of a message (groups skipped whole); an end-group tag here has no group.
inline Fail next_field(const char*& p, const char* end, Field& f) {
  if (Fail e = read_any(p, end, f, 0)) return e;
  return f.wire == kEndGroup ? "an end-group tag outside a group" : nullptr;
}

//! The number of varints in a packed field; nullptr-free only when they are all whole.
Fail count_varints(std::string_view packed, std::size_t& count) {
  int continuation = 0;
  for (char c : packed) {
    if (static_cast<std::uint8_t>(c) < 0x80) {
      ++count;
      continuation = 0;
    } else if (++continuation >= 10) {
      return "a packed varint longer than ten bytes";
    }
  }
  return continuation == 0 ? nullptr : "a packed varint cut off";
}

Error malformed(const char* message, Fail what) {
  return system_error(fmt::format("malformed VStream response: {} in a {}", what, message));
}

Error wrong_wire(const char* message, const char* field, std::uint32_t wire) {
  return system_error(fmt::format("malformed VStream response: {}.{} has wire type {}", message, field, wire));
}

constexpr const char* kResponse = "vtgate.VStreamResponse";
constexpr const char* kEvent = "binlogdata.VEvent";
constexpr const char* kRowEvent = "binlogdata.RowEvent";
constexpr const char* kRowChange = "binlogdata.RowChange";
constexpr const char* kRow = "query.Row";

}  // namespace

// ---- ResponseReader ---------------------------------------------------------------------------

Result<bool> ResponseReader::next(EventHeader& out) {
  const char* p = p_;  // moved on only past a good event, so an error repeats
  while (p < end_) {
    Field f;
    if (Fail e = next_field(p, end_, f)) return malformed(kResponse, e);
    if (f.number != 1) continue;  // not VStreamResponse.events
    if (f.wire != kLen) return wrong_wire(kResponse, "events", f.wire);
    EventHeader h;
    h.bytes = f.bytes;
    const char* q = f.bytes.data();
    const char* const q_end = q + f.bytes.size();
    while (q < q_end) {
      Field g;
      if (Fail e = next_field(q, q_end, g)) return malformed(kEvent, e);
      switch (g.number) {
        case 1:
          if (g.wire != kVarint) return wrong_wire(kEvent, "type", g.wire);
          // An open proto3 enum: protobuf keeps the low 32 bits of any value.
          h.type = static_cast<std::int32_t>(static_cast<std::uint32_t>(g.varint));
          break;
        case 2:
          if (g.wire != kVarint) return wrong_wire(kEvent, "timestamp", g.wire);
          h.timestamp = static_cast<std::int64_t>(g.varint);
          break;
        case 5:
          if (g.wire != kLen) return wrong_wire(kEvent, "row_event", g.wire);
          if (h.row_events++ == 0) h.row_event = g.bytes;  // read by RowChangeReader
          break;
        case 22:
          if (g.wire != kLen) return wrong_wire(kEvent, "keyspace", g.wire);
          h.keyspace = g.bytes;
          break;
        case 23:
          if (g.wire != kLen) return wrong_wire(kEvent, "shard", g.wire);
          h.shard = g.bytes;
          break;
        default: break;
      }
    }
    out = h;
    p_ = p;
    return true;
  }
  p_ = p;
  return false;
}

// ---- RowChangeReader --------------------------------------------------------------------------

Status RowChangeReader::open(std::string_view event) {
  table_name_ = {};
  event_p_ = event.data();
  event_end_ = event.data() + event.size();
  row_event_p_ = row_event_end_ = nullptr;
  // The table name first: protobuf merges every row_event occurrence, the last name winning.
  const char* p = event_p_;
  while (p < event_end_) {
    Field f;
    if (Fail e = next_field(p, event_end_, f)) return malformed(kEvent, e);
    if (f.number != 5) continue;
    if (f.wire != kLen) return wrong_wire(kEvent, "row_event", f.wire);
    if (auto st = read_table_name(f.bytes); !st) return st;
  }
  return Ok{};
}

Status RowChangeReader::open(const EventHeader& header) {
  if (header.row_events > 1) return open(header.bytes);
  table_name_ = {};
  event_p_ = event_end_ = nullptr;  // no other occurrence to visit
  row_event_p_ = header.row_event.data();
  row_event_end_ = header.row_event.data() + header.row_event.size();
  return read_table_name(header.row_event);
}

Status RowChangeReader::read_table_name(std::string_view row_event) {
  const char* q = row_event.data();
  const char* const q_end = q + row_event.size();
  while (q < q_end) {
    Field g;
    if (Fail e = next_field(q, q_end, g)) return malformed(kRowEvent, e);
    if (g.number == 1) {
      if (g.wire != kLen) return wrong_wire(kRowEvent, "table_name", g.wire);
      table_name_ = g.bytes;
    } else if (g.number == 2 && g.wire != kLen) {
      return wrong_wire(kRowEvent, "row_changes", g.wire);
    }
  }
  return Ok{};
}

Result<bool> RowChangeReader::next(RowChangeView& out) {
  for (;;) {
    while (row_event_p_ < row_event_end_) {
      Field g;
      if (Fail e = next_field(row_event_p_, row_event_end_, g)) return malformed(kRowEvent, e);
      if (g.number != 2) continue;
      if (g.wire != kLen) return wrong_wire(kRowEvent, "row_changes", g.wire);
      if (auto st = read_change(g.bytes, out); !st) return st.error();
      return true;
    }
    if (event_p_ >= event_end_) return false;
    Field f;
    if (Fail e = next_field(event_p_, event_end_, f)) return malformed(kEvent, e);
    if (f.number == 5 && f.wire == kLen) {
      row_event_p_ = f.bytes.data();
      row_event_end_ = f.bytes.data() + f.bytes.size();
    }
  }
}

Status RowChangeReader::read_change(std::string_view change, RowChangeView& out) {
  out = RowChangeView{};
  int occurrences[2] = {0, 0};
  std::string_view first[2];
  const char* p = change.data();
  const char* const end = p + change.size();
  while (p < end) {
    Field f;
    if (Fail e = next_field(p, end, f)) return malformed(kRowChange, e);
    if (f.number != 1 && f.number != 2) continue;
    if (f.wire != kLen) return wrong_wire(kRowChange, f.number == 1 ? "before" : "after", f.wire);
    const int slot = static_cast<int>(f.number) - 1;
    if (occurrences[slot]++ == 0) first[slot] = f.bytes;
  }
  if (occurrences[0] > 0) {
    if (auto st = read_image(change, 1, occurrences[0], first[0], out.before, 0); !st) return st;
  }
  if (occurrences[1] > 0) {
    if (auto st = read_image(change, 2, occurrences[1], first[1], out.after, 1); !st) return st;
  }
  return Ok{};
}

Status RowChangeReader::read_image(std::string_view change, std::uint32_t field, int occurrences,
                                   std::string_view first, RowImage& out, int slot) {
  std::string_view row = first;
  if (occurrences > 1) {
    // protobuf merges the occurrences of a message field, which is what parsing their
    // concatenation gives (lengths appended, the last values winning).
    std::string& merged = merged_[slot];
    merged.clear();
    const char* p = change.data();
    const char* const end = p + change.size();
    while (p < end) {
      Field f;
      if (Fail e = next_field(p, end, f)) return malformed(kRowChange, e);
      if (f.number == field) merged.append(f.bytes);
    }
    row = merged;
  }
  out.present = true;
  std::string_view lengths;
  bool copied = false;  // lengths_[slot] holds them (unpacked, or packed in several chunks)
  std::size_t count = 0;
  std::string_view values;
  const char* p = row.data();
  const char* const end = p + row.size();
  while (p < end) {
    Field f;
    if (Fail e = next_field(p, end, f)) return malformed(kRow, e);
    if (f.number == 1) {
      if (f.wire == kLen) {
        if (Fail e = count_varints(f.bytes, count)) return malformed(kRow, e);
      } else if (f.wire == kVarint) {
        ++count;  // one unpacked length: its varint bytes are also its packed form
      } else {
        return wrong_wire(kRow, "lengths", f.wire);
      }
      if (!copied && lengths.empty() && f.wire == kLen) {
        lengths = f.bytes;  // the one packed chunk vtgate sends: a view, no copy
      } else {
        std::string& buffer = lengths_[slot];
        if (!copied) buffer.assign(lengths);
        buffer.append(f.bytes);
        copied = true;
        lengths = buffer;
      }
    } else if (f.number == 2) {
      if (f.wire != kLen) return wrong_wire(kRow, "values", f.wire);
      values = f.bytes;
    }
  }
  out.row = PackedRow{lengths, count, values};
  return Ok{};
}

}  // namespace sv::vitess::raw
