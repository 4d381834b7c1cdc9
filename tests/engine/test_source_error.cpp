// tests/engine: a failed gRPC VStream in engine terms (to_source_error) — the reshard journal
// refusal carries its cause, so the engine never matches on error text.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include "engine/vstream_source.hpp"
#include "vitess/vstream_client.hpp"

using namespace sv;
using namespace sv::engine;

TEST_CASE("to_source_error: vtgate's 'not all journaling participants' is a reshard_journal cause") {
  // vtgate answers with INTERNAL (newer) or UNKNOWN (older releases) and this text.
  for (auto code : {grpc::StatusCode::INTERNAL, grpc::StatusCode::UNKNOWN, grpc::StatusCode::INVALID_ARGUMENT}) {
    grpc::Status status(code,
                        "not all journaling participants are in the stream: journal: "
                        "[ks/-80,ks/80-], stream: [ks/-80]");
    const auto classified = vitess::classify_status(status);
    const SourceError e = to_source_error(classified);
    CHECK(e.cause == SourceCause::reshard_journal);
    CHECK(e.error == classified.to_error());  // the error itself is unchanged
  }
}

TEST_CASE("to_source_error: other errors have no cause the engine acts on") {
  grpc::Status status(grpc::StatusCode::UNAVAILABLE, "no healthy tablet");
  const auto classified = vitess::classify_status(status);
  const SourceError e = to_source_error(classified);
  CHECK(e.cause == SourceCause::other);
  CHECK(e.transient());
  CHECK(e.error == classified.to_error());
}

TEST_CASE("to_source_error: vstreamer's 'column X not found in table T' is a missing_column cause naming X") {
  const std::string prefix =
      "error starting stream from shard GTID keyspace:\"ks\" shard:\"-80\": persistent error in vstream for ks/-80 "
      "on tablet zone1-0000000100; giving up: vttablet: rpc error: code = FailedPrecondition desc = ";
  for (const auto& [text, column] : std::vector<std::pair<std::string, std::string>>{
           {"column email not found in table customers", "email"},
           {"column `we``ird col` not found in table customers", "we`ird col"}}) {
    const auto classified = vitess::classify_status(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, prefix + text));
    const SourceError e = to_source_error(classified);
    CHECK(e.cause == SourceCause::missing_column);
    CHECK(e.column == column);
    CHECK(e.error == classified.to_error());
  }
  // The same words under another code are not vstreamer's plan error.
  const auto other = vitess::classify_status(grpc::Status(grpc::StatusCode::UNKNOWN, "column a not found in table t"));
  CHECK(to_source_error(other).cause == SourceCause::other);
}
