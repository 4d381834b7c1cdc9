// tests/util: JsonWriter's block-scanning string escape and raw-value copy (util/json.hpp) against
// exact expected text, and against RapidJSON's own Writer, whose output it must reproduce byte for
// byte (RECORD lines, golden files and the decoder differential tests depend on that).
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "util/json.hpp"

namespace {

using namespace std::string_literals;

std::string ours(std::string_view s) {
  sv::JsonBuffer b;
  sv::JsonWriter w(b);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(b.GetString(), b.GetSize());
}

std::string rapidjsons(std::string_view s) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(b.GetString(), b.GetSize());
}

}  // namespace

TEST_CASE("JsonWriter escapes each class of byte as RapidJSON does") {
  // Control characters: the five short forms, the rest \u00XX with upper-case hex.
  CHECK(ours("\b\t\n\f\r") == R"("\b\t\n\f\r")");
  CHECK(ours("\x01\x0b\x0e\x1a\x1f") == R"("\u0001\u000B\u000E\u001A\u001F")");
  CHECK(ours("a\0b"s) == R"("a\u0000b")");
  CHECK(ours("\"") == R"("\"")");
  CHECK(ours("\\") == R"("\\")");
  // Not escaped: space, '/', DEL, and every byte >= 0x80 (valid UTF-8 or not: copied as is).
  CHECK(ours(" /\x7f") == "\" /\x7f\"");
  CHECK(ours("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80") == "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
  CHECK(ours("\xff\xfe\xc3(\x80") == "\"\xff\xfe\xc3(\x80\"");
  CHECK(ours("") == R"("")");
  // Each byte value alone, and in the middle of a block of eight.
  for (int c = 0; c < 256; ++c) {
    const std::string one(1, static_cast<char>(c));
    CHECK(ours(one) == rapidjsons(one));
    const std::string block = "abc" + one + "defghijk";
    CHECK(ours(block) == rapidjsons(block));
  }
}

TEST_CASE("JsonWriter escapes at every position of a block and across block boundaries") {
  // A 40-byte run of plain text with one or two escapes moved through every offset: the scan
  // reads eight bytes at a time, so this covers first/last byte of a block and the tail loop.
  const std::string plain(40, 'x');
  for (std::size_t i = 0; i < plain.size(); ++i) {
    for (const char* e : {"\"", "\\", "\n", "\x01", "\x1f"}) {
      std::string s = plain;
      s[i] = e[0];
      CHECK(ours(s) == rapidjsons(s));
      for (std::size_t j = i + 1; j < s.size(); j += 3) {
        std::string t = s;
        t[j] = '\\';
        CHECK(ours(t) == rapidjsons(t));
      }
    }
  }
  // A long run of nothing but escapes (the worst case of the reserved room) and a long plain run.
  const std::string quotes(1000, '"');
  std::string escaped_quotes = "\"";
  for (int k = 0; k < 1000; ++k) escaped_quotes += "\\\"";
  CHECK(ours(quotes) == escaped_quotes + "\"");
  CHECK(ours(std::string(1000, '\x02')) == rapidjsons(std::string(1000, '\x02')));
  CHECK(ours(std::string(4096, 'q')) == "\"" + std::string(4096, 'q') + "\"");
  // Multibyte UTF-8 straddling the 8-byte boundaries, with escapes next to it.
  std::string mixed;
  for (int k = 0; k < 20; ++k) mixed += "\xe2\x82\xac\"\xc3\xa9\\\xf0\x9f\x98\x80\t";
  CHECK(ours(mixed) == rapidjsons(mixed));
}

TEST_CASE("JsonWriter matches RapidJSON on random byte strings") {
  std::mt19937_64 rng(15);
  for (int n = 0; n < 3000; ++n) {
    const std::size_t len = rng() % 70;
    std::string s(len, '\0');
    for (auto& c : s) {
      // Mostly printable ASCII (long runs), sometimes any byte, so escapes land anywhere.
      const std::uint64_t r = rng();
      c = (r % 8 == 0) ? static_cast<char>(r >> 8) : static_cast<char>(0x20 + (r >> 8) % 95);
    }
    REQUIRE(ours(s) == rapidjsons(s));
  }
}

TEST_CASE("JsonWriter keys, raw values and nesting are RapidJSON's") {
  auto render = [](auto& w) {
    w.StartObject();
    w.Key("id");
    w.Int64(-42);
    w.Key("na\"me", 5);
    w.String(std::string("v\\al"));
    w.Key("n", 1);
    w.RawValue("12.50", 5, rapidjson::kNumberType);
    w.Key("list");
    w.StartArray();
    w.RawValue("{\"a\":[1,2]}", 11, rapidjson::kObjectType);
    w.String("");
    w.RawValue("", 0, rapidjson::kStringType);  // an empty raw value adds only its separator
    w.Null();
    w.EndArray();
    w.EndObject();
  };
  sv::JsonBuffer a;
  sv::JsonWriter wa(a);
  render(wa);
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> wb(b);
  render(wb);
  CHECK(std::string(a.GetString()) == std::string(b.GetString()));
  CHECK(std::string(a.GetString()) == R"({"id":-42,"na\"me":"v\\al","n":12.50,"list":[{"a":[1,2]},"",,null]})");
  CHECK(wa.IsComplete());
}
