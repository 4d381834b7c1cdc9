#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <map>
#include <set>
#include <string>

#include "airbyte/spec.hpp"
#include "util/json.hpp"

namespace {

std::string dump(const rapidjson::Value& v) {
  sv::JsonBuffer b;
  sv::JsonWriter w(b);
  v.Accept(w);
  return std::string(b.GetString(), b.GetSize());
}

struct Expected {
  const char* type;
  const char* title;
  const char* default_json;  // nullptr = no default
};

}  // namespace

TEST_CASE("spec: one SPEC line with protocol version, documentation URL and sync modes") {
  const std::string line = sv::airbyte::spec_message();
  REQUIRE(!line.empty());
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  rapidjson::Document d;
  d.Parse(line.c_str());
  REQUIRE(!d.HasParseError());
  CHECK(std::string(d["type"].GetString()) == "SPEC");
  const auto& spec = d["spec"];
  CHECK(std::string(spec["protocol_version"].GetString()) == "0.5.2");
  CHECK(std::string(spec["documentationUrl"].GetString()) == "https://planetscale.com/docs/integrations/airbyte");
  CHECK(dump(spec["supported_destination_sync_modes"]) == R"(["overwrite","append","append_dedup"])");
  CHECK(spec["supportsIncremental"].GetBool());
  const auto& cs = spec["connectionSpecification"];
  CHECK(std::string(cs["$schema"].GetString()) == "http://json-schema.org/draft-07/schema#");
  CHECK(std::string(cs["type"].GetString()) == "object");
  CHECK(dump(cs["required"]) == R"(["host","database","username","password"])");
  CHECK(cs["additionalProperties"].IsFalse());
  CHECK(std::string(cs["description"].GetString()).find(std::string("source-vitess ") + SOURCE_VITESS_VERSION) == 0);
  CHECK(std::string(sv::airbyte::connector_version()) == SOURCE_VITESS_VERSION);
}

TEST_CASE("spec: every field with its type, title and default") {
  const std::map<std::string, Expected> expected = {
      // The Go connector's fields (go-connector-reference.md §1).
      {"host", {"string", "Host", nullptr}},
      {"database", {"string", "Database", nullptr}},
      {"username", {"string", "Username", nullptr}},
      {"password", {"string", "Password", nullptr}},
      {"use_replica", {"boolean", "Use replica?", "false"}},
      {"use_rdonly", {"boolean", "Use rdonly?", "false"}},
      {"shards", {"string", "Shards", nullptr}},
      {"include_metadata", {"boolean", "Include metadata?", "false"}},
      {"starting_gtids", {"string", "Starting GTIDs", R"("")"}},
      {"max_retries", {"integer", "Max retries", "3"}},
      {"timeout_seconds", {"integer", "Timeout (in seconds)", "300"}},
      {"use_gtid_with_table_pks", {"boolean", "Use GTID with table primary keys", "false"}},
      {"options",
       {"object", "Customize serialization", R"({"storage":"HTTPS","do_not_treat_tiny_int_as_boolean":false})"}},
      // This connector's additions.
      {"grpc_port", {"integer", "gRPC port", "443"}},
      {"mysql_port", {"integer", "MySQL port", "3306"}},
      {"tls_mode", {"string", "TLS mode", R"("verify_identity")"}},
      {"ca_certificate", {"string", "CA certificate", nullptr}},
      {"capture_deletes", {"boolean", "Capture deletes", "true"}},
      {"checkpoint_interval_records", {"integer", "Checkpoint every N records", "100000"}},
      {"checkpoint_interval_seconds", {"integer", "Checkpoint every N seconds", "60"}},
      {"max_concurrent_readers", {"integer", "Max concurrent readers", "8"}},
      {"invalid_dates", {"string", "Zero and invalid dates", R"("null")"}},
      {"idle_timeout_seconds", {"integer", "Idle timeout (in seconds)", "60"}},
  };
  rapidjson::Document d;
  d.Parse(sv::airbyte::connection_specification_json().c_str());
  REQUIRE(!d.HasParseError());
  const auto& props = d["properties"];
  CHECK(props.MemberCount() == expected.size());
  std::set<int> orders;
  for (auto it = props.MemberBegin(); it != props.MemberEnd(); ++it) {
    const std::string name = it->name.GetString();
    CAPTURE(name);
    auto e = expected.find(name);
    REQUIRE(e != expected.end());
    const auto& p = it->value;
    CHECK(std::string(p["type"].GetString()) == e->second.type);
    CHECK(std::string(p["title"].GetString()) == e->second.title);
    REQUIRE(p.HasMember("description"));
    CHECK(std::string(p["description"].GetString()).size() > 20);
    if (e->second.default_json == nullptr) {
      CHECK(!p.HasMember("default"));
    } else {
      REQUIRE(p.HasMember("default"));
      CHECK(dump(p["default"]) == e->second.default_json);
    }
    if (name == "options") {
      CHECK(!p.HasMember("order"));  // as in the Go spec
    } else {
      REQUIRE(p.HasMember("order"));
      CHECK(orders.insert(p["order"].GetInt()).second);
    }
  }
  // Go's order numbers 0..11 are kept; ours follow.
  CHECK(props["host"]["order"].GetInt() == 0);
  CHECK(props["use_gtid_with_table_pks"]["order"].GetInt() == 11);
  CHECK(props["password"]["airbyte_secret"].GetBool());
  CHECK(!props["ca_certificate"].HasMember("airbyte_secret"));
  CHECK(props["ca_certificate"]["multiline"].GetBool());
  CHECK(dump(props["tls_mode"]["enum"]) == R"(["verify_identity","verify_ca","required","disabled"])");
  CHECK(dump(props["invalid_dates"]["enum"]) == R"(["null","go_connector"])");
  CHECK(props["timeout_seconds"]["minimum"].GetInt() == 300);
  CHECK(props["idle_timeout_seconds"]["minimum"].GetInt() == 1);
  CHECK(props["grpc_port"]["minimum"].GetInt() == 1);
  CHECK(props["grpc_port"]["maximum"].GetInt() == 65535);
  CHECK(props["mysql_port"]["maximum"].GetInt() == 65535);
  const auto& branch = props["options"]["oneOf"][0];
  CHECK(std::string(branch["title"].GetString()) == "tinyint(1) serialization");
  CHECK(dump(branch["required"]) == R"(["do_not_treat_tiny_int_as_boolean"])");
  CHECK(std::string(branch["properties"]["storage"]["const"].GetString()) == "HTTPS");
  const auto& tiny = branch["properties"]["do_not_treat_tiny_int_as_boolean"];
  CHECK(std::string(tiny["type"].GetString()) == "boolean");
  CHECK(std::string(tiny["title"].GetString()) == "Do not treat tinyint(1) as boolean");
  CHECK(tiny["default"].IsFalse());
}
