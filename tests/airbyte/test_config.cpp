#include <doctest/doctest.h>

#include <string>

#include "airbyte/config.hpp"

using sv::FailureType;
using sv::airbyte::Config;
using sv::airbyte::parse_config;
using sv::airbyte::TlsMode;

namespace {

constexpr const char* kMinimal = R"({"host":"h.example","database":"shop","username":"u","password":"pw-XYZZY"})";

//! The config error message for `extra` fields added to the minimal config.
std::string error_with(const std::string& extra) {
  std::string text = kMinimal;
  text.pop_back();
  text += "," + extra + "}";
  auto r = parse_config(text);
  REQUIRE_MESSAGE(!r.ok(), text);
  CHECK(r.error().type == FailureType::config_error);
  CHECK(r.error().message.find("pw-XYZZY") == std::string::npos);
  return r.error().message;
}

Config ok_with(const std::string& extra) {
  std::string text = kMinimal;
  text.pop_back();
  text += "," + extra + "}";
  auto r = parse_config(text);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  return *r;
}

}  // namespace

TEST_CASE("config: defaults when only the required fields are given") {
  auto r = parse_config(kMinimal);
  REQUIRE(r.ok());
  const Config& c = *r;
  CHECK(c.host == "h.example");
  CHECK(c.database == "shop");
  CHECK(c.username == "u");
  CHECK(c.password == "pw-XYZZY");
  CHECK(!c.use_replica);
  CHECK(!c.use_rdonly);
  CHECK(c.shards.empty());
  CHECK(!c.include_metadata);
  CHECK(c.starting_gtids.empty());
  CHECK(c.max_retries == 3);
  CHECK(c.timeout_seconds == 300);
  CHECK(!c.use_gtid_with_table_pks);
  CHECK(!c.do_not_treat_tiny_int_as_boolean);
  CHECK(c.grpc_port == 443);
  CHECK(c.mysql_port == 3306);
  CHECK(c.tls_mode == TlsMode::verify_identity);
  CHECK(c.ca_certificate.empty());
  CHECK(c.capture_deletes);
  CHECK(c.checkpoint_interval_records == 100000);
  CHECK(c.checkpoint_interval_seconds == 60);
  CHECK(c.max_concurrent_readers == 8);
  CHECK(c.idle_timeout_seconds == 60);
}

TEST_CASE("config: every field set") {
  const Config c = ok_with(
      R"("use_replica":true,"use_rdonly":true,"shards":" -80 , 80-,,-80","include_metadata":true,)"
      R"("starting_gtids":"{\"shop\":{\"-80\":\"MySQL56/a:1-5\",\"80-\":\"MySQL56/b:1-9\"},\"other\":{}}",)"
      R"("max_retries":0,"timeout_seconds":600,"use_gtid_with_table_pks":true,)"
      R"("options":{"storage":"HTTPS","do_not_treat_tiny_int_as_boolean":true},)"
      R"("grpc_port":15991,"mysql_port":15306,"tls_mode":"disabled",)"
      R"("ca_certificate":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",)"
      R"("capture_deletes":false,"checkpoint_interval_records":5,"checkpoint_interval_seconds":2,)"
      R"("max_concurrent_readers":3,"idle_timeout_seconds":45,"some_future_field":{"x":1})");
  CHECK(c.use_replica);
  CHECK(c.use_rdonly);
  CHECK(c.shards == std::vector<std::string>{"-80", "80-"});
  CHECK(c.include_metadata);
  CHECK(c.starting_gtids == sv::airbyte::StartingGtids{
                                {"shop", {{"-80", "MySQL56/a:1-5"}, {"80-", "MySQL56/b:1-9"}}}, {"other", {}}});
  CHECK(c.max_retries == 0);
  CHECK(c.timeout_seconds == 600);
  CHECK(c.use_gtid_with_table_pks);
  CHECK(c.do_not_treat_tiny_int_as_boolean);
  CHECK(c.grpc_port == 15991);
  CHECK(c.mysql_port == 15306);
  CHECK(c.tls_mode == TlsMode::disabled);
  CHECK(c.ca_certificate == "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  CHECK(!c.capture_deletes);
  CHECK(c.checkpoint_interval_records == 5);
  CHECK(c.checkpoint_interval_seconds == 2);
  CHECK(c.max_concurrent_readers == 3);
  CHECK(c.idle_timeout_seconds == 45);
}

TEST_CASE("config: keys match case-insensitively like Go, later duplicates win, null means absent") {
  auto r = parse_config(
      R"({"HOST":"a","Database":"shop","UserName":"u","passWORD":"p","host":"b","Max_Retries":7,)"
      R"("timeout_seconds":null,"starting_gtids":"  ","shards":null,"Options":{"DO_NOT_TREAT_TINY_INT_AS_BOOLEAN":true}})");
  REQUIRE(r.ok());
  CHECK(r->host == "b");
  CHECK(r->max_retries == 7);
  CHECK(r->timeout_seconds == 300);
  CHECK(r->starting_gtids.empty());
  CHECK(r->do_not_treat_tiny_int_as_boolean);
}

TEST_CASE("config: starting_gtids may also be given as an object") {
  const Config c = ok_with(R"("starting_gtids":{"shop":{"-":"MySQL56/x:1"}})");
  CHECK(c.starting_gtids.at("shop").at("-") == "MySQL56/x:1");
}

TEST_CASE("config: errors name the field and what was expected") {
  CHECK(parse_config(R"({"database":"d","username":"u","password":"p"})").error().message ==
        "config field 'host' is required but missing");
  CHECK(parse_config(R"({"host":"h","database":"d","username":"u"})").error().message ==
        "config field 'password' is required but missing");
  CHECK(parse_config(R"({"host":"  ","database":"d","username":"u","password":"p"})").error().message ==
        "config field 'host' must not be empty");
  CHECK(parse_config(R"({"host":"h","database":7,"username":"u","password":"p"})").error().message ==
        "config field 'database' must be a string, got an integer");
  CHECK(parse_config(R"({"host":"h","database":"d","username":"u","password":12345})").error().message ==
        "config field 'password' must be a string, got an integer");
  CHECK(error_with(R"("max_retries":"3")") == "config field 'max_retries' must be an integer of at least 0, got a string");
  CHECK(error_with(R"("max_retries":-1)") == "config field 'max_retries' must be an integer of at least 0, got -1");
  CHECK(error_with(R"("max_retries":2.5)") == "config field 'max_retries' must be an integer of at least 0, got a number");
  CHECK(error_with(R"("timeout_seconds":0)") == "config field 'timeout_seconds' must be an integer of at least 1, got 0");
  CHECK(error_with(R"("idle_timeout_seconds":0)") ==
        "config field 'idle_timeout_seconds' must be an integer of at least 1, got 0");
  CHECK(error_with(R"("grpc_port":70000)") == "config field 'grpc_port' must be an integer from 1 to 65535, got 70000");
  CHECK(error_with(R"("use_replica":"yes")") == "config field 'use_replica' must be a boolean (true or false), got a string");
  CHECK(error_with(R"("shards":["-80"])") == "config field 'shards' must be a string, got an array");
  CHECK(error_with(R"("options":true)") == "config field 'options' must be an object, got a boolean");
  CHECK(error_with(R"("options":{"do_not_treat_tiny_int_as_boolean":1})") ==
        "config field 'options.do_not_treat_tiny_int_as_boolean' must be a boolean (true or false), got an integer");
  CHECK(error_with(R"("tls_mode":"strict")") ==
        R"(config field 'tls_mode' must be one of "verify_identity", "verify_ca", "required", "disabled", got "strict")");
  CHECK(error_with(R"("ca_certificate":"-----BEGIN PRIVATE KEY-----")") ==
        "config field 'ca_certificate' must be PEM text containing '-----BEGIN CERTIFICATE-----'");
  CHECK(error_with(R"("max_concurrent_readers":0)") ==
        "config field 'max_concurrent_readers' must be an integer from 1 to 1024, got 0");
}

TEST_CASE("config: starting_gtids that is not JSON or not {keyspace:{shard:gtid}}") {
  CHECK(error_with(R"("starting_gtids":"{\"shop\": {\"-80\": }")") ==
        "invalid JSON in config field 'starting_gtids' at line 1, column 18 (byte offset 17): Invalid value.");
  const std::string shape = R"(a JSON object of the form {"<keyspace>": {"<shard>": "<gtid position>"}})";
  CHECK(error_with(R"("starting_gtids":"[1,2]")") == "config field 'starting_gtids' must be " + shape + "; got an array");
  CHECK(error_with(R"("starting_gtids":"{\"shop\":\"MySQL56/x:1\"}")") ==
        "config field 'starting_gtids' must be " + shape + "; keyspace 'shop' maps to a string");
  CHECK(error_with(R"("starting_gtids":"{\"shop\":{\"-80\":5}}")") ==
        "config field 'starting_gtids' must be " + shape + "; shard '-80' of keyspace 'shop' maps to an integer");
  CHECK(error_with(R"("starting_gtids":5)") == "config field 'starting_gtids' must be a string holding JSON, got an integer");
}

TEST_CASE("config: JSON syntax errors say where, never what") {
  auto r = parse_config("{\"host\": \"h\",\n  \"password\": \"pw-XYZZY\",\n  \"database\": }");
  REQUIRE(!r.ok());
  CHECK(r.error().message == "invalid JSON in the config at line 3, column 15 (byte offset 54): Invalid value.");
  CHECK(parse_config("").error().message == "the config is empty: expected a JSON object");
  CHECK(parse_config("[1]").error().message == "the config must be a JSON object, got an array");
  CHECK(parse_config(std::string(kMinimal) + " {}").error().message ==
        "invalid JSON in the config at line 1, column 77 (byte offset 76): The document root must not be followed by other values.");
}

TEST_CASE("config: describe() never shows the password") {
  const Config c = ok_with(R"("shards":"-80")");
  const std::string d = sv::airbyte::describe(c);
  CHECK(d.find("pw-XYZZY") == std::string::npos);
  CHECK(d.find("host=h.example") != std::string::npos);
  CHECK(d.find("shards=[-80]") != std::string::npos);
}
