// src/engine: the services every job of a sync shares (see context.hpp).
#include "engine/context.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

namespace sv::engine {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

SyncContext::SyncContext(asio::io_context& io_, const ReadInputs& in_, ShardSource& source_, SyncOutput& out_,
                         const EngineOptions& opt_, Metrics& metrics_)
    : io(io_),
      in(in_),
      source(source_),
      out(out_),
      opt(opt_),
      metrics(metrics_),
      retry{opt_.retry_base, opt_.retry_max, std::max<std::uint32_t>(in_.config.max_retries, 1)},
      pool(std::max<std::size_t>(opt_.worker_threads, 1)),
      slots(io_.get_executor(), in_.config.max_concurrent_readers),
      rng(opt_.jitter_seed ? opt_.jitter_seed : std::random_device{}()) {}

SyncContext::~SyncContext() { pool.join(); }

//! The output refused an event: stdout was closed or failed, or the extract's disk did. Nothing
//! more can be delivered, so the whole sync stops, and no stream may count as complete. The
//! output already logged the reason (with its errno text) once; this adds no line per stream.
bool SyncContext::output_refused() {
  (void)stop.request_stop(
      StopReason(StopCause::stopped, system_error("the output stopped taking rows (see the error logged before)")));
  return false;
}

awaitable<void> SyncContext::warn_user(std::string message) {
  spdlog::warn("{}", message);
  co_await out.warning(std::move(message));
}

awaitable<void> SyncContext::backoff(std::uint32_t failures, Scope& scope) {
  const auto wait = retry.delay(failures, rng);
  if (scope.stop_requested()) co_return;
  asio::steady_timer t(io, wait);
  OnStop cut_short(scope, [&t] { t.cancel(); });
  co_await t.async_wait(asio::as_tuple(use_awaitable));
}

awaitable<Result<Positions>> SyncContext::peek_positions(StreamRun& r) {
  const std::string what = fmt::format("reading the current position of '{}.{}'", r.cfg->keyspace, r.cfg->name);
  RetryBudget budget(retry);
  for (;;) {
    // A stop cancels the peek in flight and the backoff; neither may lead to another attempt.
    if (r.failed()) co_return r.failure();
    Result<Positions> res = co_await stoppable_peek(r);
    if (res) co_return res;
    if (r.failed()) co_return r.failure();
    budget.failed(false);
    if (!budget.may_retry(res.error().type == FailureType::transient_error)) {
      Error e = res.error();
      e.message = fmt::format("{}: {}", what, e.message);
      co_return e;
    }
    spdlog::warn("{}: {}; retrying ({}/{})", what, res.error().message, budget.failures(), budget.allowed());
    ++metrics.retries;
    co_await backoff(budget.failures(), r.stop);
  }
}

//! Runs one peek on a cancellation slot that the stream's stop fires. The VStream's next() turns
//! that into a cancelled call, so a peek at a silent or unreachable vtgate ends at once instead of
//! at gRPC's connect timeout (about 20 s), as open streams do through EventStream::cancel().
awaitable<Result<Positions>> SyncContext::stoppable_peek(StreamRun& r) {
  asio::cancellation_signal signal;
  OnStop cancel(r.stop, [&signal] { signal.emit(asio::cancellation_type::terminal); });
  std::optional<Result<Positions>> res;
  co_await asio::co_spawn(
      io, [&]() -> awaitable<void> { res.emplace(co_await source.current_positions(r.cfg->keyspace, r.cfg->name)); },
      asio::bind_cancellation_slot(signal.slot(), use_awaitable));
  co_return std::move(*res);
}

void log_escaped(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::critical("{}: {}", what, ex.what());
  }
}

}  // namespace sv::engine
