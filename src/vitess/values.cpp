// src/vitess: value decoding (query.Row cell → JSON or a CSV field) and column → JSON-schema property.
#include "vitess/values.hpp"

#include "util/base64.hpp"
#include "util/csv.hpp"
#include "util/utf8.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <charconv>
#include <cstring>

namespace sv::vitess {
namespace {

// Per-thread scratch for the rare cells that need rewriting (base64, U+FFFD repair, number
// normalisation, SET bitmasks). Rows are rendered on a thread pool, so one buffer per thread.
thread_local std::string t_scratch;
thread_local std::string t_join;
thread_local std::string t_convert;
thread_local std::vector<Cell> t_cells;

constexpr rapidjson::SizeType size_of(std::size_t n) { return static_cast<rapidjson::SizeType>(n); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

// ---- UTF-8 ------------------------------------------------------------------------------------

bool valid_utf8(std::string_view s) {
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  auto* end = p + s.size();
  while (p < end) {
    // ASCII fast path, eight bytes at a time.
    while (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p >= end) break;
    std::size_t n = utf8_sequence_length(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

// Writes text as a JSON string; each byte that is not part of valid UTF-8 becomes U+FFFD (as Go's
// encoder does), so the output is always valid JSON.
template <class W>
void write_text(W& w, std::string_view s) {
  if (valid_utf8(s)) {
    w.String(s.data(), size_of(s.size()));
    return;
  }
  std::string& out = t_scratch;
  out.clear();
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  auto* end = p + s.size();
  while (p < end) {
    std::size_t n = utf8_sequence_length(p, end);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++p;
    } else {
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
  }
  w.String(out.data(), size_of(out.size()));
}

// Writes text stored in a column's character set as a JSON string in UTF-8. ASCII-only cells of
// ASCII-based sets (nearly all) need no conversion.
template <class W>
void write_text_in(W& w, const TextEncoding& enc, std::string_view s) {
  if (enc.kind == TextEncoding::Kind::utf8 || (enc.ascii_compatible && is_ascii(s))) {
    write_text(w, s);
    return;
  }
  std::string& out = t_convert;
  out.clear();
  append_utf8(enc, s, out);
  w.String(out.data(), size_of(out.size()));
}

// ---- numbers ----------------------------------------------------------------------------------

// A number no column of its type can hold is written as text too: JSON readers parse numbers into a
// double or a 64-bit integer and refuse (or turn into infinity) one beyond them. Integers: more
// digits than 2^64 has (20). FLOAT/DOUBLE/DECIMAL: beyond a double's range, which only a value with
// an exponent or more than 308 integer digits can be, so the common case parses nothing.
// `int_digits` = the integer part's digits, zerofill padding included (an INT(30) ZEROFILL cell has 30).
bool in_range(std::string_view s, bool integral, std::string_view int_digits, bool has_exponent) {
  const std::size_t padding = std::min(int_digits.find_first_not_of('0'), int_digits.size());
  const std::size_t significant = int_digits.size() - padding;
  if (integral) return significant <= 20;
  if (!has_exponent && significant <= 308) return true;
  double d = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  return ec == std::errc() && end == s.data() + s.size();
}

// Writes MySQL numeric text as a JSON number with its digits unchanged. Zerofill leading zeros are
// dropped, a missing integer part gets a `0` (`.5`, `-.5`), a bare trailing `.` is dropped. Text
// that is no number at all is written as a string so the JSON stays valid.
template <class W>
void write_number(W& w, std::string_view s, bool integral) {
  std::size_t i = 0, n = s.size();
  bool neg = i < n && s[i] == '-';
  if (neg) ++i;
  std::size_t int_begin = i;
  while (i < n && is_digit(s[i])) ++i;
  std::size_t int_end = i;
  std::size_t frac_begin = i, frac_end = i;
  bool dot = false;
  if (!integral && i < n && s[i] == '.') {
    dot = true;
    frac_begin = ++i;
    while (i < n && is_digit(s[i])) ++i;
    frac_end = i;
  }
  std::size_t exp_begin = i;
  if (!integral && i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t d = i;
    while (i < n && is_digit(s[i])) ++i;
    if (i == d) i = n + 1;  // exponent without digits
  }
  bool has_digits = int_end > int_begin || frac_end > frac_begin;
  if (i != n || !has_digits || !in_range(s, integral, s.substr(int_begin, int_end - int_begin), exp_begin < n)) {
    write_text(w, s);
    return;
  }
  std::size_t int_len = int_end - int_begin;
  bool leading_zero = int_len > 1 && s[int_begin] == '0';
  bool canonical = int_len > 0 && !leading_zero && (!dot || frac_end > frac_begin);
  if (canonical) {
    w.RawValue(s.data(), s.size(), rapidjson::kNumberType);
    return;
  }
  std::string& out = t_scratch;
  out.clear();
  if (neg) out.push_back('-');
  std::size_t first = int_begin;
  while (first + 1 < int_end && s[first] == '0') ++first;
  if (first == int_end) {
    out.push_back('0');
  } else {
    out.append(s.data() + first, int_end - first);
  }
  if (frac_end > frac_begin) {
    out.push_back('.');
    out.append(s.data() + frac_begin, frac_end - frac_begin);
  }
  out.append(s.data() + exp_begin, n - exp_begin);
  w.RawValue(out.data(), out.size(), rapidjson::kNumberType);
}

// ---- dates ------------------------------------------------------------------------------------

bool digits_at(std::string_view s, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

bool valid_date(int year, int month, int day) {
  return month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

// A zero or invalid date (docs/type-mapping.md, "Zero and invalid dates"): null by default;
// with invalid_dates "go_connector" the Go connector's value: `go_zero` for the zero value
// (when given), the text as received otherwise.
template <class W>
void write_invalid_date(W& w, const Column& c, std::string_view s, std::string_view go_zero) {
  if (c.invalid_dates_as_null) {
    w.Null();
  } else if (!go_zero.empty()) {
    w.String(go_zero.data(), size_of(go_zero.size()));
  } else {
    write_text(w, s);
  }
}

// Writes `YYYY-MM-DD HH:MM:SS[.f{1,9}]` as `YYYY-MM-DDTHH:MM:SS.ffffff` (+ zone suffix). The zero
// value (any fraction of zeros) and anything that is not a real date-time (zero month,
// 2021-02-30, 24:00:00, text of another shape) go to write_invalid_date.
template <class W>
void write_datetime(W& w, const Column& c, std::string_view s, std::string_view zone) {
  int year, month, day, hour, minute, second;
  bool ok = s.size() >= 19 && digits_at(s, 0, 4, year) && s[4] == '-' && digits_at(s, 5, 2, month) && s[7] == '-' &&
            digits_at(s, 8, 2, day) && s[10] == ' ' && digits_at(s, 11, 2, hour) && s[13] == ':' &&
            digits_at(s, 14, 2, minute) && s[16] == ':' && digits_at(s, 17, 2, second);
  std::string_view frac;
  if (ok && s.size() > 19) {
    frac = s.substr(20);
    ok = s[19] == '.' && !frac.empty() && frac.size() <= 9 && all_digits(frac);
  }
  if (!ok) {
    write_invalid_date(w, c, s, {});
    return;
  }
  const bool zero = year == 0 && month == 0 && day == 0 && hour == 0 && minute == 0 && second == 0 &&
                    frac.find_first_not_of('0') == std::string_view::npos;
  if (zero) {
    const std::string_view epoch = zone.empty() ? "1970-01-01T00:00:00.000000" : "1970-01-01T00:00:00.000000+00:00";
    write_invalid_date(w, c, s, epoch);
    return;
  }
  if (!valid_date(year, month, day) || hour > 23 || minute > 59 || second > 59) {
    write_invalid_date(w, c, s, {});
    return;
  }
  char buf[40];
  std::memcpy(buf, s.data(), 19);
  buf[10] = 'T';
  buf[19] = '.';
  for (std::size_t i = 0; i < 6; ++i) buf[20 + i] = i < frac.size() ? frac[i] : '0';
  if (!zone.empty()) std::memcpy(buf + 26, zone.data(), zone.size());  // data() may be null
  w.String(buf, size_of(26 + zone.size()));
}

template <class W>
void write_date(W& w, const Column& c, std::string_view s) {
  int year, month, day;
  const bool ok = s.size() == 10 && digits_at(s, 0, 4, year) && s[4] == '-' && digits_at(s, 5, 2, month) &&
                  s[7] == '-' && digits_at(s, 8, 2, day);
  if (ok && valid_date(year, month, day)) {
    w.String(s.data(), size_of(s.size()));
  } else {
    write_invalid_date(w, c, s, s == "0000-00-00" ? "1970-01-01" : "");
  }
}

// ---- binary -----------------------------------------------------------------------------------

template <class W>
void write_base64(W& w, std::string_view s) {
  std::string& out = t_scratch;
  out.resize(2 + base64_encoded_size(s.size()));
  out.front() = '"';
  base64_encode_to(s, out.data() + 1);
  out.back() = '"';
  w.RawValue(out.data(), out.size(), rapidjson::kStringType);
}

// ---- enum / set -------------------------------------------------------------------------------

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

bool is_label(const Column& c, std::string_view s) {
  for (const auto& l : c.labels) {
    if (l == s) return true;
  }
  return false;
}

// Should this cell be read as an index / bitmask rather than as label text?
bool numeric_enum_cell(const Column& c, std::string_view s) {
  if (c.labels.empty() || c.enum_encoding == EnumSetEncoding::labels || !all_digits(s)) return false;
  if (c.enum_encoding == EnumSetEncoding::numbers) return true;
  return !is_label(c, s);  // detect: a label spelled with digits stays a label
}

// True when a SET cell is comma-joined labels as column_type spells them (UTF-8): the binlog
// phase rebuilds labels from column_type, the copy phase sends them in the column's charset.
bool is_label_list(const Column& c, std::string_view s) {
  while (!s.empty()) {
    const std::size_t comma = s.find(',');
    if (!is_label(c, s.substr(0, comma))) return false;
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
  }
  return true;
}

// An ENUM/SET cell that is label text: labels from column_type are UTF-8 already, anything else
// is in the column's character set.
template <class W>
void write_label_text(W& w, const Column& c, std::string_view s) {
  if (c.kind == ValueKind::enum_label ? is_label(c, s) : is_label_list(c, s)) {
    write_text(w, s);
  } else {
    write_text_in(w, c.encoding, s);
  }
}

template <class W>
void write_enum(W& w, const Column& c, std::string_view s) {
  std::uint64_t index = 0;
  if (!numeric_enum_cell(c, s) || !parse_u64(s, index) || index > c.labels.size()) {
    write_label_text(w, c, s);
    return;
  }
  if (index == 0) {
    w.String("", 0);  // MySQL's "invalid value" member: the empty string
    return;
  }
  write_text(w, c.labels[index - 1]);
}

template <class W>
void write_set(W& w, const Column& c, std::string_view s) {
  std::uint64_t mask = 0;
  if (!numeric_enum_cell(c, s) || !parse_u64(s, mask) || (c.labels.size() < 64 && (mask >> c.labels.size()) != 0)) {
    write_label_text(w, c, s);
    return;
  }
  std::string& out = t_join;  // not t_scratch: write_text may need that one
  out.clear();
  bool first = true;
  for (std::size_t bit = 0; bit < c.labels.size() && bit < 64; ++bit) {
    if (mask & (std::uint64_t{1} << bit)) {
      if (!first) out.push_back(',');
      first = false;
      out += c.labels[bit];
    }
  }
  write_text(w, out);
}

// ---- bit --------------------------------------------------------------------------------------

template <class W>
void write_bit(W& w, const Column& c, std::string_view s) {
  if (c.kind == ValueKind::bit_bool) {
    bool any = false;
    for (char b : s) any = any || b != 0;
    w.Bool(any);
    return;
  }
  if (s.size() > 8) {  // wider than BIT(64) cannot happen; keep the bytes rather than guess
    write_base64(w, s);
    return;
  }
  std::uint64_t v = 0;
  for (char b : s) v = (v << 8) | static_cast<unsigned char>(b);
  w.Uint64(v);
}

std::uint32_t parse_bit_width(std::string_view column_type) {
  if (!starts_with_ci(column_type, "bit")) return 0;
  std::string_view rest = column_type.substr(3);
  if (rest.empty() || rest[0] != '(') return rest.empty() ? 1 : 0;  // plain `bit` = bit(1)
  std::uint32_t n = 0;
  std::size_t i = 1;
  for (; i < rest.size() && is_digit(rest[i]); ++i) n = n * 10 + static_cast<std::uint32_t>(rest[i] - '0');
  return (i < rest.size() && rest[i] == ')') ? n : 0;
}

}  // namespace

// ---- columns ----------------------------------------------------------------------------------

std::vector<std::string> parse_enum_labels(std::string_view ct) {
  std::size_t pos;
  if (starts_with_ci(ct, "enum(")) {
    pos = 5;
  } else if (starts_with_ci(ct, "set(")) {
    pos = 4;
  } else {
    return {};
  }
  std::vector<std::string> labels;
  auto skip_space = [&] {
    while (pos < ct.size() && (ct[pos] == ' ' || ct[pos] == '\t' || ct[pos] == '\n')) ++pos;
  };
  while (true) {
    skip_space();
    if (pos >= ct.size() || (ct[pos] != '\'' && ct[pos] != '"')) return {};
    char quote = ct[pos++];
    std::string label;
    bool closed = false;
    while (pos < ct.size()) {
      char c = ct[pos++];
      if (c == quote) {
        if (pos < ct.size() && ct[pos] == quote) {  // doubled quote = one quote character
          label.push_back(quote);
          ++pos;
          continue;
        }
        closed = true;
        break;
      }
      if (c == '\\' && pos < ct.size()) {
        char e = ct[pos++];
        switch (e) {
          case '0': label.push_back('\0'); break;
          case 'n': label.push_back('\n'); break;
          case 'r': label.push_back('\r'); break;
          case 't': label.push_back('\t'); break;
          case 'b': label.push_back('\b'); break;
          case 'Z': label.push_back('\x1A'); break;
          default: label.push_back(e); break;  // \\ \' \" and anything else: the character itself
        }
        continue;
      }
      label.push_back(c);
    }
    if (!closed) return {};
    labels.push_back(std::move(label));
    skip_space();
    if (pos >= ct.size()) return {};
    if (ct[pos] == ')') return labels;
    if (ct[pos] != ',') return {};
    ++pos;
  }
}

Column make_column(const query::Field& field, const ValueOptions& options, bool enum_set_string_values) {
  Column c;
  c.name = field.name();
  c.type = field.type();
  c.column_type = field.column_type();
  c.charset = field.charset();
  c.flags = field.flags();
  c.decimals = field.decimals();
  c.column_length = field.column_length();
  c.enum_encoding = enum_set_string_values ? EnumSetEncoding::labels : EnumSetEncoding::detect;
  c.invalid_dates_as_null = options.invalid_dates_as_null;
  switch (c.type) {
    case query::NULL_TYPE: c.kind = ValueKind::null_only; break;
    case query::INT8:
    case query::UINT8:
      c.kind = options.tiny_int_as_boolean && starts_with_ci(c.column_type, "tinyint(1)") ? ValueKind::tiny_bool
                                                                                          : ValueKind::integer;
      break;
    case query::INT16:
    case query::UINT16:
    case query::INT24:
    case query::UINT24:
    case query::INT32:
    case query::UINT32:
    case query::INT64:
    case query::UINT64: c.kind = ValueKind::integer; break;
    case query::FLOAT32:
    case query::FLOAT64: c.kind = ValueKind::floating; break;
    case query::DECIMAL: c.kind = ValueKind::decimal; break;
    case query::YEAR: c.kind = ValueKind::year; break;
    case query::DATE: c.kind = ValueKind::date; break;
    case query::DATETIME: c.kind = ValueKind::datetime; break;
    case query::TIMESTAMP: c.kind = ValueKind::timestamp; break;
    case query::TIME: c.kind = ValueKind::time; break;
    case query::JSON: c.kind = ValueKind::json; break;
    case query::BLOB:
    case query::VARBINARY:
    case query::BINARY:
    case query::GEOMETRY:
    case query::VECTOR: c.kind = ValueKind::binary; break;
    case query::BIT:
      c.bit_width = parse_bit_width(c.column_type);
      if (c.bit_width == 0) c.bit_width = c.column_length;
      c.kind = c.bit_width == 1 ? ValueKind::bit_bool : ValueKind::bit_int;
      break;
    case query::ENUM:
      c.kind = ValueKind::enum_label;
      c.labels = parse_enum_labels(c.column_type);
      break;
    case query::SET:
      c.kind = ValueKind::set_labels;
      c.labels = parse_enum_labels(c.column_type);
      break;
    default: c.kind = ValueKind::text; break;  // TEXT/VARCHAR/CHAR, HEXNUM, EXPRESSION, ...
  }
  if (c.kind == ValueKind::text || c.kind == ValueKind::enum_label || c.kind == ValueKind::set_labels) {
    c.encoding = text_encoding(c.charset);
  }
  return c;
}

std::vector<Column> make_columns(const google::protobuf::RepeatedPtrField<query::Field>& fields,
                                 const ValueOptions& options, bool enum_set_string_values) {
  std::vector<Column> out;
  out.reserve(static_cast<std::size_t>(fields.size()));
  for (const auto& f : fields) out.push_back(make_column(f, options, enum_set_string_values));
  return out;
}

// ---- cells ------------------------------------------------------------------------------------

template <class W>
void write_value(W& w, const Column& c, std::string_view raw, bool is_null) {
  if (is_null) {
    w.Null();
    return;
  }
  switch (c.kind) {
    case ValueKind::null_only: w.Null(); return;
    case ValueKind::integer:
    case ValueKind::year: write_number(w, raw, true); return;
    case ValueKind::tiny_bool:
      if (raw == "0") {
        w.Bool(false);
      } else if (raw == "1") {
        w.Bool(true);
      } else {
        write_number(w, raw, true);
      }
      return;
    case ValueKind::decimal:
    case ValueKind::floating: write_number(w, raw, false); return;
    case ValueKind::date: write_date(w, c, raw); return;
    case ValueKind::datetime: write_datetime(w, c, raw, {}); return;
    case ValueKind::timestamp: write_datetime(w, c, raw, "+00:00"); return;
    case ValueKind::text: write_text_in(w, c.encoding, raw); return;
    case ValueKind::time:
    case ValueKind::json: write_text(w, raw); return;
    case ValueKind::binary: write_base64(w, raw); return;
    case ValueKind::bit_bool:
    case ValueKind::bit_int: write_bit(w, c, raw); return;
    case ValueKind::enum_label: write_enum(w, c, raw); return;
    case ValueKind::set_labels: write_set(w, c, raw); return;
  }
  write_text(w, raw);
}

template void write_value(JsonWriter&, const Column&, std::string_view, bool);
template void write_value(csv::FieldWriter&, const Column&, std::string_view, bool);
template void write_value(ScalarSink&, const Column&, std::string_view, bool);

namespace {

// One splitting rule for both wire forms of a row: `next(i, len)` yields the i-th length, or false
// when the lengths are malformed (only possible in the packed form).
template <class NextLength>
Status split_lengths(std::size_t count, NextLength next, std::string_view values, std::size_t expected_columns,
                     std::vector<Cell>& out) {
  if (count != expected_columns) {
    return system_error(
        fmt::format("VStream row has {} values but its FIELD event has {} columns", count, expected_columns));
  }
  out.resize(expected_columns);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < expected_columns; ++i) {
    std::int64_t len = 0;
    if (!next(i, len)) return system_error(fmt::format("VStream row has a malformed length for column {}", i));
    if (len < 0) {
      if (len != -1) return system_error(fmt::format("VStream row has invalid length {} for column {}", len, i));
      out[i] = Cell{{}, true};
      continue;
    }
    auto ulen = static_cast<std::uint64_t>(len);
    if (ulen > values.size() - offset) {
      return system_error(fmt::format("VStream row lengths overrun its {} value bytes at column {}", values.size(), i));
    }
    out[i] = Cell{std::string_view(values.data() + offset, ulen), false};
    offset += ulen;
  }
  if (offset != values.size()) {
    return system_error(
        fmt::format("VStream row has {} value bytes but its lengths add up to {}", values.size(), offset));
  }
  return Ok{};
}

}  // namespace

Status split_row(const query::Row& row, std::size_t expected_columns, std::vector<Cell>& out) {
  const auto& lengths = row.lengths();
  return split_lengths(
      static_cast<std::size_t>(lengths.size()),
      [&](std::size_t i, std::int64_t& len) {
        len = lengths[static_cast<int>(i)];
        return true;
      },
      row.values(), expected_columns, out);
}

const char* read_packed_length(const char* p, const char* end, std::int64_t& value) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {  // at most ten bytes
    const auto byte = static_cast<std::uint8_t>(*p++);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (byte < 0x80) {
      value = static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);  // zigzag
      return p;
    }
  }
  return nullptr;
}

Status split_row(const PackedRow& row, std::size_t expected_columns, std::vector<Cell>& out) {
  const char* p = row.lengths.data();
  const char* const end = p + row.lengths.size();
  return split_lengths(
      row.count,
      [&](std::size_t, std::int64_t& len) {
        p = p == nullptr ? nullptr : read_packed_length(p, end, len);
        return p != nullptr;
      },
      row.values, expected_columns, out);
}

Status write_row_members(JsonWriter& w, std::span<const Column> columns, const query::Row& row,
                         std::span<const std::uint32_t> selection) {
  for (std::uint32_t index : selection) {
    if (index >= columns.size()) {
      return system_error(fmt::format("column selection index {} is out of range ({} columns)", index, columns.size()));
    }
  }
  std::vector<Cell>& cells = t_cells;
  if (auto st = split_row(row, columns.size(), cells); !st) return st;
  for (std::uint32_t index : selection) {
    const Column& c = columns[index];
    w.Key(c.name.data(), size_of(c.name.size()));
    write_value(w, c, cells[index].raw, cells[index].is_null);
  }
  return Ok{};
}

Status write_row_members(JsonWriter& w, std::span<const Column> columns, const query::Row& row) {
  std::vector<Cell>& cells = t_cells;
  if (auto st = split_row(row, columns.size(), cells); !st) return st;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    w.Key(columns[i].name.data(), size_of(columns[i].name.size()));
    write_value(w, columns[i], cells[i].raw, cells[i].is_null);
  }
  return Ok{};
}

// ---- schema -----------------------------------------------------------------------------------

PropertySchema property_schema(std::string_view ct, bool nullable, const ValueOptions& options) {
  PropertySchema p;
  p.nullable = nullable;
  auto any_prefix = [&](std::initializer_list<std::string_view> prefixes) {
    for (auto pre : prefixes) {
      if (starts_with_ci(ct, pre)) return true;
    }
    return false;
  };
  if (starts_with_ci(ct, "tinyint(1)")) {
    if (options.tiny_int_as_boolean) {
      p.type = "boolean";
    } else {
      p.type = "number";
      p.airbyte_type = "integer";
    }
  } else if (starts_with_ci(ct, "bit")) {
    // Deviation: the Go connector says string; BIT(1) is a flag and BIT(n) an unsigned number.
    std::uint32_t width = parse_bit_width(ct);
    if (width == 1) {
      p.type = "boolean";
    } else {
      p.type = "number";
      p.airbyte_type = "integer";
    }
  } else if (starts_with_ci(ct, "year")) {
    // Deviation: the Go connector says string but writes numbers; we say integer and write numbers.
    p.type = "number";
    p.airbyte_type = "integer";
  } else if (any_prefix({"int", "smallint", "mediumint", "bigint", "tinyint"})) {
    p.type = "number";
    p.airbyte_type = "integer";
  } else if (any_prefix({"decimal", "double", "float"})) {
    p.type = "number";
  } else if (starts_with_ci(ct, "datetime")) {
    p.type = "string";
    p.format = "date-time";
    p.airbyte_type = "timestamp_without_timezone";
  } else if (starts_with_ci(ct, "timestamp")) {
    p.type = "string";
    p.format = "date-time";
    p.airbyte_type = "timestamp_with_timezone";
  } else if (starts_with_ci(ct, "date")) {
    p.type = "string";
    p.format = "date";
    p.airbyte_type = "date";
  } else if (starts_with_ci(ct, "time")) {
    p.type = "string";
    p.format = "time";
    p.airbyte_type = "time_with_timezone";
  } else {
    p.type = "string";
  }
  // A NOT NULL column can still hold a zero date (sql_mode without NO_ZERO_DATE), written as null.
  if (options.invalid_dates_as_null && (p.format == "date" || p.format == "date-time")) p.nullable = true;
  return p;
}

void write_property_schema(JsonWriter& w, const PropertySchema& s) {
  w.StartObject();
  w.Key("type", 4);
  w.StartArray();
  if (s.nullable) w.String("null", 4);
  w.String(s.type.data(), size_of(s.type.size()));
  w.EndArray();
  if (!s.format.empty()) {
    w.Key("format", 6);
    w.String(s.format.data(), size_of(s.format.size()));
  }
  if (!s.airbyte_type.empty()) {
    w.Key("airbyte_type", 12);
    w.String(s.airbyte_type.data(), size_of(s.airbyte_type.size()));
  }
  w.EndObject();
}

}  // namespace sv::vitess
