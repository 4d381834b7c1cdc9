// tests/fuzz: libFuzzer target for the emulator's binlog event decoder
// (src/emulator/mysql/binlog_decode.*). Input: 1 byte choosing the ROWS event type (v1/v2
// WRITE/UPDATE/DELETE), a 2-byte little-endian length L, L bytes of TABLE_MAP body, then the
// ROWS event body — both after the 19-byte event header, without checksum, as the binlog reader
// hands them over (tests/fuzz/binlog_seeds.py writes seeds from a real MariaDB binlog).
#include <array>

#include "emulator/mysql/binlog_decode.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  svfuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace m = sv::emulator::mysql;
  if (size < 3) return 0;
  static constexpr std::array<std::uint8_t, 6> kRowsTypes = {23, 24, 25, 30, 31, 32};
  const std::uint8_t type = kRowsTypes[data[0] % kRowsTypes.size()];
  const std::size_t map_len = std::size_t{data[1]} | std::size_t{data[2]} << 8;
  const std::string_view rest = svfuzz::text(data + 3, size - 3);
  const std::string_view map_body = rest.substr(0, map_len);
  const std::string_view rows_body = rest.substr(map_body.size());

  const auto map = m::parse_table_map(map_body);
  if (!map) return 0;  // the binlog reader turns this into its own error
  svfuzz::expect(map->meta.size() == map->types.size() && map->nullable.size() == map->types.size(),
                 "a table map has metadata and nullability per column");
  const auto schema = m::schema_from_table_map(*map, 1);
  svfuzz::expect(schema.fields.size() == map->types.size(), "one query.Field per table map column");
  for (const auto* s : {static_cast<const sv::emulator::TableSchema*>(nullptr), &schema}) {
    const auto hints = m::render_hints(*map, s);
    const auto rows = m::parse_rows(type, rows_body, *map, hints);
    if (!rows) continue;
    for (const auto& change : rows->changes) {
      for (const auto* row : {&change.before, &change.after}) {
        if (!row->has_value()) continue;
        svfuzz::expect(static_cast<std::size_t>((*row)->lengths_size()) == map->types.size(),
                       "a row image has one value per column");
        std::size_t packed = 0;
        for (const auto len : (*row)->lengths()) packed += len < 0 ? 0 : static_cast<std::size_t>(len);
        svfuzz::expect(packed == (*row)->values().size(), "a row's lengths cover its packed values");
      }
    }
  }
  return 0;
}
