// Unit: binlog value renderers and GTID mapping (no server).
#include <doctest/doctest.h>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "emulator/mysql/binlog_decode.hpp"
#include "emulator/mysql/binlog_reader.hpp"

using namespace sv::emulator::mysql;

TEST_CASE("float and double render like MariaDB's text protocol") {
  CHECK(format_float(1.1f) == "1.1");
  CHECK(format_float(3.4028234e38f) == "3.40282e38");
  CHECK(format_float(-1.17549435e-38f) == "-1.17549e-38");
  CHECK(format_float(123456789.f) == "123457000");
  CHECK(format_float(0.000012345f) == "0.000012345");
  CHECK(format_float(16777216.f) == "16777200");
  CHECK(format_float(0.f) == "0");
  CHECK(format_double(0.1) == "0.1");
  CHECK(format_double(1.7976931348623157e308) == "1.7976931348623157e308");
  CHECK(format_double(2.2250738585072014e-308) == "2.2250738585072014e-308");
  CHECK(format_double(1e15) == "1e15");
  CHECK(format_double(1e16) == "1e16");
  CHECK(format_double(1e-5) == "0.00001");
  CHECK(format_double(123456789012345678.0) == "1.2345678901234568e17");
  CHECK(format_double(1e-15) == "0.000000000000001");
  CHECK(format_double(-0.5) == "-0.5");
  CHECK(format_double(3.141592653589793) == "3.141592653589793");
}

TEST_CASE("decimal binary form") {
  // DECIMAL(10,2) 1234.56: intg 8 -> 4 bytes, frac 2 -> 1 byte; positive sets the top bit.
  std::string bin = {char(0x80), 0, 0x04, char(0xd2), 0x38};
  CHECK(decimal_bin_size(10, 2) == 5);
  CHECK(*decode_decimal(bin, 10, 2) == "1234.56");
  std::string neg = bin;
  for (auto& c : neg) c = char(~static_cast<unsigned char>(c));
  CHECK(*decode_decimal(neg, 10, 2) == "-1234.56");
  std::string zero = {char(0x80), 0, 0, 0, 0};
  CHECK(*decode_decimal(zero, 10, 2) == "0.00");

  // Precision and scale no DECIMAL can have (a corrupt table map; found by tests/fuzz/fuzz_binlog
  // as an out-of-bounds index, corpus/binlog/decimal_scale_over_precision).
  CHECK(valid_decimal(65, 30));
  CHECK(valid_decimal(1, 0));
  CHECK_FALSE(valid_decimal(0, 0));
  CHECK_FALSE(valid_decimal(2, 3));
  CHECK_FALSE(valid_decimal(66, 0));
  CHECK_FALSE(valid_decimal(40, 31));
  CHECK(decode_decimal(bin, 2, 3).error().message == "invalid DECIMAL(2,3)");
  CHECK(decode_decimal("", 0, 0).error().message == "invalid DECIMAL(0,0)");
}

TEST_CASE("shard uuids and positions") {
  auto u = shard_uuid("commerce", "-80");
  CHECK(u == shard_uuid("commerce", "-80"));
  CHECK(u != shard_uuid("commerce", "80-"));
  CHECK(sv::emulator::GtidSet::valid_uuid(u));
  CHECK(u[14] == '5');
  auto p = position_for(u, 42);
  CHECK(p.to_string() == "MySQL56/" + u + ":1-42");
  CHECK(*seq_of_position(p, u) == 42);
  CHECK(*seq_of_position(sv::emulator::GtidSet{}, u) == 0);
  auto other = position_for(shard_uuid("x", "0"), 3);
  CHECK_FALSE(seq_of_position(other, u).ok());
  sv::emulator::GtidSet gap;
  gap.add(u, 2, 5);
  CHECK_FALSE(seq_of_position(gap, u).ok());
  CHECK(*seq_in_gtid_list("0-1-5,3-3-17", 3) == 17);
  CHECK(*seq_in_gtid_list("", 3) == 0);
  CHECK(MariaGtid::parse("1-2-3")->to_string() == "1-2-3");
  CHECK_FALSE(MariaGtid::parse("1-2").ok());
}

#include "emulator/mysql/mysql_front.hpp"

TEST_CASE("front helpers: LIKE patterns and mysql_native_password") {
  CHECK(sql_like("commerce/-80", "%commerce%"));
  CHECK(sql_like("commerce/-80", "commerce/_80"));
  CHECK_FALSE(sql_like("commerce/-80", "%80-"));
  CHECK(sql_like("commerce/80-", "%80-"));
  CHECK(sql_like("a%b", "a\\%b"));
  CHECK_FALSE(sql_like("axb", "a\\%b"));
  CHECK(sql_like("", "%"));
  CHECK(native_password_scramble("", "12345678901234567890").empty());
  // Known vector: SHA1("pass") XOR SHA1(scramble + SHA1(SHA1("pass"))) is 20 bytes and depends
  // on the scramble.
  auto a = native_password_scramble("pass", "12345678901234567890");
  auto b = native_password_scramble("pass", "abcdefghijabcdefghij");
  CHECK(a.size() == 20);
  CHECK(a != b);
}

TEST_CASE("a ROWS event whose present-columns bitmap is empty is an error, not an endless loop") {
  // TABLE_MAP of ks.small (id BIGINT UNSIGNED, name VARCHAR(20)) as MariaDB writes it, then a
  // WRITE_ROWS body naming no column: no row image can consume the bytes after it. Found by
  // tests/fuzz/fuzz_binlog (a hang); the input is corpus/binlog/empty_present_bitmap.
  const std::string map_body(
      "\x16\x00\x00\x00\x00\x00\x01\x00\x02\x6b\x73\x00\x05\x73\x6d\x61\x6c\x6c\x00\x02\x08\x0f\x02\x50\x00\x02\x01"
      "\x01\x80\x02\x01\x2d\x04\x08\x02\x69\x64\x04\x6e\x61\x6d\x65\x08\x01\x00",
      45);
  const auto map = parse_table_map(map_body);
  REQUIRE(map.ok());
  REQUIRE(map->types.size() == 2);
  const std::string rows_body("\x16\x00\x00\x00\x00\x00\x01\x00\x02\x00\x00\x01\x61", 13);
  const auto rows = parse_rows(23, rows_body, *map, render_hints(*map, nullptr));
  REQUIRE_FALSE(rows.ok());
  CHECK(rows.error().message == "malformed ROWS event: a row image without columns");
  CHECK(rows.error().type == sv::FailureType::system_error);
}

TEST_CASE("a SET or ENUM whose table map gives an impossible pack length is an error") {
  // MySQL packs an ENUM in 1-2 bytes and a SET in 1-4 or 8; a table map saying 9 made le() shift a
  // 64-bit value by 64 (UB). Found by tests/fuzz/fuzz_binlog; the input is
  // corpus/binlog/set_pack_length_9 (fuzz_binlog's format: ROWS type, TABLE_MAP length, TABLE_MAP, ROWS).
  const char* corpus = std::getenv("FUZZ_CORPUS");
  REQUIRE_MESSAGE(corpus != nullptr, "FUZZ_CORPUS is set by meson test");
  std::ifstream in(std::string(corpus) + "/binlog/set_pack_length_9", std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(data.size() > 3);
  const std::size_t map_len = std::size_t(std::uint8_t(data[1])) | std::size_t(std::uint8_t(data[2])) << 8;
  const auto map = parse_table_map(std::string_view(data).substr(3, map_len));
  REQUIRE(map.ok());
  const auto rows = parse_rows(24, std::string_view(data).substr(3 + map_len), *map, render_hints(*map, nullptr));
  REQUIRE_FALSE(rows.ok());
  CHECK(rows.error().message.find("pack length") != std::string::npos);
  CHECK(rows.error().type == sv::FailureType::system_error);
}
