// tests/airbyte: the discovered catalog: stream_json (what `discover` prints per table) and
// as_configured_catalog (a `discover` answer read back as a configured catalog).
#include <doctest/doctest.h>

#include "airbyte/catalog.hpp"
#include "airbyte/discovered_catalog.hpp"

using namespace sv::airbyte;

TEST_CASE(
    "stream_json: properties sorted by name, then the CDC and metadata columns; cursor on the last "
    "key") {
  DiscoveredStream s;
  s.name = "order_items";
  s.ns = "shop";
  s.columns = {{"sku", R"({"type":["string"]})"}, {"line", R"({"type":["number"],"airbyte_type":"integer"})"}};
  s.primary_key = {"order_id", "line"};
  s.cdc_columns = true;
  s.metadata_column = true;
  CHECK(
      stream_json(s) ==
      R"({"name":"order_items","json_schema":{"type":"object","properties":{)"
      R"("line":{"type":["number"],"airbyte_type":"integer"},)"
      R"("sku":{"type":["string"]},)"
      R"("_ab_cdc_deleted_at":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_with_timezone"},)"
      R"("_ab_cdc_updated_at":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_with_timezone"},)"
      R"("_planetscale_metadata":{"type":["object"],"airbyte_type":"object"}}},)"
      R"("supported_sync_modes":["full_refresh","incremental"],"namespace":"shop",)"
      R"("source_defined_primary_key":[["order_id"],["line"]],"source_defined_cursor":true,)"
      R"("default_cursor_field":["line"],"is_resumable":true})");
}

TEST_CASE("stream_json: no key means no cursor field; no optional columns unless asked") {
  DiscoveredStream s;
  s.name = "events";
  s.ns = "shop";
  s.columns = {{"payload", R"({"type":["null","string"]})"}};
  CHECK(
      stream_json(s) ==
      R"({"name":"events","json_schema":{"type":"object","properties":{"payload":{"type":["null","string"]}}},)"
      R"("supported_sync_modes":["full_refresh","incremental"],"namespace":"shop",)"
      R"("source_defined_primary_key":[],"source_defined_cursor":true,"default_cursor_field":[],"is_resumable":true})");
}

TEST_CASE(
    "as_configured_catalog: a discover answer becomes full_refresh streams; anything else is "
    "kept") {
  const std::string discovered =
      R"({"type":"CATALOG","catalog":{"streams":[{"name":"customers","namespace":"shop","json_schema":{"type":"object","properties":{"id":{"type":["number"]}}}}]}})";
  CHECK(
      as_configured_catalog(discovered) ==
      R"({"streams":[{"stream":{"name":"customers","namespace":"shop","json_schema":{"type":"object","properties":{"id":{"type":["number"]}}}},)"
      R"("sync_mode":"full_refresh","destination_sync_mode":"overwrite"}]})");
  auto parsed = parse_configured_catalog(as_configured_catalog(discovered), "shop");
  REQUIRE(parsed.ok());
  CHECK(parsed->streams.at(0).name == "customers");
  CHECK(parsed->streams.at(0).columns == std::vector<std::string>{"id"});

  CHECK(as_configured_catalog(R"({"type":"CATALOG","catalog":{}})") == R"({"streams":[]})");
  const std::string configured = R"({"streams":[{"stream":{"name":"a"},"sync_mode":"full_refresh"}]})";
  CHECK(as_configured_catalog(configured) == configured);
  CHECK(as_configured_catalog("not json") == "not json");
}
