// src/vitess: how a VStream call ends, and what a final gRPC status means for the user
// (config_error, transient_error or system_error, with advice for vtgate answers whose cause is
// known). Pure functions of the status; no gRPC call.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include <grpcpp/support/status.h>

#include "util/result.hpp"
#include "vtgate.pb.h"

namespace sv::vitess {

//! Why a stream ended with an error.
enum class EndCause {
  server,        //!< the server or the transport ended the call with this status
  deadline,      //!< CallOptions::deadline passed
  idle_timeout,  //!< no message within CallOptions::idle_timeout
  cancelled,     //!< VStream::cancel() or cancellation of the awaiting coroutine
};
std::string_view to_string(EndCause cause);

//! The server finished the call with OK.
struct StreamEof {
  bool operator==(const StreamEof&) const = default;
};

//! The call ended with a non-OK status.
struct StreamError {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;  //!< the gRPC status message (or ours for idle timeout)
  EndCause cause = EndCause::server;
  FailureType failure_type = FailureType::system_error;
  //! What the user must do, for vtgate answers whose cause is known (a position the shard does
  //! not have, purged binlogs, an unknown shard or table); empty otherwise.
  std::string_view advice;

  bool transient() const { return failure_type == FailureType::transient_error; }
  //! "VStream failed: UNAVAILABLE: <message>" (". <advice>" appended) with the failure type.
  sv::Error to_error() const;
};

//! What next() yields.
using StreamItem = std::variant<vtgate::VStreamResponse, StreamEof, StreamError>;

//! Classifies a final gRPC status (the table above classify_status in stream_status.cpp). OK is
//! not an error; passing it returns system_error.
StreamError classify_status(const grpc::Status& status, EndCause cause = EndCause::server);

std::string_view status_code_name(grpc::StatusCode code);

}  // namespace sv::vitess
