// src/engine: the production ShardSource — VStreams through src/vitess's gRPC client.
#pragma once

#include <chrono>
#include <memory>

#include "engine/shard_source.hpp"
#include "vitess/vstream_client.hpp"

namespace sv::engine {

struct VStreamSourceOptions {
  vitess::VStreamRequestOptions request;            //!< tablet type, cells, minimize_skew
  std::chrono::milliseconds idle_timeout{300'000};  //!< no message for this long → transient error
  std::chrono::milliseconds peek_timeout{45'000};   //!< current_positions deadline (Go: 45 s)
};

//! A failed VStream in engine terms: its Error, and the cause the engine acts on.
SourceError to_source_error(const vitess::StreamError& error);

class VStreamSource final : public ShardSource {
 public:
  VStreamSource(std::shared_ptr<vitess::VStreamClient> client, VStreamSourceOptions options);

  boost::asio::awaitable<std::unique_ptr<EventStream>> open(const StreamRequest& request) override;
  boost::asio::awaitable<Result<std::map<std::string, std::string>>> current_positions(
      const std::string& keyspace, const std::string& table) override;

  //! The gRPC request for a StreamRequest (exposed for tests).
  vtgate::VStreamRequest build_request(const StreamRequest& request) const;

 private:
  std::shared_ptr<vitess::VStreamClient> client_;
  VStreamSourceOptions options_;
};

}  // namespace sv::engine
