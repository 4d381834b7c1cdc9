#include <doctest/doctest.h>

#include <string>

#include "airbyte/catalog.hpp"

using sv::airbyte::ConfiguredCatalog;
using sv::airbyte::parse_configured_catalog;
using sv::airbyte::SyncMode;

namespace {

std::string catalog_error(const std::string& text) {
  auto r = parse_configured_catalog(text, "shop");
  REQUIRE_MESSAGE(!r.ok(), text);
  CHECK(r.error().type == sv::FailureType::config_error);
  return r.error().message;
}

}  // namespace

TEST_CASE("catalog: streams with columns in schema order, modes, keys and generations") {
  const char* text = R"({"streams":[
    {"stream":{"name":"customers","namespace":"shop","json_schema":{"type":"object","properties":{
        "id":{"type":["number"]},"email":{"type":["null","string"]},"created_at":{"type":["null","string"]}}},
      "supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true},
     "sync_mode":"incremental","destination_sync_mode":"append_dedup","cursor_field":["id"],
     "primary_key":[["id"]],"generation_id":4,"minimum_generation_id":0,"sync_id":99},
    {"stream":{"name":"orders","json_schema":{"type":"object"}},
     "sync_mode":"full_refresh","destination_sync_mode":"overwrite"}
  ]})";
  auto r = parse_configured_catalog(text, "shop");
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  const ConfiguredCatalog& c = *r;
  CHECK(c.default_namespace == "shop");
  REQUIRE(c.streams.size() == 2);
  const auto& a = c.streams[0];
  CHECK(a.name == "customers");
  CHECK(a.ns == "shop");
  CHECK(a.keyspace == "shop");
  CHECK(a.columns == std::vector<std::string>{"id", "email", "created_at"});
  CHECK(a.sync_mode == SyncMode::incremental);
  CHECK(a.destination_sync_mode == "append_dedup");
  CHECK(a.cursor_field == std::vector<std::string>{"id"});
  CHECK(a.primary_key == std::vector<std::vector<std::string>>{{"id"}});
  CHECK(a.generation_id == 4);
  CHECK(a.minimum_generation_id == 0);
  CHECK(a.sync_id == 99);
  CHECK(a.legacy_key() == "shop:customers");
  CHECK(a.descriptor() == sv::airbyte::StreamDescriptor{"customers", "shop"});
  const auto& b = c.streams[1];
  CHECK(b.name == "orders");
  CHECK(b.ns.empty());          // messages keep the configured (absent) namespace
  CHECK(b.keyspace == "shop");  // the table lives in the config's database
  CHECK(b.columns.empty());
  CHECK(b.sync_mode == SyncMode::full_refresh);
  CHECK(!b.generation_id);
  CHECK(c.find("shop", "orders") == 1u);
  CHECK(!c.find("other", "orders"));
}

TEST_CASE("catalog: bad input is a config error naming the stream") {
  CHECK(catalog_error(R"({"streams":[]})") ==
        "the configured catalog has no streams: select at least one stream to sync");
  CHECK(catalog_error(R"({"streams":{}})") == "the configured catalog has no 'streams' array");
  CHECK(catalog_error(R"([])") == "the configured catalog must be a JSON object, got an array");
  CHECK(catalog_error("  ") == "the configured catalog is empty: expected a JSON object with 'streams'");
  CHECK(
      catalog_error(R"({"streams":[{"stream":{"name":"t","json_schema":{}},"sync_mode":"full_refresh_append"}]})") ==
      R"(catalog stream #1 ('t'): unsupported sync_mode "full_refresh_append" (this source supports "full_refresh" and "incremental"))");
  CHECK(catalog_error(R"({"streams":[{"stream":{"name":"t","json_schema":{}}}]})") ==
        R"(catalog stream #1 ('t'): 'sync_mode' is missing (expected "full_refresh" or "incremental"))");
  CHECK(
      catalog_error(R"({"streams":[{"stream":{"name":"t","json_schema":{}},"sync_mode":5}]})") ==
      R"(catalog stream #1 ('t'): 'sync_mode' must be a string: one of "full_refresh" or "incremental", got an integer)");
  // A key given twice has no one meaning (a lookup would take the first, Go the last).
  CHECK(
      catalog_error(
          R"({"streams":[{"stream":{"name":"t","json_schema":{}},"sync_mode":"incremental","sync_mode":"full_refresh"}]})") ==
      "the key 'sync_mode' appears twice in one object of the configured catalog (in streams[0]): "
      "remove one");
  CHECK(
      catalog_error(
          R"({"streams":[{"stream":{"name":"t","json_schema":{"properties":{"id":{},"id":{}}}},"sync_mode":"incremental"}]})") ==
      "the key 'id' appears twice in one object of the configured catalog (in "
      "streams[0].stream.json_schema.properties): "
      "remove one");
  CHECK(catalog_error(R"({"streams":[{"stream":{"json_schema":{}},"sync_mode":"incremental"}]})") ==
        "catalog stream #1: 'stream.name' must be a non-empty string");
  CHECK(catalog_error(R"({"streams":[{"sync_mode":"incremental"}]})") == "catalog stream #1 has no 'stream' object");
  CHECK(catalog_error(R"({"streams":[{"stream":{"name":"t"},"sync_mode":"incremental"}]})") ==
        "catalog stream #1 ('t'): 'stream.json_schema' must be an object");
  CHECK(
      catalog_error(
          R"({"streams":[{"stream":{"name":"t","json_schema":{}},"sync_mode":"incremental","cursor_field":"id"}]})") ==
      "catalog stream #1 ('t'): 'cursor_field' must be an array of strings, got a string");
  CHECK(
      catalog_error(
          R"({"streams":[{"stream":{"name":"t","json_schema":{}},"sync_mode":"incremental","primary_key":[["id",1]]}]})") ==
      "catalog stream #1 ('t'): each 'primary_key' entry must be an array of strings, has an integer");
  CHECK(catalog_error(R"({"streams":[{"stream":{"name":"t","json_schema":{}},"sync_mode":"incremental"},)"
                      R"({"stream":{"name":"t","namespace":"shop","json_schema":{}},"sync_mode":"full_refresh"}]})") ==
        "catalog stream #2 ('t'): the stream 'shop.t' is configured twice");
  CHECK(catalog_error("{\"streams\":[\n{\"stream\":}]}") ==
        "invalid JSON in the configured catalog at line 2, column 11 (byte offset 23): Invalid value.");
}
