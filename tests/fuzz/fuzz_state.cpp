// tests/fuzz: libFuzzer target for the --state parser (src/airbyte/state.*), every shape of
// docs/state.md, against a catalog of two streams (one with a namespace, one without). An
// accepted stream state must render (render_stream_state) and parse back to itself.
#include <string>

#include "airbyte/state.hpp"
#include "fuzz_support.hpp"
#include "util/base64.hpp"
#include "vitess/cursor.hpp"

namespace {

const sv::airbyte::ConfiguredCatalog& catalog() {
  static const sv::airbyte::ConfiguredCatalog c = [] {
    auto r = sv::airbyte::parse_configured_catalog(
        R"({"streams":[
          {"stream":{"name":"customers","namespace":"shop","json_schema":{}},"sync_mode":"incremental"},
          {"stream":{"name":"orders","json_schema":{}},"sync_mode":"full_refresh"}]})",
        "shop");
    svfuzz::expect(r.ok(), "the fixed catalog parses");
    return *r;
  }();
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  svfuzz::quiet_logs();
  (void)catalog();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& cat = catalog();
  const auto state = sv::airbyte::parse_state(svfuzz::text(data, size), cat);
  if (!state) {
    svfuzz::expect_config_error(state.error());
    return 0;
  }
  svfuzz::expect(state->streams.size() == cat.streams.size(), "one entry per configured stream");
  for (std::size_t i = 0; i < state->streams.size(); ++i) {
    const auto& s = state->streams[i];
    if (!s) continue;
    svfuzz::expect(!s->shards.empty(), "a stream state that is kept has shards");
    for (const auto& [shard, cursor] : s->shards) {
      svfuzz::expect(sv::base64_decode(cursor).ok(), "every kept cursor is base64");
      (void)sv::vitess::decode_cursor(cursor);  // the engine's next step; may refuse the protobuf
    }
    // Round trip through the Go connector's file shape.
    const std::string legacy =
        "{\"streams\":{\"" + cat.streams[i].legacy_key() + "\":" + sv::airbyte::render_stream_state(*s) + "}}";
    const auto back = sv::airbyte::parse_state(legacy, cat);
    svfuzz::expect(back.ok(), "a rendered stream state parses");
    svfuzz::expect(back->streams[i] == s, "a rendered stream state parses back to itself");
  }
  return 0;
}
