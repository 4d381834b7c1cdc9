// src/emulator/dataset.cpp — deterministic synthetic tables, cell values, write ops and routing.
#include "emulator/dataset.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <stdexcept>

#include <fmt/format.h>

namespace sv::emulator {
namespace {

std::uint64_t mix(std::uint64_t x) {
  // splitmix64 finalizer: cheap, well distributed, and stable across platforms.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t hash_str(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return mix(h);
}

std::uint64_t cell_hash(std::size_t t, std::size_t col, std::uint64_t k, std::uint32_t gen) {
  return mix(mix(mix((t + 1) * 1000003ULL + col) ^ k) ^ (gen + 0x51ULL));
}

enum class Gen {
  pk_id,
  pk_order,
  pk_line,
  i8,
  u8,
  boolean,
  i16,
  u16,
  i24,
  u24,
  i32,
  u32,
  i64,
  u64,
  dec,
  f32,
  f64,
  date,
  datetime6,
  timestamp,
  time,
  year,
  char8,
  varchar,
  text,
  binary4,
  varbinary,
  blob,
  bit12,
  enumeration,
  set,
  json,
  email,
  name,
  balance,
  created,
  sku,
  qty,
  price,
  // The bench_* tables (realistic shapes for scripts/bench).
  small_int,     // int 1..9,999,999 (a foreign key)
  ext_ref,       // bigint unsigned: mostly 10-12 digits, some above 2^63
  label32,       // varchar(32): a short ASCII code with a word, ~10-20 chars
  amount,        // decimal(12,2): mostly 0.01..99,999.99, some refunds < 0
  person_email,  // varchar(64): first.last<n>@domain
  person_name,   // varchar(64): "First Last", some non-ASCII
  recent_dt6,    // datetime(6) in 2015..2026
  recent_ts,     // timestamp in 2020..2026
  attrs_json,    // a small JSON object (~30 bytes as MySQL prints it)
  dec30,         // decimal(30,10): up to 20 integer digits
  datetime0,     // datetime (no fraction)
  timestamp6,    // timestamp(6)
  time3,         // time(3)
  country2,      // char(2) latin1: ISO country code
  latin1_words,  // varchar(64) latin1: bytes in latin1, not UTF-8
  bmp_words,     // varchar(255) utf8mb3: Basic Multilingual Plane only
  tiny_text,     // tinytext: up to ~120 bytes
  long_text,     // mediumtext/longtext: 30-300 bytes
  uuid_bin,      // binary(16)
  uuid_text,     // char(36) ascii
  tiny_blob,     // tinyblob: up to 60 bytes
  bit1,          // bit(1)
  bit64,         // bit(64)
  json_array,    // a JSON array
};

struct ColDef {
  const char* name;
  query::Type type;
  const char* column_type;
  std::uint32_t length;
  std::uint32_t charset;
  std::uint32_t decimals;
  std::uint32_t flags;
  Gen gen;
};

constexpr std::uint32_t kNotNull = query::NOT_NULL_FLAG, kPri = query::PRI_KEY_FLAG, kUns = query::UNSIGNED_FLAG,
                        kBin = query::BINARY_FLAG, kEnum = query::ENUM_FLAG, kSet = query::SET_FLAG,
                        kBlob = query::BLOB_FLAG, kNum = query::NUM_FLAG, kPart = query::PART_KEY_FLAG,
                        kTs = query::TIMESTAMP_FLAG;
constexpr std::uint32_t kBinCs = 63, kUtf8 = 255;

const std::vector<ColDef>& all_types_cols() {
  static const std::vector<ColDef> cols = {
      {"id", query::INT64, "bigint", 20, kBinCs, 0, kNotNull | kPri | kPart | kNum, Gen::pk_id},
      {"c_tinyint", query::INT8, "tinyint", 4, kBinCs, 0, kNum, Gen::i8},
      {"c_tinyint_u", query::UINT8, "tinyint unsigned", 3, kBinCs, 0, kUns | kNum, Gen::u8},
      {"c_bool", query::INT8, "tinyint(1)", 1, kBinCs, 0, kNum, Gen::boolean},
      {"c_smallint", query::INT16, "smallint", 6, kBinCs, 0, kNum, Gen::i16},
      {"c_smallint_u", query::UINT16, "smallint unsigned", 5, kBinCs, 0, kUns | kNum, Gen::u16},
      {"c_mediumint", query::INT24, "mediumint", 9, kBinCs, 0, kNum, Gen::i24},
      {"c_mediumint_u", query::UINT24, "mediumint unsigned", 8, kBinCs, 0, kUns | kNum, Gen::u24},
      {"c_int", query::INT32, "int", 11, kBinCs, 0, kNum, Gen::i32},
      {"c_int_u", query::UINT32, "int unsigned", 10, kBinCs, 0, kUns | kNum, Gen::u32},
      {"c_bigint", query::INT64, "bigint", 20, kBinCs, 0, kNum, Gen::i64},
      {"c_bigint_u", query::UINT64, "bigint unsigned", 20, kBinCs, 0, kUns | kNum, Gen::u64},
      {"c_decimal", query::DECIMAL, "decimal(12,3)", 14, kBinCs, 3, kNum, Gen::dec},
      {"c_float", query::FLOAT32, "float", 12, kBinCs, 31, kNum, Gen::f32},
      {"c_double", query::FLOAT64, "double", 22, kBinCs, 31, kNum, Gen::f64},
      {"c_date", query::DATE, "date", 10, kBinCs, 0, kBin, Gen::date},
      {"c_datetime", query::DATETIME, "datetime(6)", 26, kBinCs, 6, kBin, Gen::datetime6},
      {"c_timestamp", query::TIMESTAMP, "timestamp", 19, kBinCs, 0, kBin | kTs, Gen::timestamp},
      {"c_time", query::TIME, "time", 10, kBinCs, 0, kBin, Gen::time},
      {"c_year", query::YEAR, "year", 4, kBinCs, 0, kUns | kNum, Gen::year},
      {"c_char", query::CHAR, "char(8)", 32, kUtf8, 0, 0, Gen::char8},
      {"c_varchar", query::VARCHAR, "varchar(64)", 256, kUtf8, 0, 0, Gen::varchar},
      {"c_text", query::TEXT, "text", 262140, kUtf8, 0, kBlob, Gen::text},
      {"c_binary", query::BINARY, "binary(4)", 4, kBinCs, 0, kBin, Gen::binary4},
      {"c_varbinary", query::VARBINARY, "varbinary(16)", 16, kBinCs, 0, kBin, Gen::varbinary},
      {"c_blob", query::BLOB, "blob", 65535, kBinCs, 0, kBin | kBlob, Gen::blob},
      {"c_bit", query::BIT, "bit(12)", 12, kBinCs, 0, kUns, Gen::bit12},
      {"c_enum", query::ENUM, "enum('small','medium','large','x,y','it''s')", 24, kUtf8, 0, kEnum, Gen::enumeration},
      {"c_set", query::SET, "set('a','b c','it''s','d')", 36, kUtf8, 0, kSet, Gen::set},
      {"c_json", query::JSON, "json", 4294967295U, kBinCs, 0, kBin | kBlob, Gen::json},
  };
  return cols;
}

const std::vector<ColDef>& customers_cols() {
  static const std::vector<ColDef> cols = {
      {"id", query::INT64, "bigint", 20, kBinCs, 0, kNotNull | kPri | kPart | kNum, Gen::pk_id},
      {"email", query::VARCHAR, "varchar(128)", 512, kUtf8, 0, kNotNull, Gen::email},
      {"name", query::VARCHAR, "varchar(64)", 256, kUtf8, 0, 0, Gen::name},
      {"balance", query::DECIMAL, "decimal(10,2)", 12, kBinCs, 2, kNotNull | kNum, Gen::balance},
      {"created_at", query::TIMESTAMP, "timestamp", 19, kBinCs, 0, kBin | kTs, Gen::created},
  };
  return cols;
}

const std::vector<ColDef>& order_items_cols() {
  static const std::vector<ColDef> cols = {
      {"order_id", query::INT64, "bigint", 20, kBinCs, 0, kNotNull | kPri | kPart | kNum, Gen::pk_order},
      {"line", query::INT32, "int", 11, kBinCs, 0, kNotNull | kPri | kPart | kNum, Gen::pk_line},
      {"sku", query::VARBINARY, "varbinary(32)", 32, kBinCs, 0, kNotNull | kBin, Gen::sku},
      {"qty", query::UINT32, "int unsigned", 10, kBinCs, 0, kNotNull | kUns | kNum, Gen::qty},
      {"price", query::DECIMAL, "decimal(8,2)", 10, kBinCs, 2, kNum, Gen::price},
  };
  return cols;
}

// The bench tables: the row shapes users have (issue 15), for scripts/bench and tests of them.
// narrow: 3 columns, ~100 B per RECORD line.
const std::vector<ColDef>& bench_narrow_cols() {
  static const std::vector<ColDef> cols = {
      {"id", query::INT64, "bigint", 20, kBinCs, 0, kNotNull | kPri | kPart | kNum, Gen::pk_id},
      {"quantity", query::INT32, "int", 11, kBinCs, 0, kNum, Gen::i32},
      {"code", query::VARCHAR, "varchar(32)", 128, kUtf8, 0, 0, Gen::label32},
  };
  return cols;
}

// typical: 10 mixed columns, ~350 B per RECORD line.
const std::vector<ColDef>& bench_typical_cols() {
  static const std::vector<ColDef> cols = {
      {"id", query::INT64, "bigint", 20, kBinCs, 0, kNotNull | kPri | kPart | kNum, Gen::pk_id},
      {"customer_id", query::INT32, "int", 11, kBinCs, 0, kNotNull | kNum, Gen::small_int},
      {"ext_ref", query::UINT64, "bigint unsigned", 20, kBinCs, 0, kUns | kNum, Gen::ext_ref},
      {"amount", query::DECIMAL, "decimal(12,2)", 14, kBinCs, 2, kNotNull | kNum, Gen::amount},
      {"email", query::VARCHAR, "varchar(64)", 256, kUtf8, 0, kNotNull, Gen::person_email},
      {"name", query::VARCHAR, "varchar(64)", 256, kUtf8, 0, 0, Gen::person_name},
      {"created_at", query::DATETIME, "datetime(6)", 26, kBinCs, 6, kNotNull | kBin, Gen::recent_dt6},
      {"updated_at", query::TIMESTAMP, "timestamp", 19, kBinCs, 0, kBin | kTs, Gen::recent_ts},
      {"active", query::INT8, "tinyint(1)", 1, kBinCs, 0, kNotNull | kNum, Gen::boolean},
      {"attrs", query::JSON, "json", 4294967295U, kBinCs, 0, kBin | kBlob, Gen::attrs_json},
  };
  return cols;
}

// wide: 50 columns, every type family of all_types plus more sizes, precisions and charsets.
constexpr std::uint32_t kLatin1 = 8, kAscii = 11, kUtf8mb3 = 33;
const std::vector<ColDef>& bench_wide_cols() {
  static const std::vector<ColDef> cols = {
      {"id", query::INT64, "bigint", 20, kBinCs, 0, kNotNull | kPri | kPart | kNum, Gen::pk_id},
      {"c_tinyint", query::INT8, "tinyint", 4, kBinCs, 0, kNum, Gen::i8},
      {"c_tinyint_u", query::UINT8, "tinyint unsigned", 3, kBinCs, 0, kUns | kNum, Gen::u8},
      {"c_bool", query::INT8, "tinyint(1)", 1, kBinCs, 0, kNotNull | kNum, Gen::boolean},
      {"c_smallint", query::INT16, "smallint", 6, kBinCs, 0, kNum, Gen::i16},
      {"c_smallint_u", query::UINT16, "smallint unsigned", 5, kBinCs, 0, kUns | kNum, Gen::u16},
      {"c_mediumint", query::INT24, "mediumint", 9, kBinCs, 0, kNum, Gen::i24},
      {"c_mediumint_u", query::UINT24, "mediumint unsigned", 8, kBinCs, 0, kUns | kNum, Gen::u24},
      {"c_int", query::INT32, "int", 11, kBinCs, 0, kNotNull | kNum, Gen::i32},
      {"c_int_u", query::UINT32, "int unsigned", 10, kBinCs, 0, kUns | kNum, Gen::u32},
      {"c_bigint", query::INT64, "bigint", 20, kBinCs, 0, kNum, Gen::i64},
      {"c_bigint_u", query::UINT64, "bigint unsigned", 20, kBinCs, 0, kUns | kNum, Gen::u64},
      {"c_decimal", query::DECIMAL, "decimal(12,3)", 14, kBinCs, 3, kNum, Gen::dec},
      {"c_decimal_money", query::DECIMAL, "decimal(12,2)", 14, kBinCs, 2, kNotNull | kNum, Gen::amount},
      {"c_decimal_wide", query::DECIMAL, "decimal(30,10)", 32, kBinCs, 10, kNum, Gen::dec30},
      {"c_float", query::FLOAT32, "float", 12, kBinCs, 31, kNum, Gen::f32},
      {"c_double", query::FLOAT64, "double", 22, kBinCs, 31, kNum, Gen::f64},
      {"c_date", query::DATE, "date", 10, kBinCs, 0, kBin, Gen::date},
      {"c_datetime", query::DATETIME, "datetime", 19, kBinCs, 0, kBin, Gen::datetime0},
      {"c_datetime6", query::DATETIME, "datetime(6)", 26, kBinCs, 6, kNotNull | kBin, Gen::recent_dt6},
      {"c_timestamp", query::TIMESTAMP, "timestamp", 19, kBinCs, 0, kBin | kTs, Gen::timestamp},
      {"c_timestamp6", query::TIMESTAMP, "timestamp(6)", 26, kBinCs, 6, kBin | kTs, Gen::timestamp6},
      {"c_time", query::TIME, "time", 10, kBinCs, 0, kBin, Gen::time},
      {"c_time3", query::TIME, "time(3)", 14, kBinCs, 3, kBin, Gen::time3},
      {"c_year", query::YEAR, "year", 4, kBinCs, 0, kUns | kNum, Gen::year},
      {"c_char", query::CHAR, "char(8)", 32, kUtf8, 0, 0, Gen::char8},
      {"c_char_latin1", query::CHAR, "char(2)", 2, kLatin1, 0, kNotNull, Gen::country2},
      {"c_uuid", query::CHAR, "char(36)", 36, kAscii, 0, kNotNull, Gen::uuid_text},
      {"c_varchar", query::VARCHAR, "varchar(64)", 256, kUtf8, 0, 0, Gen::varchar},
      {"c_varchar_latin1", query::VARCHAR, "varchar(64)", 64, kLatin1, 0, 0, Gen::latin1_words},
      {"c_varchar_utf8mb3", query::VARCHAR, "varchar(255)", 765, kUtf8mb3, 0, 0, Gen::bmp_words},
      {"c_tinytext", query::TEXT, "tinytext", 1020, kUtf8, 0, kBlob, Gen::tiny_text},
      {"c_text", query::TEXT, "text", 262140, kUtf8, 0, kBlob, Gen::text},
      {"c_mediumtext", query::TEXT, "mediumtext", 67108860, kUtf8, 0, kBlob, Gen::long_text},
      {"c_longtext", query::TEXT, "longtext", 4294967295U, kUtf8, 0, kBlob, Gen::long_text},
      {"c_binary", query::BINARY, "binary(4)", 4, kBinCs, 0, kBin, Gen::binary4},
      {"c_binary16", query::BINARY, "binary(16)", 16, kBinCs, 0, kNotNull | kBin, Gen::uuid_bin},
      {"c_varbinary", query::VARBINARY, "varbinary(16)", 16, kBinCs, 0, kBin, Gen::varbinary},
      {"c_tinyblob", query::BLOB, "tinyblob", 255, kBinCs, 0, kBin | kBlob, Gen::tiny_blob},
      {"c_blob", query::BLOB, "blob", 65535, kBinCs, 0, kBin | kBlob, Gen::blob},
      {"c_mediumblob", query::BLOB, "mediumblob", 16777215, kBinCs, 0, kBin | kBlob, Gen::blob},
      {"c_bit", query::BIT, "bit(12)", 12, kBinCs, 0, kUns, Gen::bit12},
      {"c_bit1", query::BIT, "bit(1)", 1, kBinCs, 0, kUns, Gen::bit1},
      {"c_bit64", query::BIT, "bit(64)", 64, kBinCs, 0, kUns, Gen::bit64},
      {"c_enum", query::ENUM, "enum('small','medium','large','x,y','it''s')", 24, kUtf8, 0, kEnum, Gen::enumeration},
      {"c_enum_status", query::ENUM, "enum('active','inactive','pending','banned','deleted')", 32, kUtf8, 0,
       kNotNull | kEnum, Gen::enumeration},
      {"c_set", query::SET, "set('a','b c','it''s','d')", 36, kUtf8, 0, kSet, Gen::set},
      {"c_set_flags", query::SET, "set('email','sms','push','mail')", 80, kUtf8, 0, kSet, Gen::set},
      {"c_json", query::JSON, "json", 4294967295U, kBinCs, 0, kBin | kBlob, Gen::json},
      {"c_json_array", query::JSON, "json", 4294967295U, kBinCs, 0, kBin | kBlob, Gen::json_array},
  };
  return cols;
}

const std::vector<ColDef>* cols_of(std::string_view table) {
  if (table == "all_types") return &all_types_cols();
  if (table == "customers") return &customers_cols();
  if (table == "order_items") return &order_items_cols();
  if (table == "bench_narrow") return &bench_narrow_cols();
  if (table == "bench_typical") return &bench_typical_cols();
  if (table == "bench_wide") return &bench_wide_cols();
  return nullptr;
}

// Days since 1970-01-01 → y-m-d (proleptic Gregorian; H. Hinnant's civil_from_days).
void civil(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t yy = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yy + (m <= 2));
}

std::string fmt_epoch(std::int64_t secs) {
  int y;
  unsigned mo, d;
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  civil(days, y, mo, d);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", y, mo, d, rem / 3600, (rem / 60) % 60, rem % 60);
}

std::string shortest(double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  return std::string(buf, p);
}

std::string fmt_fixed(std::int64_t scaled, int scale) {
  // A scaled integer as MySQL prints DECIMAL(p,scale): sign, integer part (at least "0"),
  // exactly `scale` fraction digits.
  bool neg = scaled < 0;
  std::uint64_t a = neg ? static_cast<std::uint64_t>(-scaled) : static_cast<std::uint64_t>(scaled);
  std::uint64_t pow = 1;
  for (int i = 0; i < scale; ++i) pow *= 10;
  std::string frac = fmt::format("{:0{}}", a % pow, scale);
  return fmt::format("{}{}.{}", neg ? "-" : "", a / pow, frac);
}

template <class T>
std::string range_val(std::uint64_t h, T lo, T hi) {
  // Extremes show up regularly so decoders see the boundaries.
  switch (h % 17) {
    case 0: return std::to_string(lo);
    case 1: return std::to_string(hi);
    default: break;
  }
  using U = std::make_unsigned_t<T>;
  U span = static_cast<U>(static_cast<U>(hi) - static_cast<U>(lo));
  U off = span == static_cast<U>(-1) ? static_cast<U>(h >> 4)
                                     : static_cast<U>((h >> 4) % (static_cast<std::uint64_t>(span) + 1));
  return std::to_string(static_cast<T>(static_cast<U>(lo) + off));
}

const char* const kWords[] = {"alpha",  "Bravo", "charlie",  "délta",    "écho",       "fox\"trot",
                              "golf's", "hôtel", "india\\x", "juliett",  "kilo\tlima", "中文",
                              "emoji😀", "zulu",  "O'Brien",  "new\nline"};

std::string words(std::uint64_t h, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kWords[(h >> (i * 4)) % 16];
  }
  return s;
}

std::string bytes_of(std::uint64_t h, std::size_t n) {
  std::string s(n, '\0');
  std::uint64_t x = h;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 8 == 0) x = mix(x + i);
    s[i] = static_cast<char>(x >> ((i % 8) * 8));
  }
  return s;
}

// Realistic vocabulary of the bench tables: mostly ASCII, a few accents, apostrophes and CJK, as
// customer data has.
const char* const kFirst[] = {"James",  "Mary", "Robert", "Patricia", "Zoë",    "José", "Aiko",   "Liam",
                              "Olivia", "Noah", "Émile",  "Sofia",    "Łukasz", "Chen", "Fatima", "Ada"};
const char* const kLast[] = {"Smith",  "Johnson", "O'Brien", "Garcia", "Müller", "Nguyễn", "Kowalski", "Brown",
                             "Tanaka", "Rossi",   "Dubois",  "Silva",  "李",     "Jones",  "Martin",   "Lee"};
const char* const kAsciiFirst[] = {"james",  "mary", "robert", "patricia", "zoe",    "jose", "aiko",   "liam",
                                   "olivia", "noah", "emile",  "sofia",    "lukasz", "chen", "fatima", "ada"};
const char* const kAsciiLast[] = {"smith",  "johnson", "obrien", "garcia", "mueller", "nguyen", "kowalski", "brown",
                                  "tanaka", "rossi",   "dubois", "silva",  "li",      "jones",  "martin",   "lee"};
const char* const kDomains[] = {"example.com", "example.org", "example.net", "mail.example.com"};
const char* const kCodes[] = {"ORD", "INV", "SKU", "REF", "PO", "RMA", "TKT", "SUB"};
const char* const kPlans[] = {"free", "basic", "pro", "enterprise"};
const char* const kCountries[] = {"US", "DE", "FR", "JP", "BR", "IN", "GB", "ES"};
// Latin-1 bytes (a latin1 column holds its own encoding; the connector converts to UTF-8).
const char* const kLatin1Words[] = {"caf\xe9",
                                    "na\xefve",
                                    "Z\xfcrich",
                                    "fa\xe7"
                                    "ade",
                                    "pi\xf1"
                                    "ata",
                                    "sm\xf8rrebr\xf8"
                                    "d",
                                    "\xc5ngstr\xf6m",
                                    "d\xe9j\xe0 vu",
                                    "plain",
                                    "words",
                                    "\xa3"
                                    "100",
                                    "50\xb0"
                                    "C",
                                    "\xbfqu\xe9?",
                                    "O'Neil",
                                    "tab\there",
                                    "quote\"d"};
// Basic Multilingual Plane only (utf8mb3 holds no 4-byte sequences).
const char* const kBmpWords[] = {"alpha", "Bravo", "délta",       "écho", "fox\"trot", "hôtel",     "中文", "日本語",
                                 "Ωmega", "naïve", "back\\slash", "zulu", "O'Brien",   "new\nline", "€uro", "ß"};

template <std::size_t N>
const char* pick(const char* const (&list)[N], std::uint64_t x) {
  return list[x % N];
}

std::string fmt_recent(std::int64_t base, std::uint64_t span, std::uint64_t h) {
  return fmt_epoch(base + static_cast<std::int64_t>((h >> 8) % span));
}

std::string hex_of(std::string_view bytes) {
  static const char* const digits = "0123456789abcdef";
  std::string s;
  for (unsigned char b : bytes) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

std::string text_of(const char* const* list, std::size_t n, std::uint64_t h, std::size_t words) {
  std::string s;
  std::uint64_t x = h;
  for (std::size_t i = 0; i < words; ++i) {
    if (i % 8 == 0) x = mix(x + i);
    if (i) s += ' ';
    s += list[(x >> ((i % 8) * 8)) % n];
  }
  return s;
}

std::string gen_value(const ColDef& c, std::uint64_t h, std::uint64_t k, std::uint32_t gen) {
  switch (c.gen) {
    case Gen::pk_id: return std::to_string(k);
    case Gen::pk_order: return std::to_string((k - 1) / 4 + 1);
    case Gen::pk_line: return std::to_string((k - 1) % 4 + 1);
    case Gen::i8: return range_val<std::int64_t>(h, -128, 127);
    case Gen::u8: return range_val<std::uint64_t>(h, 0, 255);
    case Gen::boolean: return std::to_string(h % 2);
    case Gen::i16: return range_val<std::int64_t>(h, -32768, 32767);
    case Gen::u16: return range_val<std::uint64_t>(h, 0, 65535);
    case Gen::i24: return range_val<std::int64_t>(h, -8388608, 8388607);
    case Gen::u24: return range_val<std::uint64_t>(h, 0, 16777215);
    case Gen::i32: return range_val<std::int64_t>(h, -2147483648LL, 2147483647LL);
    case Gen::u32: return range_val<std::uint64_t>(h, 0, 4294967295ULL);
    case Gen::i64: return range_val<std::int64_t>(h, INT64_MIN, INT64_MAX);
    case Gen::u64: return range_val<std::uint64_t>(h, 0, UINT64_MAX);
    case Gen::dec: {
      // decimal(12,3): |v| < 10^9; small magnitudes too (0.5 → "0.500").
      std::int64_t v = static_cast<std::int64_t>((h >> 3) % 1999999999999ULL) - 999999999999LL;
      if (h % 5 == 0) v = static_cast<std::int64_t>(h % 2001) - 1000;
      return fmt_fixed(v, 3);
    }
    case Gen::f32: return shortest(static_cast<double>(static_cast<std::int64_t>((h >> 2) % 200001) - 100000) / 4.0);
    case Gen::f64:
      return shortest(static_cast<double>(static_cast<std::int64_t>((h >> 2) % 2000000001ULL) - 1000000000) / 1024.0);
    case Gen::date: {
      if (h % 41 == 0) return "0000-00-00";
      int y;
      unsigned m, d;
      civil(static_cast<std::int64_t>((h >> 6) % 80000) - 25000, y, m, d);  // 1901..2188
      return fmt::format("{:04}-{:02}-{:02}", y, m, d);
    }
    case Gen::datetime6: {
      const auto secs = static_cast<std::int64_t>((h >> 8) % 8000000000ULL);  // 1970..2223
      return fmt_epoch(secs) + fmt::format(".{:06}", h % 1000000);
    }
    case Gen::timestamp: return fmt_epoch(1 + static_cast<std::int64_t>((h >> 8) % 2147483646ULL));
    case Gen::time: {
      std::int64_t secs = static_cast<std::int64_t>((h >> 4) % (2 * 3020399 + 1)) - 3020399;
      bool neg = secs < 0;
      std::uint64_t a = static_cast<std::uint64_t>(neg ? -secs : secs);
      return fmt::format("{}{:02}:{:02}:{:02}", neg ? "-" : "", a / 3600, (a / 60) % 60, a % 60);
    }
    case Gen::year: return h % 29 == 0 ? "0000" : std::to_string(1901 + (h >> 5) % 255);
    case Gen::char8: return fmt::format("c{:x}", (h >> 7) % 0xfffffff);
    case Gen::varchar: return words(h, 1 + static_cast<int>(h % 4)) + fmt::format("#{}.{}", k, gen);
    case Gen::text: {
      std::string s = words(h, 4);
      std::size_t reps = (h >> 40) % 12;
      std::string out;
      for (std::size_t i = 0; i < reps; ++i) out += s + ' ';
      return out + std::to_string(k);
    }
    case Gen::binary4: return bytes_of(h, 4);
    case Gen::varbinary: return bytes_of(h, (h >> 50) % 17);
    case Gen::blob: return bytes_of(h, (h >> 48) % 120);
    case Gen::bit12: {
      unsigned v = static_cast<unsigned>(h & 0xfff);
      return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
    }
    case Gen::enumeration: return enum_labels(c.column_type)[(h >> 3) % 5];
    case Gen::set: {
      auto labels = enum_labels(c.column_type);
      std::string s;
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if ((h >> (i + 5)) & 1) {
          if (!s.empty()) s += ',';
          s += labels[i];
        }
      }
      return s;
    }
    case Gen::json: {
      // MySQL prints JSON objects with keys ordered by length, then bytes, and ", " / ": ".
      return fmt::format(
          R"({{"id": {}, "gen": {}, "name": "{}", "tags": ["t{}", {}, true, null], "nested": {{"v": {}}}}})", k, gen,
          (h % 3 == 0) ? "q\\\"uote" : "plain", h % 10, (h >> 9) % 100,
          shortest(static_cast<double>((h >> 20) % 1000) / 8.0));
    }
    case Gen::email: return fmt::format("user{}.{}@example.com", k, gen);
    case Gen::name: return words(h, 2);
    case Gen::balance: return fmt_fixed(static_cast<std::int64_t>((h >> 4) % 200000001ULL) - 100000000, 2);
    case Gen::created: return fmt_epoch(1500000000 + static_cast<std::int64_t>(k) * 37 + gen * 86400);
    case Gen::sku: return std::string("SKU-") + bytes_of(h, 1 + (h >> 60) % 8);
    case Gen::qty: return std::to_string(1 + h % 50);
    case Gen::price: return fmt_fixed(static_cast<std::int64_t>((h >> 8) % 1000000), 2);
    case Gen::small_int: return std::to_string(1 + (h >> 4) % 9999999);
    case Gen::ext_ref:
      if (h % 16 == 0) return std::to_string((h >> 1) | (1ULL << 63));  // beyond bigint: unsigned matters
      return std::to_string(1000000000ULL + (h >> 5) % 999000000000ULL);
    case Gen::label32: return fmt::format("{}-{}-{}", pick(kCodes, h >> 3), k, (h >> 20) % 100000);
    case Gen::amount: {
      std::int64_t v = static_cast<std::int64_t>(1 + (h >> 6) % 9999999);
      if (h % 23 == 0) v = -v / 10;  // a refund
      return fmt_fixed(v, 2);
    }
    case Gen::person_email:
      return fmt::format("{}.{}{}@{}", pick(kAsciiFirst, h >> 4), pick(kAsciiLast, h >> 12), (h >> 20) % 1000,
                         pick(kDomains, h >> 32));
    case Gen::person_name: return fmt::format("{} {}", pick(kFirst, h >> 4), pick(kLast, h >> 12));
    case Gen::recent_dt6:
      return fmt_recent(1420070400, 11ULL * 365 * 86400, h) + fmt::format(".{:06}", (h >> 2) % 1000000);
    case Gen::recent_ts: return fmt_recent(1577836800, 6ULL * 365 * 86400, h);
    case Gen::attrs_json: {
      // As MySQL prints JSON: keys by length then bytes, ", " and ": ".
      return fmt::format(R"({{"plan": "{}", "seats": {}}})", pick(kPlans, h >> 3), 1 + (h >> 17) % 250);
    }
    case Gen::dec30: {
      const std::uint64_t ip = (h >> 3) % 100000000000000000ULL * ((h >> 61) + 1);  // < 10^20
      return fmt::format("{}{}.{:010}", h % 7 == 0 ? "-" : "", ip, mix(h) % 10000000000ULL);
    }
    case Gen::datetime0: return fmt_recent(0, 8000000000ULL, h);
    case Gen::timestamp6:
      return fmt_epoch(1 + static_cast<std::int64_t>((h >> 8) % 2147483646ULL)) + fmt::format(".{:06}", h % 1000000);
    case Gen::time3: {
      std::int64_t ms = static_cast<std::int64_t>((h >> 4) % (2 * 3020399000ULL + 1)) - 3020399000LL;
      bool neg = ms < 0;
      std::uint64_t a = static_cast<std::uint64_t>(neg ? -ms : ms);
      const std::uint64_t secs = a / 1000;
      return fmt::format("{}{:02}:{:02}:{:02}.{:03}", neg ? "-" : "", secs / 3600, (secs / 60) % 60, secs % 60,
                         a % 1000);
    }
    case Gen::country2: return pick(kCountries, h >> 5);
    case Gen::latin1_words: return text_of(kLatin1Words, 16, h, 1 + (h >> 3) % 5);
    case Gen::bmp_words: return text_of(kBmpWords, 16, h, 1 + (h >> 3) % 12) + fmt::format(" #{}", k);
    case Gen::tiny_text: return text_of(kWords, 16, h, (h >> 3) % 16);
    case Gen::long_text: return text_of(kWords, 16, h, 5 + (h >> 3) % 40);
    case Gen::uuid_bin: return bytes_of(h, 16);
    case Gen::uuid_text: {
      const std::string x = hex_of(bytes_of(h, 16));
      return fmt::format("{}-{}-{}-{}-{}", x.substr(0, 8), x.substr(8, 4), x.substr(12, 4), x.substr(16, 4),
                         x.substr(20));
    }
    case Gen::tiny_blob: return bytes_of(h, (h >> 48) % 61);
    case Gen::bit1: return std::string(1, static_cast<char>(h & 1));
    case Gen::bit64: return bytes_of(h, 8);
    case Gen::json_array:
      return fmt::format(R"([{}, "{}", {}, null, {{"k": "v{}"}}])", (h >> 5) % 1000, pick(kPlans, h >> 15),
                         (h >> 19) % 2 ? "true" : "false", k);
  }
  return {};
}

bool is_pk_gen(Gen g) { return g == Gen::pk_id || g == Gen::pk_order || g == Gen::pk_line; }

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::vector<std::string> enum_labels(std::string_view column_type) {
  std::vector<std::string> out;
  auto open = column_type.find('(');
  if (open == std::string_view::npos) return out;
  std::size_t i = open + 1;
  while (i < column_type.size() && column_type[i] == '\'') {
    std::string label;
    ++i;
    while (i < column_type.size()) {
      if (column_type[i] == '\'') {
        if (i + 1 < column_type.size() && column_type[i + 1] == '\'') {
          label += '\'';
          i += 2;
          continue;
        }
        ++i;
        break;
      }
      label += column_type[i++];
    }
    out.push_back(label);
    if (i < column_type.size() && column_type[i] == ',') ++i;
  }
  return out;
}

query::Row make_row(const std::vector<std::optional<std::string>>& cells) {
  query::Row row;
  std::string* values = row.mutable_values();
  for (const auto& c : cells) {
    if (!c) {
      row.add_lengths(-1);
      continue;
    }
    row.add_lengths(static_cast<std::int64_t>(c->size()));
    values->append(*c);
  }
  return row;
}

std::vector<std::optional<std::string>> row_cells(const query::Row& row) {
  std::vector<std::optional<std::string>> out;
  std::size_t off = 0;
  for (std::int64_t len : row.lengths()) {
    if (len < 0) {
      out.emplace_back(std::nullopt);
      continue;
    }
    out.emplace_back(row.values().substr(off, static_cast<std::size_t>(len)));
    off += static_cast<std::size_t>(len);
  }
  return out;
}

Dataset::Dataset(DatasetConfig config) : config_(std::move(config)) {
  for (const auto& name : config_.tables) {
    const auto* cols = cols_of(name);
    if (!cols) throw std::invalid_argument("unknown synthetic table '" + name + "'");
    auto schema = std::make_shared<TableSchema>();
    schema->name = name;
    for (std::size_t i = 0; i < cols->size(); ++i) {
      const ColDef& c = (*cols)[i];
      query::Field f;
      f.set_name(c.name);
      f.set_type(c.type);
      f.set_table(name);
      f.set_org_table(name);
      f.set_database("vt_" + config_.keyspace);
      f.set_org_name(c.name);
      f.set_column_length(c.length);
      f.set_charset(c.charset);
      f.set_decimals(c.decimals);
      f.set_flags(c.flags);
      f.set_column_type(c.column_type);
      schema->fields.push_back(std::move(f));
      if (is_pk_gen(c.gen)) schema->pk_columns.push_back(i);
    }
    schema->version = 1;
    tables_.push_back({name, schema});
  }
  schema_cache_.resize(tables_.size());
  for (std::size_t t = 0; t < tables_.size(); ++t) schema_cache_[t].push_back(tables_[t].base);
  for (const auto& s : config_.shards) {
    if (!parse_shard(s)) throw std::invalid_argument("invalid shard name '" + s + "'");
  }
}

std::optional<std::size_t> Dataset::table_index(std::string_view name) const {
  for (std::size_t t = 0; t < tables_.size(); ++t) {
    if (tables_[t].name == name) return t;
  }
  return std::nullopt;
}

TableSchemaPtr Dataset::schema(std::size_t t, std::uint64_t g) const {
  std::size_t applied = 0;
  for (const auto& d : ddls_) {
    if (d.table == t && d.g <= g) ++applied;
  }
  auto& cache = schema_cache_[t];
  while (cache.size() <= applied) {
    std::size_t n = cache.size();  // build version with n DDLs applied
    std::size_t seen = 0;
    const DdlEvent* ddl = nullptr;
    for (const auto& d : ddls_) {
      if (d.table == t && ++seen == n) {
        ddl = &d;
        break;
      }
    }
    auto next = std::make_shared<TableSchema>(*cache.back());
    query::Field f;
    f.set_name(ddl->column);
    f.set_type(query::VARCHAR);
    f.set_table(tables_[t].name);
    f.set_org_table(tables_[t].name);
    f.set_database("vt_" + config_.keyspace);
    f.set_org_name(ddl->column);
    f.set_column_length(128);
    f.set_charset(kUtf8);
    f.set_column_type("varchar(32)");
    next->fields.push_back(std::move(f));
    next->version = cache.back()->version + 1;
    cache.push_back(next);
  }
  return cache[applied];
}

std::string Dataset::add_ddl(std::size_t t, std::uint64_t g) {
  std::size_t n = 1 + static_cast<std::size_t>(
                          std::count_if(ddls_.begin(), ddls_.end(), [&](const DdlEvent& d) { return d.table == t; }));
  std::string column = "note" + std::to_string(n);
  std::string stmt = "ALTER TABLE `" + tables_[t].name + "` ADD COLUMN `" + column + "` varchar(32) DEFAULT NULL";
  ddls_.push_back({t, g, column, stmt});
  return stmt;
}

bool Dataset::add_reshard(std::uint64_t g, std::vector<std::string> shards) {
  if (shards.empty()) return false;
  for (const auto& s : shards) {
    if (!parse_shard(s)) return false;
  }
  reshards_.push_back({g, shards_at(g), std::move(shards)});
  return true;
}

const std::vector<std::string>& Dataset::shards_at(std::uint64_t g) const {
  const std::vector<std::string>* cur = &config_.shards;
  for (const auto& r : reshards_) {
    if (r.g <= g) cur = &r.to;
  }
  return *cur;
}

std::vector<std::string> Dataset::all_shards() const {
  std::vector<std::string> out = config_.shards;
  for (const auto& r : reshards_) {
    for (const auto& s : r.to) {
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    }
  }
  return out;
}

std::uint64_t Dataset::table_ops(std::size_t t, std::uint64_t g) const {
  const std::uint64_t T = tables_.size();
  return g > t ? (g - 1 - t) / T + 1 : 0;
}

Op Dataset::op(std::uint64_t g) const {
  const std::uint64_t T = tables_.size();
  const std::uint64_t R = config_.rows;
  Op o;
  o.g = g;
  o.table = static_cast<std::size_t>((g - 1) % T);
  const std::uint64_t j = (g - 1) / T + 1;
  const std::uint64_t m = (j - 1) / 3;
  switch ((j - 1) % 3) {
    case 0:
      o.kind = OpKind::insert;
      o.key = R + m + 1;
      break;
    case 1:
      o.kind = OpKind::update;
      if (R > 0) {
        o.key = (m % R) + 1;
        o.gen_before = static_cast<std::uint32_t>(m / R);
        o.gen_after = o.gen_before + 1;
      } else {
        o.key = m + 1;
        o.gen_before = 0;
        o.gen_after = 1;
      }
      break;
    default:
      if (m % 2 == 0) {
        o.kind = OpKind::update;
        o.key = R + m + 1;
        o.gen_before = R == 0 ? 1 : 0;
        o.gen_after = o.gen_before + 1;
      } else {
        o.kind = OpKind::remove;
        o.key = R + m;
        o.gen_before = R == 0 ? 2 : 1;
      }
      break;
  }
  return o;
}

std::optional<std::uint32_t> Dataset::generation(std::size_t t, std::uint64_t k, std::uint64_t g) const {
  const std::uint64_t R = config_.rows;
  const std::uint64_t J = table_ops(t, g);
  if (k == 0) return std::nullopt;
  if (k <= R) {
    if (J < 2) return 0;
    const std::uint64_t M = (J - 2) / 3;
    if (M < k - 1) return 0;
    return static_cast<std::uint32_t>((M - (k - 1)) / R + 1);
  }
  const std::uint64_t m = k - R - 1;
  if (J < 3 * m + 1) return std::nullopt;
  if (m % 2 == 0 && J >= 3 * m + 6) return std::nullopt;
  std::uint32_t gen = 0;
  if (R == 0 && J >= 3 * m + 2) ++gen;
  if (m % 2 == 0 && J >= 3 * m + 3) ++gen;
  return gen;
}

std::uint64_t Dataset::max_key(std::size_t t, std::uint64_t g) const {
  const std::uint64_t J = table_ops(t, g);
  return config_.rows + (J >= 1 ? (J - 1) / 3 + 1 : 0);
}

std::uint64_t Dataset::last_write(std::size_t t, std::uint64_t k, std::uint64_t g) const {
  const std::uint64_t T = tables_.size();
  const std::uint64_t R = config_.rows;
  auto gen = generation(t, k, g);
  if (!gen) return 0;
  auto global = [&](std::uint64_t j) { return (j - 1) * T + t + 1; };
  if (k <= R) {
    if (*gen == 0) return 0;
    const std::uint64_t m_last = (k - 1) + static_cast<std::uint64_t>(*gen - 1) * R;
    return global(3 * m_last + 2);
  }
  const std::uint64_t m = k - R - 1;
  const std::uint64_t J = table_ops(t, g);
  std::uint64_t j = 3 * m + 1;
  if (R == 0 && J >= 3 * m + 2) j = 3 * m + 2;
  if (m % 2 == 0 && J >= 3 * m + 3) j = 3 * m + 3;
  return global(j);
}

std::optional<std::string> Dataset::base_cell(std::size_t t, std::size_t col, std::uint64_t k,
                                              std::uint32_t gen) const {
  const auto& cols = *cols_of(tables_[t].name);
  const ColDef& c = cols[col];
  // PK columns never change; other columns change with the generation.
  const std::uint32_t g = is_pk_gen(c.gen) ? 0 : gen;
  const std::uint64_t h = cell_hash(t, col, k, g);
  const bool nullable = (c.flags & kNotNull) == 0;
  if (nullable && (mix(h ^ 0x77) % 11) == 0) return std::nullopt;
  return gen_value(c, h, k, g);
}

query::Row Dataset::row_at(std::size_t t, std::uint64_t k, std::uint32_t gen, const TableSchema& schema,
                           std::uint64_t last_write_g) const {
  const std::size_t base_n = tables_[t].base->fields.size();
  std::vector<std::optional<std::string>> cells;
  cells.reserve(schema.fields.size());
  for (std::size_t i = 0; i < schema.fields.size(); ++i) {
    if (i < base_n) {
      cells.push_back(base_cell(t, i, k, gen));
      continue;
    }
    const std::string& col = schema.fields[i].name();
    const DdlEvent* ddl = nullptr;
    for (const auto& d : ddls_) {
      if (d.table == t && d.column == col) ddl = &d;
    }
    if (ddl && last_write_g > ddl->g) {
      cells.push_back(fmt::format("n{}-{}-{}", col.substr(4), k, gen));
    } else {
      cells.push_back(std::nullopt);
    }
  }
  return make_row(cells);
}

std::optional<query::Row> Dataset::row(std::size_t t, std::uint64_t k, std::uint64_t g) const {
  auto gen = generation(t, k, g);
  if (!gen) return std::nullopt;
  return row_at(t, k, *gen, *schema(t, g), last_write(t, k, g));
}

std::optional<std::string> Dataset::cell(std::size_t t, std::uint64_t k, std::string_view column,
                                         std::uint64_t g) const {
  auto r = row(t, k, g);
  if (!r) return std::nullopt;
  auto s = schema(t, g);
  for (std::size_t i = 0; i < s->fields.size(); ++i) {
    if (s->fields[i].name() == column) return row_cells(*r)[i];
  }
  return std::nullopt;
}

query::Row Dataset::pk_row(std::size_t t, std::uint64_t k) const {
  const auto& cols = *cols_of(tables_[t].name);
  std::vector<std::optional<std::string>> cells;
  for (std::size_t i : tables_[t].base->pk_columns) cells.push_back(gen_value(cols[i], 0, k, 0));
  return make_row(cells);
}

std::optional<std::uint64_t> Dataset::key_of_pk(std::size_t t, const query::Row& pk) const {
  auto cells = row_cells(pk);
  const std::size_t n = tables_[t].base->pk_columns.size();
  if (cells.size() != n) return std::nullopt;
  for (const auto& c : cells) {
    if (!c) return std::nullopt;
  }
  if (n == 1) return parse_u64(*cells[0]);
  auto order = parse_u64(*cells[0]);
  auto line = parse_u64(*cells[1]);
  if (!order || !line || *order == 0 || *line < 1 || *line > 4) return std::nullopt;
  return (*order - 1) * 4 + *line;
}

std::optional<std::uint64_t> Dataset::floor_key_of_pk(std::size_t t, const query::Row& pk) const {
  auto cells = row_cells(pk);
  const std::size_t n = tables_[t].base->pk_columns.size();
  if (cells.size() != n) return std::nullopt;
  auto parse_i = [](const std::optional<std::string>& s) -> std::optional<std::int64_t> {
    if (!s) return std::nullopt;
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc() || p != s->data() + s->size()) return std::nullopt;
    return v;
  };
  if (n == 1) {
    auto v = parse_i(cells[0]);
    if (!v) return std::nullopt;
    return *v < 0 ? 0 : static_cast<std::uint64_t>(*v);
  }
  auto order = parse_i(cells[0]);
  auto line = parse_i(cells[1]);
  if (!order || !line) return std::nullopt;
  if (*order < 1) return 0;
  std::int64_t l = std::clamp<std::int64_t>(*line, 0, 4);
  return static_cast<std::uint64_t>(*order - 1) * 4 + static_cast<std::uint64_t>(l);
}

std::uint64_t Dataset::keyspace_id(std::size_t t, std::uint64_t k) const {
  const auto& cols = *cols_of(tables_[t].name);
  std::uint64_t v = std::stoull(gen_value(cols[tables_[t].base->pk_columns[0]], 0, k, 0));
  return mix(v ^ 0x5ca1ab1eULL);
}

bool Dataset::in_shard(std::size_t t, std::uint64_t k, std::string_view shard) const {
  auto r = parse_shard(shard);
  return r && r->contains(keyspace_id(t, k));
}

std::string Dataset::shard_of(std::size_t t, std::uint64_t k, std::uint64_t g) const {
  for (const auto& s : shards_at(g)) {
    if (in_shard(t, k, s)) return s;
  }
  return {};
}

std::string Dataset::shard_uuid(std::string_view shard) const {
  std::uint64_t a = mix(hash_str(config_.keyspace) ^ hash_str(shard));
  std::uint64_t b = mix(a ^ 0xfeedULL);
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48,
                     b & 0xffffffffffffULL);
}

std::optional<KeyRange> Dataset::parse_shard(std::string_view shard) {
  KeyRange r;
  if (shard == "0" || shard == "-") return r;
  auto dash = shard.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto bound = [](std::string_view hex, std::uint64_t& out) {
    if (hex.size() > 16) return false;
    std::uint64_t v = 0;
    for (char c : hex) {
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) return false;
      v = (v << 4) | static_cast<std::uint64_t>(d);
    }
    out = hex.empty() ? 0 : v << (4 * (16 - hex.size()));
    return true;
  };
  std::string_view lo = shard.substr(0, dash), hi = shard.substr(dash + 1);
  if (!bound(lo, r.start)) return std::nullopt;
  if (hi.empty()) {
    r.unbounded_end = true;
  } else {
    if (!bound(hi, r.end)) return std::nullopt;
    r.unbounded_end = false;
    if (r.end <= r.start) return std::nullopt;
  }
  return r;
}

std::vector<std::string> Dataset::shard_names(std::size_t n) {
  if (n <= 1) return {"-"};
  const bool byte = 256 % n == 0;
  const std::uint64_t space = byte ? 256 : 65536;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    auto edge = [&](std::size_t j) -> std::string {
      if (j == 0 || j == n) return "";
      return byte ? fmt::format("{:02x}", j * space / n) : fmt::format("{:04x}", j * space / n);
    };
    out.push_back(edge(i) + "-" + edge(i + 1));
  }
  return out;
}

}  // namespace sv::emulator
