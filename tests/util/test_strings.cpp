// tests/util: split_list (the comma lists users type), contains_ci, TlsMode spellings.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "util/strings.hpp"
#include "util/tls_mode.hpp"

using V = std::vector<std::string>;

TEST_CASE("split_list trims each item and drops empty ones") {
  CHECK(sv::split_list("a, b,,c ") == V{"a", "b", "c"});
  CHECK(sv::split_list(" -80 ,\t80-\n") == V{"-80", "80-"});
  CHECK(sv::split_list("") == V{});
  CHECK(sv::split_list(" , ,") == V{});
  CHECK(sv::split_list("one") == V{"one"});
  CHECK(sv::split_list("x y  z", ' ') == V{"x", "y", "z"});
}

TEST_CASE("contains_ci finds a lower-case needle in any case") {
  CHECK(sv::contains_ci("14: Socket closed", "socket closed"));
  CHECK(sv::contains_ci("SSL routines::WRONG VERSION NUMBER", "wrong version number"));
  CHECK(sv::contains_ci("GTIDSet Mismatch", "gtidset mismatch"));
  CHECK(sv::contains_ci("abc", ""));
  CHECK_FALSE(sv::contains_ci("socket", "socket closed"));  // needle longer than the text
  CHECK_FALSE(sv::contains_ci("connection refused", "socket closed"));
}

TEST_CASE("TlsMode: spellings round-trip; anything else is a config_error naming the four") {
  for (auto mode :
       {sv::TlsMode::verify_identity, sv::TlsMode::verify_ca, sv::TlsMode::required, sv::TlsMode::disabled}) {
    CHECK(sv::parse_tls_mode(sv::to_string(mode)).value() == mode);
  }
  CHECK(sv::to_string(sv::TlsMode::verify_ca) == "verify_ca");
  auto bad = sv::parse_tls_mode("preferred");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().type == sv::FailureType::config_error);
  CHECK(bad.error().message == "tls_mode 'preferred' is not one of disabled, required, verify_ca, verify_identity");
}
