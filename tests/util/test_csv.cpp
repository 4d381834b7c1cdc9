// tests/util: exact bytes of the CSV rendering (src/util/csv.hpp).
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "util/csv.hpp"

namespace {

using Cols = std::vector<std::string>;

std::string row(std::string_view json, const Cols& cols) {
  std::string out;
  auto st = sv::csv::append_row_from_json(out, json, cols);
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? std::string() : st.error().message));
  return out;
}

std::string header(const Cols& cols) {
  std::string out;
  sv::csv::append_header(out, cols);
  return out;
}

}  // namespace

TEST_CASE("header: plain names bare, names that need it quoted, CRLF") {
  CHECK(header({"id", "name", "created_at"}) == "id,name,created_at\r\n");
  CHECK(header({"a,b", "say \"hi\"", "cr\rx", "lf\nx", " lead", "trail ", "in side"}) ==
        "\"a,b\",\"say \"\"hi\"\"\",\"cr\rx\",\"lf\nx\",\" lead\",\"trail \",in side\r\n");
  CHECK(header({"only"}) == "only\r\n");
  CHECK(header({}) == "\r\n");
  CHECK(header({"", "x"}) == ",x\r\n");
}

TEST_CASE("header appends to what is already there") {
  std::string out = "prefix|";
  sv::csv::append_header(out, {"a"});
  CHECK(out == "prefix|a\r\n");
}

TEST_CASE("values: null, strings, numbers, booleans") {
  Cols c{"n", "s", "e", "i", "f", "t", "b"};
  CHECK(row(R"({"n":null,"s":"abc","e":"","i":-42,"f":1.5e-3,"t":true,"b":false})", c) ==
        ",\"abc\",\"\",-42,1.5e-3,true,false\r\n");
}

TEST_CASE("strings: quotes doubled, commas and CR/LF kept inside the quotes") {
  Cols c{"a", "b", "c"};
  CHECK(row(R"({"a":"say \"hi\"","b":"x,y","c":"l1\r\nl2\nl3\r"})", c) ==
        "\"say \"\"hi\"\"\",\"x,y\",\"l1\r\nl2\nl3\r\"\r\n");
  CHECK(row(R"({"a":"\"","b":"\"\"","c":" "})", c) == "\"\"\"\",\"\"\"\"\"\",\" \"\r\n");
}

TEST_CASE("strings: JSON escapes decoded to UTF-8") {
  Cols c{"a"};
  CHECK(row(R"({"a":"\\ \/ \b\f\t"})", c) == "\"\\ / \b\f\t\"\r\n");
  CHECK(row(R"({"a":"\u00e9\u20ac"})", c) == "\"\xc3\xa9\xe2\x82\xac\"\r\n");
  // U+1F600 as a surrogate pair → 4-byte UTF-8.
  CHECK(row(R"({"a":"\ud83d\ude00!"})", c) == "\"\xf0\x9f\x98\x80!\"\r\n");
  // Raw UTF-8 passes through unchanged.
  CHECK(row("{\"a\":\"\xc3\xa9t\xc3\xa9\"}", c) == "\"\xc3\xa9t\xc3\xa9\"\r\n");
  // \u0000 is a real NUL byte inside the field.
  CHECK(row(R"({"a":"x\u0000y"})", c) == std::string("\"x\0y\"\r\n", 7));
}

TEST_CASE("numbers keep their exact JSON text") {
  Cols c{"u", "d", "neg", "exp", "dec"};
  CHECK(row(R"({"u":18446744073709551615,"d":0.1000000000000000000001,"neg":-9223372036854775808,)"
            R"("exp":1E+300,"dec":12345678901234567890123456789012345678901234567890123456789012345})",
            c) ==
        "18446744073709551615,0.1000000000000000000001,-9223372036854775808,1E+300,"
        "12345678901234567890123456789012345678901234567890123456789012345\r\n");
  CHECK(row(R"({"u":0,"d":-0.0,"neg":1.0})", c) == "0,-0.0,1.0,,\r\n");
}

TEST_CASE("nested objects and arrays become compact JSON text, quoted") {
  Cols c{"o", "a", "e", "x"};
  CHECK(row(R"({"o": {"k": "v\"w", "n": [1, 2.50, null, true], "u":"\u00e9"},
                "a": [ ],  "e": {}, "x": [[{"y":18446744073709551616}]]})",
            c) ==
        "\"{\"\"k\"\":\"\"v\\\"\"w\"\",\"\"n\"\":[1,2.50,null,true],\"\"u\"\":\"\"\xc3\xa9\"\"}\","
        "\"[]\",\"{}\",\"[[{\"\"y\"\":18446744073709551616}]]\"\r\n");
}

TEST_CASE("fields follow the column order; missing keys empty; extra keys ignored") {
  Cols c{"c", "a", "b"};
  CHECK(row(R"({"a":1,"b":"two","c":3})", c) == "3,1,\"two\"\r\n");
  CHECK(row(R"({"a":1})", c) == ",1,\r\n");
  CHECK(row(R"({})", c) == ",,\r\n");
  CHECK(row(R"({"zz":"x","a":1,"nested_extra":{"c":9,"a":[1]},"arr_extra":[{"b":1}],"b":2})", c) == ",1,2\r\n");
  // A repeated key: the last value wins (also when it is null).
  CHECK(row(R"({"a":1,"a":2,"b":"x","b":null})", c) == ",2,\r\n");
  // No columns at all: an empty record.
  CHECK(row(R"({"a":1})", {}) == "\r\n");
}

TEST_CASE("NULL and the empty string are distinct") { CHECK(row(R"({"a":null,"b":""})", {"a", "b"}) == ",\"\"\r\n"); }

TEST_CASE("rows append; whitespace around the object is fine") {
  std::string out = "h\r\n";
  REQUIRE(sv::csv::append_row_from_json(out, " {\"a\":1}\n", {"a"}).ok());
  REQUIRE(sv::csv::append_row_from_json(out, "{\"a\":\"x\"}", {"a"}).ok());
  CHECK(out == "h\r\n1\r\n\"x\"\r\n");
}

TEST_CASE("malformed JSON: a system_error naming the problem, output unchanged") {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"({"a":1,)", "CSV row: malformed JSON: Missing a name for object member. (at offset 7)"},
      {R"({"a":1} x)",
       "CSV row: malformed JSON: The document root must not be followed by other values. (at offset 8)"},
      {R"({"a":"\ud83d"})", "CSV row: malformed JSON: The surrogate pair in string is invalid. (at offset 6)"},
      {R"({"a":tru})", "CSV row: malformed JSON: Invalid value. (at offset 8)"},
      {R"({"a":"x)", "CSV row: malformed JSON: Missing a closing quotation mark in string. (at offset 7)"},
      {"", "CSV row: malformed JSON: The document is empty. (at offset 0)"},
      {"[1,2]", "CSV row: the JSON value is not an object"},
      {"\"s\"", "CSV row: the JSON value is not an object"},
      {"12", "CSV row: the JSON value is not an object"},
      {"null", "CSV row: the JSON value is not an object"},
  };
  for (const Case& c : cases) {
    const std::string json = c.json;
    CAPTURE(json);
    std::string out = "keep";
    auto st = sv::csv::append_row_from_json(out, c.json, {"a"});
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().type == sv::FailureType::system_error);
    CHECK(st.error().message == c.message);
    CHECK(out == "keep");
  }
}

TEST_CASE("a row after a failed row is rendered correctly (scratch reset)") {
  std::string out;
  CHECK_FALSE(sv::csv::append_row_from_json(out, R"({"a":"partial","b":[1,)", {"a", "b"}).ok());
  CHECK(row(R"({"b":[3]})", {"a", "b"}) == ",\"[3]\"\r\n");
}

TEST_CASE("concurrent rows on worker threads give the same bytes") {
  const Cols cols{"id", "s", "j"};
  std::vector<std::string> outs(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < outs.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string json =
            "{\"id\":" + std::to_string(i) + ",\"s\":\"a\\\"b\",\"j\":{\"k\":[" + std::to_string(t) + "]}}";
        if (!sv::csv::append_row_from_json(outs[t], json, cols).ok()) return;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (std::size_t t = 0; t < outs.size(); ++t) {
    std::string expected;
    for (int i = 0; i < 2000; ++i) {
      expected += std::to_string(i) + ",\"a\"\"b\",\"{\"\"k\"\":[" + std::to_string(t) + "]}\"\r\n";
    }
    CHECK(outs[t] == expected);
  }
}

TEST_CASE("FieldWriter: one field per value, as append_row_from_json renders the value's JSON") {
  auto field = [](auto write) {
    std::string out = "|";
    sv::csv::FieldWriter w(out);
    CHECK(write(w));
    return out;
  };
  CHECK(field([](auto& w) { return w.Null(); }) == "|");
  CHECK(field([](auto& w) { return w.Bool(true); }) == "|true");
  CHECK(field([](auto& w) { return w.Bool(false); }) == "|false");
  CHECK(field([](auto& w) { return w.Uint64(18446744073709551615ULL); }) == "|18446744073709551615");
  CHECK(field([](auto& w) { return w.Uint64(0); }) == "|0");
  CHECK(field([](auto& w) { return w.String("say \"hi\",\r\n", 11); }) == "|\"say \"\"hi\"\",\r\n\"");
  CHECK(field([](auto& w) { return w.String("", 0); }) == "|\"\"");
  CHECK(field([](auto& w) { return w.String("x\0y", 3); }) == std::string("|\"x\0y\"", 6));
  CHECK(field([](auto& w) { return w.RawValue("-0.50", 5, rapidjson::kNumberType); }) == "|-0.50");
  CHECK(field([](auto& w) { return w.RawValue("\"QUJD\"", 6, rapidjson::kStringType); }) == "|\"QUJD\"");
  CHECK(field([](auto& w) { return w.RawValue("{\"a\":1}", 7, rapidjson::kObjectType); }) == "|\"{\"\"a\"\":1}\"");
}

TEST_CASE("append_quoted: quotes around, inner quotes doubled") {
  std::string out;
  sv::csv::append_quoted(out, "a\"b");
  sv::csv::append_quoted(out, "");
  CHECK(out == "\"a\"\"b\"\"\"");
}
