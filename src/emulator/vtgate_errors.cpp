// src/emulator/vtgate_errors.cpp — vtgate's and vttablet's error texts (see vtgate_errors.hpp for
// the Vitess sources they model).
#include "emulator/vtgate_errors.hpp"

namespace sv::emulator::detail {
namespace {

//! Go's grpc status code names, as `rpc error: code = <Name> desc = …` prints them.
const char* go_code_name(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::CANCELLED: return "Canceled";
    case grpc::StatusCode::INVALID_ARGUMENT: return "InvalidArgument";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FailedPrecondition";
    case grpc::StatusCode::UNAVAILABLE: return "Unavailable";
    case grpc::StatusCode::INTERNAL: return "Internal";
    case grpc::StatusCode::NOT_FOUND: return "NotFound";
    default: return "Unknown";
  }
}

}  // namespace

grpc::Status to_status(const sv::Error& e) {
  switch (e.type) {
    case FailureType::config_error: return {grpc::StatusCode::INVALID_ARGUMENT, e.message};
    case FailureType::transient_error: return {grpc::StatusCode::UNAVAILABLE, e.message};
    case FailureType::system_error: return {grpc::StatusCode::UNKNOWN, e.message};
  }
  return {grpc::StatusCode::UNKNOWN, e.message};
}

std::string go_text(const binlogdata::ShardGtid& sg) {
  std::string out;
  auto field = [&](const char* name, const std::string& v) {
    if (v.empty()) return;
    if (!out.empty()) out += ' ';
    out += name;
    out += ":\"";
    out += v;
    out += '"';
  };
  field("keyspace", sg.keyspace());
  field("shard", sg.shard());
  field("gtid", sg.gtid());
  for (const auto& pk : sg.table_p_ks()) {
    if (!out.empty()) out += ' ';
    out += "table_p_ks:{table_name:\"";
    out += pk.table_name();
    out += "\"}";
  }
  return out;
}

std::string go_text(const binlogdata::VGtid& v) {
  std::string out;
  for (const auto& sg : v.shard_gtids()) {
    if (!out.empty()) out += ' ';
    out += "shard_gtids:{";
    out += go_text(sg);
    out += '}';
  }
  return out;
}

grpc::Status vtgate_shard_error(const binlogdata::ShardGtid& sg, const std::string& tablet, grpc::StatusCode code,
                                const std::string& tablet_message) {
  const bool retried = code != grpc::StatusCode::INVALID_ARGUMENT && code != grpc::StatusCode::INTERNAL;
  std::string where = sg.keyspace() + "/" + sg.shard() + " on tablet " + tablet;
  std::string msg = "error starting stream from shard GTID " + go_text(sg) + ": ";
  msg +=
      retried ? "persistent error in vstream for " + where + "; giving up: " : "error in vstream for " + where + ": ";
  msg += "vttablet: rpc error: code = ";
  msg += go_code_name(code);
  msg += " desc = ";
  msg += tablet_message;
  return {code, msg};
}

}  // namespace sv::emulator::detail
