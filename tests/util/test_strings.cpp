// tests/util: split_list — the comma lists users type.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "util/strings.hpp"

using V = std::vector<std::string>;

TEST_CASE("split_list trims each item and drops empty ones") {
  CHECK(sv::split_list("a, b,,c ") == V{"a", "b", "c"});
  CHECK(sv::split_list(" -80 ,\t80-\n") == V{"-80", "80-"});
  CHECK(sv::split_list("") == V{});
  CHECK(sv::split_list(" , ,") == V{});
  CHECK(sv::split_list("one") == V{"one"});
  CHECK(sv::split_list("x y  z", ' ') == V{"x", "y", "z"});
}
