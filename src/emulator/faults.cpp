// src/emulator/faults.cpp — fault names and statuses.
#include "emulator/faults.hpp"

namespace sv::emulator {

std::optional<EndMode> parse_end_mode(const std::string& s) {
  if (s == "eof" || s == "ok") return EndMode::eof;
  if (s == "unavailable") return EndMode::unavailable;
  if (s == "deadline_exceeded" || s == "deadline") return EndMode::deadline_exceeded;
  if (s == "internal") return EndMode::internal;
  if (s == "drop") return EndMode::drop;
  return std::nullopt;
}

const char* to_string(EndMode m) {
  switch (m) {
    case EndMode::eof: return "eof";
    case EndMode::unavailable: return "unavailable";
    case EndMode::deadline_exceeded: return "deadline_exceeded";
    case EndMode::internal: return "internal";
    case EndMode::drop: return "drop";
  }
  return "eof";
}

grpc::Status end_status(EndMode m, const std::string& why) {
  switch (m) {
    case EndMode::eof: return grpc::Status::OK;
    case EndMode::unavailable: return {grpc::StatusCode::UNAVAILABLE, "vstream: " + why};
    case EndMode::deadline_exceeded: return {grpc::StatusCode::DEADLINE_EXCEEDED, "context deadline exceeded"};
    case EndMode::internal: return {grpc::StatusCode::INTERNAL, "vstream: " + why};
    case EndMode::drop: return {grpc::StatusCode::CANCELLED, "dropped"};
  }
  return grpc::Status::OK;
}

}  // namespace sv::emulator
