// src/emulator/mysql: binlog row-event decoding (see binlog_decode.hpp). Formats follow the
// MySQL/MariaDB binlog documentation; every renderer is checked against the server's own text
// output by tests/emulator/mysql.
#include "emulator/mysql/binlog_decode.hpp"

#include "vitess/mariadb_client.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>

namespace sv::emulator::mysql {
namespace {

// Cursor over a byte range; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool has(size_t n) const { return pos_ + n <= d_.size(); }
  size_t left() const { return d_.size() - pos_; }
  uint64_t le(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(uint8_t(d_[pos_ + i])) << (8 * i);
    pos_ += n;
    return v;
  }
  std::string_view bytes(size_t n) {
    auto s = d_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint8_t u8() { return uint8_t(d_[pos_++]); }
  // Length-encoded integer; false on truncation.
  bool lenenc(uint64_t& out) {
    if (!has(1)) return false;
    uint8_t b = u8();
    if (b < 251) return out = b, true;
    size_t n = b == 252 ? 2 : b == 253 ? 3 : b == 254 ? 8 : 0;
    if (n == 0 || !has(n)) return false;
    out = le(n);
    return true;
  }
  size_t pos() const { return pos_; }

 private:
  std::string_view d_;
  size_t pos_ = 0;
};

uint64_t be(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | uint8_t(c);
  return v;
}

bool is_numeric(uint8_t t) {
  switch (t) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_NEWDECIMAL:
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
    case MYSQL_TYPE_DECIMAL: return true;
    default: return false;
  }
}

// Columns that carry a character set in optional metadata (ENUM/SET have their own list).
bool is_character(const TableMap& m, size_t i) {
  switch (m.types[i]) {
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB: return true;
    case MYSQL_TYPE_STRING: return m.real_type(i) == MYSQL_TYPE_STRING;
    default: return false;
  }
}

// Bytes of per-column metadata in TABLE_MAP for a binlog type.
int meta_size(uint8_t t) {
  switch (t) {
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_GEOMETRY:
    case MYSQL_TYPE_JSON:
    case MYSQL_TYPE_TIMESTAMP2:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIME2: return 1;
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_BIT:
    case MYSQL_TYPE_NEWDECIMAL:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_ENUM:
    case MYSQL_TYPE_SET: return 2;
    default: return 0;
  }
}

std::string frac_text(uint64_t micros, int fsp) {
  if (fsp <= 0) return {};
  std::string s = fmt::format("{:06d}", micros);
  return "." + s.substr(0, fsp);
}

// Fraction part of DATETIME2/TIMESTAMP2 in microseconds (fsp 1..6, big-endian).
uint64_t read_frac(std::string_view bin, int fsp) {
  switch ((fsp + 1) / 2) {
    case 1: return uint64_t(uint8_t(bin[0])) * 10000;
    case 2: return be(bin.substr(0, 2)) * 100;
    case 3: return be(bin.substr(0, 3));
    default: return 0;
  }
}

std::vector<std::string> read_str_list(Reader& r, size_t end, bool& ok) {
  std::vector<std::string> out;
  uint64_t n = 0;
  if (!r.lenenc(n)) return ok = false, out;
  for (uint64_t k = 0; k < n && r.pos() < end; ++k) {
    uint64_t len = 0;
    if (!r.lenenc(len) || !r.has(len)) return ok = false, out;
    out.emplace_back(r.bytes(len));
  }
  return out;
}

constexpr int kDig2Bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

// Shortest (or `sig`-digit) decimal digits and decimal-point position of |v|, like dtoa.
void digits_of(double v, int sig, std::string& digits, int& decpt) {
  char buf[64];
  auto res = sig > 0 ? std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific, sig - 1)
                     : std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::scientific);
  std::string_view s(buf, res.ptr - buf);
  auto e = s.find('e');
  std::string_view mant = s.substr(0, e);
  int exp = std::atoi(std::string(s.substr(e + 1)).c_str());
  digits.clear();
  for (char c : mant)
    if (c != '.') digits += c;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  decpt = exp + 1;
}

// MySQL's my_gcvt choice between "f" and "e" form, for a field wide enough for either.
std::string gcvt(double v, int sig) {
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  std::string d;
  int decpt = 0;
  digits_of(v, sig, d, decpt);
  const int len = int(d.size());
  constexpr int kDblDig = 15;
  std::string out = v < 0 ? "-" : "";
  if (decpt >= -kDblDig + 1 && (decpt <= kDblDig || len > decpt)) {
    if (decpt <= 0) {
      out += "0.";
      out.append(size_t(-decpt), '0');
      out += d;
    } else if (decpt < len) {
      out += d.substr(0, decpt) + "." + d.substr(decpt);
    } else {
      out += d;
      out.append(size_t(decpt - len), '0');
    }
    return out;
  }
  out += d.substr(0, 1);
  if (len > 1) out += "." + d.substr(1);
  out += "e" + std::to_string(decpt - 1);
  return out;
}

std::string format_fixed(double v, int decimals) { return fmt::format("{:.{}f}", v, decimals); }

}  // namespace

uint8_t TableMap::real_type(size_t i) const {
  if (types[i] != MYSQL_TYPE_STRING) return types[i];
  uint8_t byte0 = meta[i] >> 8;
  if ((byte0 & 0x30) != 0x30) return byte0 | 0x30;  // CHAR longer than 255 bytes
  return byte0;
}

Result<TableMap> parse_table_map(std::string_view body) {
  Reader r(body);
  TableMap m;
  auto bad = [](const char* what) { return system_error(fmt::format("malformed TABLE_MAP event ({})", what)); };
  if (!r.has(8)) return bad("post-header");
  m.table_id = r.le(6);
  r.le(2);
  if (!r.has(1)) return bad("db");
  size_t n = r.u8();
  if (!r.has(n + 1)) return bad("db");
  m.database = r.bytes(n);
  r.u8();
  if (!r.has(1)) return bad("table");
  n = r.u8();
  if (!r.has(n + 1)) return bad("table");
  m.table = r.bytes(n);
  r.u8();
  uint64_t cols = 0;
  if (!r.lenenc(cols) || !r.has(cols)) return bad("column types");
  for (uint64_t i = 0; i < cols; ++i) m.types.push_back(r.u8());
  uint64_t meta_len = 0;
  if (!r.lenenc(meta_len) || !r.has(meta_len)) return bad("metadata");
  Reader mr(r.bytes(meta_len));
  m.meta.assign(cols, 0);
  for (uint64_t i = 0; i < cols; ++i) {
    int sz = meta_size(m.types[i]);
    if (!mr.has(sz)) return bad("column metadata");
    if (sz == 1) m.meta[i] = mr.u8();
    if (sz == 2) {
      uint8_t a = mr.u8(), b = mr.u8();
      // STRING/ENUM/SET/NEWDECIMAL/BIT keep (byte0 << 8 | byte1); VARCHAR is little-endian.
      if (m.types[i] == MYSQL_TYPE_VARCHAR || m.types[i] == MYSQL_TYPE_VAR_STRING)
        m.meta[i] = uint16_t(a | (b << 8));
      else
        m.meta[i] = uint16_t((a << 8) | b);
    }
  }
  size_t nb = (cols + 7) / 8;
  if (!r.has(nb)) return bad("null bitmap");
  auto nulls = r.bytes(nb);
  for (uint64_t i = 0; i < cols; ++i) m.nullable.push_back((uint8_t(nulls[i / 8]) >> (i % 8)) & 1);
  m.is_unsigned.assign(cols, false);
  m.enum_labels.assign(cols, {});
  m.set_labels.assign(cols, {});
  m.charsets.assign(cols, 0);

  // Optional metadata: type (1 byte), length (lenenc), value.
  while (r.left() > 0) {
    uint8_t type = r.u8();
    uint64_t len = 0;
    if (!r.lenenc(len) || !r.has(len)) return bad("optional metadata");
    std::string_view value = r.bytes(len);
    Reader v(value);
    bool ok = true;
    switch (type) {
      case 1: {  // SIGNEDNESS: one bit per numeric column, most significant bit first
        size_t k = 0;
        for (uint64_t i = 0; i < cols; ++i) {
          if (!is_numeric(m.types[i])) continue;
          if (k / 8 < value.size()) m.is_unsigned[i] = (uint8_t(value[k / 8]) >> (7 - k % 8)) & 1;
          ++k;
        }
        break;
      }
      case 2:    // DEFAULT_CHARSET: default collation, then (column index, collation) pairs
      case 3: {  // COLUMN_CHARSET: one collation per character column
        std::vector<size_t> char_cols;
        for (uint64_t i = 0; i < cols; ++i)
          if (is_character(m, i)) char_cols.push_back(i);
        if (type == 2) {
          uint64_t def = 0;
          if (!v.lenenc(def)) break;
          for (size_t c : char_cols) m.charsets[c] = uint32_t(def);
          while (v.left() > 0) {
            uint64_t idx = 0, coll = 0;
            if (!v.lenenc(idx) || !v.lenenc(coll)) break;
            if (idx < char_cols.size()) m.charsets[char_cols[idx]] = uint32_t(coll);
          }
        } else {
          for (size_t c : char_cols) {
            uint64_t coll = 0;
            if (!v.lenenc(coll)) break;
            m.charsets[c] = uint32_t(coll);
          }
        }
        break;
      }
      case 4:  // COLUMN_NAME
        for (uint64_t i = 0; i < cols && v.left() > 0; ++i) {
          uint64_t l = 0;
          if (!v.lenenc(l) || !v.has(l)) return bad("column names");
          m.column_names.emplace_back(v.bytes(l));
        }
        break;
      case 5:    // SET_STR_VALUE
      case 6: {  // ENUM_STR_VALUE
        const uint8_t want = type == 5 ? MYSQL_TYPE_SET : MYSQL_TYPE_ENUM;
        for (uint64_t i = 0; i < cols && v.left() > 0; ++i) {
          if (m.real_type(i) != want) continue;
          auto labels = read_str_list(v, value.size(), ok);
          if (!ok) return bad("enum/set values");
          (type == 5 ? m.set_labels : m.enum_labels)[i] = std::move(labels);
        }
        break;
      }
      case 8:  // SIMPLE_PRIMARY_KEY
        while (v.left() > 0) {
          uint64_t idx = 0;
          if (!v.lenenc(idx)) break;
          m.pk_columns.push_back(uint32_t(idx));
        }
        break;
      default: break;  // geometry types, prefixed keys, enum/set charsets: not needed
    }
  }
  return m;
}

std::vector<ColumnRender> render_hints(const TableMap& map, const TableSchema* schema) {
  std::vector<ColumnRender> out(map.types.size());
  if (schema == nullptr || schema->fields.size() != map.types.size()) return out;
  for (size_t i = 0; i < out.size(); ++i) {
    const auto& f = schema->fields[i];
    if (f.type() == query::BINARY) {
      out[i].binary_pad = true;
      out[i].pad_length = f.column_length();
    }
    if ((f.type() == query::FLOAT32 || f.type() == query::FLOAT64) && f.decimals() < 31)
      out[i].float_decimals = int(f.decimals());
  }
  return out;
}

// MySQL's DECIMAL(M,D): 1 <= M <= 65, 0 <= D <= 30, D <= M. Table map metadata outside that is
// no table a server can have, and the size arithmetic below would index out of its tables.
bool valid_decimal(int precision, int scale) {
  return precision >= 1 && precision <= 65 && scale >= 0 && scale <= 30 && scale <= precision;
}

size_t decimal_bin_size(int precision, int scale) {
  int intg = precision - scale;
  return size_t((intg / 9) * 4 + kDig2Bytes[intg % 9] + (scale / 9) * 4 + kDig2Bytes[scale % 9]);
}

Result<std::string> decode_decimal(std::string_view bin_in, int precision, int scale) {
  if (!valid_decimal(precision, scale)) return system_error(fmt::format("invalid DECIMAL({},{})", precision, scale));
  const size_t size = decimal_bin_size(precision, scale);
  if (bin_in.size() < size) return system_error("truncated DECIMAL value");
  std::string bin(bin_in.substr(0, size));
  const bool negative = (uint8_t(bin[0]) & 0x80) == 0;
  bin[0] = char(uint8_t(bin[0]) ^ 0x80);
  if (negative)
    for (auto& c : bin) c = char(~uint8_t(c));
  const int intg = precision - scale, intg0 = intg / 9, intg0x = intg % 9;
  const int frac0 = scale / 9, frac0x = scale % 9;
  size_t pos = 0;
  auto take = [&](int n) {
    uint64_t v = be(std::string_view(bin).substr(pos, size_t(n)));
    pos += size_t(n);
    return v;
  };
  std::string ip;
  if (intg0x > 0) ip += std::to_string(take(kDig2Bytes[intg0x]));
  for (int i = 0; i < intg0; ++i) ip += fmt::format("{:09d}", take(4));
  size_t nz = ip.find_first_not_of('0');
  ip = nz == std::string::npos ? "0" : ip.substr(nz);
  std::string fp;
  for (int i = 0; i < frac0; ++i) fp += fmt::format("{:09d}", take(4));
  if (frac0x > 0) fp += fmt::format("{:0{}d}", take(kDig2Bytes[frac0x]), frac0x);
  std::string out = negative ? "-" : "";
  out += ip;
  if (scale > 0) out += "." + fp;
  return out;
}

std::string format_float(float v) { return gcvt(double(v), 6); }
std::string format_double(double v) { return gcvt(v, 0); }

std::string format_datetime2(std::string_view bin, int fsp) {
  int64_t intpart = int64_t(be(bin.substr(0, 5))) - 0x8000000000LL;
  int64_t ymd = intpart >> 17, ym = ymd >> 5, hms = intpart % (1 << 17);
  uint64_t frac = fsp > 0 ? read_frac(bin.substr(5), fsp) : 0;
  return fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}{}", ym / 13, ym % 13, ymd % 32, hms >> 12,
                     (hms >> 6) % 64, hms % 64, frac_text(frac, fsp));
}

std::string format_timestamp2(std::string_view bin, int fsp) {
  uint64_t secs = be(bin.substr(0, 4));
  uint64_t frac = fsp > 0 ? read_frac(bin.substr(4), fsp) : 0;
  if (secs == 0 && frac == 0) return "0000-00-00 00:00:00" + frac_text(0, fsp);
  time_t t = time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);  // TIMESTAMP is epoch seconds: VStream sends it in UTC
  return fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}{}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, frac_text(frac, fsp));
}

std::string format_time2(std::string_view bin, int fsp) {
  int64_t packed = 0;  // (seconds-ish intpart << 24) + microseconds, signed
  int64_t intpart = int64_t(be(bin.substr(0, 3))) - 0x800000LL;
  switch ((fsp + 1) / 2) {
    case 0: packed = intpart * (int64_t(1) << 24); break;
    case 1: {
      int64_t frac = uint8_t(bin[3]);
      if (intpart < 0 && frac) {
        intpart++;
        frac -= 0x100;
      }
      packed = intpart * (int64_t(1) << 24) + frac * 10000;
      break;
    }
    case 2: {
      int64_t frac = int64_t(be(bin.substr(3, 2)));
      if (intpart < 0 && frac) {
        intpart++;
        frac -= 0x10000;
      }
      packed = intpart * (int64_t(1) << 24) + frac * 100;
      break;
    }
    default: packed = int64_t(be(bin.substr(0, 6))) - 0x800000000000LL; break;
  }
  const bool neg = packed < 0;
  if (neg) packed = -packed;
  int64_t hms = packed >> 24, micros = packed % (int64_t(1) << 24);
  return fmt::format("{}{:02d}:{:02d}:{:02d}{}", neg ? "-" : "", (hms >> 12) % (1 << 10), (hms >> 6) % 64, hms % 64,
                     frac_text(uint64_t(micros), fsp));
}

std::string format_date(std::string_view bin) {
  uint32_t v = uint32_t(uint8_t(bin[0])) | uint32_t(uint8_t(bin[1])) << 8 | uint32_t(uint8_t(bin[2])) << 16;
  return fmt::format("{:04d}-{:02d}-{:02d}", v >> 9, (v >> 5) & 15, v & 31);
}

void append_value(query::Row& row, const std::optional<std::string_view>& v) {
  if (!v) {
    row.add_lengths(-1);
    return;
  }
  row.add_lengths(int64_t(v->size()));
  row.mutable_values()->append(v->data(), v->size());
}

std::optional<std::string> row_value(const query::Row& row, size_t i) {
  size_t off = 0;
  for (size_t k = 0; k < i; ++k)
    if (row.lengths(int(k)) > 0) off += size_t(row.lengths(int(k)));
  int64_t len = row.lengths(int(i));
  if (len < 0) return std::nullopt;
  return row.values().substr(off, size_t(len));
}

namespace {

// Decodes one value of column i at r; appends text to `out`.
Status decode_value(Reader& r, const TableMap& m, size_t i, const ColumnRender& hint, std::string& out) {
  const uint8_t type = m.types[i];
  const uint16_t meta = m.meta[i];
  const bool uns = m.is_unsigned[i];
  auto need = [&](size_t n) -> Status {
    if (!r.has(n))
      return system_error(fmt::format("truncated row image in column {} of {}.{}", i, m.database, m.table));
    return Ok{};
  };
  auto integer = [&](size_t n) -> Status {
    if (auto s = need(n); !s) return s;
    uint64_t v = r.le(n);
    if (uns) {
      out = std::to_string(v);
    } else {
      int shift = int(64 - 8 * n);
      out = std::to_string(int64_t(v << shift) >> shift);
    }
    return Ok{};
  };
  switch (type) {
    case MYSQL_TYPE_TINY: return integer(1);
    case MYSQL_TYPE_SHORT: return integer(2);
    case MYSQL_TYPE_INT24: return integer(3);
    case MYSQL_TYPE_LONG: return integer(4);
    case MYSQL_TYPE_LONGLONG: return integer(8);
    case MYSQL_TYPE_FLOAT: {
      if (auto s = need(4); !s) return s;
      uint32_t bits = uint32_t(r.le(4));
      float f;
      std::memcpy(&f, &bits, 4);
      out = hint.float_decimals >= 0 ? format_fixed(f, hint.float_decimals) : format_float(f);
      return Ok{};
    }
    case MYSQL_TYPE_DOUBLE: {
      if (auto s = need(8); !s) return s;
      uint64_t bits = r.le(8);
      double d;
      std::memcpy(&d, &bits, 8);
      out = hint.float_decimals >= 0 ? format_fixed(d, hint.float_decimals) : format_double(d);
      return Ok{};
    }
    case MYSQL_TYPE_NEWDECIMAL: {
      int precision = meta >> 8, scale = meta & 0xff;
      if (!valid_decimal(precision, scale))
        return system_error(fmt::format("invalid DECIMAL({},{}) in the table map", precision, scale));
      size_t n = decimal_bin_size(precision, scale);
      if (auto s = need(n); !s) return s;
      auto d = decode_decimal(r.bytes(n), precision, scale);
      if (!d) return d.error();
      out = std::move(*d);
      return Ok{};
    }
    case MYSQL_TYPE_DATE: {
      if (auto s = need(3); !s) return s;
      out = format_date(r.bytes(3));
      return Ok{};
    }
    case MYSQL_TYPE_DATETIME2: {
      size_t n = 5 + size_t((meta + 1) / 2);
      if (auto s = need(n); !s) return s;
      out = format_datetime2(r.bytes(n), meta);
      return Ok{};
    }
    case MYSQL_TYPE_TIMESTAMP2: {
      size_t n = 4 + size_t((meta + 1) / 2);
      if (auto s = need(n); !s) return s;
      out = format_timestamp2(r.bytes(n), meta);
      return Ok{};
    }
    case MYSQL_TYPE_TIME2: {
      size_t n = 3 + size_t((meta + 1) / 2);
      if (auto s = need(n); !s) return s;
      out = format_time2(r.bytes(n), meta);
      return Ok{};
    }
    case MYSQL_TYPE_TIMESTAMP: {  // pre-5.6 format: epoch seconds, little-endian
      if (auto s = need(4); !s) return s;
      std::string be4(4, '\0');
      uint32_t v = uint32_t(r.le(4));
      for (int k = 0; k < 4; ++k) be4[size_t(k)] = char(v >> (24 - 8 * k));
      out = format_timestamp2(be4, 0);
      return Ok{};
    }
    case MYSQL_TYPE_DATETIME: {  // pre-5.6 format: YYYYMMDDhhmmss as an integer
      if (auto s = need(8); !s) return s;
      uint64_t v = r.le(8);
      uint64_t d = v / 1000000, t = v % 1000000;
      out = fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}", d / 10000, d / 100 % 100, d % 100, t / 10000,
                        t / 100 % 100, t % 100);
      return Ok{};
    }
    case MYSQL_TYPE_TIME: {  // pre-5.6 format: [-]hhmmss as a 3-byte signed integer
      if (auto s = need(3); !s) return s;
      int32_t v = int32_t(uint32_t(r.le(3)) << 8) >> 8;
      bool neg = v < 0;
      if (neg) v = -v;
      out = fmt::format("{}{:02d}:{:02d}:{:02d}", neg ? "-" : "", v / 10000, v / 100 % 100, v % 100);
      return Ok{};
    }
    case MYSQL_TYPE_YEAR: {
      if (auto s = need(1); !s) return s;
      uint8_t y = r.u8();
      out = y == 0 ? "0000" : std::to_string(1900 + y);
      return Ok{};
    }
    case MYSQL_TYPE_BIT: {
      size_t n = size_t(meta & 0xff) + ((meta >> 8) ? 1 : 0);
      if (auto s = need(n); !s) return s;
      out = r.bytes(n);
      return Ok{};
    }
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING: {
      size_t lb = meta < 256 ? 1 : 2;
      if (auto s = need(lb); !s) return s;
      size_t n = size_t(r.le(lb));
      if (auto s = need(n); !s) return s;
      out = r.bytes(n);
      return Ok{};
    }
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_GEOMETRY:
    case MYSQL_TYPE_JSON: {
      size_t lb = meta;
      if (lb < 1 || lb > 4) return system_error("bad BLOB length size in table map");
      if (auto s = need(lb); !s) return s;
      size_t n = size_t(r.le(lb));
      if (auto s = need(n); !s) return s;
      out = r.bytes(n);
      return Ok{};
    }
    case MYSQL_TYPE_STRING: {
      const uint8_t real = m.real_type(i);
      const uint8_t byte0 = meta >> 8, byte1 = meta & 0xff;
      if (real == MYSQL_TYPE_ENUM) {
        size_t n = byte1;
        // MySQL packs an ENUM in 1 or 2 bytes (and a SET in 1-4 or 8): any other size is a malformed
        // table map, and more than 8 would shift past 64 bits in le().
        if (n != 1 && n != 2) return system_error(fmt::format("bad ENUM pack length {} in the table map", n));
        if (auto s = need(n); !s) return s;
        uint64_t idx = r.le(n);
        const auto& labels = m.enum_labels[i];
        // 0 is MySQL's "invalid value" (empty string); labels are sent as text (v20+ vtgate).
        out = idx >= 1 && idx <= labels.size() ? labels[idx - 1] : std::string();
        return Ok{};
      }
      if (real == MYSQL_TYPE_SET) {
        size_t n = byte1;
        if (n < 1 || (n > 4 && n != 8)) return system_error(fmt::format("bad SET pack length {} in the table map", n));
        if (auto s = need(n); !s) return s;
        uint64_t bits = r.le(n);
        const auto& labels = m.set_labels[i];
        out.clear();
        for (size_t k = 0; k < labels.size() && k < 64; ++k)
          if (bits >> k & 1) {
            if (!out.empty()) out += ',';
            out += labels[k];
          }
        return Ok{};
      }
      size_t max_len = (byte0 & 0x30) != 0x30 ? size_t(byte1 | (((byte0 & 0x30) ^ 0x30) << 4)) : byte1;
      size_t lb = max_len > 255 ? 2 : 1;
      if (auto s = need(lb); !s) return s;
      size_t n = size_t(r.le(lb));
      if (auto s = need(n); !s) return s;
      out = r.bytes(n);
      if (hint.binary_pad && out.size() < hint.pad_length) out.resize(hint.pad_length, '\0');
      return Ok{};
    }
    default:
      return system_error(fmt::format("unsupported binlog column type {} in {}.{}", int(type), m.database, m.table));
  }
}

Result<query::Row> decode_image(Reader& r, const TableMap& m, std::string_view present,
                                const std::vector<ColumnRender>& hints) {
  const size_t cols = m.types.size();
  size_t n_present = 0;
  for (size_t i = 0; i < cols; ++i) n_present += (uint8_t(present[i / 8]) >> (i % 8)) & 1;
  size_t nb = (n_present + 7) / 8;
  if (!r.has(nb)) return system_error("truncated row null bitmap");
  std::string_view nulls = r.bytes(nb);
  query::Row row;
  size_t k = 0;
  std::string text;
  for (size_t i = 0; i < cols; ++i) {
    if (!((uint8_t(present[i / 8]) >> (i % 8)) & 1)) {
      append_value(row, std::nullopt);  // not in the image (never with binlog_row_image=FULL)
      continue;
    }
    bool is_null = (uint8_t(nulls[k / 8]) >> (k % 8)) & 1;
    ++k;
    if (is_null) {
      append_value(row, std::nullopt);
      continue;
    }
    if (auto s = decode_value(r, m, i, hints[i], text); !s) return s.error();
    append_value(row, std::string_view(text));
  }
  return row;
}

}  // namespace

Result<DecodedRows> parse_rows(uint8_t event_type, std::string_view body, const TableMap& map,
                               const std::vector<ColumnRender>& hints) {
  Reader r(body);
  DecodedRows out;
  if (!r.has(8)) return system_error("malformed ROWS event");
  out.table_id = r.le(6);
  out.flags = uint16_t(r.le(2));
  const bool v2 = event_type >= 30 && event_type <= 32;
  if (v2) {
    if (!r.has(2)) return system_error("malformed ROWS event");
    size_t extra = size_t(r.le(2));
    if (extra < 2 || !r.has(extra - 2)) return system_error("malformed ROWS event extra data");
    r.bytes(extra - 2);
  }
  uint64_t cols = 0;
  if (!r.lenenc(cols) || cols != map.types.size())
    return system_error(
        fmt::format("ROWS event column count {} does not match table map of {}.{}", cols, map.database, map.table));
  size_t nb = (cols + 7) / 8;
  const bool is_update = event_type == 24 || event_type == 31;
  const bool is_delete = event_type == 25 || event_type == 32;
  if (!r.has(nb * (is_update ? 2 : 1))) return system_error("malformed ROWS event bitmap");
  std::string_view present = r.bytes(nb);
  std::string_view present_after = is_update ? r.bytes(nb) : present;
  std::vector<ColumnRender> h = hints;
  h.resize(cols);
  while (r.left() > 0) {
    const size_t before = r.left();
    RowChange change;
    auto first = decode_image(r, map, present, h);
    if (!first) return first.error();
    if (is_update) {
      change.before = std::move(*first);
      auto after = decode_image(r, map, present_after, h);
      if (!after) return after.error();
      change.after = std::move(*after);
    } else if (is_delete) {
      change.before = std::move(*first);
    } else {
      change.after = std::move(*first);
    }
    // A row whose images name no column takes no bytes: the bytes left can never be read (a server
    // does not write such a row), and looping on them would never end.
    if (r.left() == before) return system_error("malformed ROWS event: a row image without columns");
    out.changes.push_back(std::move(change));
  }
  return out;
}

TableSchema schema_from_table_map(const TableMap& m, uint64_t version) {
  TableSchema s;
  s.name = m.table;
  s.version = version;
  for (size_t i = 0; i < m.types.size(); ++i) {
    query::Field f;
    f.set_name(i < m.column_names.size() ? m.column_names[i] : fmt::format("@{}", i + 1));
    f.set_table(m.table);
    f.set_org_table(m.table);
    f.set_database(m.database);
    f.set_org_name(f.name());
    const bool uns = m.is_unsigned[i];
    const bool bin = m.charsets[i] == 63;
    query::Type t = query::NULL_TYPE;
    switch (m.real_type(i)) {
      case MYSQL_TYPE_TINY: t = uns ? query::UINT8 : query::INT8; break;
      case MYSQL_TYPE_SHORT: t = uns ? query::UINT16 : query::INT16; break;
      case MYSQL_TYPE_INT24: t = uns ? query::UINT24 : query::INT24; break;
      case MYSQL_TYPE_LONG: t = uns ? query::UINT32 : query::INT32; break;
      case MYSQL_TYPE_LONGLONG: t = uns ? query::UINT64 : query::INT64; break;
      case MYSQL_TYPE_FLOAT: t = query::FLOAT32; break;
      case MYSQL_TYPE_DOUBLE: t = query::FLOAT64; break;
      case MYSQL_TYPE_NEWDECIMAL: t = query::DECIMAL; break;
      case MYSQL_TYPE_DATE: t = query::DATE; break;
      case MYSQL_TYPE_DATETIME:
      case MYSQL_TYPE_DATETIME2: t = query::DATETIME; break;
      case MYSQL_TYPE_TIMESTAMP:
      case MYSQL_TYPE_TIMESTAMP2: t = query::TIMESTAMP; break;
      case MYSQL_TYPE_TIME:
      case MYSQL_TYPE_TIME2: t = query::TIME; break;
      case MYSQL_TYPE_YEAR: t = query::YEAR; break;
      case MYSQL_TYPE_BIT: t = query::BIT; break;
      case MYSQL_TYPE_ENUM: t = query::ENUM; break;
      case MYSQL_TYPE_SET: t = query::SET; break;
      case MYSQL_TYPE_VARCHAR:
      case MYSQL_TYPE_VAR_STRING: t = bin ? query::VARBINARY : query::VARCHAR; break;
      case MYSQL_TYPE_STRING: t = bin ? query::BINARY : query::CHAR; break;
      case MYSQL_TYPE_GEOMETRY: t = query::GEOMETRY; break;
      default: t = bin ? query::BLOB : query::TEXT; break;
    }
    f.set_type(t);
    f.set_charset(m.charsets[i] != 0 ? m.charsets[i] : 63);
    uint32_t flags = m.nullable[i] ? 0 : NOT_NULL_FLAG;
    if (uns) flags |= UNSIGNED_FLAG;
    for (auto pk : m.pk_columns)
      if (pk == i) flags |= PRI_KEY_FLAG;
    f.set_flags(flags);
    s.fields.push_back(std::move(f));
  }
  for (auto pk : m.pk_columns) s.pk_columns.push_back(pk);
  if (s.pk_columns.empty())
    for (size_t i = 0; i < s.fields.size(); ++i) s.pk_columns.push_back(i);
  return s;
}

}  // namespace sv::emulator::mysql
