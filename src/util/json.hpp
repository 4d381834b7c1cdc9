// src/util: the RapidJSON buffer and writer types every JSON producer in the project shares,
// so values, records and protocol messages render into the same reusable buffers.
//
// JsonWriter is RapidJSON's Writer with faster string and raw-value output: RapidJSON escapes a
// string and copies a raw value one byte at a time, which was the largest part of rendering a
// RECORD line. The output is byte for byte RapidJSON's (tests/util/test_json_escape.cpp compares
// them): `"` and `\` are backslash-escaped, 0x08 0x09 0x0A 0x0C 0x0D become \b \t \n \f \r, the
// other bytes below 0x20 become \u00XX (upper-case hex), and every other byte, invalid UTF-8
// included, is copied as it is (callers that must not print invalid UTF-8 repair it first).
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sv {

using JsonBuffer = rapidjson::StringBuffer;

namespace json_detail {

inline constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
inline constexpr std::uint64_t kHigh = 0x8080808080808080ULL;

//! High bit set in each byte of `w` that is below 0x20, `"` or `\`. Subtracting per byte can
//! borrow into the next byte and mark it falsely, but only above a byte that is marked rightly,
//! so the lowest mark (the first byte in memory order) is always a byte that needs escaping.
inline std::uint64_t escape_marks(std::uint64_t w) {
  const std::uint64_t control = (w - kOnes * 0x20) & ~w;
  const std::uint64_t q = w ^ (kOnes * '"');
  const std::uint64_t quote = (q - kOnes) & ~q;
  const std::uint64_t b = w ^ (kOnes * '\\');
  const std::uint64_t backslash = (b - kOnes) & ~b;
  return (control | quote | backslash) & kHigh;
}

inline bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

//! Writes the escape sequence of one byte for which needs_escape() holds; returns the end.
inline char* escape_byte(char* out, unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  *out++ = '\\';
  switch (c) {
    case '"': *out++ = '"'; break;
    case '\\': *out++ = '\\'; break;
    case '\b': *out++ = 'b'; break;
    case '\t': *out++ = 't'; break;
    case '\n': *out++ = 'n'; break;
    case '\f': *out++ = 'f'; break;
    case '\r': *out++ = 'r'; break;
    default:
      std::memcpy(out, "u00", 3);
      out[3] = kHex[c >> 4];
      out[4] = kHex[c & 0xF];
      out += 5;
      break;
  }
  return out;
}

}  // namespace json_detail

//! Writes `s` escaped as the inside of a JSON string (no quotes) to `out`, which must have room
//! for 6 × s.size() bytes; returns the end. Scans eight bytes at a time for the next byte that
//! needs escaping and copies the runs between them whole.
inline char* escape_json(char* out, std::string_view s) {
  const char* p = s.data();
  const char* const end = p + s.size();
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
    const std::uint64_t marks = json_detail::escape_marks(w);
    if (marks == 0) {
      std::memcpy(out, p, 8);
      out += 8;
      p += 8;
      continue;
    }
    const auto run = static_cast<std::size_t>(std::countr_zero(marks) / 8);
    std::memcpy(out, p, 8);  // the run plus bytes after it, which the next steps overwrite
    out += run;
    p += run;
    out = json_detail::escape_byte(out, static_cast<unsigned char>(*p++));
  }
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (json_detail::needs_escape(c)) {
      out = json_detail::escape_byte(out, c);
    } else {
      *out++ = static_cast<char>(c);
    }
  }
  return out;
}

//! RapidJSON's Writer on a JsonBuffer, with String/Key/RawValue replaced by block copies (see the
//! top of this file). Everything else (numbers, nesting, Reset) is RapidJSON's.
class JsonWriter : public rapidjson::Writer<JsonBuffer> {
  using Base = rapidjson::Writer<JsonBuffer>;

 public:
  using Base::Base;

  bool String(const char* s, rapidjson::SizeType length, bool copy = false) {
    (void)copy;
    Prefix(rapidjson::kStringType);
    write_quoted(std::string_view(s, length));
    return EndValue(true);
  }
  bool String(const char* s) { return String(s, static_cast<rapidjson::SizeType>(std::strlen(s))); }
  bool String(const std::string& s) { return String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

  bool Key(const char* s, rapidjson::SizeType length, bool copy = false) { return String(s, length, copy); }
  bool Key(const char* s) { return String(s); }
  bool Key(const std::string& s) { return String(s); }

  //! A complete JSON value copied verbatim (RapidJSON's RawValue, in one copy).
  bool RawValue(const char* json, std::size_t length, rapidjson::Type type) {
    Prefix(type);
    if (length != 0) std::memcpy(os_->Push(length), json, length);
    return EndValue(true);
  }

 private:
  void write_quoted(std::string_view s) {
    // The worst case (every byte \u00XX) is reserved, as RapidJSON does, and the rest given back.
    const std::size_t room = 2 + 6 * s.size();
    char* const start = os_->Push(room);
    char* out = start;
    *out++ = '"';
    out = escape_json(out, s);
    *out++ = '"';
    os_->Pop(room - static_cast<std::size_t>(out - start));
  }
};

}  // namespace sv
