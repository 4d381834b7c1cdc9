// src/airbyte: the ordered emitter, the only component that writes to stdout during `read`.
//
// Producers (shard readers, the scheduler) run as coroutines on the emitter's io_context and
// `co_await` the calls below; a bounded channel sits between them and the emitter's run()
// coroutine, so when stdout is slow the producers wait in push() and memory stays bounded
// (at most queue_capacity events, each as large as a producer makes its batches). Output goes
// through MessageWriter's blocking write(2) on the io_context thread, so a stalled stdout pauses
// that thread too; keep row decoding/serialization on the worker pool, as architecture.md says.
//
// GCC 12 caveat (the project's compiler): a braced temporary of an *aggregate* with non-trivial
// members inside a co_await expression is destroyed twice (double free). The event types here
// have constructors, so `co_await em.push(Batch{i, lines, n, state})` is safe; for aggregates of
// your own, build a named local first.
//
// What it guarantees, per configured stream:
//   STARTED → [ESTIMATE] → RUNNING → (RECORD… STATE)* → COMPLETE | (TRACE ERROR, INCOMPLETE)
//   - STARTED is written before anything else of the stream (implicitly if started() was not
//     called); RUNNING before the stream's first batch (or just before COMPLETE if it had none).
//   - A STATE (the batch's whole stream state) is written right after the records of the batch
//     that carried it, so it never covers records that are not yet on stdout; its
//     sourceStats.recordCount is the number of RECORDs of that stream written since the stream's
//     previous STATE.
//   - Exactly one terminal status per stream. Anything pushed for a stream after its terminal
//     status is dropped with an error log. At shutdown every stream without one gets
//     INCOMPLETE (with a TRACE ERROR system_error if no error had been reported at all).
//   - LOG messages (log()) belong to no stream: they come between any two of the lines above.
//   - Exit code (returned by run()): 0 when every stream ended COMPLETE and no error was
//     reported; 1 otherwise (any TRACE ERROR, any INCOMPLETE, stdout failure).
// Typical use (all on one io_context thread):
//   Emitter em(io.get_executor(), descriptors, writer);
//   co_spawn(io, em.run(), [&](std::exception_ptr, int code) { exit_code = code; });
//   … producers: co_await em.started(i); co_await em.push(Batch(i, lines, n, state));
//                co_await em.complete(i);  or  co_await em.incomplete(i, err);
//   … when every producer is done: co_await em.shutdown();
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/channel.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "airbyte/message_writer.hpp"
#include "airbyte/messages.hpp"
#include "airbyte/state.hpp"
#include "util/result.hpp"

namespace sv::airbyte {

//! RECORD lines of one stream plus, optionally, the stream's state that follows them.
struct Batch {
  Batch() = default;
  Batch(std::size_t stream_index, std::string record_lines, std::uint64_t record_count,
        std::optional<StreamState> next = {})
      : stream(stream_index), lines(std::move(record_lines)), count(record_count), state(std::move(next)) {}

  std::size_t stream = 0;            //!< index into the emitter's stream list (= configured catalog order)
  std::string lines;                 //!< complete RECORD lines (RecordBatch::take()), may be empty
  std::uint64_t count = 0;           //!< number of RECORD lines in `lines`
  std::optional<StreamState> state;  //!< when set, a STATE with it follows the lines
};

struct EmitterOptions {
  //! Events the channel holds before push() waits.
  std::size_t queue_capacity = 16;
  //! emitted_at of TRACE messages; tests pin it.
  std::function<std::int64_t()> clock = now_ms;
};

//! Per-stream counters, readable after run() returned.
struct EmitterStreamStats {
  std::uint64_t records = 0;          //!< RECORD lines written
  std::uint64_t states = 0;           //!< STATE lines written
  std::uint64_t dropped_records = 0;  //!< records pushed after the stream's terminal status
  bool complete = false;              //!< ended with COMPLETE
};

namespace detail {
struct Started {
  std::size_t stream;
};
struct Estimate {
  std::size_t stream;
  std::uint64_t rows;
  std::uint64_t bytes;
};
struct Complete {
  std::size_t stream;
};
struct Incomplete {
  std::size_t stream;
  Error error;
};
//! Has a constructor: braced aggregates with a std::string inside co_await hit the GCC 12 bug above.
struct Log {
  Log(LogLevel l, std::string m) : level(l), message(std::move(m)) {}
  LogLevel level;
  std::string message;
};
struct Shutdown {};
using EmitterEvent = std::variant<Batch, Started, Estimate, Complete, Incomplete, Log, Shutdown>;
}  // namespace detail

class Emitter {
 public:
  //! `streams` in configured catalog order; stream indices in every call refer to it. `out` must
  //! outlive the emitter. Everything runs on `executor` (one thread): call only from there.
  Emitter(boost::asio::any_io_executor executor, std::vector<StreamDescriptor> streams, MessageWriter& out,
          EmitterOptions options = {});
  Emitter(const Emitter&) = delete;
  Emitter& operator=(const Emitter&) = delete;

  //! Writes until shutdown() is processed or stdout fails; returns the process exit code.
  //! Events pushed before shutdown() are all written first. Ends with everything flushed.
  boost::asio::awaitable<int> run();

  //! Each returns false when the emitter no longer accepts events (stdout failed or shutdown
  //! was processed): the producer should stop. They wait while the channel is full.
  boost::asio::awaitable<bool> push(Batch batch);
  boost::asio::awaitable<bool> started(std::size_t stream);
  boost::asio::awaitable<bool> estimate(std::size_t stream, std::uint64_t rows, std::uint64_t bytes);
  boost::asio::awaitable<bool> complete(std::size_t stream);
  //! TRACE ERROR (with the stream's descriptor and error.type as failure_type), then INCOMPLETE.
  boost::asio::awaitable<bool> incomplete(std::size_t stream, Error error);
  //! A LOG message (shown in the Airbyte UI), written in order with the other events. It belongs
  //! to no stream, so it changes no stream's phase; it does not change the exit code.
  boost::asio::awaitable<bool> log(LogLevel level, std::string message);
  //! Ends the stream of events: after the ones already queued, run() gives every unfinished
  //! stream its INCOMPLETE, flushes and returns. Call once, after all producers finished.
  boost::asio::awaitable<void> shutdown();

  //! Events sent and not yet written (for metrics).
  std::size_t queued() const { return queued_; }
  const std::vector<EmitterStreamStats>& stats() const { return stats_; }

 private:
  enum class Phase { pending, started, running, done };
  struct Slot {
    StreamDescriptor descriptor;
    Phase phase = Phase::pending;
    std::uint64_t since_state = 0;
  };
  using Channel = boost::asio::experimental::channel<void(boost::system::error_code, detail::EmitterEvent)>;

  boost::asio::awaitable<bool> send(detail::EmitterEvent event);
  //! Returns false on Shutdown.
  bool handle(detail::EmitterEvent& event);
  void on_batch(Batch& batch);
  void on_complete(std::size_t stream);
  void on_incomplete(std::size_t stream, const Error& error);
  void finish_unfinished();
  Slot* slot(std::size_t stream, const char* what);
  void ensure_started(Slot& s);
  void ensure_running(Slot& s);
  void emit_error(const Error& error, const StreamDescriptor* stream);
  void commit_scratch();

  Channel channel_;
  MessageWriter& out_;
  EmitterOptions options_;
  std::vector<Slot> slots_;
  std::vector<EmitterStreamStats> stats_;
  std::string scratch_;
  std::uint64_t errors_ = 0;
  std::size_t queued_ = 0;
};

}  // namespace sv::airbyte
