#include <doctest/doctest.h>

#include <string>

#include "airbyte/config.hpp"

using sv::FailureType;
using sv::airbyte::Config;
using sv::airbyte::parse_config;
using sv::airbyte::TlsMode;

namespace {

//! A real (throw-away, self-signed) CA certificate, as JSON string text.
constexpr const char* kCaPem =
    "-----BEGIN CERTIFICATE-----\\n"
    "MIIBpjCCAUugAwIBAgIUbcEeKv/K8RVU3pXu6maSGqnfEL0wCgYIKoZIzj0EAwIw\\n"
    "JzElMCMGA1UEAwwcc291cmNlLXZpdGVzcyBjb25maWcgdGVzdCBDQTAgFw0yNjEy\\n"
    "MDcxNjQyMThaGA8yMTI2MTExMzE2NDIxOFowJzElMCMGA1UEAwwcc291cmNlLXZp\\n"
    "dGVzcyBjb25maWcgdGVzdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABALW\\n"
    "JbJMZGcTNjgfpxryQwiGMuOVJI9nitCvGVvjrSaHheW1csrtL8Vi2lOkQ7VhesGA\\n"
    "Iz5awX8wVBCiQjj1ChGjUzBRMB0GA1UdDgQWBBSBVPez7NuG2PIq0u0cXI3pr0am\\n"
    "/jAfBgNVHSMEGDAWgBSBVPez7NuG2PIq0u0cXI3pr0am/jAPBgNVHRMBAf8EBTAD\\n"
    "AQH/MAoGCCqGSM49BAMCA0kAMEYCIQClKTI1ptDyHFWfMsgpxppGHMOMHAVTTBkG\\n"
    "FCgxhXgg3QIhALUkY5DZO2SqAu+uDynZzPr7yZSIwCujXxEbxumxprKn\\n"
    "-----END CERTIFICATE-----\\n";

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
  CHECK(c.invalid_dates_as_null);
  CHECK(c.idle_timeout_seconds == 60);
}

TEST_CASE("config: every field set") {
  const Config c = ok_with(
      R"("use_replica":true,"use_rdonly":true,"shards":" -80 , 80-,,-80","include_metadata":true,)"
      R"("starting_gtids":"{\"shop\":{\"-80\":\"MySQL56/a:1-5\",\"80-\":\"MySQL56/b:1-9\"},\"other\":{}}",)"
      R"("max_retries":0,"timeout_seconds":600,"use_gtid_with_table_pks":true,)"
      R"("options":{"storage":"HTTPS","do_not_treat_tiny_int_as_boolean":true},)"
      R"("grpc_port":15991,"mysql_port":15306,"tls_mode":"disabled",)"
      R"("ca_certificate":")" +
      std::string(kCaPem) +
      R"(",)"
      R"("capture_deletes":false,"checkpoint_interval_records":5,"checkpoint_interval_seconds":2,)"
      R"("max_concurrent_readers":3,"invalid_dates":"go_connector","idle_timeout_seconds":45,"some_future_field":{"x":1})");
  CHECK(c.use_replica);
  CHECK(c.use_rdonly);
  CHECK(c.shards == std::vector<std::string>{"-80", "80-"});
  CHECK(c.include_metadata);
  CHECK(c.starting_gtids ==
        sv::airbyte::StartingGtids{{"shop", {{"-80", "MySQL56/a:1-5"}, {"80-", "MySQL56/b:1-9"}}}, {"other", {}}});
  CHECK(c.max_retries == 0);
  CHECK(c.timeout_seconds == 600);
  CHECK(c.use_gtid_with_table_pks);
  CHECK(c.do_not_treat_tiny_int_as_boolean);
  CHECK(c.grpc_port == 15991);
  CHECK(c.mysql_port == 15306);
  CHECK(c.tls_mode == TlsMode::disabled);
  CHECK(c.ca_certificate.starts_with("-----BEGIN CERTIFICATE-----\nMIIBpjCCAUugAwIBAgIUbcEeKv/K8RVU3pXu6maSGqnfEL0w"));
  CHECK(c.ca_certificate.ends_with(
      "FCgxhXgg3QIhALUkY5DZO2SqAu+uDynZzPr7yZSIwCujXxEbxumxprKn\n-----END CERTIFICATE-----\n"));
  CHECK(!c.capture_deletes);
  CHECK(c.checkpoint_interval_records == 5);
  CHECK(c.checkpoint_interval_seconds == 2);
  CHECK(c.max_concurrent_readers == 3);
  CHECK(!c.invalid_dates_as_null);
  CHECK(c.idle_timeout_seconds == 45);
}

TEST_CASE("config: keys match case-insensitively like Go, null means absent") {
  auto r = parse_config(
      R"({"HOST":"a","Database":"shop","UserName":"u","passWORD":"p","Max_Retries":7,)"
      R"("timeout_seconds":null,"starting_gtids":"  ","shards":null,"Options":{"DO_NOT_TREAT_TINY_INT_AS_BOOLEAN":true}})");
  REQUIRE(r.ok());
  CHECK(r->host == "a");
  CHECK(r->max_retries == 7);
  CHECK(r->timeout_seconds == 300);
  CHECK(r->starting_gtids.empty());
  CHECK(r->do_not_treat_tiny_int_as_boolean);
}

TEST_CASE("config: a key given twice, or twice in different case, is an error naming it") {
  // Go's decoder silently keeps the later value; here the user decides which one is meant.
  CHECK(error_with(R"("host":"b")") ==
        "the key 'host' appears twice in one object of the config (in the top level): remove one");
  CHECK(error_with(R"("Host":"b")") ==
        "config field 'host' is given twice, as 'host' and 'Host' (field names ignore case): "
        "remove one");
  CHECK(error_with(R"("MAX_RETRIES":1,"max_retries":2)") ==
        "config field 'max_retries' is given twice, as 'MAX_RETRIES' and 'max_retries' (field "
        "names ignore case): "
        "remove one");
  CHECK(error_with(R"("options":{"do_not_treat_tiny_int_as_boolean":true,"Do_Not_Treat_Tiny_Int_As_Boolean":false})") ==
        "config field 'options.do_not_treat_tiny_int_as_boolean' is given twice, as "
        "'do_not_treat_tiny_int_as_boolean' "
        "and 'Do_Not_Treat_Tiny_Int_As_Boolean' (field names ignore case): remove one");
  CHECK(error_with(R"("starting_gtids":{"shop":{"-80":"MySQL56/a:1","-80":"MySQL56/a:2"}})") ==
        "the key '-80' appears twice in one object of the config (in starting_gtids.shop): remove "
        "one");
  CHECK(error_with(R"("starting_gtids":"{\"shop\":{},\"shop\":{}}")") ==
        "the key 'shop' appears twice in one object of config field 'starting_gtids' (in the top "
        "level): remove one");
  // The password is never repeated, even when it is the duplicate.
  CHECK(error_with(R"("Password":"pw-XYZZY")") ==
        "config field 'password' is given twice, as 'password' and 'Password' (field names ignore "
        "case): remove one");
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
  CHECK(error_with(R"("max_retries":"3")") ==
        "config field 'max_retries' must be an integer of at least 0, got a string");
  CHECK(error_with(R"("max_retries":-1)") == "config field 'max_retries' must be an integer of at least 0, got -1");
  CHECK(error_with(R"("max_retries":2.5)") ==
        "config field 'max_retries' must be an integer of at least 0, got a number");
  CHECK(error_with(R"("timeout_seconds":0)") ==
        "config field 'timeout_seconds' must be an integer of at least 1, got 0");
  CHECK(error_with(R"("idle_timeout_seconds":0)") ==
        "config field 'idle_timeout_seconds' must be an integer of at least 1, got 0");
  CHECK(error_with(R"("grpc_port":70000)") == "config field 'grpc_port' must be an integer from 1 to 65535, got 70000");
  CHECK(error_with(R"("use_replica":"yes")") ==
        "config field 'use_replica' must be a boolean (true or false), got a string");
  CHECK(error_with(R"("shards":["-80"])") == "config field 'shards' must be a string, got an array");
  CHECK(error_with(R"("options":true)") == "config field 'options' must be an object, got a boolean");
  CHECK(error_with(R"("options":{"do_not_treat_tiny_int_as_boolean":1})") ==
        "config field 'options.do_not_treat_tiny_int_as_boolean' must be a boolean (true or false), got an integer");
  CHECK(
      error_with(R"("tls_mode":"strict")") ==
      R"(config field 'tls_mode' must be one of "verify_identity", "verify_ca", "required", "disabled", got "strict")");
  CHECK(error_with(R"("ca_certificate":"-----BEGIN PRIVATE KEY-----")") ==
        "config field 'ca_certificate' must be PEM text containing '-----BEGIN CERTIFICATE-----'");
  CHECK(error_with(R"("max_concurrent_readers":0)") ==
        "config field 'max_concurrent_readers' must be an integer from 1 to 1024, got 0");
  CHECK(error_with(R"("invalid_dates":"epoch")") ==
        R"(config field 'invalid_dates' must be one of "null", "go_connector", got "epoch")");
  CHECK(error_with(R"("invalid_dates":false)") ==
        R"(config field 'invalid_dates' must be one of "null", "go_connector", got a boolean)");
  CHECK(ok_with(R"("invalid_dates":"null")").invalid_dates_as_null);
}

TEST_CASE("config: starting_gtids that is not JSON or not {keyspace:{shard:gtid}}") {
  CHECK(error_with(R"("starting_gtids":"{\"shop\": {\"-80\": }")") ==
        "invalid JSON in config field 'starting_gtids' at line 1, column 18 (byte offset 17): Invalid value.");
  const std::string shape = R"(a JSON object of the form {"<keyspace>": {"<shard>": "<gtid position>"}})";
  CHECK(error_with(R"("starting_gtids":"[1,2]")") ==
        "config field 'starting_gtids' must be " + shape + "; got an array");
  CHECK(error_with(R"("starting_gtids":"{\"shop\":\"MySQL56/x:1\"}")") ==
        "config field 'starting_gtids' must be " + shape + "; keyspace 'shop' maps to a string");
  CHECK(error_with(R"("starting_gtids":"{\"shop\":{\"-80\":5}}")") ==
        "config field 'starting_gtids' must be " + shape + "; shard '-80' of keyspace 'shop' maps to an integer");
  CHECK(error_with(R"("starting_gtids":5)") ==
        "config field 'starting_gtids' must be a string holding JSON, got an integer");
}

TEST_CASE("config: JSON syntax errors say where, never what") {
  auto r = parse_config("{\"host\": \"h\",\n  \"password\": \"pw-XYZZY\",\n  \"database\": }");
  REQUIRE(!r.ok());
  CHECK(r.error().message == "invalid JSON in the config at line 3, column 15 (byte offset 54): Invalid value.");
  CHECK(parse_config("").error().message == "the config is empty: expected a JSON object");
  CHECK(parse_config("[1]").error().message == "the config must be a JSON object, got an array");
  CHECK(parse_config(std::string(kMinimal) + " {}").error().message ==
        "invalid JSON in the config at line 1, column 77 (byte offset 76): The document root must not be followed by "
        "other values.");
}

TEST_CASE("config: describe() never shows the password") {
  const Config c = ok_with(R"("shards":"-80")");
  const std::string d = sv::airbyte::describe(c);
  CHECK(d.find("pw-XYZZY") == std::string::npos);
  CHECK(d.find("host=h.example") != std::string::npos);
  CHECK(d.find("shards=[-80]") != std::string::npos);
}

TEST_CASE("config: every certificate of ca_certificate must parse, whatever the tls_mode") {
  const std::string ca = kCaPem;
  CHECK(ok_with(R"("ca_certificate":")" + ca + ca + R"(")").ca_certificate.size() > 1000);  // a bundle of two
  const std::string prefix = "config field 'ca_certificate' is not valid PEM: ";
  const std::string suffix = "; paste the CA certificate(s) exactly as exported, BEGIN and END lines included";
  for (std::string mode : {"verify_identity", "verify_ca", "required", "disabled"}) {
    CAPTURE(mode);
    const std::string tls = R"("tls_mode":")" + mode + R"(",)";
    // A garbage body: not base64 at all, and base64 that is not a certificate.
    CHECK(error_with(
              tls +
              R"("ca_certificate":"-----BEGIN CERTIFICATE-----\nnot a certificate!\n-----END CERTIFICATE-----\n")") ==
          prefix + "certificate 1 of 1 does not parse (bad base64 decode)" + suffix);
    CHECK(error_with(tls + R"("ca_certificate":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")") ==
          prefix + "certificate 1 of 1 does not parse (header too long)" + suffix);
    // The second certificate of a bundle is cut off after two lines, or its END line is missing.
    CHECK(error_with(tls + R"("ca_certificate":")" + ca + ca.substr(0, 161) + R"(-----END CERTIFICATE-----\n")") ==
          prefix + "certificate 2 of 2 does not parse (too long)" + suffix);
    CHECK(error_with(tls + R"("ca_certificate":")" + ca + ca.substr(0, 200) + R"(")") ==
          prefix + "certificate 2 of 2 has no '-----END CERTIFICATE-----' line" + suffix);
  }
}

TEST_CASE("config: host takes no port, scheme, user or path; the message says what to change") {
  const std::string field = "config field 'host' must be a host name or IP address only: ";
  const std::string ports =
      " and set grpc_port (VStream, default 443) and mysql_port (check and discover, default 3306) "
      "instead";
  CHECK(parse_config(R"({"host":"127.0.0.1:47100","database":"d","username":"u","password":"p"})").error().message ==
        field + "remove the port ':47100'" + ports);
  CHECK(parse_config(R"({"host":"vtgate.internal:15991","database":"d","username":"u","password":"p"})")
            .error()
            .message == field + "remove the port ':15991'" + ports);
  CHECK(parse_config(R"({"host":"[::1]:15991","database":"d","username":"u","password":"p"})").error().message ==
        field + "remove the port ':15991'" + ports);
  CHECK(parse_config(R"({"host":"h:x","database":"d","username":"u","password":"p"})").error().message ==
        field + "remove the port ':<port>'" + ports);
  CHECK(parse_config(R"({"host":"https://aws.connect.psdb.cloud","database":"d","username":"u","password":"p"})")
            .error()
            .message == field + "remove the 'https://' prefix");
  CHECK(parse_config(R"({"host":"aws.connect.psdb.cloud/shop","database":"d","username":"u","password":"p"})")
            .error()
            .message == field + "remove the path (from '/' on)");
  // A user and password in the host are not echoed.
  const auto with_user =
      parse_config(R"({"host":"reader:s3cr3t@vtgate","database":"d","username":"u","password":"p"})").error();
  CHECK(with_user.type == FailureType::config_error);
  CHECK(with_user.message == field + "remove the 'user@' part; the user goes in username and password");
  // Names, IPv4 and IPv6 addresses (bare or in brackets) are fine.
  for (const char* host : {"vtgate", "aws.connect.psdb.cloud", "10.0.0.7", "::1", "fe80::1", "[::1]"}) {
    CAPTURE(host);
    auto r = parse_config(std::string(R"({"host":")") + host + R"(","database":"d","username":"u","password":"p"})");
    CHECK(r.ok());
  }
}
