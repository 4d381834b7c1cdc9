#include "airbyte/config.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "util/pem.hpp"
#include "util/strings.hpp"

#include "airbyte/json_input.hpp"

namespace sv::airbyte {
namespace {

//! Thrown inside this file only; parse_config turns it into a config_error value.
struct ConfigProblem : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

//! The object's members by lower-cased key, like Go's case-insensitive field matching. Two keys
//! that differ only in case (`Host` next to `host`) are the same field given twice: Go's decoder
//! silently keeps the later one, here it is a config_error naming both (exact duplicates are
//! already refused by parse_json). `prefix` names the enclosing field in messages ("options.").
using Fields = std::map<std::string, const rapidjson::Value*>;

Fields index_fields(const rapidjson::Value& obj, std::string_view prefix = {}) {
  Fields f;
  std::map<std::string, std::string_view> spelled;  // lower-cased → as written
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const std::string_view name(it->name.GetString(), it->name.GetStringLength());
    const std::string key = lower(name);
    if (auto [at, fresh] = spelled.emplace(key, name); !fresh) {
      throw ConfigProblem(
          fmt::format("config field '{}{}' is given twice, as '{}' and '{}' (field names ignore case): "
                      "remove one",
                      prefix, key, at->second, name));
    }
    f[key] = &it->value;
  }
  return f;
}

//! The value of a field, or nullptr when absent or null (Go leaves the field unchanged on null).
const rapidjson::Value* find(const Fields& f, const std::string& name) {
  auto it = f.find(name);
  if (it == f.end() || it->second->IsNull()) return nullptr;
  return it->second;
}

[[noreturn]] void wrong_type(std::string_view field, std::string_view expected, const rapidjson::Value& v) {
  throw ConfigProblem(fmt::format("config field '{}' must be {}, got {}", field, expected, detail::json_type_name(v)));
}

std::string get_string(const Fields& f, const std::string& name, bool required) {
  const auto* v = find(f, name);
  if (v == nullptr) {
    if (required) throw ConfigProblem(fmt::format("config field '{}' is required but missing", name));
    return {};
  }
  if (!v->IsString()) wrong_type(name, "a string", *v);
  return std::string(v->GetString(), v->GetStringLength());
}

void get_bool(const Fields& f, const std::string& name, bool& out) {
  const auto* v = find(f, name);
  if (v == nullptr) return;
  if (!v->IsBool()) wrong_type(name, "a boolean (true or false)", *v);
  out = v->GetBool();
}

//! Reads an unsigned integer field into `out`. `max` 0 = only the type's own limit, and the
//! message then says "at least min".
template <class Int>
void get_uint(const Fields& f, const std::string& name, Int& out, std::uint64_t min, std::uint64_t max = 0) {
  const auto* v = find(f, name);
  if (v == nullptr) return;
  const auto expected =
      max == 0 ? fmt::format("an integer of at least {}", min) : fmt::format("an integer from {} to {}", min, max);
  if (max == 0) max = std::numeric_limits<Int>::max();
  if (!v->IsNumber() || !(v->IsUint64() || v->IsInt64())) wrong_type(name, expected, *v);
  if (v->IsInt64() && v->GetInt64() < 0) {
    throw ConfigProblem(fmt::format("config field '{}' must be {}, got {}", name, expected, v->GetInt64()));
  }
  const std::uint64_t n = v->GetUint64();
  if (n < min || n > max) {
    throw ConfigProblem(fmt::format("config field '{}' must be {}, got {}", name, expected, n));
  }
  out = static_cast<Int>(n);
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split_shards(std::string_view text) {
  std::vector<std::string> out;
  for (auto& shard : split_list(text)) {
    if (std::find(out.begin(), out.end(), shard) == out.end()) out.push_back(std::move(shard));
  }
  return out;
}

//! `host` is only a name or address: the ports are fields of their own, and the gRPC target and
//! the MySQL connection are built from host plus port. A port, scheme or path left in it fails
//! later as a retried DNS error (`[127.0.0.1:47100]:47100`). The value is not repeated: a URL may
//! carry a password (`mysql://user:secret@host`).
[[noreturn]] void bad_host(std::string_view what_to_change) {
  throw ConfigProblem(fmt::format("config field 'host' must be a host name or IP address only: {}", what_to_change));
}

void check_host(std::string_view host) {
  const auto scheme = host.find("://");
  if (scheme != std::string_view::npos) {
    const std::string_view name = host.substr(0, scheme);
    const bool plain = std::all_of(name.begin(), name.end(), [](unsigned char ch) { return std::isalnum(ch) != 0; });
    bad_host(fmt::format("remove the '{}://' prefix", plain ? name : "<scheme>"));
  }
  if (host.find('@') != std::string_view::npos) {
    bad_host("remove the 'user@' part; the user goes in username and password");
  }
  if (host.find('/') != std::string_view::npos) {
    bad_host("remove the path (from '/' on)");
  }
  // A port: "name:N" (one colon) or "[v6]:N". A bare IPv6 address has two or more colons.
  std::string_view port;
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    if (close != std::string_view::npos && close + 1 < host.size()) port = host.substr(close + 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    port = host.substr(host.find(':'));
  }
  if (!port.empty()) {
    const std::string_view digits = port.substr(1);
    const bool numeric =
        port.front() == ':' && !digits.empty() &&
        std::all_of(digits.begin(), digits.end(), [](unsigned char ch) { return std::isdigit(ch) != 0; });
    bad_host(
        fmt::format("remove the port '{}' and set grpc_port (VStream, default 443) and mysql_port (check and "
                    "discover, default 3306) instead",
                    numeric ? port : ":<port>"));
  }
}

constexpr std::string_view kGtidShape =
    "a JSON object of the form {\"<keyspace>\": {\"<shard>\": \"<gtid position>\"}}";

StartingGtids gtids_from_value(const rapidjson::Value& v) {
  if (!v.IsObject()) {
    throw ConfigProblem(
        fmt::format("config field 'starting_gtids' must be {}; got {}", kGtidShape, detail::json_type_name(v)));
  }
  StartingGtids out;
  for (auto ks = v.MemberBegin(); ks != v.MemberEnd(); ++ks) {
    const std::string keyspace(ks->name.GetString(), ks->name.GetStringLength());
    if (!ks->value.IsObject()) {
      throw ConfigProblem(fmt::format("config field 'starting_gtids' must be {}; keyspace '{}' maps to {}", kGtidShape,
                                      keyspace, detail::json_type_name(ks->value)));
    }
    auto& shards = out[keyspace];
    for (auto sh = ks->value.MemberBegin(); sh != ks->value.MemberEnd(); ++sh) {
      const std::string shard(sh->name.GetString(), sh->name.GetStringLength());
      if (!sh->value.IsString()) {
        throw ConfigProblem(
            fmt::format("config field 'starting_gtids' must be {}; shard '{}' of keyspace '{}' maps to {}", kGtidShape,
                        shard, keyspace, detail::json_type_name(sh->value)));
      }
      shards[shard] = std::string(sh->value.GetString(), sh->value.GetStringLength());
    }
  }
  return out;
}

StartingGtids parse_starting_gtids(const Fields& f) {
  const auto* v = find(f, "starting_gtids");
  if (v == nullptr) return {};
  // The spec declares a string holding JSON (as the Go connector does); an object is accepted
  // too, since it can only mean the same thing.
  if (v->IsObject()) return gtids_from_value(*v);
  if (!v->IsString()) wrong_type("starting_gtids", "a string holding JSON", *v);
  const std::string_view text(v->GetString(), v->GetStringLength());
  if (detail::is_blank(text)) return {};
  auto doc = detail::parse_json(text, "config field 'starting_gtids'");
  if (!doc) throw ConfigProblem(doc.error().message);
  return gtids_from_value(*doc);
}

TlsMode parse_tls_mode(const Fields& f) {
  const auto* v = find(f, "tls_mode");
  if (v == nullptr) return TlsMode::verify_identity;
  constexpr std::string_view expected = "one of \"verify_identity\", \"verify_ca\", \"required\", \"disabled\"";
  if (!v->IsString()) wrong_type("tls_mode", expected, *v);
  const std::string_view s(v->GetString(), v->GetStringLength());
  for (auto m : {TlsMode::verify_identity, TlsMode::verify_ca, TlsMode::required, TlsMode::disabled}) {
    if (s == to_string(m)) return m;
  }
  throw ConfigProblem(fmt::format("config field 'tls_mode' must be {}, got \"{}\"", expected, s));
}

//! `invalid_dates`: "null" (the default) or "go_connector" → whether such values become null.
bool parse_invalid_dates_as_null(const Fields& f) {
  const auto* v = find(f, "invalid_dates");
  if (v == nullptr) return true;
  constexpr std::string_view expected = "one of \"null\", \"go_connector\"";
  if (!v->IsString()) wrong_type("invalid_dates", expected, *v);
  const std::string_view s(v->GetString(), v->GetStringLength());
  if (s == "null" || s == "go_connector") return s == "null";
  throw ConfigProblem(fmt::format("config field 'invalid_dates' must be {}, got \"{}\"", expected, s));
}

Config parse_fields(const rapidjson::Value& root) {
  if (!root.IsObject()) {
    throw ConfigProblem(fmt::format("the config must be a JSON object, got {}", detail::json_type_name(root)));
  }
  const Fields f = index_fields(root);
  Config c;
  c.host = get_string(f, "host", true);
  c.database = get_string(f, "database", true);
  c.username = get_string(f, "username", true);
  c.password = get_string(f, "password", true);
  for (auto [name, value] : {std::pair<const char*, const std::string*>{"host", &c.host},
                             {"database", &c.database},
                             {"username", &c.username}}) {
    if (trim(*value).empty()) throw ConfigProblem(fmt::format("config field '{}' must not be empty", name));
  }
  check_host(c.host);
  get_bool(f, "use_replica", c.use_replica);
  get_bool(f, "use_rdonly", c.use_rdonly);
  c.shards = split_shards(get_string(f, "shards", false));
  get_bool(f, "include_metadata", c.include_metadata);
  c.starting_gtids = parse_starting_gtids(f);
  get_uint(f, "max_retries", c.max_retries, 0);
  get_uint(f, "timeout_seconds", c.timeout_seconds, 1);
  get_bool(f, "use_gtid_with_table_pks", c.use_gtid_with_table_pks);
  if (const auto* options = find(f, "options")) {
    if (!options->IsObject()) wrong_type("options", "an object", *options);
    const Fields of = index_fields(*options, "options.");
    if (const auto* v = find(of, "do_not_treat_tiny_int_as_boolean")) {
      if (!v->IsBool()) wrong_type("options.do_not_treat_tiny_int_as_boolean", "a boolean (true or false)", *v);
      c.do_not_treat_tiny_int_as_boolean = v->GetBool();
    }
  }
  get_uint(f, "grpc_port", c.grpc_port, 1, 65535);
  get_uint(f, "mysql_port", c.mysql_port, 1, 65535);
  c.tls_mode = parse_tls_mode(f);
  c.ca_certificate = get_string(f, "ca_certificate", false);
  if (!detail::is_blank(c.ca_certificate) &&
      c.ca_certificate.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    // The content is not repeated: a user may paste a private key here by mistake.
    throw ConfigProblem("config field 'ca_certificate' must be PEM text containing '-----BEGIN CERTIFICATE-----'");
  }
  if (detail::is_blank(c.ca_certificate)) c.ca_certificate.clear();
  if (!c.ca_certificate.empty()) {
    // Checked for every tls_mode: a broken certificate is the user's to fix, and finding it here
    // beats gRPC's retried "Failed to create security handshaker" at connect time.
    if (auto pem = check_pem_certificates(c.ca_certificate); !pem) {
      throw ConfigProblem(
          fmt::format("config field 'ca_certificate' is not valid PEM: {}; paste the CA "
                      "certificate(s) exactly as exported, BEGIN and END lines included",
                      pem.error().message));
    }
  }
  get_bool(f, "capture_deletes", c.capture_deletes);
  get_uint(f, "checkpoint_interval_records", c.checkpoint_interval_records, 1);
  get_uint(f, "checkpoint_interval_seconds", c.checkpoint_interval_seconds, 1);
  get_uint(f, "max_concurrent_readers", c.max_concurrent_readers, 1, 1024);
  c.invalid_dates_as_null = parse_invalid_dates_as_null(f);
  get_uint(f, "idle_timeout_seconds", c.idle_timeout_seconds, 1);

  static const char* const known[] = {"host",
                                      "database",
                                      "username",
                                      "password",
                                      "use_replica",
                                      "use_rdonly",
                                      "shards",
                                      "include_metadata",
                                      "starting_gtids",
                                      "max_retries",
                                      "timeout_seconds",
                                      "use_gtid_with_table_pks",
                                      "options",
                                      "grpc_port",
                                      "mysql_port",
                                      "tls_mode",
                                      "ca_certificate",
                                      "capture_deletes",
                                      "checkpoint_interval_records",
                                      "checkpoint_interval_seconds",
                                      "max_concurrent_readers",
                                      "invalid_dates",
                                      "idle_timeout_seconds"};
  for (const auto& [name, value] : f) {
    if (std::find(std::begin(known), std::end(known), name) == std::end(known)) {
      spdlog::info("ignoring unknown config field '{}'", name);
    }
  }
  return c;
}

}  // namespace

Result<Config> parse_config(std::string_view text) {
  if (detail::is_blank(text)) return config_error("the config is empty: expected a JSON object");
  auto doc = detail::parse_json(text, "the config");
  if (!doc) return doc.error();
  try {
    return parse_fields(*doc);
  } catch (const ConfigProblem& p) {
    return config_error(p.what());
  }
}

std::string describe(const Config& c) {
  std::string shards;
  for (const auto& s : c.shards) shards += (shards.empty() ? "" : ",") + s;
  return fmt::format(
      "host={} grpc_port={} mysql_port={} database={} username={} tls_mode={} ca_certificate={} "
      "tablet={} shards=[{}] starting_gtids={} keyspace(s) include_metadata={} capture_deletes={} "
      "max_retries={} timeout_seconds={} use_gtid_with_table_pks={} do_not_treat_tiny_int_as_boolean={} "
      "checkpoint_interval_records={} checkpoint_interval_seconds={} max_concurrent_readers={} invalid_dates={} "
      "idle_timeout_seconds={}",
      c.host, c.grpc_port, c.mysql_port, c.database, c.username, to_string(c.tls_mode),
      c.ca_certificate.empty() ? "none" : "given", c.use_rdonly ? "rdonly" : (c.use_replica ? "replica" : "primary"),
      shards, c.starting_gtids.size(), c.include_metadata, c.capture_deletes, c.max_retries, c.timeout_seconds,
      c.use_gtid_with_table_pks, c.do_not_treat_tiny_int_as_boolean, c.checkpoint_interval_records,
      c.checkpoint_interval_seconds, c.max_concurrent_readers, c.invalid_dates_as_null ? "null" : "go_connector",
      c.idle_timeout_seconds);
}

}  // namespace sv::airbyte
