#include "airbyte/spec.hpp"

#include <cstdint>
#include <string_view>

#include "util/json.hpp"

#ifndef SOURCE_VITESS_VERSION
#error "SOURCE_VITESS_VERSION must be defined by the build (root meson.build, from ./VERSION)"
#endif

namespace sv::airbyte {
namespace {

//! Writes the keys every property has, in the order the Airbyte UI reads them.
void head(JsonWriter& w, const char* name, const char* type, const char* title, const char* description) {
  w.Key(name);
  w.StartObject();
  w.Key("type");
  w.String(type);
  w.Key("title");
  w.String(title);
  w.Key("description");
  w.String(description);
}

void order(JsonWriter& w, int n) {
  w.Key("order");
  w.Int(n);
}

void boolean_property(JsonWriter& w, const char* name, const char* title, bool def, int ord, const char* description) {
  head(w, name, "boolean", title, description);
  w.Key("default");
  w.Bool(def);
  order(w, ord);
  w.EndObject();
}

void integer_property(JsonWriter& w, const char* name, const char* title, std::int64_t def, std::int64_t minimum,
                      std::int64_t maximum, int ord, const char* description) {
  head(w, name, "integer", title, description);
  w.Key("default");
  w.Int64(def);
  w.Key("minimum");
  w.Int64(minimum);
  if (maximum > 0) {
    w.Key("maximum");
    w.Int64(maximum);
  }
  order(w, ord);
  w.EndObject();
}

void string_property(JsonWriter& w, const char* name, const char* title, int ord, const char* description) {
  head(w, name, "string", title, description);
  order(w, ord);
  w.EndObject();
}

void write_properties(JsonWriter& w) {
  w.Key("properties");
  w.StartObject();

  // --- The Go connector's fields: same names, types, titles, defaults and order. ---
  string_property(w, "host", "Host", 0,
                  "Host name of the vtgate to read from, for PlanetScale the connection host of the database "
                  "(for example aws.connect.psdb.cloud). Without port: see gRPC port and MySQL port.");
  string_property(w, "database", "Database", 1,
                  "Name of the database (Vitess keyspace) to read. Streams without a namespace belong to it.");
  string_property(w, "username", "Username", 2,
                  "User name for the MySQL connection (discovery) and for basic authentication of the VStream gRPC "
                  "calls.");
  head(w, "password", "string", "Password", "Password of that user. Stored as a secret and never logged.");
  w.Key("airbyte_secret");
  w.Bool(true);
  order(w, 3);
  w.EndObject();
  boolean_property(w, "use_replica", "Use replica?", false, 4,
                   "Read from replica tablets instead of the primary, to keep load off the primary.");
  boolean_property(w, "use_rdonly", "Use rdonly?", false, 5,
                   "Read from rdonly tablets (analytics replicas). Takes precedence over \"Use replica?\".");
  string_property(w, "shards", "Shards", 6,
                  "Comma-separated list of shards to read, for example \"-80,80-\". Leave empty to read every shard. "
                  "Only applies to streams that start without a saved state.");
  boolean_property(w, "include_metadata", "Include metadata?", false, 7,
                   "Add a _planetscale_metadata column to every record with the extraction time, a sequence number and "
                   "the Vitess GTID position the row was read at.");
  head(w, "starting_gtids", "string", "Starting GTIDs",
       "Optional JSON text mapping keyspace to shard to GTID position, for example "
       "{\"shop\": {\"-80\": \"MySQL56/<uuid>:1-100\"}}. Streams without a saved state start reading changes from "
       "these positions instead of copying the tables first. A saved state takes precedence.");
  w.Key("default");
  w.String("");
  order(w, 8);
  w.EndObject();
  integer_property(w, "max_retries", "Max retries", 3, 0, 0, 9,
                   "How many times a shard is read before giving up when vtgate fails or the stream goes silent. Each "
                   "new attempt resumes from the last position read. 0 and 1 both mean a single attempt.");
  integer_property(w, "timeout_seconds", "Timeout (in seconds)", 300, 300, 0, 10,
                   "Time limit for reading one shard in a sync. When it passes, the shard stops at its last saved "
                   "position and the next sync continues from there.");
  boolean_property(w, "use_gtid_with_table_pks", "Use GTID with table primary keys", false, 11,
                   "When resuming an interrupted table copy, also send the saved GTID position along with the last "
                   "copied primary key. Turn on only if PlanetScale support advised it.");

  // Same structure as the Go connector's "options" (a oneOf with one branch, whose const
  // `storage` lets the Airbyte UI tell branches apart). The Go spec's default, the string
  // "Public Web", is not a valid value for an object; this one is.
  head(w, "options", "object", "Customize serialization",
       "Choices that change how values are written to the destination.");
  w.Key("default");
  w.StartObject();
  w.Key("storage");
  w.String("HTTPS");
  w.Key("do_not_treat_tiny_int_as_boolean");
  w.Bool(false);
  w.EndObject();
  w.Key("oneOf");
  w.StartArray();
  w.StartObject();
  w.Key("title");
  w.String("tinyint(1) serialization");
  w.Key("required");
  w.StartArray();
  w.String("do_not_treat_tiny_int_as_boolean");
  w.EndArray();
  w.Key("properties");
  w.StartObject();
  head(w, "storage", "string", "Storage", "Fixed value that identifies this group of options.");
  w.Key("const");
  w.String("HTTPS");
  order(w, 0);
  w.EndObject();
  boolean_property(w, "do_not_treat_tiny_int_as_boolean", "Do not treat tinyint(1) as boolean", false, 1,
                   "Write tinyint(1) columns as integers instead of true/false.");
  w.EndObject();
  w.EndObject();
  w.EndArray();
  w.EndObject();

  // --- This connector's additions. ---
  integer_property(w, "grpc_port", "gRPC port", 443, 1, 65535, 12,
                   "Port of vtgate's gRPC service (VStream). PlanetScale serves it on 443.");
  integer_property(w, "mysql_port", "MySQL port", 3306, 1, 65535, 13,
                   "Port of vtgate's MySQL protocol service, used to check the connection and discover tables, "
                   "columns, primary keys and shards.");
  head(w, "tls_mode", "string", "TLS mode",
       "How the connections are secured. verify_identity: encrypted, server certificate and host name verified "
       "(use this for PlanetScale). verify_ca: encrypted, certificate verified but not the host name. required: "
       "encrypted, certificate not verified. disabled: no encryption, only for local test setups.");
  w.Key("enum");
  w.StartArray();
  for (const char* m : {"verify_identity", "verify_ca", "required", "disabled"}) w.String(m);
  w.EndArray();
  w.Key("default");
  w.String("verify_identity");
  order(w, 14);
  w.EndObject();
  head(w, "ca_certificate", "string", "CA certificate",
       "PEM-encoded certificate(s) of the authority that signed the server certificate, for a self-hosted Vitess "
       "with a private CA. Leave empty to use the system's trusted authorities. This is public data, not a key.");
  w.Key("multiline");
  w.Bool(true);
  order(w, 15);
  w.EndObject();
  boolean_property(w, "capture_deletes", "Capture deletes", true, 16,
                   "During change data capture, emit a record for each deleted row (its last values, with "
                   "_ab_cdc_deleted_at set) so the destination can remove it. Turn off to skip deletes like the "
                   "PlanetScale connector does.");
  integer_property(w, "checkpoint_interval_records", "Checkpoint every N records", 100000, 1, 0, 17,
                   "Save progress (emit a state) for a stream after at most this many records, so an interrupted "
                   "sync resumes close to where it stopped, even in the middle of a table copy.");
  integer_property(w, "checkpoint_interval_seconds", "Checkpoint every N seconds", 60, 1, 0, 18,
                   "Save progress for a stream at least this often while it reads, in seconds.");
  integer_property(w, "max_concurrent_readers", "Max concurrent readers", 8, 1, 1024, 19,
                   "How many shard streams are read at the same time across all tables. Higher reads faster and puts "
                   "more load on vtgate.");
  head(w, "invalid_dates", "string", "Zero and invalid dates",
       "What DATE, DATETIME and TIMESTAMP values that are no real date (0000-00-00, a zero month "
       "or day, 2021-02-30) become. null: a null value (these columns are then nullable in the "
       "schema). go_connector: as the PlanetScale connector writes them: zero values become "
       "1970-01-01 (00:00:00), other invalid values the text MySQL sent.");
  w.Key("enum");
  w.StartArray();
  for (const char* m : {"null", "go_connector"}) w.String(m);
  w.EndArray();
  w.Key("default");
  w.String("null");
  order(w, 20);
  w.EndObject();
  integer_property(w, "idle_timeout_seconds", "Idle timeout (in seconds)", 60, 1, 0, 21,
                   "A shard stream that sends nothing at all for this long, not even the heartbeat vtgate sends every "
                   "10 seconds, is treated as broken and reconnected from the last saved position. Keep it well above "
                   "10.");
  w.EndObject();
}

}  // namespace

const char* connector_version() { return SOURCE_VITESS_VERSION; }

std::string connection_specification_json() {
  JsonBuffer b;
  JsonWriter w(b);
  w.StartObject();
  w.Key("$schema");
  w.String("http://json-schema.org/draft-07/schema#");
  w.Key("title");
  w.String("Vitess / PlanetScale Source Spec");
  w.Key("description");
  const std::string description = std::string("source-vitess ") + SOURCE_VITESS_VERSION +
                                  ": reads tables of a Vitess or PlanetScale database through vtgate's VStream API.";
  w.String(description.c_str());
  w.Key("type");
  w.String("object");
  w.Key("required");
  w.StartArray();
  for (const char* r : {"host", "database", "username", "password"}) w.String(r);
  w.EndArray();
  w.Key("additionalProperties");
  w.Bool(false);
  write_properties(w);
  w.EndObject();
  return std::string(b.GetString(), b.GetSize());
}

std::string spec_message() {
  const std::string spec = connection_specification_json();
  JsonBuffer b;
  JsonWriter w(b);
  w.StartObject();
  w.Key("type");
  w.String("SPEC");
  w.Key("spec");
  w.StartObject();
  w.Key("protocol_version");
  w.String(kProtocolVersion);
  w.Key("documentationUrl");
  w.String(kDocumentationUrl);
  w.Key("connectionSpecification");
  w.RawValue(spec.data(), spec.size(), rapidjson::kObjectType);
  w.Key("supportsIncremental");
  w.Bool(true);
  // A destination-side field in the protocol; declared because streams work with these modes.
  w.Key("supported_destination_sync_modes");
  w.StartArray();
  for (const char* m : {"overwrite", "append", "append_dedup"}) w.String(m);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  std::string out(b.GetString(), b.GetSize());
  out.push_back('\n');
  return out;
}

}  // namespace sv::airbyte
