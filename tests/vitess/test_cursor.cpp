// tests/vitess: the Go connector's state cursor and base64, byte for byte.
#include <doctest/doctest.h>

#include "util/base64.hpp"
#include "vitess/cursor.hpp"

using namespace sv::vitess;
using sv::base64_decode;
using sv::base64_encode;

TEST_CASE("cursor: Go connector vectors, byte for byte") {
  CHECK(encode_cursor(make_cursor("shop", "-80")) == "CgMtODASBHNob3A=");
  CHECK(encode_cursor(make_cursor("shop", "80-")) == "CgM4MC0SBHNob3A=");

  TableCursor with_pk = make_cursor("shop", "-80");
  auto* pk = with_pk.mutable_last_known_pk();
  auto* f = pk->add_fields();
  f->set_name("id");
  f->set_type(query::INT32);
  auto* row = pk->add_rows();
  row->add_lengths(2);
  row->set_values("42");
  CHECK(encode_cursor(with_pk) == "CgMtODASBHNob3AiEgoHCgJpZBCHAiIHCgEEEgI0Mg==");

  auto d = decode_cursor("CgMtODASBHNob3AiEgoHCgJpZBCHAiIHCgEEEgI0Mg==");
  REQUIRE(d.ok());
  CHECK(d->shard() == "-80");
  CHECK(d->keyspace() == "shop");
  CHECK(d->position().empty());
  REQUIRE(d->has_last_known_pk());
  REQUIRE(d->last_known_pk().fields_size() == 1);
  CHECK(d->last_known_pk().fields(0).name() == "id");
  CHECK(d->last_known_pk().fields(0).type() == query::INT32);
  REQUIRE(d->last_known_pk().rows_size() == 1);
  CHECK(d->last_known_pk().rows(0).lengths(0) == 2);
  CHECK(d->last_known_pk().rows(0).values() == "42");

  auto fresh = decode_cursor("CgM4MC0SBHNob3A=");
  REQUIRE(fresh.ok());
  CHECK(fresh->shard() == "80-");
  CHECK(fresh->keyspace() == "shop");
  CHECK_FALSE(fresh->has_last_known_pk());
}

TEST_CASE("cursor: round trip with a position") {
  std::string pos = "MySQL56/2174b383-5441-11e8-b90a-c80aa9429562:1-29516";
  auto text = encode_cursor(make_cursor("commerce", "-", pos));
  auto back = decode_cursor(text);
  REQUIRE(back.ok());
  CHECK(back->position() == pos);
  CHECK(back->shard() == "-");
  CHECK(encode_cursor(*back) == text);
  // Go's decoder ignores line breaks
  auto wrapped = decode_cursor("CgMtODAS\nBHNob3A=\r\n");
  REQUIRE(wrapped.ok());
  CHECK(wrapped->keyspace() == "shop");
  // the empty string is an empty cursor, as in Go
  auto empty = decode_cursor("");
  REQUIRE(empty.ok());
  CHECK(empty->shard().empty());
}

TEST_CASE("cursor: clear errors") {
  auto bad = decode_cursor("CgMt!DASBHNob3A=");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().type == sv::FailureType::config_error);
  CHECK(bad.error().message == "saved cursor is not valid base64 (invalid base64: illegal character at offset 4)");
  CHECK(decode_cursor("CgMtODASBHNob3A").error().message ==
        "saved cursor is not valid base64 (invalid base64: input length is not a multiple of 4 (missing padding?))");
  CHECK(decode_cursor("CgMtODASBHNob3A=x").error().message ==
        "saved cursor is not valid base64 (invalid base64: data after padding at offset 16)");
  CHECK(decode_cursor("C===").error().message ==
        "saved cursor is not valid base64 (invalid base64: misplaced padding at offset 1)");
  // valid base64, not a TableCursor: a truncated length-delimited field
  CHECK(decode_cursor(base64_encode("\x0a\x10"
                                    "ab"))
            .error()
            .message == "saved cursor is not a valid psdbconnect.v1alpha1.TableCursor protobuf");
}

TEST_CASE("base64: RFC 4648 vectors") {
  const std::pair<std::string, std::string> v[] = {{"", ""},
                                                   {"f", "Zg=="},
                                                   {"fo", "Zm8="},
                                                   {"foo", "Zm9v"},
                                                   {"foob", "Zm9vYg=="},
                                                   {"fooba", "Zm9vYmE="},
                                                   {"foobar", "Zm9vYmFy"},
                                                   {"user:pa ss", "dXNlcjpwYSBzcw=="},
                                                   {std::string("\xff\xfe\x00", 3), "//4A"}};
  for (const auto& [plain, enc] : v) {
    CHECK(base64_encode(plain) == enc);
    auto d = base64_decode(enc);
    REQUIRE(d.ok());
    CHECK(*d == plain);
  }
}
