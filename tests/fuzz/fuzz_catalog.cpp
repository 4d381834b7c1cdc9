// tests/fuzz: libFuzzer target for the configured catalog parser (src/airbyte/catalog.*): any
// bytes as the text of a --catalog file, with the config's database "shop".
#include <set>
#include <utility>

#include "airbyte/catalog.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  svfuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto catalog = sv::airbyte::parse_configured_catalog(svfuzz::text(data, size), "shop");
  if (!catalog) {
    svfuzz::expect_config_error(catalog.error());
    return 0;
  }
  svfuzz::expect(!catalog->streams.empty(), "an accepted catalog has streams");
  std::set<std::pair<std::string, std::string>> seen;
  for (std::size_t i = 0; i < catalog->streams.size(); ++i) {
    const auto& s = catalog->streams[i];
    svfuzz::expect(!s.name.empty(), "every stream has a name");
    svfuzz::expect(s.keyspace == (s.ns.empty() ? std::string("shop") : s.ns), "keyspace is ns or the database");
    svfuzz::expect(s.columns.size() == s.column_types.size(), "one declared type per column");
    svfuzz::expect(seen.emplace(s.keyspace, s.name).second, "no stream configured twice");
    svfuzz::expect(catalog->find(s.keyspace, s.name) == i, "find() returns the stream");
  }
  return 0;
}
