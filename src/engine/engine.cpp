// src/engine: the scheduler behind Engine — one StreamDriver coroutine per configured stream on the
// caller's io_context, sharing one SyncContext (the reader slots, the decode pool, the retry
// policy); stop() stops the sync's scope, which every stream's scope is a child of.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <deque>

#include "airbyte/messages.hpp"
#include "engine/context.hpp"
#include "engine/stream.hpp"

namespace sv::engine {

namespace asio = boost::asio;
using asio::awaitable;

class Scheduler {
 public:
  Scheduler(asio::io_context& io, const ReadInputs& in, ShardSource& source, SyncOutput& out, const EngineOptions& opt,
            Metrics& metrics)
      : ctx_(io, in, source, out, opt, metrics) {}

  //! See Engine::stop().
  void stop(Error reason) {
    if (ctx_.stop.stop_requested()) return;
    spdlog::info("stopping: {}", reason.message);
    (void)ctx_.stop.request_stop(StopReason(StopCause::stopped, std::move(reason)));
  }
  std::optional<Error> stop_reason() const {
    if (!ctx_.stop.stop_requested()) return std::nullopt;
    return ctx_.stop.reason().error;
  }
  awaitable<void> run();

 private:
  SyncContext ctx_;
  std::deque<StreamDriver> streams_;
};

awaitable<void> Scheduler::run() {
  const auto& streams = ctx_.in.catalog.streams;
  auto& m = ctx_.metrics;
  m.streams.resize(streams.size());
  m.output_queue = [&out = ctx_.out] { return out.queued(); };
  for (std::size_t i = 0; i < streams.size(); ++i) {
    m.streams[i].name = streams[i].name;
    m.streams[i].ns = streams[i].ns;
  }
  for (std::size_t i = 0; i < streams.size(); ++i) streams_.emplace_back(ctx_, i);
  async::Latch all(ctx_.io.get_executor());
  for (auto& s : streams_) {
    all.add();
    asio::co_spawn(ctx_.io, s.run(), [&all](std::exception_ptr e) {
      log_escaped(e, "stream coroutine failed");
      all.done();
    });
  }
  co_await all.wait();
  co_await ctx_.out.shutdown();
}

namespace {

EngineOptions with_defaults(EngineOptions opt) {
  if (!opt.clock_ms) opt.clock_ms = airbyte::now_ms;
  if (!opt.clock_ns) {
    opt.clock_ns = [] {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  return opt;
}

}  // namespace

Engine::Engine(asio::io_context& io, const ReadInputs& inputs, ShardSource& source, SyncOutput& output,
               const EngineOptions& options, Metrics* metrics)
    : options_(with_defaults(options)) {
  if (!metrics) {
    own_metrics_ = std::make_unique<Metrics>();
    metrics = own_metrics_.get();
  }
  scheduler_ = std::make_unique<Scheduler>(io, inputs, source, output, options_, *metrics);
}

Engine::~Engine() = default;

awaitable<void> Engine::run() {
  // Exceptions stay inside the engine: callers get a normal completion and the log says why.
  try {
    co_await scheduler_->run();
  } catch (const std::exception& ex) {
    spdlog::critical("sync failed: {}", ex.what());
  }
}
void Engine::stop(Error reason) { scheduler_->stop(std::move(reason)); }
std::optional<Error> Engine::stop_reason() const { return scheduler_->stop_reason(); }

}  // namespace sv::engine
