// src/socket: SocketOutput, `read`'s output in Airbyte's socket mode ("speed mode",
// docs/speed-mode.md). It owns the connected data channel sockets and places the engine's results:
//   - RECORDs only on the sockets: each (stream, shard) is given one socket, round-robin in the
//     order they first push, so the shards of a sync spread over all sockets. Every record carries
//     the partition id of the STATE that will cover them (patched into the rendered rows here).
//   - Each socket has its own writer: a FIFO queue of messages and one coroutine that writes them
//     in order. A push of rows queues them on their socket and returns (it waits only while that
//     socket's queue is full), so while one socket's writer is busy the stream's other shards
//     queue onto theirs: one stream with 4 shards on 4 sockets keeps all 4 writing at once.
//   - STATE: a STATE waits until every message of its stream queued before it was written (the
//     kernel took the bytes, on whichever socket), then goes onto the socket of the batch it ends
//     and, once written there, to stdout (through the emitter), with `id` (1, 2, 3, … per stream),
//     `partition_id` and recordCount = the records of that partition. The engine's per-stream push
//     lock keeps rows from being queued while a STATE of the same stream waits, so a STATE never
//     covers a record that did not reach its socket.
//   - TRACE STREAM_STATUS STARTED/RUNNING/COMPLETE on stdout and on every socket; INCOMPLETE, TRACE
//     ERROR and LOG only on stdout (a destination treats INCOMPLETE on a data channel as a
//     platform bug, DestinationMessageFactory.kt).
//   - A probe message on a socket idle for `probe_interval`.
// Backpressure: a socket's queue holds at most kQueueBytes (plus the one message that crossed it);
// a push onto a full queue waits, so a slow destination socket slows the shards that feed it and
// memory stays at the queues plus the batches in flight.
// A failed socket (the destination closed it) fails the output: every later push is refused, no
// STATE is written after it, and each stream ends INCOMPLETE with a transient_error naming it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airbyte/catalog.hpp"
#include "airbyte/emitter.hpp"
#include "engine/output.hpp"
#include "socket/data_channel.hpp"

namespace sv::socket {

//! The STATE line of socket mode: airbyte::append_state's line with two more members of the state
//! object, `id` (the stream's STATE ordinal: 1, 2, 3, …) and `partition_id` (hex, carried by every
//! record the STATE covers); recordCount counts that partition. Ends with '\n'.
std::string partitioned_state(const airbyte::StreamDescriptor& stream, const airbyte::StreamState& state,
                              std::uint64_t record_count, std::int64_t id, std::string_view partition_id);

struct SocketOutputOptions {
  Format format = Format::jsonl;
  //! emitted_at of STREAM_STATUS traces; tests pin it.
  std::function<std::int64_t()> clock = airbyte::now_ms;
  //! A socket without a write for this long gets a probe message.
  std::chrono::milliseconds probe_interval{10'000};
};

class SocketOutput final : public engine::SyncOutput {
 public:
  //! Takes ownership of the sockets' descriptors. `catalog` must outlive the output.
  SocketOutput(boost::asio::io_context& io, airbyte::Emitter& emitter, const airbyte::ConfiguredCatalog& catalog,
               std::vector<ConnectedSocket> sockets, SocketOutputOptions options = {});
  ~SocketOutput() override;

  std::unique_ptr<engine::RowWriter> row_writer(const airbyte::StreamDescriptor& stream,
                                                const std::vector<std::string>& columns) const override;
  boost::asio::awaitable<bool> started(std::size_t stream) override;
  boost::asio::awaitable<bool> estimate(std::size_t stream, std::uint64_t rows, std::uint64_t bytes) override;
  boost::asio::awaitable<bool> push(engine::Batch batch) override;
  boost::asio::awaitable<bool> complete(std::size_t stream) override;
  boost::asio::awaitable<bool> incomplete(std::size_t stream, Error error) override;
  boost::asio::awaitable<bool> warning(std::string message) override;
  boost::asio::awaitable<void> shutdown() override;
  std::size_t queued() const override { return em_.queued(); }

  //! Starts the probe timers (call once, on the io_context's thread, before the engine runs).
  void start();

 private:
  //! A socket's queue takes more messages while it holds less than this many bytes.
  static constexpr std::size_t kQueueBytes = 4u << 20;
  static constexpr std::size_t kNoStream = static_cast<std::size_t>(-1);

  struct Message {
    Message(std::string b, std::size_t s) : bytes(std::move(b)), stream(s) {}
    std::string bytes;
    std::size_t stream = kNoStream;  //!< whose message (kNoStream: a probe)
  };
  struct Channel {
    Channel(boost::asio::io_context& io, ConnectedSocket s);
    std::string path;
    boost::asio::local::stream_protocol::socket sock;
    std::deque<Message> queue;  //!< written front to back by writer(); the front is being written
    std::size_t queued_bytes = 0;
    boost::asio::steady_timer wake;  //!< never expires: cancelled when a message is queued
    boost::asio::steady_timer probe_timer;
    std::chrono::steady_clock::time_point last_write;
  };
  struct StreamSlot {
    airbyte::StreamDescriptor descriptor;
    std::string partition;          //!< the partition of the next STATE
    std::int64_t next_id = 1;       //!< the next STATE's id
    std::uint64_t since_state = 0;  //!< records of `partition` written so far
    std::size_t last_socket = 0;    //!< where the stream's last records went
    std::size_t in_flight = 0;      //!< messages of the stream queued and not yet written
    std::size_t writing = 0;        //!< of those, the ones a writer is writing now
    bool sent_started = false, sent_running = false;
  };

  boost::asio::awaitable<bool> enqueue(std::size_t index, std::string bytes, std::size_t stream);
  boost::asio::awaitable<bool> written(std::size_t stream);
  boost::asio::awaitable<void> writer(std::size_t index);
  boost::asio::awaitable<void> progress();
  boost::asio::awaitable<bool> status_everywhere(std::size_t stream, airbyte::StreamStatus status);
  boost::asio::awaitable<bool> ensure_running(std::size_t stream);
  boost::asio::awaitable<void> probe_loop(std::size_t index);
  std::size_t socket_for(std::size_t stream, const std::string& shard);
  std::string new_partition_id();
  bool fail(Error error);

  boost::asio::io_context& io_;
  airbyte::Emitter& em_;
  SocketOutputOptions opt_;
  std::vector<std::unique_ptr<Channel>> channels_;
  std::vector<StreamSlot> streams_;
  const airbyte::ConfiguredCatalog& catalog_;
  std::map<std::pair<std::size_t, std::string>, std::size_t> placement_;
  std::size_t next_socket_ = 0;
  std::mt19937_64 rng_;
  std::optional<Error> failure_;  //!< set once a socket failed; every later push is refused
  //! Never expires: cancelled whenever a message was written (or a socket failed, or a writer
  //! ended), waking whoever waits for room in a queue or for a stream's messages to be written.
  boost::asio::steady_timer progress_;
  std::size_t writers_ = 0;  //!< writer coroutines still running
  bool stopping_ = false;
};

}  // namespace sv::socket
