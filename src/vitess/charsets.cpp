// src/vitess: character set conversion to UTF-8 (see charsets.hpp).
#include "vitess/charsets.hpp"

#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

namespace sv::vitess {
namespace {

struct CollationEntry {
  std::uint32_t id;
  std::string_view charset;
};

struct SingleByteEntry {
  std::string_view charset;
  const std::uint16_t* table;
};

#include "vitess/charset_tables.inc"

// Ids MySQL 8 assigns and MariaDB does not (MySQL's information_schema.COLLATIONS); 255..323 are
// MySQL 8's utf8mb4 *_0900_* collations, handled as a range below.
constexpr CollationEntry kMySqlOnly[] = {{76, "utf8mb3"}, {248, "gb18030"}, {249, "gb18030"}, {250, "gb18030"}};

// MariaDB's UCA 14.0.0 collations: 256 ids per character set from 2048, in this order.
constexpr std::string_view kUca1400[] = {"utf8mb3", "utf8mb4", "ucs2", "utf16", "utf32"};

// Multi-byte character sets converted with glibc's iconv. gbk, gb2312 and cp932 gave exactly what
// MariaDB's CONVERT(... USING utf8mb4) gives for every two-byte sequence; UTF-16/32 and UCS-2 are
// defined by Unicode. big5, sjis, ujis, eucjpms and euckr are not here: glibc maps tens to hundreds
// of their characters differently from MySQL (sjis even 0x5C and 0x7E), see docs/type-mapping.md.
struct IconvEntry {
  std::string_view charset;
  const char* iconv_name;
};
constexpr IconvEntry kIconv[] = {{"gbk", "GBK"},        {"gb2312", "GB2312"},    {"cp932", "CP932"},
                                 {"utf16", "UTF-16BE"}, {"utf16le", "UTF-16LE"}, {"utf32", "UTF-32BE"},
                                 {"ucs2", "UCS-2BE"}};

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

void append_code_point(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {  // the tables hold the BMP only
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// One iconv descriptor per character set and thread (rows are rendered on a thread pool; a
// descriptor carries shift state and must not be shared).
iconv_t converter(const char* iconv_name) {
  struct Cache {
    std::map<std::string_view, iconv_t> open;
    ~Cache() {
      for (auto& [name, cd] : open) {
        if (cd != reinterpret_cast<iconv_t>(-1)) iconv_close(cd);
      }
    }
  };
  thread_local Cache cache;
  auto [it, inserted] = cache.open.try_emplace(iconv_name, reinterpret_cast<iconv_t>(-1));
  if (inserted) it->second = iconv_open("UTF-8", iconv_name);
  return it->second;
}

void append_iconv(const char* iconv_name, std::string_view bytes, std::string& out) {
  iconv_t cd = converter(iconv_name);
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // initial shift state
  char* in = const_cast<char*>(bytes.data());     // iconv's signature; the input is not written
  std::size_t in_left = bytes.size();
  while (in_left > 0) {
    const std::size_t start = out.size();
    out.resize(start + in_left * 4 + 16);
    char* o = out.data() + start;
    std::size_t o_left = out.size() - start;
    const std::size_t r = iconv(cd, &in, &in_left, &o, &o_left);
    const int err = errno;
    out.resize(out.size() - o_left);
    if (r != static_cast<std::size_t>(-1) || err == E2BIG) continue;
    // EILSEQ (not a character of the set) or EINVAL (cut off at the end): one U+FFFD per byte.
    out += kReplacement;
    ++in;
    --in_left;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
}

}  // namespace

bool is_ascii(std::string_view bytes) {
  return std::none_of(bytes.begin(), bytes.end(), [](char c) { return (static_cast<unsigned char>(c) & 0x80) != 0; });
}

std::string_view charset_of_collation(std::uint32_t id) {
  if (id >= 2048 && id < 2048 + 256 * std::size(kUca1400)) return kUca1400[(id - 2048) / 256];
  if (id >= 255 && id <= 323) return "utf8mb4";
  const auto* it = std::lower_bound(std::begin(kCollations), std::end(kCollations), id,
                                    [](const CollationEntry& e, std::uint32_t v) { return e.id < v; });
  if (it != std::end(kCollations) && it->id == id) return it->charset;
  for (const auto& e : kMySqlOnly) {
    if (e.id == id) return e.charset;
  }
  return {};
}

TextEncoding text_encoding(std::uint32_t collation) {
  TextEncoding enc;
  enc.charset = charset_of_collation(collation);
  for (const auto& e : kSingleByte) {
    if (e.charset != enc.charset) continue;
    enc.kind = TextEncoding::Kind::single_byte;
    enc.table = e.table;
    for (std::uint16_t b = 0; b < 0x80; ++b) enc.ascii_compatible = enc.ascii_compatible && e.table[b] == b;
    return enc;
  }
  for (const auto& e : kIconv) {
    if (e.charset != enc.charset) continue;
    // Without glibc's conversion modules (a stripped image) the text stays as it is.
    if (converter(e.iconv_name) == reinterpret_cast<iconv_t>(-1)) return enc;
    enc.kind = TextEncoding::Kind::iconv;
    enc.iconv_name = e.iconv_name;
    // In UTF-16/32 and UCS-2 even ASCII takes more than one byte.
    enc.ascii_compatible = !enc.charset.starts_with("utf") && enc.charset != "ucs2";
    return enc;
  }
  return enc;
}

void append_utf8(const TextEncoding& enc, std::string_view bytes, std::string& out) {
  switch (enc.kind) {
    case TextEncoding::Kind::single_byte:
      for (char c : bytes) append_code_point(enc.table[static_cast<unsigned char>(c)], out);
      return;
    case TextEncoding::Kind::iconv: append_iconv(enc.iconv_name, bytes, out); return;
    case TextEncoding::Kind::utf8:
      out.append(bytes);  // not called for UTF-8 (values.cpp repairs it); keep the bytes
      return;
  }
}

}  // namespace sv::vitess
