// tests/vitess: GTID set parsing, canonical printing, containment and union.
#include <doctest/doctest.h>

#include <string>

#include "vitess/gtid.hpp"

using sv::vitess::GtidSet;
using sv::vitess::Uuid;

namespace {
const std::string A = "2174b383-5441-11e8-b90a-c80aa9429562";
const std::string B = "24da1670-0c0c-11e8-8442-00059a3c7b00";

GtidSet must(std::string_view text) {
  auto r = GtidSet::parse(text);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  return *r;
}
std::string canon(std::string_view text) { return must(text).to_string(); }
std::string error_of(std::string_view text) {
  auto r = GtidSet::parse(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().type == sv::FailureType::config_error);
  return r.error().message;
}
}  // namespace

TEST_CASE("gtid: canonical printing") {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"MySQL56/" + A + ":1-29516," + B + ":1-19:25-30", "MySQL56/" + A + ":1-29516," + B + ":1-19:25-30"},
      // bare set, unsorted uuids, upper case
      {"24DA1670-0C0C-11E8-8442-00059A3C7B00:1-3," + A + ":5", "MySQL56/" + A + ":5," + B + ":1-3"},
      // unsorted, overlapping and adjacent intervals merge
      {A + ":7-9:1-5:6", "MySQL56/" + A + ":1-9"},
      {A + ":10-20:1-3:15-25:5", "MySQL56/" + A + ":1-3:5:10-25"},
      // the same uuid twice
      {A + ":1-2," + A + ":3-4", "MySQL56/" + A + ":1-4"},
      // single numbers and N-N
      {A + ":4-4", "MySQL56/" + A + ":4"},
      // whitespace and newlines as in @@gtid_executed, empty blocks skipped
      {" " + A + ":1-5,\n" + B + " : 2 - 3 ,", "MySQL56/" + A + ":1-5," + B + ":2-3"},
      {"MySQL56/", "MySQL56/"},
      // \v and \f are whitespace to Vitess (Go's strings.TrimSpace) and to the emulator; found by
      // tests/fuzz/fuzz_gtid, input in corpus/gtid/form_feed
      {"MySQL56/\f", "MySQL56/"},
      {"\v" + A + ":1-5\f", "MySQL56/" + A + ":1-5"},
      // leading zeros, as Vitess's strconv.ParseUint reads them (corpus/gtid/leading_zeros)
      {A + ":" + std::string(22, '0') + "20", "MySQL56/" + A + ":20"},
      {A + ":9223372036854775807", "MySQL56/" + A + ":9223372036854775807"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    CHECK(canon(c.in) == c.out);
    CHECK(canon(canon(c.in)) == c.out);  // idempotent
  }
  CHECK(must(A + ":1-3").to_set_string() == A + ":1-3");
  CHECK(must("MySQL56/").to_set_string().empty());
  CHECK(must("MySQL56/").empty());
}

TEST_CASE("gtid: malformed input gives clear errors") {
  CHECK(error_of("") == "empty GTID position");
  CHECK(error_of("   ") == "empty GTID position");
  CHECK(error_of("current") == "'current' is a VStream request keyword, not a GTID set");
  CHECK(error_of("MariaDB/0-1-100") ==
        "unsupported GTID flavor 'MariaDB' in position 'MariaDB/0-1-100' (only MySQL56 is supported)");
  CHECK(error_of("FilePos/binlog.000001:4").find("unsupported GTID flavor 'FilePos'") == 0);
  CHECK(error_of("MySQL56/" + A) == "GTID block '" + A + "' has no ':<interval>' part in 'MySQL56/" + A + "'");
  CHECK(error_of("2174b383-5441-11e8-b90a-c80aa942956:1") ==
        "invalid server UUID '2174b383-5441-11e8-b90a-c80aa942956' in GTID set (expected 8-4-4-4-12 hex digits)"
        " in '2174b383-5441-11e8-b90a-c80aa942956:1'");
  CHECK(error_of("2174b383x5441-11e8-b90a-c80aa9429562:1").find("invalid server UUID") == 0);
  CHECK(error_of("2174b383-5441-11e8-b90a-c80aa942956g:1").find("invalid server UUID") == 0);
  CHECK(error_of(A + ":0-5") == "GTID interval '0-5' starts at 0 in '" + A + ":0-5' (numbers start at 1)");
  CHECK(error_of(A + ":9-5") == "GTID interval '9-5' is reversed in '" + A + ":9-5'");
  CHECK(error_of(A + ":") == "invalid GTID interval '' in '" + A + ":'");
  CHECK(error_of(A + ":1-") == "invalid GTID interval '1-' in '" + A + ":1-'");
  CHECK(error_of(A + ":1:") == "invalid GTID interval '' in '" + A + ":1:'");
  CHECK(error_of(A + ":-5").find("invalid GTID interval '-5'") == 0);
  CHECK(error_of(A + ":1x").find("invalid GTID interval '1x'") == 0);
  CHECK(error_of(A + ":9223372036854775808").find("invalid GTID interval") == 0);
  CHECK(error_of(A + ":99999999999999999999").find("invalid GTID interval") == 0);
  CHECK(error_of(A + ":tag:1-5") ==
        "invalid GTID interval 'tag' in '" + A + ":tag:1-5' (tagged GTIDs are not supported)");
}

TEST_CASE("gtid: containment") {
  struct Case {
    std::string a, b;
    bool a_contains_b;
  };
  const Case cases[] = {
      {A + ":1-10", A + ":1-10", true},
      {A + ":1-10", A + ":3-5", true},
      {A + ":1-10", A + ":3-5:7", true},
      {A + ":1-10", A + ":3-11", false},
      {A + ":1-5:7-10", A + ":5-7", false},  // 6 missing
      {A + ":1-5:7-10", A + ":1-5:8", true},
      {A + ":1-10", A + ":1-10," + B + ":1", false},
      {A + ":1-10," + B + ":1-3", A + ":2-3," + B + ":3", true},
      {A + ":1-10", "MySQL56/", true},
      {"MySQL56/", A + ":1", false},
      {A + ":1-10", B + ":1", false},
      {A + ":5", A + ":1-5", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.a);
    CAPTURE(c.b);
    CHECK(must(c.a).contains(must(c.b)) == c.a_contains_b);
    CHECK(contains(must(c.a), must(c.b)) == c.a_contains_b);
  }
  // incomparable sets (after a failover to a server with extra GTIDs)
  auto x = must(A + ":1-10," + B + ":1");
  auto y = must(A + ":1-12");
  CHECK_FALSE(x.contains(y));
  CHECK_FALSE(y.contains(x));
}

TEST_CASE("gtid: equality ignores spelling, union merges") {
  CHECK(must("MySQL56/" + A + ":1-3:4-5") == must(A + ":1-5"));
  CHECK(must(B + ":1," + A + ":2") == must(A + ":2," + B + ":1"));
  CHECK_FALSE(must(A + ":1-5") == must(A + ":1-6"));

  auto u = set_union(must(A + ":1-5:20"), must(A + ":6-10," + B + ":3"));
  CHECK(u.to_string() == "MySQL56/" + A + ":1-10:20," + B + ":3");
  CHECK(u.contains(must(A + ":1-5:20")));
  CHECK(u.contains(must(A + ":6-10," + B + ":3")));
  CHECK(set_union(GtidSet{}, must(A + ":1")).to_string() == "MySQL56/" + A + ":1");
  // union filling a hole
  CHECK(set_union(must(A + ":1-3:7-9"), must(A + ":4-6")).to_string() == "MySQL56/" + A + ":1-9");
  CHECK(set_union(must(A + ":1-3:7-9:12"), must(A + ":2-11")).to_string() == "MySQL56/" + A + ":1-12");
}

TEST_CASE("gtid: position_contains and uuid round trip") {
  auto r = sv::vitess::position_contains("MySQL56/" + A + ":1-100", "MySQL56/" + A + ":1-99");
  REQUIRE(r.ok());
  CHECK(*r);
  auto bad = sv::vitess::position_contains("", A + ":1");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "empty GTID position");
  auto u = Uuid::parse(A);
  REQUIRE(u.ok());
  CHECK(u->to_string() == A);
}
