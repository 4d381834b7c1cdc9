// src/socket: SocketOutput (see socket_output.hpp and docs/speed-mode.md).
#include "socket/socket_output.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

namespace sv::socket {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

SocketOutput::Channel::Channel(asio::io_context& io, ConnectedSocket s)
    : path(std::move(s.path)),
      sock(io, asio::local::stream_protocol(), s.fd),
      wake(io, asio::steady_timer::time_point::max()),
      probe_timer(io),
      last_write(std::chrono::steady_clock::now()) {}

std::string partitioned_state(const airbyte::StreamDescriptor& stream, const airbyte::StreamState& state,
                              std::uint64_t record_count, std::int64_t id, std::string_view partition_id) {
  std::string line;
  airbyte::append_state(line, stream, airbyte::render_stream_state(state), record_count);
  // append_state's line ends with the sourceStats object and `}}\n` (the state object, the
  // message): the two members go right before them. The partition id is hex, nothing to escape.
  line.insert(line.size() - 3, fmt::format(",\"id\":{},\"partition_id\":\"{}\"", id, partition_id));
  return line;
}

SocketOutput::SocketOutput(asio::io_context& io, airbyte::Emitter& emitter, const airbyte::ConfiguredCatalog& catalog,
                           std::vector<ConnectedSocket> sockets, SocketOutputOptions options)
    : io_(io),
      em_(emitter),
      opt_(std::move(options)),
      catalog_(catalog),
      rng_(std::random_device{}()),
      progress_(io, asio::steady_timer::time_point::max()) {
  for (auto& s : sockets) channels_.push_back(std::make_unique<Channel>(io, std::move(s)));
  // The writers start with the output (they only run once the io_context does): every message
  // goes through them, probes and the failure path included.
  for (std::size_t i = 0; i < channels_.size(); ++i) {
    ++writers_;
    asio::co_spawn(io_, writer(i), asio::detached);
  }
  for (const auto& s : catalog.streams) {
    StreamSlot slot;
    slot.descriptor = s.descriptor();
    slot.partition = new_partition_id();
    streams_.push_back(std::move(slot));
  }
}

SocketOutput::~SocketOutput() = default;

void SocketOutput::start() {
  for (std::size_t i = 0; i < channels_.size(); ++i) asio::co_spawn(io_, probe_loop(i), asio::detached);
}

std::string SocketOutput::new_partition_id() {
  // Random, so a partition id never repeats across syncs; fixed length, so it is patched in place.
  return fmt::format("{:016x}", rng_());
}

std::unique_ptr<engine::RowWriter> SocketOutput::row_writer(const airbyte::StreamDescriptor& stream,
                                                            const std::vector<std::string>& columns) const {
  if (opt_.format == Format::jsonl) return make_jsonl_record_writer(stream);
  // The _ab_cdc_* columns whose configured schema is a plain string (no date-time format): the
  // destination checks each value's member against the configured type.
  std::vector<std::string> plain;
  for (const auto& s : catalog_.streams) {
    if (s.descriptor() != stream) continue;
    for (std::size_t i = 0; i < s.columns.size() && i < s.column_types.size(); ++i) {
      const auto& t = s.column_types[i];
      const bool timestamp = t.format == "date-time" || t.airbyte_type == "timestamp_with_timezone";
      if ((s.columns[i] == engine::kUpdatedAtColumn || s.columns[i] == engine::kDeletedAtColumn) && !timestamp) {
        plain.push_back(s.columns[i]);
      }
    }
  }
  return make_protobuf_record_writer(stream, columns, plain);
}

bool SocketOutput::fail(Error error) {
  if (!failure_) {
    spdlog::error("{}", error.message);
    failure_ = std::move(error);
  }
  return false;
}

awaitable<void> SocketOutput::progress() {
  // The timer never expires; a cancel() (a message written, a failure, a writer ended) wakes it.
  // Nobody re-arms it, so waiters never cancel each other.
  auto [ec] = co_await progress_.async_wait(asio::as_tuple(use_awaitable));
  (void)ec;
}

awaitable<bool> SocketOutput::enqueue(std::size_t index, std::string bytes, std::size_t stream) {
  Channel& c = *channels_[index];
  while (!failure_ && c.queued_bytes >= kQueueBytes) co_await progress();
  if (failure_) co_return false;
  c.queued_bytes += bytes.size();
  if (stream != kNoStream) ++streams_[stream].in_flight;
  c.queue.emplace_back(std::move(bytes), stream);
  c.wake.cancel();
  co_return true;
}

awaitable<bool> SocketOutput::written(std::size_t stream) {
  // After a failure the writers take nothing new, but a write under way still ends: whether the
  // stream's messages all made it is known once none of them is being written.
  const StreamSlot& s = streams_[stream];
  while (s.in_flight > 0 && (!failure_ || s.writing > 0)) co_await progress();
  co_return s.in_flight == 0;
}

awaitable<void> SocketOutput::writer(std::size_t index) {
  Channel& c = *channels_[index];
  while (!failure_) {
    if (c.queue.empty()) {
      if (stopping_) break;  // shutdown(): everything queued was written
      auto [ec] = co_await c.wake.async_wait(asio::as_tuple(use_awaitable));
      (void)ec;
      continue;
    }
    // The front stays queued while it is written: deque::push_back keeps references valid.
    Message& m = c.queue.front();
    if (m.stream != kNoStream) ++streams_[m.stream].writing;
    auto [ec, n] = co_await asio::async_write(c.sock, asio::buffer(m.bytes), asio::as_tuple(use_awaitable));
    (void)n;
    if (m.stream != kNoStream) --streams_[m.stream].writing;
    c.last_write = std::chrono::steady_clock::now();
    if (ec) {
      // Named first: GCC 12 mishandles non-trivial temporaries in a co_return (CONTRIBUTING.md).
      Error closed = transient_error(
          fmt::format("the destination closed the data channel socket '{}' during the sync ({}); the next sync "
                      "resumes from the last STATE",
                      c.path, ec.message()));
      fail(std::move(closed));
      break;
    }
    c.queued_bytes -= m.bytes.size();
    if (m.stream != kNoStream) --streams_[m.stream].in_flight;
    c.queue.pop_front();
    progress_.cancel();
  }
  --writers_;
  progress_.cancel();
}

awaitable<bool> SocketOutput::status_everywhere(std::size_t stream, airbyte::StreamStatus status) {
  std::string line;
  airbyte::append_stream_status(line, streams_[stream].descriptor, status, opt_.clock());
  const std::string framed = frame_control(opt_.format, line);
  bool ok = true;
  for (std::size_t i = 0; ok && i < channels_.size(); ++i) ok = co_await enqueue(i, framed, stream);
  co_return ok;
}

// The results are named and the functions have one co_return: with `if (!co_await f()) co_return
// false;` in two nested blocks here, GCC 12 resumed a finished frame (SIGILL in the unit tests).
awaitable<bool> SocketOutput::ensure_running(std::size_t stream) {
  StreamSlot& s = streams_[stream];
  bool ok = true;
  if (!s.sent_started) {
    s.sent_started = true;
    ok = co_await status_everywhere(stream, airbyte::StreamStatus::started);
  }
  if (ok && !s.sent_running) {
    s.sent_running = true;
    ok = co_await status_everywhere(stream, airbyte::StreamStatus::running);
  }
  co_return ok;
}

std::size_t SocketOutput::socket_for(std::size_t stream, const std::string& shard) {
  auto [it, fresh] = placement_.try_emplace({stream, shard}, 0);
  if (fresh) it->second = next_socket_++ % channels_.size();
  return it->second;
}

awaitable<bool> SocketOutput::started(std::size_t stream) {
  if (failure_ || stream >= streams_.size()) co_return false;
  StreamSlot& s = streams_[stream];
  if (!s.sent_started) {
    s.sent_started = true;
    if (!co_await status_everywhere(stream, airbyte::StreamStatus::started)) co_return false;
  }
  const bool taken = co_await em_.started(stream);
  co_return taken;
}

awaitable<bool> SocketOutput::estimate(std::size_t stream, std::uint64_t rows, std::uint64_t bytes) {
  if (failure_) co_return false;
  const bool taken = co_await em_.estimate(stream, rows, bytes);
  co_return taken;
}

awaitable<bool> SocketOutput::push(engine::Batch batch) {
  if (failure_ || batch.stream >= streams_.size()) co_return false;
  const std::size_t stream = batch.stream;
  StreamSlot& s = streams_[stream];
  if (!co_await ensure_running(stream)) co_return false;
  std::size_t target = s.last_socket;
  if (batch.count > 0) {
    target = socket_for(stream, batch.shard);
    if (!patch_partition(opt_.format, batch.lines, s.partition)) {
      Error bug = system_error(fmt::format("internal error: the rows of stream '{}' are not {} records",
                                           s.descriptor.name, to_string(opt_.format)));
      co_return fail(std::move(bug));
    }
    // Queued, not yet written: the shard goes on reading while this socket's writer works.
    if (!co_await enqueue(target, std::move(batch.lines), stream)) co_return false;
    s.last_socket = target;
    s.since_state += batch.count;
  }
  if (!batch.state) co_return true;
  // The STATE waits until every record of its partition is on its socket (whichever socket):
  // only then may it be written anywhere.
  if (!co_await written(stream)) co_return false;
  std::string line = partitioned_state(s.descriptor, *batch.state, s.since_state, s.next_id, s.partition);
  std::string framed = frame_control(opt_.format, line);
  if (!co_await enqueue(target, std::move(framed), stream)) co_return false;
  if (!co_await written(stream)) co_return false;
  ++s.next_id;
  s.since_state = 0;
  s.partition = new_partition_id();
  airbyte::Batch on_stdout(stream, std::move(line), 0);
  const bool taken = co_await em_.push(std::move(on_stdout));
  co_return taken;
}

awaitable<bool> SocketOutput::complete(std::size_t stream) {
  if (failure_ || stream >= streams_.size()) co_return false;
  if (!co_await ensure_running(stream)) co_return false;
  if (!co_await status_everywhere(stream, airbyte::StreamStatus::complete)) co_return false;
  if (!co_await written(stream)) co_return false;
  const bool taken = co_await em_.complete(stream);
  co_return taken;
}

awaitable<bool> SocketOutput::incomplete(std::size_t stream, Error error) {
  // After a socket failed, that failure is why every stream stops (the engine only knows that
  // the output refused its rows).
  if (failure_) error = *failure_;
  const bool taken = co_await em_.incomplete(stream, std::move(error));
  co_return taken;
}

awaitable<bool> SocketOutput::warning(std::string message) {
  const bool taken = co_await em_.log(airbyte::LogLevel::warn, std::move(message));
  co_return taken;
}

awaitable<void> SocketOutput::shutdown() {
  // The writers write what is queued, then end (at once after a failure); then each socket's
  // sending side is shut, so the destination reads to the end.
  stopping_ = true;
  for (auto& c : channels_) {
    c->probe_timer.cancel();
    c->wake.cancel();  // a write under way ends first: a socket never ends inside a message
  }
  while (writers_ > 0) co_await progress();
  for (auto& c : channels_) {
    boost::system::error_code ignored;
    c->sock.shutdown(asio::local::stream_protocol::socket::shutdown_send, ignored);
    c->sock.close(ignored);
  }
  co_await em_.shutdown();
}

awaitable<void> SocketOutput::probe_loop(std::size_t index) {
  Channel& c = *channels_[index];
  const std::string probe = probe_message(opt_.format);
  while (!stopping_ && !failure_) {
    c.probe_timer.expires_at(c.last_write + opt_.probe_interval);
    auto [ec] = co_await c.probe_timer.async_wait(asio::as_tuple(use_awaitable));
    (void)ec;  // cancelled at shutdown: the loop condition ends it
    if (stopping_ || failure_) break;
    // Idle = nothing queued or being written, and the last write long enough ago.
    if (c.queue.empty() && std::chrono::steady_clock::now() - c.last_write >= opt_.probe_interval) {
      if (!co_await enqueue(index, probe, kNoStream)) break;
    }
  }
}

}  // namespace sv::socket
