#include "airbyte/emitter.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

namespace sv::airbyte {

namespace asio = boost::asio;

Emitter::Emitter(asio::any_io_executor executor, std::vector<StreamDescriptor> streams, MessageWriter& out,
                 EmitterOptions options)
    : channel_(std::move(executor), options.queue_capacity), out_(out), options_(std::move(options)) {
  slots_.reserve(streams.size());
  for (auto& d : streams) slots_.push_back(Slot{std::move(d), Phase::pending, 0});
  stats_.resize(slots_.size());
}

asio::awaitable<bool> Emitter::send(detail::EmitterEvent event) {
  if (!channel_.is_open()) co_return false;
  ++queued_;
  auto [ec] =
      co_await channel_.async_send(boost::system::error_code{}, std::move(event), asio::as_tuple(asio::use_awaitable));
  if (ec) --queued_;
  co_return !ec;
}

asio::awaitable<bool> Emitter::push(Batch batch) { return send(std::move(batch)); }
asio::awaitable<bool> Emitter::started(std::size_t stream) { return send(detail::Started{stream}); }
asio::awaitable<bool> Emitter::estimate(std::size_t stream, std::uint64_t rows, std::uint64_t bytes) {
  return send(detail::Estimate{stream, rows, bytes});
}
asio::awaitable<bool> Emitter::complete(std::size_t stream) { return send(detail::Complete{stream}); }
asio::awaitable<bool> Emitter::incomplete(std::size_t stream, Error error) {
  return send(detail::Incomplete{stream, std::move(error)});
}
asio::awaitable<bool> Emitter::log(LogLevel level, std::string message) {
  return send(detail::Log(level, std::move(message)));
}
asio::awaitable<void> Emitter::shutdown() { co_await send(detail::Shutdown{}); }

asio::awaitable<int> Emitter::run() {
  bool more = true;
  while (more) {
    auto [ec, event] = co_await channel_.async_receive(asio::as_tuple(asio::use_awaitable));
    if (ec) break;  // closed from outside: treat like shutdown
    if (queued_ > 0) --queued_;
    more = handle(event);
    // Keep small lines together while producers have more queued; hand them to stdout as soon
    // as the queue runs dry so nothing waits in our buffer.
    if (!channel_.ready()) (void)out_.flush();
    if (out_.failed()) break;
  }
  if (!out_.failed()) {
    finish_unfinished();
    (void)out_.flush();
  }
  // Producers blocked in push() get `false` and stop; later calls fail at once.
  channel_.close();

  bool all_complete = true;
  for (const auto& st : stats_) all_complete = all_complete && st.complete;
  if (out_.failed()) {
    // The one line that says why the sync stops (the engine then ends every stream incomplete
    // without a line of its own).
    spdlog::error("{}; the sync stops here and no stream is complete", out_.error().message);
    co_return 1;
  }
  co_return (errors_ == 0 && all_complete) ? 0 : 1;
}

bool Emitter::handle(detail::EmitterEvent& event) {
  return std::visit(
      [this](auto& e) -> bool {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Batch>) {
          on_batch(e);
        } else if constexpr (std::is_same_v<T, detail::Started>) {
          if (Slot* s = slot(e.stream, "STARTED")) ensure_started(*s);
          commit_scratch();
        } else if constexpr (std::is_same_v<T, detail::Estimate>) {
          if (Slot* s = slot(e.stream, "ESTIMATE")) {
            ensure_started(*s);
            append_estimate(scratch_, s->descriptor, e.rows, e.bytes, options_.clock());
          }
          commit_scratch();
        } else if constexpr (std::is_same_v<T, detail::Complete>) {
          on_complete(e.stream);
        } else if constexpr (std::is_same_v<T, detail::Incomplete>) {
          on_incomplete(e.stream, e.error);
        } else if constexpr (std::is_same_v<T, detail::Log>) {
          append_log(scratch_, e.level, e.message);
          commit_scratch();
        } else {
          return false;  // Shutdown
        }
        return true;
      },
      event);
}

Emitter::Slot* Emitter::slot(std::size_t stream, const char* what) {
  if (stream >= slots_.size()) {
    // A producer bug; reported once per event so the sync fails visibly instead of silently.
    emit_error(system_error(fmt::format("internal error: {} for stream index {} of {}", what, stream, slots_.size())),
               nullptr);
    return nullptr;
  }
  Slot& s = slots_[stream];
  if (s.phase == Phase::done) {
    spdlog::error("dropping {} for stream '{}': the stream already has its final status", what, s.descriptor.name);
    return nullptr;
  }
  return &s;
}

void Emitter::ensure_started(Slot& s) {
  if (s.phase != Phase::pending) return;
  append_stream_status(scratch_, s.descriptor, StreamStatus::started, options_.clock());
  s.phase = Phase::started;
}

void Emitter::ensure_running(Slot& s) {
  ensure_started(s);
  if (s.phase != Phase::started) return;
  append_stream_status(scratch_, s.descriptor, StreamStatus::running, options_.clock());
  s.phase = Phase::running;
}

void Emitter::emit_error(const Error& error, const StreamDescriptor* stream) {
  append_error_trace(scratch_, error, stream, options_.clock());
  ++errors_;
}

void Emitter::commit_scratch() {
  if (scratch_.empty()) return;
  (void)out_.write(scratch_);
  scratch_.clear();
}

void Emitter::on_batch(Batch& batch) {
  Slot* s = slot(batch.stream, "records");
  if (s == nullptr) {
    if (batch.stream < stats_.size()) stats_[batch.stream].dropped_records += batch.count;
    commit_scratch();
    return;
  }
  ensure_running(*s);
  commit_scratch();
  if (!batch.lines.empty()) (void)out_.write(batch.lines);
  s->since_state += batch.count;
  auto& st = stats_[batch.stream];
  st.records += batch.count;

  if (batch.state) {
    append_state(scratch_, s->descriptor, render_stream_state(*batch.state), s->since_state);
    s->since_state = 0;
    ++st.states;
    commit_scratch();
  }
}

void Emitter::on_complete(std::size_t stream) {
  Slot* s = slot(stream, "COMPLETE");
  if (s != nullptr) {
    ensure_running(*s);
    if (s->since_state > 0) {
      spdlog::warn("stream '{}' completes with {} records after its last STATE", s->descriptor.name, s->since_state);
    }
    append_stream_status(scratch_, s->descriptor, StreamStatus::complete, options_.clock());
    s->phase = Phase::done;
    stats_[stream].complete = true;
  }
  commit_scratch();
}

void Emitter::on_incomplete(std::size_t stream, const Error& error) {
  Slot* s = slot(stream, "INCOMPLETE");
  if (s != nullptr) {
    ensure_started(*s);
    emit_error(error, &s->descriptor);
    append_stream_status(scratch_, s->descriptor, StreamStatus::incomplete, options_.clock());
    s->phase = Phase::done;
  }
  commit_scratch();
}

void Emitter::finish_unfinished() {
  const bool silent = errors_ == 0;
  for (auto& s : slots_) {
    if (s.phase == Phase::done) continue;
    ensure_started(s);
    if (silent) {
      // INCOMPLETE needs a reason the user can see; nobody reported one.
      emit_error(system_error(fmt::format("stream '{}' did not finish: the sync ended before its reader completed",
                                          s.descriptor.name)),
                 &s.descriptor);
    }
    append_stream_status(scratch_, s.descriptor, StreamStatus::incomplete, options_.clock());
    s.phase = Phase::done;
  }
  commit_scratch();
}

}  // namespace sv::airbyte
