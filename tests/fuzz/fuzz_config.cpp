// tests/fuzz: libFuzzer target for the config parser (src/airbyte/config.*): any bytes as the
// text of a --config file.
#include "airbyte/config.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  svfuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto config = sv::airbyte::parse_config(svfuzz::text(data, size));
  if (!config) {
    svfuzz::expect_config_error(config.error());
    return 0;
  }
  svfuzz::expect(!config->host.empty() && !config->database.empty() && !config->username.empty(),
                 "an accepted config has host, database and username");
  svfuzz::expect(config->timeout_seconds >= 1, "an accepted config has timeout_seconds >= 1");
  (void)sv::airbyte::describe(*config);
  return 0;
}
