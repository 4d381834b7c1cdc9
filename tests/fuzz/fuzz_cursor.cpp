// tests/fuzz: libFuzzer target for the TableCursor decoder (src/vitess/cursor.*): the input as
// a saved cursor string, and the input's bytes as the protobuf inside a valid base64 string. An
// accepted cursor must encode and decode back to itself; base64 must round-trip any bytes.
#include <string>

#include "fuzz_support.hpp"
#include "util/base64.hpp"
#include "vitess/cursor.hpp"

namespace {

void check_cursor(std::string_view text) {
  const auto cursor = sv::vitess::decode_cursor(text);
  if (!cursor) {
    svfuzz::expect_config_error(cursor.error());
    return;
  }
  const auto again = sv::vitess::decode_cursor(sv::vitess::encode_cursor(*cursor));
  svfuzz::expect(again.ok(), "an encoded cursor decodes");
  svfuzz::expect(again->SerializeAsString() == cursor->SerializeAsString(), "a cursor round-trips");
  (void)sv::vitess::copy_pending(*cursor);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = svfuzz::text(data, size);
  check_cursor(input);
  const std::string b64 = sv::base64_encode(input);
  const auto raw = sv::base64_decode(b64);
  svfuzz::expect(raw.ok() && *raw == input, "base64 round-trips any bytes");
  check_cursor(b64);
  return 0;
}
