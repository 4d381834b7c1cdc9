// src/socket: the few protobuf wire-format primitives the record writer needs (varints, zigzag,
// tags, length-delimited fields), appended to a std::string. The connector encodes records by
// hand so the hot path neither builds message objects nor links generated code; the tests decode
// the bytes with the generated classes of subprojects/airbyte-proto.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sv::socket::wire {

enum WireType : std::uint8_t { varint = 0, fixed64 = 1, length_delimited = 2 };

inline void put_varint(std::string& out, std::uint64_t v) {
  char buf[10];
  std::size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}

inline std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

inline void put_tag(std::string& out, std::uint32_t field, WireType type) {
  put_varint(out, (static_cast<std::uint64_t>(field) << 3) | type);
}

inline void put_bytes(std::string& out, std::uint32_t field, std::string_view bytes) {
  put_tag(out, field, length_delimited);
  put_varint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

inline void put_uint(std::string& out, std::uint32_t field, std::uint64_t v) {
  put_tag(out, field, varint);
  put_varint(out, v);
}

inline void put_sint(std::string& out, std::uint32_t field, std::int64_t v) { put_uint(out, field, zigzag(v)); }

inline void put_double(std::string& out, std::uint32_t field, double v) {
  put_tag(out, field, fixed64);
  std::uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((bits >> (8 * i)) & 0xFF);  // little-endian
  out.append(buf, 8);
}

//! Reads a varint at `pos` (advanced past it); false when the bytes end first or it is too long.
inline bool get_varint(std::string_view in, std::size_t& pos, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && pos < in.size(); shift += 7) {
    const auto b = static_cast<std::uint8_t>(in[pos++]);
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace sv::socket::wire
