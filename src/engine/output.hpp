// src/engine: where the engine's results go. The engine hands every stream's lifecycle, its rows
// (rendered by the decoder in the stream's RowFormat) and its checkpoints to a SyncOutput, in the
// order of the Airbyte protocol: started → [estimate] → (push)* → complete | incomplete, then one
// shutdown() after every stream ended; warning() may come at any time. Two outputs exist:
// AirbyteOutput (the ordered emitter on stdout, `read`) and extract::FileOutput (files in a
// directory, `extract`).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "airbyte/emitter.hpp"
#include "util/result.hpp"

namespace sv::engine {

//! The receiving end of a sync. Every call is made on the engine's io_context thread; a call that
//! returns false means the output cannot take more (stdout closed, disk full): the engine stops.
//! A Batch whose `cursor` holds a StreamState is a checkpoint: the state covers the batch's rows
//! and every row pushed before it for that stream. `Batch::shard` names the shard of its rows.
class SyncOutput {
 public:
  virtual ~SyncOutput() = default;
  virtual boost::asio::awaitable<bool> started(std::size_t stream) = 0;
  virtual boost::asio::awaitable<bool> estimate(std::size_t stream, std::uint64_t rows, std::uint64_t bytes) = 0;
  virtual boost::asio::awaitable<bool> push(airbyte::Batch batch) = 0;
  virtual boost::asio::awaitable<bool> complete(std::size_t stream) = 0;
  virtual boost::asio::awaitable<bool> incomplete(std::size_t stream, Error error) = 0;
  //! A warning the user should see (a column left out, a fallback taken). The engine has already
  //! logged it on stderr; an output that has a user-facing channel repeats it there.
  virtual boost::asio::awaitable<bool> warning(std::string message) {
    (void)message;
    co_return true;
  }
  //! After the last stream ended; the output finishes (flushes, closes) before it returns.
  virtual boost::asio::awaitable<void> shutdown() = 0;
  //! Events waiting inside the output (for metrics); 0 when it writes synchronously.
  virtual std::size_t queued() const { return 0; }
};

//! `read`: the Airbyte protocol on stdout through the ordered emitter.
class AirbyteOutput final : public SyncOutput {
 public:
  explicit AirbyteOutput(airbyte::Emitter& emitter) : em_(emitter) {}
  boost::asio::awaitable<bool> started(std::size_t stream) override { return em_.started(stream); }
  boost::asio::awaitable<bool> estimate(std::size_t stream, std::uint64_t rows, std::uint64_t bytes) override {
    return em_.estimate(stream, rows, bytes);
  }
  boost::asio::awaitable<bool> push(airbyte::Batch batch) override { return em_.push(std::move(batch)); }
  boost::asio::awaitable<bool> complete(std::size_t stream) override { return em_.complete(stream); }
  boost::asio::awaitable<bool> incomplete(std::size_t stream, Error error) override {
    return em_.incomplete(stream, std::move(error));
  }
  //! A LOG WARN message on stdout, so the Airbyte UI shows it.
  boost::asio::awaitable<bool> warning(std::string message) override {
    return em_.log(airbyte::LogLevel::warn, std::move(message));
  }
  boost::asio::awaitable<void> shutdown() override { return em_.shutdown(); }
  std::size_t queued() const override { return em_.queued(); }

 private:
  airbyte::Emitter& em_;
};

}  // namespace sv::engine
