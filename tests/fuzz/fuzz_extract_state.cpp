// tests/fuzz: libFuzzer target for extract's DIR/_state.json reader (src/extract/state_file.*).
// An accepted state must render (render_state) and parse back to itself.
#include <string>

#include "extract/state_file.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  svfuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = svfuzz::text(data, size);
  const auto state = sv::extract::parse_state(input, "out/_state.json");
  if (!state) {
    svfuzz::expect_config_error(state.error());
  } else {
    const auto back = sv::extract::parse_state(sv::extract::render_state(*state), "out/_state.json");
    svfuzz::expect(back.ok(), "a rendered _state.json parses");
    svfuzz::expect(*back == *state, "a rendered _state.json parses back to itself");
  }
  const auto stream = sv::extract::parse_stream_state(input);
  if (!stream) svfuzz::expect_config_error(stream.error());
  return 0;
}
