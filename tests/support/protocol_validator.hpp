// tests/support: the project's own checker of `source-vitess read` output. Every e2e test runs
// it over what the connector printed, so each suite checks the rules Airbyte 2.x enforces
// (docs: shared airbyte-protocol.md §5) besides its own expectations.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sv::testing {

//! What one stream did in a read, as seen on stdout.
struct StreamSummary {
  std::vector<std::string> records;    //!< the `data` objects exactly as written, in output order
  std::vector<std::string> states;     //!< the `stream_state` objects, re-serialized
  std::vector<std::string> statuses;   //!< STARTED, RUNNING, COMPLETE, INCOMPLETE in order
  std::uint64_t record_count_sum = 0;  //!< sum of sourceStats.recordCount over its STATEs
};

//! The outcome of validating one read's stdout.
struct ReadReport {
  std::vector<std::string> problems;             //!< empty = the output obeys every rule
  std::map<std::string, StreamSummary> streams;  //!< keyed "namespace.name"
  std::vector<std::string> errors;               //!< TRACE ERROR messages, in order
  std::vector<std::string> failure_types;        //!< their failure_type values
  bool ok() const { return problems.empty(); }
};

//! Checks `read` output against the configured catalog it was run with:
//! - every line is one JSON AirbyteMessage of a known type; nothing else on stdout;
//! - per configured stream: STARTED first, then RECORD/STATE, then exactly one COMPLETE or
//!   INCOMPLETE, nothing after it; no message for a stream outside the catalog;
//! - STATE is per-stream (`type` STREAM, never LEGACY or missing) and its
//!   sourceStats.recordCount equals the stream's records since its previous STATE;
//! - RECORD emitted_at is an integer, `data` conforms to the stream's json_schema (types,
//!   nullability, no undeclared properties unless allow_extra_columns);
//! - TRACE ERROR has a valid failure_type; ESTIMATE traces are of type STREAM only.
ReadReport validate_read_output(std::string_view stdout_text, std::string_view configured_catalog,
                                bool allow_extra_columns = false);

}  // namespace sv::testing
