// src/vitess: text of any MySQL character set → UTF-8. VStream sends text cells as the bytes
// stored in the column's own character set, in the copy phase (vttablet's rowstreamer runs `set
// names binary`) and in the binlog phase (raw row images); Field.charset names the column's
// collation (vitessio/vitess go/vt/vttablet/tabletserver/vstreamer/rowstreamer.go,
// go/mysql/binlog/rbr.go). The client converts: single-byte sets through tables generated from
// MariaDB's own conversion (scripts/gen-charset-tables), the verified multi-byte sets through
// glibc's iconv. docs/type-mapping.md lists what each character set becomes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sv::vitess {

//! How the bytes of a text column are turned into UTF-8, decided once per column.
struct TextEncoding {
  enum class Kind : std::uint8_t {
    utf8,         //!< utf8mb3/utf8mb4, and ids we do not know: checked, invalid bytes → U+FFFD
    single_byte,  //!< one code point per byte from `table`
    iconv,        //!< glibc iconv from `iconv_name`
  };
  Kind kind = Kind::utf8;
  std::string_view charset;              //!< MySQL's name (`latin1`), "" when unknown
  const std::uint16_t* table = nullptr;  //!< single_byte: code point per byte (U+FFFD: none)
  bool ascii_compatible = true;          //!< bytes below 0x80 are ASCII
  const char* iconv_name = nullptr;      //!< iconv: glibc's name of the character set
};

//! The MySQL character set of a collation id (MySQL 8 and MariaDB ids), "" when unknown.
std::string_view charset_of_collation(std::uint32_t collation);

//! The conversion for a column of this collation. Character sets that are UTF-8 already, that we
//! do not convert (see docs/type-mapping.md) and unknown ids give Kind::utf8.
TextEncoding text_encoding(std::uint32_t collation);

//! Appends `bytes` (in `encoding`, which must not be Kind::utf8) to `out` as UTF-8. A byte or
//! sequence the character set does not define becomes U+FFFD (one per byte iconv rejects).
void append_utf8(const TextEncoding& encoding, std::string_view bytes, std::string& out);

//! True when every byte is below 0x80.
bool is_ascii(std::string_view bytes);

}  // namespace sv::vitess
