// src/airbyte: the connector's configuration (`--config`), parsed and validated into a typed
// struct. Field names, types and defaults follow the Go connector (planetscale/airbyte-source);
// the extra fields are this connector's. Keys match case-insensitively like Go's encoding/json
// and unknown keys are ignored, so every config the Go connector accepted is accepted here,
// except one that gives a field twice (also as `Host` next to `host`): Go silently keeps the
// later value, here it is a config_error naming the field.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"
#include "util/tls_mode.hpp"

namespace sv::airbyte {

using sv::TlsMode;  // one type for the config, the gRPC channel and the MySQL session

//! keyspace → shard → GTID position, e.g. {"shop":{"-80":"MySQL56/…:1-100"}}.
using StartingGtids = std::map<std::string, std::map<std::string, std::string>>;

struct Config {
  // --- fields of the Go connector (same names and meaning) ---
  std::string host;      //!< required; vtgate / PlanetScale host name (no port)
  std::string database;  //!< required; the keyspace; default namespace of streams
  std::string username;  //!< required
  std::string password;  //!< required (may be empty); never logged or echoed
  bool use_replica = false;
  bool use_rdonly = false;  //!< wins over use_replica
  //! `shards` split on ',' with blanks trimmed and empty entries dropped (the Go connector keeps
  //! untrimmed, empty entries: a quirk not reproduced). Empty = all shards.
  std::vector<std::string> shards;
  bool include_metadata = false;
  StartingGtids starting_gtids;  //!< parsed from the JSON text of `starting_gtids`
  //! Attempts per shard (Go semantics: 0 and 1 both mean one attempt). Absent ⇒ 3, the spec's
  //! default; the Go connector uses 0 then only because its struct field starts at zero, and a
  //! retry here resumes from the last cursor so it costs nothing in correctness.
  std::uint32_t max_retries = 3;
  //! How long one shard is read per sync (the Go connector's per-attempt deadline): then it stops
  //! at its last committed cursor and the next sync continues. Absent/null ⇒ 300 like Go. Must be
  //! ≥ 1 (Go accepts 0, which can never succeed); the spec's `minimum: 300` is a UI hint, not
  //! enforced (as in Go).
  std::uint32_t timeout_seconds = 300;
  bool use_gtid_with_table_pks = false;
  bool do_not_treat_tiny_int_as_boolean = false;  //!< `options.do_not_treat_tiny_int_as_boolean`

  // --- this connector's additions ---
  std::uint16_t grpc_port = 443;
  std::uint16_t mysql_port = 3306;
  TlsMode tls_mode = TlsMode::verify_identity;
  std::string ca_certificate;  //!< PEM; empty = system trust store
  bool capture_deletes = true;
  std::uint64_t checkpoint_interval_records = 100000;
  std::uint32_t checkpoint_interval_seconds = 60;
  std::uint32_t max_concurrent_readers = 8;
  //! `invalid_dates`: zero and invalid DATE/DATETIME/TIMESTAMP values become null (false =
  //! "go_connector": the epoch for zero values, the text as received for invalid ones).
  bool invalid_dates_as_null = true;
  //! A VStream that sends nothing at all (vtgate sends a heartbeat every 10 s while idle) for this
  //! long is broken: the attempt ends with a transient error and is retried from the last cursor.
  std::uint32_t idle_timeout_seconds = 60;
};

//! Parses the text of a config file. Errors are config_error and say which field and what was
//! expected (`config field 'max_retries' must be a non-negative integer, got a string`), or
//! where the JSON is broken (line, column, byte offset). No error or log repeats a value of
//! `password` or `ca_certificate`.
Result<Config> parse_config(std::string_view text);

//! One line for logs: host, ports, database, user, TLS mode and options; never the password.
std::string describe(const Config& config);

}  // namespace sv::airbyte
