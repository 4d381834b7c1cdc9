// src/vitess: VStream end causes and gRPC status classification (see stream_status.hpp).
#include "vitess/stream_status.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <array>

#include "util/strings.hpp"

namespace sv::vitess {

std::string_view to_string(EndCause cause) {
  switch (cause) {
    case EndCause::server: return "server";
    case EndCause::deadline: return "deadline";
    case EndCause::idle_timeout: return "idle_timeout";
    case EndCause::cancelled: return "cancelled";
  }
  return "server";
}

std::string_view status_code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

namespace {

bool any_of_ci(std::string_view text, std::initializer_list<std::string_view> needles) {
  for (auto n : needles) {
    if (contains_ci(text, n)) return true;
  }
  return false;
}

// TLS verification failures surface as UNAVAILABLE handshake errors; retrying cannot fix them.
bool tls_verification_failure(std::string_view m) {
  return any_of_ci(m, {"certificate_verify_failed", "certificate verify failed", "hostname verification", "peer name",
                       "custom verification check failed", "unable to get local issuer"});
}

// vtgate answers that name a cause the user must act on, whatever status code carries them
// (vtgate's code depends on its version and on how many tablets it tried first).
struct KnownAnswer {
  std::array<std::string_view, 4> needles;  //!< any of them (the non-empty ones), case-insensitive
  std::string_view advice;

  bool matches(std::string_view message) const {
    return std::any_of(needles.begin(), needles.end(),
                       [&](std::string_view n) { return !n.empty() && contains_ci(message, n); });
  }
};

const KnownAnswer kKnownAnswers[] = {
    // vttablet refuses a start position its server does not contain (uvstreamer.go,
    // setStreamStartPosition: INVALID_ARGUMENT "GTIDSet Mismatch: requested source position:…,
    // current target vrep position: …"); MySQL's binlog dump says the same as errno 1236
    // ER_SLAVE_HAS_MORE_GTIDS_THAN_MASTER ("…has more GTIDs than the source has…").
    {{"gtidset mismatch", "gtid set mismatch", "more gtids than the", "fewer gtids than the"},
     "The position names transactions this shard's server does not have: the server was "
     "restored from a backup or failed over to one with fewer transactions, or the position "
     "comes from another database. Reset the stream to copy it again (with use_replica or "
     "use_rdonly a lagging replica can answer this too: retry the sync first)"},
    // MySQL errno 1236 / 1789 through vstreamer's "stream (at source tablet) error @ <pos>: …",
    // code UNKNOWN (vstreamer.go wrapError; discovery/utils.go ShouldRetryTabletError).
    {{"purged required binary logs", "purged required gtids", "errno 1789"},
     "The shard's server no longer has the binary logs this position needs (they were purged). "
     "Reset the stream to copy it again, and sync more often than the server keeps its binary "
     "logs"},
    // vtgate's vstream_manager.go keyspaceHasBeenResharded: FAILED_PRECONDITION.
    {{"shard provided in vgtid"},
     "vtgate does not know this shard of the keyspace: fix the config's shards or "
     "starting_gtids, or reset a stream whose saved state names shards that no longer exist"},
    // vstreamer / rowstreamer in copy mode: UNKNOWN "table X is not present in the database".
    {{"is not present in the database"},
     "The table does not exist in the keyspace: refresh the source schema in Airbyte and "
     "deselect the stream (or recreate the table)"},
};

}  // namespace

// Classification by status code:
//   OK                         → (not an error)
//   CANCELLED                  → transient (server-side cancel) / ours when cause = cancelled
//   UNKNOWN                    → transient if the message names a transport failure
//                                ("transport", "connection reset", "broken pipe", "eof",
//                                "stream terminated", "connection closed"), else system_error
//   INVALID_ARGUMENT           → config_error (bad table, keyspace or position in the request)
//   DEADLINE_EXCEEDED          → transient (our deadline or the server's)
//   NOT_FOUND                  → config_error (keyspace/shard/table does not exist)
//   ALREADY_EXISTS             → system_error
//   PERMISSION_DENIED          → config_error
//   RESOURCE_EXHAUSTED         → transient, except "larger than max" message size → system_error
//   FAILED_PRECONDITION        → config_error when the position is gone (purged binlogs, GTID
//                                set mismatch), else transient (tablet not serving, reparenting)
//   ABORTED                    → transient
//   OUT_OF_RANGE               → system_error
//   UNIMPLEMENTED              → config_error (not a vtgate / VStream not served on this port)
//   INTERNAL                   → transient on stream resets ("rst_stream", "stream reset",
//                                "transport", "connection reset", "goaway"), else system_error
//   UNAVAILABLE                → transient, except TLS certificate verification → config_error
//   DATA_LOSS                  → system_error
//   UNAUTHENTICATED            → config_error
// Whatever the code, a message of kKnownAnswers (a position the shard does not have, purged
// binlogs, an unknown shard or table) is a config_error with the advice appended.
StreamError classify_status(const grpc::Status& status, EndCause cause) {
  StreamError e;
  e.code = status.error_code();
  e.message = status.error_message();
  e.cause = cause;
  const std::string& m = e.message;
  using C = grpc::StatusCode;
  FailureType t = FailureType::system_error;
  switch (e.code) {
    case C::OK: t = FailureType::system_error; break;
    case C::CANCELLED: t = FailureType::transient_error; break;
    case C::UNKNOWN:
      t = any_of_ci(m,
                    {"transport", "connection reset", "broken pipe", "eof", "stream terminated", "connection closed"})
              ? FailureType::transient_error
              : FailureType::system_error;
      break;
    case C::INVALID_ARGUMENT: t = FailureType::config_error; break;
    case C::DEADLINE_EXCEEDED: t = FailureType::transient_error; break;
    case C::NOT_FOUND: t = FailureType::config_error; break;
    case C::ALREADY_EXISTS: t = FailureType::system_error; break;
    case C::PERMISSION_DENIED: t = FailureType::config_error; break;
    case C::RESOURCE_EXHAUSTED:
      t = contains_ci(m, "larger than max") ? FailureType::system_error : FailureType::transient_error;
      break;
    case C::FAILED_PRECONDITION:
      t = any_of_ci(m, {"purged", "gtidset mismatch", "gtid set mismatch"}) ? FailureType::config_error
                                                                            : FailureType::transient_error;
      break;
    case C::ABORTED: t = FailureType::transient_error; break;
    case C::OUT_OF_RANGE: t = FailureType::system_error; break;
    case C::UNIMPLEMENTED: t = FailureType::config_error; break;
    case C::INTERNAL:
      t = any_of_ci(m, {"rst_stream", "stream reset", "transport", "connection reset", "goaway"})
              ? FailureType::transient_error
              : FailureType::system_error;
      break;
    case C::UNAVAILABLE:
      t = tls_verification_failure(m) ? FailureType::config_error : FailureType::transient_error;
      break;
    case C::DATA_LOSS: t = FailureType::system_error; break;
    case C::UNAUTHENTICATED: t = FailureType::config_error; break;
    default: t = FailureType::system_error; break;
  }
  if (e.code != C::OK) {
    for (const auto& known : kKnownAnswers) {
      if (!known.matches(m)) continue;
      t = FailureType::config_error;
      e.advice = known.advice;
      break;
    }
  }
  e.failure_type = t;
  return e;
}

sv::Error StreamError::to_error() const {
  std::string what;
  switch (cause) {
    case EndCause::server: what = fmt::format("VStream failed: {}: {}", status_code_name(code), message); break;
    case EndCause::deadline: what = fmt::format("VStream call deadline passed: {}", message); break;
    case EndCause::idle_timeout: what = fmt::format("VStream idle: {}", message); break;
    case EndCause::cancelled: what = fmt::format("VStream cancelled: {}", message); break;
  }
  if (!advice.empty()) what += fmt::format(". {}", advice);
  return sv::Error{
      failure_type, std::move(what),
      fmt::format("grpc status {} ({}), cause {}", static_cast<int>(code), status_code_name(code), to_string(cause))};
}

}  // namespace sv::vitess
