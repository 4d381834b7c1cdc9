// Unit: binlog value renderers and GTID mapping (no server).
#include <doctest/doctest.h>

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
