// src/engine: scheduling — one coroutine per stream on the caller's io_context, the shared
// reader slots and decode pool, stop()/halt(), and the retried position peeks (see sync_impl.hpp).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "airbyte/messages.hpp"
#include "engine/sync_impl.hpp"

namespace sv::engine {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

Sync::Sync(asio::io_context& io, const ReadInputs& in, ShardSource& source, SyncOutput& out, const EngineOptions& opt,
           Metrics& metrics)
    : io_(io),
      in_(in),
      source_(source),
      em_(out),
      opt_(opt),
      m_(metrics),
      retry_{opt.retry_base, opt.retry_max, std::max<std::uint32_t>(in.config.max_retries, 1)},
      pool_(std::max<std::size_t>(opt.worker_threads, 1)),
      slots_(io.get_executor(), in.config.max_concurrent_readers),
      rng_(opt.jitter_seed ? opt.jitter_seed : std::random_device{}()) {}

Sync::~Sync() { pool_.join(); }

void Sync::stop(Error reason) {
  if (stop_reason_) return;
  spdlog::info("stopping: {}", reason.message);
  halt(std::move(reason));
}

awaitable<void> Sync::run() {
  const auto& streams = in_.catalog.streams;
  runs_.resize(streams.size());
  m_.streams.resize(streams.size());
  m_.output_queue = [this] { return em_.queued(); };
  for (std::size_t i = 0; i < streams.size(); ++i) {
    m_.streams[i].name = streams[i].name;
    m_.streams[i].ns = streams[i].ns;
  }
  for (std::size_t i = 0; i < streams.size(); ++i) init_stream(runs_[i], i);
  async::Latch all(io_.get_executor());
  for (auto& r : runs_) {
    all.add();
    asio::co_spawn(io_, run_stream(r), [&all](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::critical("stream coroutine failed: {}", ex.what());
        }
      }
      all.done();
    });
  }
  co_await all.wait();
  co_await em_.shutdown();
}

void Sync::halt(Error reason) {
  if (stop_reason_) return;
  stop_reason_ = reason;
  for (auto& r : runs_) {
    if (!r.failure) r.failure = reason;
    r.cancel_streams();
  }
  for (auto* t : sleeping_) t->cancel();
  for (auto* p : peeks_) p->emit(asio::cancellation_type::terminal);
}

//! The output refused an event: stdout was closed or failed, or the extract's disk did. Nothing
//! more can be delivered, so the whole sync stops, and no stream may count as complete. The
//! output already logged the reason (with its errno text) once; this adds no line per stream.
bool Sync::output_refused() {
  halt(system_error("the output stopped taking rows (see the error logged before)"));
  return false;
}

awaitable<Result<Positions>> Sync::peek_positions(const StreamRun& r) {
  const std::string what = fmt::format("reading the current position of '{}.{}'", r.cfg->keyspace, r.cfg->name);
  RetryBudget budget(retry_);
  for (;;) {
    // stop() cancels the peek in flight and the backoff; neither may lead to another attempt.
    if (stop_reason_) co_return *stop_reason_;
    Result<Positions> res = co_await stoppable_peek(r);
    if (res) co_return res;
    if (stop_reason_) co_return *stop_reason_;
    budget.failed(false);
    if (!budget.may_retry(res.error().type == FailureType::transient_error)) {
      Error e = res.error();
      e.message = fmt::format("{}: {}", what, e.message);
      co_return e;
    }
    spdlog::warn("{}: {}; retrying ({}/{})", what, res.error().message, budget.failures(), budget.allowed());
    ++m_.retries;
    co_await backoff(budget.failures());
  }
}

//! Runs one peek on a cancellation slot that stop() fires. The VStream's next() turns that
//! into a cancelled call, so a peek at a silent or unreachable vtgate ends at once instead of
//! at gRPC's connect timeout (about 20 s), as open streams do through EventStream::cancel().
awaitable<Result<Positions>> Sync::stoppable_peek(const StreamRun& r) {
  asio::cancellation_signal signal;
  peeks_.insert(&signal);
  struct Unregister {
    std::set<asio::cancellation_signal*>& peeks;
    asio::cancellation_signal* signal;
    ~Unregister() { peeks.erase(signal); }
  } unregister{peeks_, &signal};
  std::optional<Result<Positions>> res;
  co_await asio::co_spawn(
      io_, [&]() -> awaitable<void> { res.emplace(co_await source_.current_positions(r.cfg->keyspace, r.cfg->name)); },
      asio::bind_cancellation_slot(signal.slot(), use_awaitable));
  co_return std::move(*res);
}

awaitable<void> Sync::backoff(std::uint32_t failures) {
  const auto wait = retry_.delay(failures, rng_);
  if (stop_reason_) co_return;
  asio::steady_timer t(io_, wait);
  sleeping_.insert(&t);
  co_await t.async_wait(asio::as_tuple(use_awaitable));
  sleeping_.erase(&t);
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
  sync_ = std::make_unique<Sync>(io, inputs, source, output, options_, *metrics);
}

Engine::~Engine() = default;

awaitable<void> Engine::run() {
  // Exceptions stay inside the engine: callers get a normal completion and the log says why.
  try {
    co_await sync_->run();
  } catch (const std::exception& ex) {
    spdlog::critical("sync failed: {}", ex.what());
  }
}
void Engine::stop(Error reason) { sync_->stop(std::move(reason)); }
const std::optional<Error>& Engine::stop_reason() const { return sync_->stop_reason(); }

}  // namespace sv::engine
