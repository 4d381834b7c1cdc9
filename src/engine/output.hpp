// src/engine: where the engine's results go. The engine hands every stream's lifecycle, its rows
// (rendered by the output's own RowWriter) and its checkpoints to a SyncOutput, in the order of
// the Airbyte protocol: started → [estimate] → (push)* → complete | incomplete, then one
// shutdown() after every stream ended; warning() may come at any time. Two outputs exist:
// AirbyteOutput (the ordered emitter on stdout, `read`) and extract::FileOutput (files in a
// directory, `extract`).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "airbyte/messages.hpp"
#include "airbyte/state.hpp"
#include "engine/row_writer.hpp"
#include "util/result.hpp"

namespace sv::airbyte {
class Emitter;
}

namespace sv::engine {

//! Rows of one stream and shard, and, when it is a checkpoint, the stream's state that follows
//! them. Has a constructor: braced aggregates with strings inside co_await hit a GCC 12 bug
//! (airbyte/emitter.hpp).
struct Batch {
  Batch() = default;
  Batch(std::size_t stream_index, std::string row_lines, std::uint64_t row_count, std::string shard_name = {},
        std::optional<airbyte::StreamState> checkpoint = {})
      : stream(stream_index),
        lines(std::move(row_lines)),
        count(row_count),
        shard(std::move(shard_name)),
        state(std::move(checkpoint)) {}

  std::size_t stream = 0;   //!< index into the configured catalog
  std::string lines;        //!< complete rows in the output's format (RowWriter::take()), may be empty
  std::uint64_t count = 0;  //!< rows in `lines`
  std::string shard;        //!< the shard of the rows (outputs that split files use it)
  //! Set on a checkpoint: the state covers these rows and every row pushed before them.
  std::optional<airbyte::StreamState> state;
};

//! The receiving end of a sync. Every call is made on the engine's io_context thread; a call that
//! returns false means the output cannot take more (stdout closed, disk full): the engine stops.
class SyncOutput {
 public:
  virtual ~SyncOutput() = default;
  //! The row format: a writer for the rows of one shard of a stream whose catalog columns are
  //! `columns` (empty = every column of the table). Called when a reader (re)starts.
  virtual std::unique_ptr<RowWriter> row_writer(const airbyte::StreamDescriptor& stream,
                                                const std::vector<std::string>& columns) const = 0;
  virtual boost::asio::awaitable<bool> started(std::size_t stream) = 0;
  virtual boost::asio::awaitable<bool> estimate(std::size_t stream, std::uint64_t rows, std::uint64_t bytes) = 0;
  virtual boost::asio::awaitable<bool> push(Batch batch) = 0;
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

//! Airbyte RECORD lines (`{"type":"RECORD","record":{…,"data":{…}}}`), the rows of `read`.
std::unique_ptr<RowWriter> make_record_writer(const airbyte::StreamDescriptor& stream);

//! `read`: the Airbyte protocol on stdout through the ordered emitter (airbyte_output.cpp).
class AirbyteOutput final : public SyncOutput {
 public:
  explicit AirbyteOutput(airbyte::Emitter& emitter) : em_(emitter) {}
  std::unique_ptr<RowWriter> row_writer(const airbyte::StreamDescriptor& stream,
                                        const std::vector<std::string>& columns) const override;
  boost::asio::awaitable<bool> started(std::size_t stream) override;
  boost::asio::awaitable<bool> estimate(std::size_t stream, std::uint64_t rows, std::uint64_t bytes) override;
  boost::asio::awaitable<bool> push(Batch batch) override;
  boost::asio::awaitable<bool> complete(std::size_t stream) override;
  boost::asio::awaitable<bool> incomplete(std::size_t stream, Error error) override;
  //! A LOG WARN message on stdout, so the Airbyte UI shows it.
  boost::asio::awaitable<bool> warning(std::string message) override;
  boost::asio::awaitable<void> shutdown() override;
  std::size_t queued() const override;

 private:
  airbyte::Emitter& em_;
};

}  // namespace sv::engine
