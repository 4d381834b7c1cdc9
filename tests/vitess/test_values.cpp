// tests/vitess: query.Row cell → JSON value, per query.Type with edge values, rows, and schemas.
#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <optional>
#include <string>
#include <vector>

#include "util/csv.hpp"
#include "vitess/values.hpp"

using namespace sv::vitess;

namespace {

struct Spec {
  query::Type type;
  std::string column_type;
  std::uint32_t column_length = 0;
  std::uint32_t charset = 0;  //!< collation id
};

Column column_of(const Spec& s, ValueOptions opt = {}, bool enum_labels = false) {
  query::Field f;
  f.set_name("c");
  f.set_type(s.type);
  f.set_column_type(s.column_type);
  f.set_column_length(s.column_length);
  f.set_charset(s.charset);
  return make_column(f, opt, enum_labels);
}

//! The cell as a CSV field written straight from the value (extract --format csv) must be the
//! field util/csv derives from the cell's JSON text.
void check_csv_field(const Column& c, std::optional<std::string> raw, const std::string& json) {
  std::string field;
  sv::csv::FieldWriter f(field);
  write_value(f, c, raw ? std::string_view(*raw) : std::string_view(), !raw.has_value());
  std::string from_json;
  REQUIRE(sv::csv::append_row_from_json(from_json, "{\"c\":" + json + "}", {"c"}).ok());
  CHECK(field + "\r\n" == from_json);
}

std::string render(const Column& c, std::optional<std::string> raw) {
  sv::JsonBuffer buf;
  sv::JsonWriter w(buf);
  write_value(w, c, raw ? std::string_view(*raw) : std::string_view(), !raw.has_value());
  std::string out(buf.GetString(), buf.GetSize());
  rapidjson::Document d;
  d.Parse(out.c_str(), out.size());
  CHECK_MESSAGE(!d.HasParseError(), "invalid JSON: " << out);
  check_csv_field(c, raw, out);
  return out;
}

struct Case {
  std::optional<std::string> raw;
  std::string json;
};

void run(const Spec& spec, const std::vector<Case>& cases, ValueOptions opt = {}, bool enum_labels = false) {
  Column c = column_of(spec, opt, enum_labels);
  for (const auto& k : cases) {
    CAPTURE(spec.column_type);
    CAPTURE(k.raw.value_or("<NULL>"));
    CHECK(render(c, k.raw) == k.json);
  }
}

const std::nullopt_t NUL = std::nullopt;
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

}  // namespace

TEST_CASE("values: integers") {
  run({query::INT8, "tinyint(4)"}, {{"-128", "-128"}, {"127", "127"}, {"0", "0"}, {"1", "1"}, {NUL, "null"}});
  run({query::UINT8, "tinyint(3) unsigned"}, {{"255", "255"}, {"0", "0"}});
  run({query::INT16, "smallint"}, {{"-32768", "-32768"}, {"32767", "32767"}});
  run({query::UINT16, "smallint unsigned"}, {{"65535", "65535"}});
  run({query::INT24, "mediumint"}, {{"-8388608", "-8388608"}, {"8388607", "8388607"}});
  run({query::UINT24, "mediumint unsigned"}, {{"16777215", "16777215"}});
  run({query::INT32, "int"}, {{"-2147483648", "-2147483648"}, {"2147483647", "2147483647"}});
  run({query::UINT32, "int unsigned"}, {{"4294967295", "4294967295"}});
  run({query::INT64, "bigint"},
      {{"-9223372036854775808", "-9223372036854775808"}, {"9223372036854775807", "9223372036854775807"}});
  run({query::UINT64, "bigint unsigned"}, {{"18446744073709551615", "18446744073709551615"}, {"0", "0"}});
  // zerofill text loses its padding (leading zeros are not JSON)
  run({query::INT32, "int(5) unsigned zerofill"}, {{"00042", "42"}, {"00000", "0"}});
  // text that is no integer stays a string so the line stays valid JSON
  run({query::INT32, "int"}, {{"abc", "\"abc\""}, {"1.5", "\"1.5\""}, {"", "\"\""}, {"-", "\"-\""}, {"+1", "\"+1\""}});
  // more digits than any MySQL integer (2^64 has 20) is no integer either: a string; zerofill
  // padding does not count
  const std::string padded = std::string(25, '0') + "18446744073709551615";
  run({query::UINT64, "bigint(45) unsigned zerofill"}, {{padded, "18446744073709551615"}});
  run({query::INT64, "bigint"},
      {{"123456789012345678901", "\"123456789012345678901\""}, {"-99999999999999999999", "-99999999999999999999"}});
}

TEST_CASE("values: tinyint(1) as boolean unless the option says otherwise") {
  run({query::INT8, "tinyint(1)"},
      {{"0", "false"}, {"1", "true"}, {"2", "2"}, {"-1", "-1"}, {"127", "127"}, {NUL, "null"}});
  run({query::UINT8, "tinyint(1) unsigned"}, {{"1", "true"}, {"0", "false"}, {"255", "255"}});
  run({query::INT8, "TINYINT(1)"}, {{"1", "true"}});
  run({query::INT8, "tinyint(1)"}, {{"0", "0"}, {"1", "1"}}, ValueOptions{.tiny_int_as_boolean = false});
  run({query::INT8, ""}, {{"1", "1"}});  // no column_type: cannot know, so a number (as Go)
}

TEST_CASE("values: decimal digits stay exact") {
  run({query::DECIMAL, "decimal(10,2)"}, {{"123.45", "123.45"},
                                          {"-123.45", "-123.45"},
                                          {"0.00", "0.00"},
                                          {".5", "0.5"},
                                          {"-.5", "-0.5"},
                                          {"-0.01", "-0.01"},
                                          {"100", "100"},
                                          {"5.", "5"},
                                          {"-0012.50", "-12.50"},
                                          {NUL, "null"}});
  std::string big = "99999999999999999999999999999999999.999999999999999999999999999999";
  run({query::DECIMAL, "decimal(65,30)"}, {{big, big}, {"-" + big, "-" + big}});
  run({query::DECIMAL, "decimal(5,2)"}, {{"1e5", "1e5"}, {"abc", "\"abc\""}, {".", "\".\""}});
}

TEST_CASE("values: float and double as sent") {
  run({query::FLOAT32, "float"}, {{"1.5", "1.5"}, {"-3.40282e38", "-3.40282e38"}, {"1e-7", "1e-7"}, {"0", "0"}});
  run({query::FLOAT64, "double"}, {{"1.7976931348623157e308", "1.7976931348623157e308"},
                                   {"-2.2250738585072014E-308", "-2.2250738585072014E-308"},
                                   {"1E+20", "1E+20"},
                                   {"NaN", "\"NaN\""},
                                   {"inf", "\"inf\""},
                                   {"1e", "\"1e\""}});
  // beyond a double's range: no FLOAT/DOUBLE holds it, and JSON readers refuse it (found by
  // tests/fuzz/fuzz_vstream_decoder; corpus/vstream_decoder/float_out_of_range)
  run({query::FLOAT32, "float"}, {{"-3.4032e828", "\"-3.4032e828\""}, {"1e-400", "\"1e-400\""}});
  const std::string huge = "1" + std::string(309, '0');
  run({query::FLOAT64, "double"}, {{huge, "\"" + huge + "\""}, {huge.substr(1) + ".5", "0.5"}});
  run({query::DECIMAL, "decimal(5,2)"}, {{"1e999", "\"1e999\""}});
}

TEST_CASE("values: year is a number") {
  run({query::YEAR, "year"}, {{"2024", "2024"}, {"1901", "1901"}, {"2155", "2155"}, {"0000", "0"}, {NUL, "null"}});
}

const ValueOptions kGoDates{.tiny_int_as_boolean = true, .invalid_dates_as_null = false};

TEST_CASE("values: date; zero and invalid dates are null, or the Go connector's values on request") {
  run({query::DATE, "date"}, {{"2024-02-29", "\"2024-02-29\""},
                              {"1000-01-01", "\"1000-01-01\""},
                              {"9999-12-31", "\"9999-12-31\""},
                              {"0000-01-01", "\"0000-01-01\""},
                              {"0000-00-00", "null"},
                              {"2024-00-10", "null"},
                              {"2024-01-00", "null"},
                              {"2023-02-29", "null"},
                              {"2024-04-31", "null"},
                              {"2024-1-1", "null"},
                              {NUL, "null"}});
  run({query::DATE, "date"},
      {{"2024-02-29", "\"2024-02-29\""},
       {"0000-00-00", "\"1970-01-01\""},
       {"2024-00-10", "\"2024-00-10\""},
       {"2023-02-29", "\"2023-02-29\""},
       {NUL, "null"}},
      kGoDates);
}

TEST_CASE("values: datetime with every fsp; zero and invalid values") {
  run({query::DATETIME, "datetime"}, {{"2025-01-31 09:15:00", "\"2025-01-31T09:15:00.000000\""},
                                      {"1000-01-01 00:00:00", "\"1000-01-01T00:00:00.000000\""},
                                      {"9999-12-31 23:59:59", "\"9999-12-31T23:59:59.000000\""},
                                      {"0000-01-01 00:00:00", "\"0000-01-01T00:00:00.000000\""},
                                      {"2024-02-29 12:00:00", "\"2024-02-29T12:00:00.000000\""},
                                      {"0000-00-00 00:00:00", "null"},
                                      {"2021-02-29 12:00:00", "null"},
                                      {"2020-00-00 00:00:00", "null"},
                                      {"2020-01-01 24:00:00", "null"},
                                      {NUL, "null"}});
  run({query::DATETIME, "datetime"},
      {{"2025-01-31 09:15:00", "\"2025-01-31T09:15:00.000000\""},
       {"0000-00-00 00:00:00", "\"1970-01-01T00:00:00.000000\""},
       {"2021-02-29 12:00:00", "\"2021-02-29 12:00:00\""},  // not a date: as received
       {"2020-00-00 00:00:00", "\"2020-00-00 00:00:00\""},
       {"2020-01-01 24:00:00", "\"2020-01-01 24:00:00\""}},
      kGoDates);
  run({query::DATETIME, "datetime(1)"}, {{"2025-01-31 09:15:00.5", "\"2025-01-31T09:15:00.500000\""}});
  run({query::DATETIME, "datetime(3)"}, {{"2025-01-31 09:15:00.123", "\"2025-01-31T09:15:00.123000\""}});
  run({query::DATETIME, "datetime(6)"}, {{"2025-01-31 09:15:00.123456", "\"2025-01-31T09:15:00.123456\""},
                                         {"0000-00-00 00:00:00.000000", "null"},
                                         {"2025-01-31 09:15:00.", "null"}});
  run({query::DATETIME, "datetime(6)"},
      {{"0000-00-00 00:00:00.000000", "\"1970-01-01T00:00:00.000000\""},
       {"2025-01-31 09:15:00.", "\"2025-01-31 09:15:00.\""}},
      kGoDates);
}

TEST_CASE("values: timestamp is RFC 3339 in UTC; zero and invalid values") {
  run({query::TIMESTAMP, "timestamp"}, {{"2025-02-14 08:08:08", "\"2025-02-14T08:08:08.000000+00:00\""},
                                        {"1970-01-01 00:00:01", "\"1970-01-01T00:00:01.000000+00:00\""},
                                        {"0000-00-00 00:00:00", "null"},
                                        {NUL, "null"}});
  run({query::TIMESTAMP, "timestamp"}, {{"0000-00-00 00:00:00", "\"1970-01-01T00:00:00.000000+00:00\""}}, kGoDates);
  run({query::TIMESTAMP, "timestamp(6)"}, {{"2038-01-19 03:14:07.999999", "\"2038-01-19T03:14:07.999999+00:00\""}});
}

TEST_CASE("values: time as received") {
  run({query::TIME, "time"},
      {{"12:34:56", "\"12:34:56\""}, {"-838:59:59", "\"-838:59:59\""}, {"838:59:59", "\"838:59:59\""}});
  run({query::TIME, "time(6)"}, {{"-00:00:00.000001", "\"-00:00:00.000001\""}});
}

TEST_CASE("values: text, UTF-8 repair, empty vs NULL") {
  const std::string fffd = "\xEF\xBF\xBD";
  run({query::VARCHAR, "varchar(255)"},
      {{"hello", "\"hello\""},
       {"", "\"\""},
       {NUL, "null"},
       {"\xC3\xA9\xE6\xBC\xA2\xF0\x9F\x98\x80", "\"\xC3\xA9\xE6\xBC\xA2\xF0\x9F\x98\x80\""},  // é漢😀
       {"a\xFF"
        "b",
        "\"a" + fffd + "b\""},
       {"\xE2\x82", "\"" + fffd + fffd + "\""},                        // truncated sequence
       {"\xED\xA0\x80", "\"" + fffd + fffd + fffd + "\""},             // surrogate
       {"\xC0\xAF", "\"" + fffd + fffd + "\""},                        // overlong
       {"\xF4\x90\x80\x80", "\"" + fffd + fffd + fffd + fffd + "\""},  // > U+10FFFF
       {"12345678\x80", "\"12345678" + fffd + "\""},
       {"say \"hi\" \\ now", "\"say \\\"hi\\\" \\\\ now\""},
       {"tab\tnl\n\x01", "\"tab\\tnl\\n\\u0001\""},
       {std::string("a\0b", 3), "\"a\\u0000b\""},
       {"<a&b>", "\"<a&b>\""}});
  run({query::CHAR, "char(3)"}, {{"abc", "\"abc\""}});
  run({query::TEXT, "text"}, {{"long\xC3\xA9", "\"long\xC3\xA9\""}, {"bad\xC3", "\"bad" + fffd + "\""}});
}

TEST_CASE("values: text in every character set becomes UTF-8") {
  const std::string fffd = "\xEF\xBF\xBD";
  // latin1 is MySQL's cp1252 variant: 0x80 is the euro sign, 0x81 (undefined in cp1252) is U+0081.
  for (std::uint32_t latin1 : {8u, 47u, 1032u}) {  // latin1_swedish_ci, latin1_bin, latin1_swedish_nopad_ci
    CAPTURE(latin1);
    run({query::VARCHAR, "varchar(20)", 0, latin1}, {{"caf\xE9", "\"café\""},
                                                     {"\x80 \x9F \xFF", "\"€ Ÿ ÿ\""},
                                                     {"\x81", "\"\xC2\x81\""},
                                                     {"plain", "\"plain\""},
                                                     {"", "\"\""},
                                                     {NUL, "null"}});
  }
  run({query::VARCHAR, "varchar(20)", 0, 26},  // cp1250
      {{"\xA3\xF3\x64\x9F \x9A \x80", "\"Łódź š €\""}, {"\x81", "\"" + fffd + "\""}});
  run({query::CHAR, "char(20)", 0, 9}, {{"\xA3\xF3\x64\xBC \xBB\xF8", "\"Łódź ťř\""}});  // latin2
  run({query::TEXT, "text", 0, 51},
      {{"\xCF\xF0\xE8\xE2\xE5\xF2 \xB8\xA8 \xB9", "\"Привет ёЁ №\""}, {"\x98", "\"" + fffd + "\""}});  // cp1251
  run({query::TEXT, "text", 0, 7}, {{"\xF0\xD2\xC9\xD7\xC5\xD4", "\"Привет\""}});                      // koi8r
  run({query::TEXT, "text", 0, 25}, {{"\xE1\xE2\xE3", "\"αβγ\""}, {"\xFF", "\"" + fffd + "\""}});      // greek
  run({query::TEXT, "text", 0, 16}, {{"\xF9\xEC\xE5\xED", "\"שלום\""}});                               // hebrew
  run({query::TEXT, "text", 0, 11}, {{"ascii ~", "\"ascii ~\""}, {"\xE9", "\"" + fffd + "\""}});       // ascii
  run({query::TEXT, "text", 0, 10}, {{"@[]", "\"ÉÄÅ\""}});  // swe7 redefines ASCII bytes
  // utf8mb3 / utf8mb4 (MariaDB, MySQL 8 and UCA 14 ids) are UTF-8 already; only invalid bytes are repaired.
  for (std::uint32_t utf8 : {33u, 45u, 224u, 255u, 309u, 2304u}) {
    CAPTURE(utf8);
    run({query::VARCHAR, "varchar(20)", 0, utf8},
        {{"h\xC3\xA9 \xF0\x9F\x98\x80", "\"hé 😀\""}, {"a\xE9", "\"a" + fffd + "\""}});
  }
  // Multi-byte sets through iconv: gbk, gb2312, cp932 (0x5C as a trail byte), UTF-16/32, UCS-2.
  run({query::VARCHAR, "varchar(20)", 0, 28},
      {{"\xD6\xD0\xCE\xC4!", "\"中文!\""}, {"\x81 x", "\"" + fffd + " x\""}, {"\xD6", "\"" + fffd + "\""}});
  run({query::VARCHAR, "varchar(20)", 0, 24}, {{"\xD6\xD0\xCE\xC4", "\"中文\""}});
  run({query::VARCHAR, "varchar(20)", 0, 95}, {{"\x83\x5C\x5C", "\"ソ\\\\\""}, {"\xB1\xB2", "\"ｱｲ\""}});
  run({query::VARCHAR, "varchar(20)", 0, 54}, {{bytes({0x00, 0x41, 0x00, 0xE9, 0xD8, 0x3D, 0xDE, 0x00}), "\"Aé😀\""}});
  run({query::VARCHAR, "varchar(20)", 0, 56}, {{bytes({0x41, 0x00, 0xE9, 0x00}), "\"Aé\""}});
  run({query::VARCHAR, "varchar(20)", 0, 60}, {{bytes({0, 0, 0, 0x41, 0, 1, 0xF6, 0x00}), "\"A😀\""}});
  run({query::VARCHAR, "varchar(20)", 0, 35}, {{bytes({0x00, 0x41}), "\"A\""}});
  // Not converted (glibc differs from MySQL, see docs/type-mapping.md), unknown ids: UTF-8 repair.
  run({query::VARCHAR, "varchar(20)", 0, 1}, {{"ok", "\"ok\""}, {"\xA4\xA4", "\"" + fffd + fffd + "\""}});  // big5
  run({query::VARCHAR, "varchar(20)", 0, 9999}, {{"\xC3\xA9\xE9", "\"é" + fffd + "\""}});
  // ENUM/SET: labels from column_type are UTF-8 (binlog phase); copy-phase cells are in the charset.
  run({query::ENUM, "enum('café','thé')", 0, 8}, {{"caf\xE9", "\"café\""}, {"café", "\"café\""}, {"2", "\"thé\""}});
  run({query::SET, "set('café','thé')", 0, 8},
      {{"caf\xE9,th\xE9", "\"café,thé\""}, {"café,thé", "\"café,thé\""}, {"3", "\"café,thé\""}, {"", "\"\""}});
}

TEST_CASE("values: collation ids name their character set") {
  CHECK(charset_of_collation(8) == "latin1");
  CHECK(charset_of_collation(26) == "cp1250");
  CHECK(charset_of_collation(63) == "binary");
  CHECK(charset_of_collation(76) == "utf8mb3");    // MySQL 8 only
  CHECK(charset_of_collation(248) == "gb18030");   // MySQL 8 only
  CHECK(charset_of_collation(255) == "utf8mb4");   // utf8mb4_0900_ai_ci
  CHECK(charset_of_collation(1069) == "utf8mb4");  // MariaDB utf8mb4_general_nopad_ci
  CHECK(charset_of_collation(2048) == "utf8mb3");  // MariaDB utf8mb3_uca1400_ai_ci
  CHECK(charset_of_collation(3271) == "utf32");
  CHECK(charset_of_collation(0).empty());
  CHECK(charset_of_collation(3328).empty());
  CHECK(text_encoding(8).kind == TextEncoding::Kind::single_byte);
  CHECK(text_encoding(28).kind == TextEncoding::Kind::iconv);
  CHECK(text_encoding(45).kind == TextEncoding::Kind::utf8);
  CHECK(text_encoding(63).kind == TextEncoding::Kind::utf8);
  CHECK_FALSE(text_encoding(10).ascii_compatible);  // swe7
  CHECK_FALSE(text_encoding(54).ascii_compatible);  // utf16
}

TEST_CASE("values: JSON documents become JSON strings") {
  run({query::JSON, "json"}, {{"{\"a\": [1, 2.5, null]}", "\"{\\\"a\\\": [1, 2.5, null]}\""},
                              {"\"x\"", "\"\\\"x\\\"\""},
                              {"null", "\"null\""},
                              {NUL, "null"}});
}

TEST_CASE("values: binary types as base64") {
  for (auto t : {query::BINARY, query::VARBINARY, query::BLOB, query::GEOMETRY}) {
    run({t, "blob"}, {{"", "\"\""},
                      {"a", "\"YQ==\""},
                      {"ab", "\"YWI=\""},
                      {"abc", "\"YWJj\""},
                      {"abcd", "\"YWJjZA==\""},
                      {bytes({0x00, 0xFF, 0xFE, 0x7F}), "\"AP/+fw==\""},
                      {NUL, "null"}});
  }
  // POINT(1 2) with SRID 0: 4-byte SRID + WKB
  std::string point = bytes({0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0, 0x40});
  run({query::GEOMETRY, "point"}, {{point, "\"AAAAAAEBAAAAAAAAAAAA8D8AAAAAAAAAQA==\""}});
}

TEST_CASE("values: BIT(1) boolean, BIT(n) exact integer") {
  run({query::BIT, "bit(1)"}, {{bytes({1}), "true"}, {bytes({0}), "false"}, {NUL, "null"}});
  run({query::BIT, "bit(8)"}, {{bytes({0xFF}), "255"}, {bytes({0}), "0"}});
  run({query::BIT, "bit(12)"}, {{bytes({0x0F, 0xFF}), "4095"}, {bytes({0x08, 0x01}), "2049"}});
  run({query::BIT, "bit(64)"}, {{bytes({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}), "18446744073709551615"},
                                {bytes({0x80, 0, 0, 0, 0, 0, 0, 1}), "9223372036854775809"}});
  run({query::BIT, "", 1}, {{bytes({1}), "true"}});  // width from column_length
  run({query::BIT, "", 10}, {{bytes({0x03, 0xFF}), "1023"}});
}

TEST_CASE("values: enum labels in both phases") {
  Spec sizes{query::ENUM, "enum('small','medium','large')"};
  run(sizes, {{"medium", "\"medium\""},
              {"2", "\"medium\""},
              {"1", "\"small\""},
              {"3", "\"large\""},
              {"0", "\"\""},
              {"4", "\"4\""},
              {"", "\"\""},
              {NUL, "null"}});
  // labels with commas, doubled quotes, backslashes, and labels spelled with digits
  Spec tricky{query::ENUM, "enum('a,b','it''s','x\\\\y','1','2')"};
  run(tricky, {{"a,b", "\"a,b\""},
               {"it's", "\"it's\""},
               {"x\\y", "\"x\\\\y\""},
               {"1", "\"1\""},  // detect: a label spelled "1" stays that label
               {"3", "\"x\\\\y\""},
               {"5", "\"2\""}});
  Column numbers = column_of(tricky);
  numbers.enum_encoding = EnumSetEncoding::numbers;
  CHECK(render(numbers, "1") == "\"a,b\"");
  CHECK(render(numbers, "2") == "\"it's\"");
  CHECK(render(numbers, "it's") == "\"it's\"");
  run(tricky, {{"3", "\"3\""}, {"1", "\"1\""}}, {}, /*enum_labels=*/true);
  run({query::ENUM, ""}, {{"2", "\"2\""}});  // no column_type: nothing to map with
}

TEST_CASE("values: set labels in both phases") {
  Spec abc{query::SET, "set('a','b','c')"};
  run(abc, {{"a,c", "\"a,c\""},
            {"5", "\"a,c\""},
            {"7", "\"a,b,c\""},
            {"2", "\"b\""},
            {"0", "\"\""},
            {"8", "\"8\""},
            {"", "\"\""},
            {NUL, "null"}});
  Spec commas{query::SET, "set('x,y','z','it''s')"};
  run(commas, {{"3", "\"x,y,z\""}, {"4", "\"it's\""}, {"x,y,it's", "\"x,y,it's\""}});
  run(abc, {{"5", "\"5\""}}, {}, /*enum_labels=*/true);
  // 64 members: the top bit maps too
  std::string ct = "set(";
  for (int i = 0; i < 64; ++i) ct += (i ? ",'m" : "'m") + std::to_string(i) + "'";
  ct += ")";
  run({query::SET, ct}, {{"9223372036854775809", "\"m0,m63\""}, {"18446744073709551616", "\"18446744073709551616\""}});
}

TEST_CASE("values: enum/set label parsing") {
  using V = std::vector<std::string>;
  CHECK(parse_enum_labels("enum('a','b')") == V{"a", "b"});
  CHECK(parse_enum_labels("ENUM('A', 'b c' ,'')") == V{"A", "b c", ""});
  CHECK(parse_enum_labels("set('x,y','it''s','q\\'r','back\\\\slash','nl\\n')") ==
        V{"x,y", "it's", "q'r", "back\\slash", "nl\n"});
  CHECK(parse_enum_labels("enum('a)','(b')") == V{"a)", "(b"});
  CHECK(parse_enum_labels("enum('\xC3\xA9t\xC3\xA9')") == V{"\xC3\xA9t\xC3\xA9"});
  CHECK(parse_enum_labels("enum('a'").empty());
  CHECK(parse_enum_labels("enum('a',)").empty());
  CHECK(parse_enum_labels("enum(a)").empty());
  CHECK(parse_enum_labels("varchar(3)").empty());
}

TEST_CASE("values: unknown and internal types render as text, NULL_TYPE as null") {
  run({query::HEXNUM, ""}, {{"0x1F", "\"0x1F\""}});
  run({query::EXPRESSION, ""}, {{"a+b", "\"a+b\""}});
  run({query::NULL_TYPE, ""}, {{"x", "null"}, {NUL, "null"}});
  run({query::VECTOR, "vector(2)"}, {{bytes({0, 0, 0x80, 0x3F}), "\"AACAPw==\""}});
}

namespace {
query::Field field(std::string name, query::Type t, std::string ct) {
  query::Field f;
  f.set_name(std::move(name));
  f.set_type(t);
  f.set_column_type(std::move(ct));
  return f;
}
query::Row row(std::vector<std::int64_t> lengths, std::string values) {
  query::Row r;
  for (auto l : lengths) r.add_lengths(l);
  r.set_values(std::move(values));
  return r;
}
std::string members(const std::vector<Column>& cols, const query::Row& r, std::vector<std::uint32_t> sel,
                    sv::Status* st_out = nullptr) {
  sv::JsonBuffer buf;
  sv::JsonWriter w(buf);
  w.StartObject();
  auto st = sel.empty() ? write_row_members(w, cols, r) : write_row_members(w, cols, r, sel);
  if (st_out) *st_out = st;
  if (!st) return "error: " + st.error().message;
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}
}  // namespace

TEST_CASE("values: whole rows") {
  google::protobuf::RepeatedPtrField<query::Field> fields;
  *fields.Add() = field("id", query::INT64, "bigint");
  *fields.Add() = field("name", query::VARCHAR, "varchar(10)");
  *fields.Add() = field("empty", query::VARCHAR, "varchar(10)");
  *fields.Add() = field("flag", query::INT8, "tinyint(1)");
  *fields.Add() = field("size", query::ENUM, "enum('s','m')");
  *fields.Add() = field("say \"q\"", query::DECIMAL, "decimal(3,1)");
  auto cols = make_columns(fields, {});
  REQUIRE(cols.size() == 6);
  auto r = row({2, -1, 0, 1, 1, 2},
               "42"
               ""
               ""
               "1"
               "2"
               ".5");
  CHECK(members(cols, r, {}) == R"({"id":42,"name":null,"empty":"","flag":true,"size":"m","say \"q\"":0.5})");
  CHECK(members(cols, r, {5, 0, 1}) == R"({"say \"q\"":0.5,"id":42,"name":null})");

  auto all_null = row({-1, -1, -1, -1, -1, -1}, "");
  CHECK(members(cols, all_null, {}) ==
        R"({"id":null,"name":null,"empty":null,"flag":null,"size":null,"say \"q\"":null})");

  CHECK(members(cols, row({2, -1}, "42"), {}) == "error: VStream row has 2 values but its FIELD event has 6 columns");
  CHECK(members(cols,
                row({2, -1, 0, 1, 1, 9},
                    "42"
                    "12.5"),
                {}) == "error: VStream row lengths overrun its 6 value bytes at column 5");
  CHECK(members(cols,
                row({2, -1, 0, 1, 1, 2},
                    "42"
                    "12.5"
                    "x"),
                {}) == "error: VStream row has 7 value bytes but its lengths add up to 6");
  CHECK(members(cols,
                row({2, -2, 0, 1, 1, 2},
                    "42"
                    "12.5"),
                {}) == "error: VStream row has invalid length -2 for column 1");
  CHECK(members(cols, r, {6}) == "error: column selection index 6 is out of range (6 columns)");
  sv::Status st = sv::Ok{};
  members(cols, row({2}, "42"), {0}, &st);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().type == sv::FailureType::system_error);
}

TEST_CASE("values: JSON-schema properties as discovered") {
  struct Case {
    std::string column_type;
    bool nullable;
    std::string json;
  };
  const Case cases[] = {
      {"tinyint(1)", false, R"({"type":["boolean"]})"},
      {"tinyint(1) unsigned", true, R"({"type":["null","boolean"]})"},
      {"tinyint(4)", false, R"({"type":["number"],"airbyte_type":"integer"})"},
      {"int", true, R"({"type":["null","number"],"airbyte_type":"integer"})"},
      {"int(10) unsigned", false, R"({"type":["number"],"airbyte_type":"integer"})"},
      {"smallint", false, R"({"type":["number"],"airbyte_type":"integer"})"},
      {"mediumint", false, R"({"type":["number"],"airbyte_type":"integer"})"},
      {"bigint unsigned", false, R"({"type":["number"],"airbyte_type":"integer"})"},
      {"decimal(10,2)", true, R"({"type":["null","number"]})"},
      {"double", false, R"({"type":["number"]})"},
      {"float", false, R"({"type":["number"]})"},
      {"datetime(6)", true,
       R"({"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_without_timezone"})"},
      // NOT NULL date columns are nullable too: a zero date is written as null
      {"timestamp", false,
       R"({"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_with_timezone"})"},
      {"date", false, R"({"type":["null","string"],"format":"date","airbyte_type":"date"})"},
      {"datetime", false,
       R"({"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_without_timezone"})"},
      {"time(3)", false, R"({"type":["string"],"format":"time","airbyte_type":"time_with_timezone"})"},
      {"year", false, R"({"type":["number"],"airbyte_type":"integer"})"},
      {"bit(1)", true, R"({"type":["null","boolean"]})"},
      {"bit(12)", false, R"({"type":["number"],"airbyte_type":"integer"})"},
      {"varchar(255)", true, R"({"type":["null","string"]})"},
      {"tinytext", false, R"({"type":["string"]})"},
      {"varbinary(16)", false, R"({"type":["string"]})"},
      {"longblob", false, R"({"type":["string"]})"},
      {"enum('a','b')", false, R"({"type":["string"]})"},
      {"set('a','b')", false, R"({"type":["string"]})"},
      {"json", true, R"({"type":["null","string"]})"},
      {"point", false, R"({"type":["string"]})"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.column_type);
    sv::JsonBuffer buf;
    sv::JsonWriter w(buf);
    write_property_schema(w, property_schema(c.column_type, c.nullable, {}));
    CHECK(std::string(buf.GetString(), buf.GetSize()) == c.json);
  }
  CHECK(property_schema("tinyint(1)", false, ValueOptions{.tiny_int_as_boolean = false}) ==
        PropertySchema{"number", "", "integer", false});
  // invalid_dates go_connector: the Go connector's schema, nullable only when the column is
  for (const char* ct : {"date", "datetime(3)", "timestamp"}) {
    CAPTURE(ct);
    CHECK_FALSE(property_schema(ct, false, kGoDates).nullable);
    CHECK(property_schema(ct, true, kGoDates).nullable);
  }
  CHECK_FALSE(property_schema("time", false, {}).nullable);
}
