#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "airbyte/catalog.hpp"
#include "airbyte/state.hpp"
#include "util/base64.hpp"

using sv::airbyte::ConfiguredCatalog;
using sv::airbyte::InputState;
using sv::airbyte::parse_state;
using sv::airbyte::StateShape;
using sv::airbyte::StreamState;

namespace {

// Test vectors of go-connector-reference.md §5.2 (psdbconnect.v1alpha1.TableCursor, base64).
constexpr const char* kFreshLeft = "CgMtODASBHNob3A=";                               // {shard:"-80", keyspace:"shop"}
constexpr const char* kFreshRight = "CgM4MC0SBHNob3A=";                              // {shard:"80-", keyspace:"shop"}
constexpr const char* kWithLastPk = "CgMtODASBHNob3AiEgoHCgJpZBCHAiIHCgEEEgI0Mg==";  // + last_known_pk id=42

ConfiguredCatalog catalog() {
  auto r = sv::airbyte::parse_configured_catalog(
      R"({"streams":[
        {"stream":{"name":"customers","namespace":"shop","json_schema":{}},"sync_mode":"incremental"},
        {"stream":{"name":"orders","json_schema":{}},"sync_mode":"full_refresh"}]})",
      "shop");
  REQUIRE(r.ok());
  return *r;
}

InputState parse_ok(const std::string& text) {
  auto r = parse_state(text, catalog());
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  return *r;
}

std::string parse_error(const std::string& text) {
  auto r = parse_state(text, catalog());
  REQUIRE_MESSAGE(!r.ok(), text);
  CHECK(r.error().type == sv::FailureType::config_error);
  return r.error().message;
}

const StreamState kTwoShards{{{"-80", kFreshLeft}, {"80-", kFreshRight}}};
const StreamState kCopying{{{"-80", kWithLastPk}}};

}  // namespace

TEST_CASE("state: base64 of the Go connector's TableCursor test vectors") {
  CHECK(sv::base64_decode(kFreshLeft).value() == std::string("\x0a\x03-80\x12\x04shop", 11));
  CHECK(sv::base64_decode(kFreshRight).value() == std::string("\x0a\x03"
                                                              "80-\x12\x04shop",
                                                              11));
  const std::string with_pk = std::string("\x0a\x03-80\x12\x04shop", 11) +
                              std::string(
                                  "\x22\x12\x0a\x07\x0a\x02id\x10\x87\x02\x22\x07\x0a\x01\x04\x12\x02"
                                  "42",
                                  20);
  CHECK(sv::base64_decode(kWithLastPk).value() == with_pk);
  CHECK(sv::base64_encode(with_pk) == kWithLastPk);
  CHECK(sv::base64_encode("") == "");
  CHECK(sv::base64_encode("a") == "YQ==");
  CHECK(sv::base64_encode("ab") == "YWI=");
  CHECK_FALSE(sv::base64_decode("YQ=").ok());       // length
  CHECK_FALSE(sv::base64_decode("Y=Q=").ok());      // data after padding
  CHECK_FALSE(sv::base64_decode("YQ-_").ok());      // URL alphabet
  CHECK_FALSE(sv::base64_decode("YQ==YQ==").ok());  // padding in the middle
}

TEST_CASE("state: no state") {
  for (const char* text : {"", "   \n\t", "null", "[]", "{}", " [ ] "}) {
    CAPTURE(text);
    const InputState s = parse_ok(text);
    CHECK(s.shape == StateShape::none);
    REQUIRE(s.streams.size() == 2);
    CHECK(!s.streams[0]);
    CHECK(!s.streams[1]);
  }
}

TEST_CASE("state: v2 array of STREAM states; missing namespace means the database") {
  const InputState s = parse_ok(std::string(R"([
    {"type":"STREAM","stream":{"stream_descriptor":{"name":"customers","namespace":"shop"},
      "stream_state":{"shards":{"-80":{"cursor":")") +
                                kFreshLeft + R"("},"80-":{"cursor":")" + kFreshRight + R"("}}}},
      "sourceStats":{"recordCount":3.0}},
    {"type":"STREAM","stream":{"stream_descriptor":{"name":"orders"},
      "stream_state":{"shards":{"-80":{"cursor":")" +
                                kWithLastPk + R"("}}}}}])");
  CHECK(s.shape == StateShape::stream_array);
  CHECK(s.streams[0] == kTwoShards);
  CHECK(s.streams[1] == kCopying);
  CHECK(s.ignored_entries == 0);
}

TEST_CASE("state: a stream named twice keeps the later entry and warns the user") {
  const InputState s = parse_ok(std::string(R"([
    {"type":"STREAM","stream":{"stream_descriptor":{"name":"orders"},
      "stream_state":{"shards":{"-80":{"cursor":")") +
                                kWithLastPk + R"("}}}}},
    {"type":"STREAM","stream":{"stream_descriptor":{"name":"orders","namespace":"shop"},
      "stream_state":{"shards":{"-80":{"cursor":")" +
                                kFreshLeft + R"("},"80-":{"cursor":")" + kFreshRight + R"("}}}}}])");
  CHECK(s.streams[1] == kTwoShards);
  CHECK(s.warnings ==
        std::vector<std::string>{"the input state names stream 'shop:orders' twice; the later entry wins"});
}

TEST_CASE("state: entries of streams not in the catalog are ignored; null or {} stream_state = from scratch") {
  const InputState s = parse_ok(std::string(R"([
    {"type":"STREAM","stream":{"stream_descriptor":{"name":"gone","namespace":"shop"},"stream_state":{"shards":{}}}},
    {"type":"STREAM","stream":{"stream_descriptor":{"name":"orders","namespace":"other"},"stream_state":null}},
    {"type":"STREAM","stream":{"stream_descriptor":{"name":"customers","namespace":"shop"},"stream_state":{}}},
    {"type":"STREAM","stream":{"stream_descriptor":{"name":"orders","namespace":"shop"},"stream_state":null}}])"));
  CHECK(s.ignored_entries == 2);
  CHECK(!s.streams[0]);
  CHECK(!s.streams[1]);
}

TEST_CASE("state: GLOBAL state maps its stream_states") {
  const InputState s = parse_ok(std::string(R"({"type":"GLOBAL","global":{"shared_state":{"x":1},"stream_states":[
      {"stream_descriptor":{"name":"customers","namespace":"shop"},"stream_state":{"shards":{"-80":{"cursor":")") +
                                kFreshLeft + R"("},"80-":{"cursor":")" + kFreshRight + R"("}}}}]}})");
  CHECK(s.shape == StateShape::global);
  CHECK(s.streams[0] == kTwoShards);
  CHECK(!s.streams[1]);
  // The same inside the v2 array.
  const InputState a = parse_ok(std::string(R"([{"type":"GLOBAL","global":{"stream_states":[
      {"stream_descriptor":{"name":"orders"},"stream_state":{"shards":{"-80":{"cursor":")") +
                                kWithLastPk + R"("}}}}]}}])");
  CHECK(a.streams[1] == kCopying);
}

TEST_CASE("state: the Go connector's legacy object, bare and wrapped in data") {
  const std::string legacy = std::string(R"({"streams":{"shop:customers":{"shards":{"-80":{"cursor":")") + kFreshLeft +
                             R"("},"80-":{"cursor":")" + kFreshRight +
                             R"("}}},"shop:orders":{"shards":{"-80":{"cursor":")" + kWithLastPk +
                             R"("}}},"other:customers":{"shards":{"-":{"cursor":")" + kFreshLeft + R"("}}}}})";
  const InputState bare = parse_ok(legacy);
  CHECK(bare.shape == StateShape::legacy_streams);
  CHECK(bare.streams[0] == kTwoShards);
  CHECK(bare.streams[1] == kCopying);
  CHECK(bare.ignored_entries == 1);

  const InputState data = parse_ok(R"({"data":)" + legacy + "}");
  CHECK(data.shape == StateShape::legacy_data);
  CHECK(data.streams[0] == kTwoShards);
  CHECK(data.streams[1] == kCopying);

  // What an old platform sends: an array holding one LEGACY message (or one without a type).
  for (const char* type : {R"("type":"LEGACY",)", ""}) {
    const InputState arr = parse_ok(std::string("[{") + type + R"("data":)" + legacy + "}]");
    CHECK(arr.shape == StateShape::legacy_data);
    CHECK(arr.streams[0] == kTwoShards);
  }
}

TEST_CASE("state: what the emitter writes reads back unchanged") {
  const std::string line =
      sv::airbyte::render_state_message(sv::airbyte::StreamDescriptor{"customers", "shop"}, kTwoShards, 12);
  CHECK(line == std::string(R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":)"
                            R"({"name":"customers","namespace":"shop"},"stream_state":{"shards":{"-80":{"cursor":")") +
                    kFreshLeft + R"("},"80-":{"cursor":")" + kFreshRight +
                    R"("}}}},"sourceStats":{"recordCount":12.0}}})" + "\n");
  // The platform hands back the STATE message's `state` objects as an array.
  const auto start = line.find("\"state\":") + 8;
  const std::string state_obj = line.substr(start, line.size() - 1 - start - 1);
  const InputState s = parse_ok("[" + state_obj + "]");
  CHECK(s.streams[0] == kTwoShards);
  CHECK(sv::airbyte::render_stream_state(StreamState{}) == R"({"shards":{}})");
}

TEST_CASE("state: bad state is a config error that names the stream and shard") {
  CHECK(
      parse_error(R"({"cdc":false,"streams":[{"stream_name":"customers"}]})") ==
      R"(the state is a Debezium-style CDC state ({"cdc":…}), which neither this source nor the PlanetScale connector writes; reset the connection's state to start over)");
  CHECK(parse_error(R"({"streams":{"shop:customers":{"shards":{"-80":{"cursor":"not base64!"}}}}})") ==
        "state for stream 'shop:customers', shard '-80': the cursor is not valid base64");
  CHECK(parse_error(R"({"streams":{"shop:customers":{"shards":{"-80":"CgMtODASBHNob3A="}}}})") ==
        R"(state for stream 'shop:customers', shard '-80': expected {"cursor":"<base64>"})");
  CHECK(
      parse_error(R"({"streams":{"shop:customers":{"position":"x"}}})") ==
      R"(state for stream 'shop:customers' has no 'shards' object (expected {"shards":{"<shard>":{"cursor":"<base64>"}}}))");
  CHECK(parse_error(R"({"streams":{"customers":{}}})") ==
        R"(the state: stream key 'customers' is not of the form "<namespace>:<table>")");
  CHECK(parse_error(R"([{"type":"STREAM"}])") == "state entry #1: a STREAM state needs a 'stream' object");
  CHECK(parse_error(R"([{"type":"PER_SHARD"}])") ==
        R"(state entry #1: unknown state type "PER_SHARD" (expected STREAM, GLOBAL or LEGACY))");
  CHECK(parse_error(R"([{"type":"STREAM","stream":{"stream_state":{}}}])") ==
        "state entry #1 has no 'stream_descriptor' object");
  CHECK(parse_error("42") == "the state must be a JSON array of state messages or an object, got an integer");
  CHECK(parse_error(R"({"something":"else"})") ==
        "the state has no 'streams' object: not a state this source or the PlanetScale connector wrote");
  CHECK(parse_error("[\n  {\"type\": \"STREAM\",,}\n]") ==
        "invalid JSON in the state at line 2, column 21 (byte offset 22): Missing a name for object member.");
}

TEST_CASE("state: absurdly deep nesting is an error, not a stack overflow") {
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  auto r = parse_state(deep, catalog());
  REQUIRE(!r.ok());
  CHECK(r.error().message == "state entry #1 must be a state message object, got an array");
}
