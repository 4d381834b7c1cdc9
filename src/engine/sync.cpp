// src/engine: scheduler, shard readers, per-stream coordinator, retries and resharding (see sync.hpp).
#include "engine/sync.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <set>

#include <fmt/format.h>

#include "airbyte/emitter.hpp"
#include "engine/decoder.hpp"
#include "vitess/cursor.hpp"
#include "vitess/gtid.hpp"

namespace sv::engine {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

//! vtgate's answer when a stream that does not contain every shard of a reshard meets the journal.
constexpr std::string_view kJournalParticipants = "not all journaling participants are in the stream";

//! FIFO counting semaphore for coroutines on one thread: waiters are served in arrival order.
class Slots {
 public:
  Slots(asio::any_io_executor ex, std::size_t n) : ex_(std::move(ex)), free_(std::max<std::size_t>(n, 1)) {}
  awaitable<void> acquire() {
    if (free_ > 0 && waiters_.empty()) {
      --free_;
      co_return;
    }
    auto t = std::make_shared<asio::steady_timer>(ex_, Clock::time_point::max());
    waiters_.push_back(t);
    co_await t->async_wait(asio::as_tuple(use_awaitable));  // woken by release(): the slot is ours
  }
  void release() {
    if (!waiters_.empty()) {
      auto t = waiters_.front();
      waiters_.pop_front();
      t->cancel();
    } else {
      ++free_;
    }
  }

 private:
  asio::any_io_executor ex_;
  std::size_t free_;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

//! Waits until a number of spawned coroutines finished.
class Latch {
 public:
  explicit Latch(asio::any_io_executor ex) : timer_(std::move(ex), Clock::time_point::max()) {}
  void add() { ++pending_; }
  void done() {
    if (--pending_ == 0) timer_.cancel();
  }
  awaitable<void> wait() {
    while (pending_ > 0) co_await timer_.async_wait(asio::as_tuple(use_awaitable));
  }

 private:
  asio::steady_timer timer_;
  std::size_t pending_ = 0;
};

//! How a shard reader ended.
enum class ReaderEnd { done, failed, interrupted, reshard, time_limit };

struct StreamRun {
  std::size_t index = 0;
  const airbyte::ConfiguredStream* cfg = nullptr;
  bool full_refresh = false;
  DecoderOptions decoder;
  //! Last cursor per shard whose rows are in the emitter's queue (what a STATE may name).
  std::map<std::string, vitess::TableCursor> cursors;
  std::map<std::string, std::string> current;  //!< shard → position peeked at the start
  std::uint64_t records_since_state = 0;
  bool changed_since_state = false;
  std::uint64_t states = 0;  //!< STATE messages pushed
  Clock::time_point last_state = Clock::now();
  std::optional<Error> failure;
  bool resharding = false;
  std::set<EventStream*> open_streams;
  std::set<std::string> warned_columns;
  std::set<std::string> warned_types;  //!< `column (column_type)` reported as no longer matching the catalog
  std::set<std::string> time_limited;  //!< shards stopped by EngineOptions::shard_time_limit
  //! One push of this stream at a time: a STATE must not overtake rows that another shard of the
  //! stream is still handing to the emitter (they would be printed before it, uncovered).
  std::unique_ptr<Slots> push_lock;
  //! follow mode: wakes the idle checkpoints (see idle_checkpoints); cancelled when the stream ends.
  std::unique_ptr<asio::steady_timer> idle_timer;
  bool ended = false;
};

//! Holds a Slots permit for a scope.
class SlotGuard {
 public:
  explicit SlotGuard(Slots& s) : s_(s) {}
  ~SlotGuard() { s_.release(); }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;

 private:
  Slots& s_;
};

}  // namespace

class Sync {
 public:
  Sync(asio::io_context& io, const ReadInputs& in, ShardSource& source, SyncOutput& out, const EngineOptions& opt,
       Metrics& metrics)
      : io_(io),
        in_(in),
        source_(source),
        em_(out),
        opt_(opt),
        m_(metrics),
        pool_(std::max<std::size_t>(opt.worker_threads, 1)),
        slots_(io.get_executor(), in.config.max_concurrent_readers),
        rng_(opt.jitter_seed ? opt.jitter_seed : std::random_device{}()) {}

  ~Sync() { pool_.join(); }

  //! See Engine::stop().
  void stop(Error reason) {
    if (stop_reason_) return;
    spdlog::info("stopping: {}", reason.message);
    halt(std::move(reason));
  }
  const std::optional<Error>& stop_reason() const { return stop_reason_; }

  awaitable<void> run() {
    const auto& streams = in_.catalog.streams;
    runs_.resize(streams.size());
    m_.streams.resize(streams.size());
    m_.output_queue = [this] { return em_.queued(); };
    for (std::size_t i = 0; i < streams.size(); ++i) {
      m_.streams[i].name = streams[i].name;
      m_.streams[i].ns = streams[i].ns;
    }
    for (std::size_t i = 0; i < streams.size(); ++i) {
      auto& r = runs_[i];
      r.index = i;
      r.cfg = &streams[i];
      r.full_refresh = streams[i].sync_mode == airbyte::SyncMode::full_refresh;
      r.decoder.descriptor = streams[i].descriptor();
      r.decoder.keyspace = streams[i].keyspace;
      r.decoder.table = streams[i].name;
      r.decoder.columns = streams[i].columns;
      r.decoder.column_types = streams[i].column_types;
      r.decoder.include_metadata = in_.config.include_metadata;
      r.decoder.capture_deletes = in_.config.capture_deletes;
      r.decoder.values.tiny_int_as_boolean = !in_.config.do_not_treat_tiny_int_as_boolean;
      r.decoder.values.invalid_dates_as_null = in_.config.invalid_dates_as_null;
      r.decoder.row_format = opt_.row_format;
      if (stop_reason_) r.failure = stop_reason_;
      r.push_lock = std::make_unique<Slots>(io_.get_executor(), 1);
    }
    Latch all(io_.get_executor());
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

 private:
  //! stop() without its log line: every stream ends incomplete with `reason`.
  void halt(Error reason) {
    if (stop_reason_) return;
    stop_reason_ = reason;
    for (auto& r : runs_) {
      if (!r.failure) r.failure = reason;
      for (auto* s : r.open_streams) s->cancel();
    }
    for (auto* t : sleeping_) t->cancel();
    for (auto* p : peeks_) p->emit(asio::cancellation_type::terminal);
  }

  //! The output refused an event: stdout was closed or failed, or the extract's disk did. Nothing
  //! more can be delivered, so the whole sync stops, and no stream may count as complete. The
  //! output already logged the reason (with its errno text) once; this adds no line per stream.
  bool output_refused() {
    halt(system_error("the output stopped taking rows (see the error logged before)"));
    return false;
  }

  // ---- per stream --------------------------------------------------------------------------

  awaitable<void> run_stream(StreamRun& r) {
    const auto& s = *r.cfg;
    co_await em_.started(r.index);
    metrics_of(r).phase = StreamPhase::running;
    metrics_of(r).started_at = Clock::now();
    auto planned = co_await plan(r);
    for (const auto& [shard, c] : r.cursors) {
      auto& sm = metrics_of(r).shards[shard];
      sm.copying = vitess::copy_pending(c);
      sm.done = shard_finished(r, c);
    }
    if (!planned) {
      co_await fail_stream(r, planned.error());
      co_await finish_stream(r);
      co_return;
    }
    // An ESTIMATE only for a stream that is about to copy its table.
    bool copies = false;
    for (const auto& [shard, c] : r.cursors) copies = copies || vitess::copy_pending(c);
    if (auto est = in_.row_estimates.find(r.index); est != in_.row_estimates.end()) {
      // information_schema behind vtgate answers from one shard of the keyspace, so its count is
      // one shard's share: the table is about that many rows on each shard read.
      const std::uint64_t rows = est->second * std::max<std::size_t>(r.cursors.size(), 1);
      metrics_of(r).row_estimate = rows;
      if (copies) co_await em_.estimate(r.index, rows, 0);
    }
    // A state whose shards are no longer served: follow the reshard journal first.
    bool need_migration = false;
    for (const auto& [shard, c] : r.cursors) {
      if (!r.current.count(shard)) need_migration = true;
    }
    if (opt_.follow) {
      r.idle_timer = std::make_unique<asio::steady_timer>(io_);
      asio::co_spawn(io_, idle_checkpoints(r), asio::detached);
    }
    for (int round = 0; !r.failure; ++round) {
      if (need_migration || r.resharding) {
        r.resharding = false;
        if (!co_await migrate(r)) break;
        need_migration = false;
      }
      Latch shards(io_.get_executor());
      for (const auto& [shard, c] : r.cursors) {
        if (shard_finished(r, c) || r.time_limited.count(shard)) continue;
        shards.add();
        asio::co_spawn(io_, read_shard(r, shard), [&shards, &r](std::exception_ptr e, ReaderEnd) {
          if (e) {
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              if (!r.failure) r.failure = system_error("internal error in a shard reader", ex.what());
            }
          }
          shards.done();
        });
      }
      co_await shards.wait();
      if (!r.resharding) break;
      spdlog::info("stream {}: keyspace resharded, following the journal", s.name);
    }
    if (r.full_refresh && !r.time_limited.empty() && !r.failure) r.failure = unfinished_copy_error(r);
    co_await finish_stream(r);
  }

  //! Shards, cursors and stop positions of a stream.
  awaitable<Status> plan(StreamRun& r) {
    const auto& s = *r.cfg;
    const auto& saved = r.index < in_.state.streams.size() ? in_.state.streams[r.index] : std::nullopt;
    auto peek = [&]() { return source_.current_positions(s.keyspace, s.name); };
    std::string what = fmt::format("reading the current position of '{}.{}'", s.keyspace, s.name);
    auto positions = co_await with_retries<std::map<std::string, std::string>>(peek, what);
    if (!positions) co_return positions.error();
    r.current = std::move(*positions);
    if (saved && !saved->shards.empty()) {
      for (const auto& [shard, text] : saved->shards) {
        auto c = vitess::decode_cursor(text);
        if (!c) {
          co_return config_error(fmt::format("the saved state of stream '{}' has an invalid cursor for shard '{}': {}",
                                             s.name, shard, c.error().message));
        }
        if (c->shard().empty()) c->set_shard(shard);
        if (c->keyspace().empty()) c->set_keyspace(s.keyspace);
        // An empty position means "copy not finished"; anything else must be a real GTID set, or
        // vtgate would answer a malformed one with an unexplained error (and "current" would
        // silently skip every change since the state was saved).
        if (!c->position().empty()) {
          if (auto g = vitess::GtidSet::parse(c->position()); !g) {
            co_return config_error(
                fmt::format("the saved state of stream '{}' has an invalid position for shard "
                            "'{}': {}; reset the stream '{}'",
                            s.name, shard, g.error().message, s.name));
          }
        }
        r.cursors[shard] = std::move(*c);
      }
      co_return Ok{};
    }
    std::vector<std::string> shards;
    if (!in_.config.shards.empty()) {
      for (const auto& sh : in_.config.shards) {
        if (!r.current.count(sh)) {
          co_return config_error(fmt::format("shard {} does not exist on the source database (serving shards of '{}': {})",
                                             sh, s.keyspace, fmt::join(keys(r.current), ",")));
        }
        shards.push_back(sh);
      }
    } else {
      shards = keys(r.current);
    }
    const auto* starts = r.full_refresh ? nullptr : starting_gtids_of(s.keyspace);
    if (starts) {
      if (auto checked = check_starting_gtids(r, *starts); !checked) co_return checked.error();
    }
    for (const auto& sh : shards) {
      std::string start;
      if (starts) {
        if (auto g = starts->find(sh); g != starts->end()) start = g->second;
      }
      // "current" means "from now on": the peeked position, so that no STATE ever carries the
      // keyword (a sync resumed from it would skip the changes made in between).
      if (start == "current") start = r.current.at(sh);
      r.cursors[sh] = vitess::make_cursor(s.keyspace, sh, start);
    }
    co_return Ok{};
  }

  const std::map<std::string, std::string>* starting_gtids_of(const std::string& keyspace) const {
    auto ks = in_.config.starting_gtids.find(keyspace);
    return ks == in_.config.starting_gtids.end() ? nullptr : &ks->second;
  }

  //! Every starting_gtids position of the stream's keyspace names a serving shard and is "current"
  //! or a real GTID set (a typo would otherwise be ignored, or fail later as an unexplained
  //! vtgate error).
  Status check_starting_gtids(const StreamRun& r,
                              const std::map<std::string, std::string>& starts) const {
    const auto& ks = r.cfg->keyspace;
    for (const auto& [shard, position] : starts) {
      if (!r.current.count(shard)) {
        return config_error(
            fmt::format("config field 'starting_gtids' names shard {} of keyspace '{}', which "
                        "vtgate does not serve (serving shards: {})",
                        shard, ks, fmt::join(keys(r.current), ",")));
      }
      if (position == "current") continue;
      if (auto g = vitess::GtidSet::parse(position); !g) {
        return config_error(
            fmt::format("config field 'starting_gtids' has an invalid position for shard {} of "
                        "keyspace '{}': {}",
                        shard, ks, g.error().message));
      }
    }
    return Ok{};
  }

  static std::vector<std::string> keys(const std::map<std::string, std::string>& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m) out.push_back(k);
    return out;
  }

  //! True when a shard has nothing left to read in this sync.
  bool shard_finished(const StreamRun& r, const vitess::TableCursor& c) const {
    if (r.full_refresh) return !vitess::copy_pending(c);  // copy finished earlier
    if (vitess::copy_pending(c)) return false;
    if (opt_.follow) return false;
    auto stop = stop_of(r, c.shard());
    if (!stop) return false;
    auto pos = vitess::GtidSet::parse(c.position());
    // Only a position equal to the shard's current one has nothing to read. One that contains
    // more is ahead of the server (a restore, or a failover to a server with fewer transactions):
    // only vtgate can judge it, and it must fail loudly rather than end the stream with nothing.
    return pos && *pos == *stop;
  }

  std::optional<vitess::GtidSet> stop_of(const StreamRun& r, const std::string& shard) const {
    auto it = r.current.find(shard);
    if (it == r.current.end()) return std::nullopt;
    auto g = vitess::GtidSet::parse(it->second);
    if (!g) return std::nullopt;
    return *g;
  }

  ShardPlan plan_for(const StreamRun& r, const vitess::TableCursor& c) const {
    ShardPlan p;
    p.shard = c.shard();
    p.cursor = c;
    p.copying = vitess::copy_pending(c);
    p.stop_after_copy = r.full_refresh;
    if (!r.full_refresh && !opt_.follow) p.stop = stop_of(r, c.shard());
    return p;
  }

  ShardStartPoint start_point(const vitess::TableCursor& c) const {
    ShardStartPoint sp;
    sp.shard = c.shard();
    sp.gtid = c.position();
    if (vitess::has_last_pk(c)) {
      sp.lastpk = c.last_known_pk();
      // The Go connector's default: resume a copy from a fresh snapshot after lastpk.
      if (!in_.config.use_gtid_with_table_pks) sp.gtid.clear();
    }
    return sp;
  }

  // ---- shard reader ------------------------------------------------------------------------

  awaitable<ReaderEnd> read_shard(StreamRun& r, std::string shard) {
    Decoder decoder(r.decoder);
    std::uint32_t failures = 0;
    const std::uint32_t allowed = std::max<std::uint32_t>(in_.config.max_retries, 1);
    std::optional<Clock::time_point> deadline;  // shard_time_limit, counted from the first VStream
    for (;;) {
      if (r.failure || r.resharding) co_return ReaderEnd::interrupted;
      ++m_.readers_waiting;
      co_await slots_.acquire();
      --m_.readers_waiting;
      if (r.failure || r.resharding) {
        slots_.release();
        co_return ReaderEnd::interrupted;
      }
      if (!deadline && opt_.shard_time_limit.count() > 0) deadline = Clock::now() + opt_.shard_time_limit;
      if (deadline && Clock::now() >= *deadline) {
        slots_.release();
        co_return co_await stop_at_time_limit(r, shard);
      }
      bool progressed = false;
      std::vector<vitess::TableCursor> from{r.cursors.at(shard)};
      auto attempt = co_await read_attempt(r, std::move(from), decoder, progressed, false,
                                           deadline.value_or(Clock::time_point::max()));
      slots_.release();
      if (attempt.end == ReaderEnd::time_limit) co_return co_await stop_at_time_limit(r, shard);
      if (attempt.end == ReaderEnd::done && r.changed_since_state && !r.failure) {
        co_await checkpoint(r);  // a finished shard is checkpointed right away
      }
      if (attempt.end == ReaderEnd::done) metrics_of(r).shards[shard].done = true;
      if (attempt.end != ReaderEnd::failed || !attempt.error) co_return attempt.end;
      if (r.failure || r.resharding) co_return ReaderEnd::interrupted;
      failures = progressed ? 1 : failures + 1;
      if (!attempt.transient || failures >= allowed) {
        Error e = *attempt.error;
        if (attempt.transient) e.message += fmt::format(" (gave up after {} attempt(s) without progress)", failures);
        co_await fail_stream(r, e);
        co_return ReaderEnd::failed;
      }
      spdlog::warn("stream {} shard {}: {}; retrying from the last cursor ({}/{})", r.cfg->name, shard,
                   attempt.error->message, failures, allowed);
      ++metrics_of(r).shards[shard].retries;
      ++m_.retries;
      co_await backoff(failures);
    }
  }

  struct Attempt {
    ReaderEnd end = ReaderEnd::done;
    std::optional<Error> error;
    bool transient = false;
    std::optional<binlogdata::Journal> journal;
  };

  //! shard_time_limit during one attempt: at `deadline` the attempt's VStream is cancelled and
  //! `passed` set. Destroying it (when the attempt ends) cancels the timer, and an expiry already
  //! queued then finds nothing to do, so the stream is never touched after the attempt.
  struct TimeLimit {
    explicit TimeLimit(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    bool passed = false;
  };
  std::shared_ptr<TimeLimit> watch_deadline(Clock::time_point deadline, EventStream& stream) {
    auto limit = std::make_shared<TimeLimit>(io_);
    if (deadline == Clock::time_point::max()) return limit;
    limit->timer.expires_at(deadline);
    limit->timer.async_wait([weak = std::weak_ptr<TimeLimit>(limit), &stream](const boost::system::error_code& ec) {
      auto l = weak.lock();
      if (ec || !l) return;
      l->passed = true;
      stream.cancel();
    });
    return limit;
  }

  //! One VStream over `cursors` (one shard normally; all of a stream's shards while following a
  //! reshard journal, then `until_journal`), cancelled at `deadline`.
  awaitable<Attempt> read_attempt(StreamRun& r, std::vector<vitess::TableCursor> cursors, Decoder& decoder,
                                  bool& progressed, bool until_journal,
                                  Clock::time_point deadline = Clock::time_point::max()) {
    Attempt result;
    std::vector<ShardPlan> plans;
    StreamRequest req;
    req.keyspace = r.cfg->keyspace;
    req.table = r.cfg->name;
    req.heartbeat_interval_seconds = opt_.heartbeat_interval_seconds;
    req.stop_on_reshard = true;
    for (const auto& c : cursors) {
      ShardPlan p = plan_for(r, c);
      if (until_journal) {
        p.stop.reset();
        p.stop_after_copy = false;
      }
      plans.push_back(p);
      req.shards.push_back(start_point(c));
    }
    decoder.reset(plans);
    auto stream = co_await source_.open(req);
    r.open_streams.insert(stream.get());
    ++m_.readers_active;
    struct Unregister {
      StreamRun& r;
      EventStream* s;
      std::size_t& active;
      ~Unregister() {
        r.open_streams.erase(s);
        --active;
      }
    } unregister{r, stream.get(), m_.readers_active};
    if (r.failure) stream->cancel();  // stopped while the stream was being opened
    auto limit = watch_deadline(deadline, *stream);  // after `stream`: destroyed before it

    for (;;) {
      SourceItem item = co_await stream->next();
      if (r.failure || r.resharding) {
        stream->cancel();
        result.end = ReaderEnd::interrupted;
        co_return result;
      }
      if (limit->passed) {
        result.end = ReaderEnd::time_limit;  // rows after the last committed cursor go with the stream
        co_return result;
      }
      if (auto* err = std::get_if<SourceError>(&item)) {
        if (err->error.message.find(kJournalParticipants) != std::string::npos && !until_journal) {
          result.end = ReaderEnd::reshard;
          start_reshard(r);
          co_return result;
        }
        result.end = ReaderEnd::failed;
        result.error = err->error;
        result.transient = err->transient();
        co_return result;
      }
      if (std::holds_alternative<SourceEof>(item)) {
        result.end = ReaderEnd::failed;
        result.error = transient_error(fmt::format("VStream of '{}.{}' ended before the read was complete",
                                                   r.cfg->keyspace, r.cfg->name));
        result.transient = true;
        co_return result;
      }
      auto& response = std::get<vtgate::VStreamResponse>(item);
      const std::int64_t emitted_at = opt_.clock_ms();
      const std::int64_t now_ns = opt_.clock_ns();
      // Decoding and serialization run on the pool; the decoder is only touched there meanwhile.
      DecodeOutput out = co_await asio::co_spawn(
          pool_, [&]() -> awaitable<DecodeOutput> { co_return decoder.process(response, emitted_at, now_ns); },
          use_awaitable);
      if (out.last_event_time > 0) {
        for (const auto& p : plans) {
          auto& t = metrics_of(r).shards[p.shard].last_event_time;
          t = std::max(t, out.last_event_time);
        }
      }
      // Before the rows that leave the new columns out, so the warning precedes them on stdout.
      if (!out.new_columns.empty()) {
        std::vector<std::string> fresh;
        for (auto& c : out.new_columns) {
          if (r.warned_columns.insert(c).second) fresh.push_back(c);
        }
        if (!fresh.empty()) {
          co_await warn_user(fmt::format(
              "stream {}: table '{}.{}' has column(s) {} that the configured catalog does not select; they are left "
              "out. Refresh the source schema in Airbyte to sync them.",
              r.cfg->name, r.cfg->keyspace, r.cfg->name, fmt::join(fresh, ", ")));
        }
      }
      std::vector<std::string> retyped;
      for (auto& c : out.changed_types) {
        if (r.warned_types.insert(c).second) retyped.push_back(c);
      }
      if (!retyped.empty()) {
        co_await warn_user(fmt::format(
            "stream {}: column(s) {} of table '{}.{}' no longer have the type the configured catalog declares; "
            "their values follow the new type. Refresh the source schema in Airbyte so the destination expects it.",
            r.cfg->name, fmt::join(retyped, ", "), r.cfg->keyspace, r.cfg->name));
      }
      for (auto& c : out.commits) {
        if (!co_await commit(r, c)) {
          stream->cancel();
          result.end = ReaderEnd::interrupted;
          co_return result;
        }
        progressed = true;
      }
      if (out.error) {
        stream->cancel();
        result.end = ReaderEnd::failed;
        result.error = out.error;
        result.transient = false;
        co_return result;
      }
      if (out.journal) {
        stream->cancel();
        result.journal = out.journal;
        if (until_journal) {
          result.end = ReaderEnd::done;
        } else {
          result.end = ReaderEnd::reshard;
          start_reshard(r);
        }
        co_return result;
      }
      if (!until_journal && decoder.all_done()) {
        stream->cancel();
        result.end = ReaderEnd::done;
        co_return result;
      }
    }
  }

  // ---- coordinator -------------------------------------------------------------------------

  //! Hands a committed chunk to the emitter; adds the stream's STATE when a checkpoint is due.
  awaitable<bool> commit(StreamRun& r, Commit& c) {
    if (r.failure) co_return false;
    co_await r.push_lock->acquire();
    SlotGuard guard(*r.push_lock);
    const bool copy_ended = vitess::copy_pending(r.cursors[c.shard]) && !vitess::copy_pending(c.cursor);
    const bool due = r.records_since_state + c.count >= in_.config.checkpoint_interval_records ||
                     Clock::now() - r.last_state >= std::chrono::seconds(in_.config.checkpoint_interval_seconds) ||
                     (opt_.checkpoint_at_copy_end && copy_ended);
    auto& sm = metrics_of(r).shards[c.shard];
    sm.records += c.count;
    sm.bytes += c.lines.size();
    sm.copying = vitess::copy_pending(c.cursor);
    metrics_of(r).records += c.count;
    metrics_of(r).bytes += c.lines.size();
    if (!due) {
      if (c.count > 0) {
        airbyte::Batch batch(r.index, std::move(c.lines), c.count);
        batch.shard = c.shard;
        if (!co_await em_.push(std::move(batch))) co_return output_refused();
      }
      // Only now: a STATE built from here on may name this cursor, its rows are queued before it.
      r.cursors[c.shard] = c.cursor;
      r.records_since_state += c.count;
      r.changed_since_state = true;
      co_return true;
    }
    r.cursors[c.shard] = c.cursor;
    airbyte::Batch batch = state_batch(r, std::move(c.lines), c.count);
    batch.shard = c.shard;
    if (!co_await em_.push(std::move(batch))) co_return output_refused();
    co_return true;
  }

  //! `lines` followed by the stream's STATE (fresh cursors when `blank`); the stream's
  //! checkpoint bookkeeping starts over from here.
  airbyte::Batch state_batch(StreamRun& r, std::string lines, std::uint64_t count, bool blank = false) {
    airbyte::Batch batch(r.index, std::move(lines), count, airbyte::BatchCursor(state_of(r, blank)));
    r.records_since_state = 0;
    r.changed_since_state = false;
    r.last_state = Clock::now();
    ++r.states;
    ++metrics_of(r).checkpoints;
    return batch;
  }

  airbyte::StreamState state_of(const StreamRun& r, bool blank = false) const {
    std::map<std::string, std::string> shards;
    for (const auto& [shard, c] : r.cursors) {
      shards[shard] = vitess::encode_cursor(blank ? vitess::make_cursor(c.keyspace(), c.shard()) : c);
    }
    return airbyte::StreamState(std::move(shards));
  }

  awaitable<void> checkpoint(StreamRun& r, bool blank = false) {
    co_await r.push_lock->acquire();
    SlotGuard guard(*r.push_lock);
    airbyte::Batch batch = state_batch(r, std::string(), 0, blank);
    if (!co_await em_.push(std::move(batch))) output_refused();
  }

  awaitable<void> fail_stream(StreamRun& r, Error error) {
    if (r.failure) co_return;
    spdlog::error("stream {}: {}", r.cfg->name, error.message);
    r.failure = std::move(error);
    for (auto* s : r.open_streams) s->cancel();
  }

  //! shard_time_limit passed for a shard: it stops at its last committed cursor (the rows after it
  //! went with the cancelled VStream), a STATE saves that cursor now, and the next sync (or, for a
  //! full_refresh stream, the next attempt) continues from there, as the Go connector does after
  //! its per-attempt deadline (go-connector-reference.md §4.7).
  awaitable<ReaderEnd> stop_at_time_limit(StreamRun& r, const std::string& shard) {
    r.time_limited.insert(shard);
    if (r.failure) co_return ReaderEnd::interrupted;
    if (r.changed_since_state) co_await checkpoint(r);
    if (!r.full_refresh) {  // a full_refresh stream says it in its error (unfinished_copy_error)
      co_await warn_user(fmt::format(
          "stream {}: shard {} was read for timeout_seconds ({:g} s) without reaching the end of this sync; it "
          "stops at its last saved position and the next sync continues from there. Raise timeout_seconds to read "
          "more per sync.",
          r.cfg->name, shard, seconds_of(opt_.shard_time_limit)));
    }
    co_return ReaderEnd::time_limit;
  }

  //! A full_refresh stream whose copy did not finish within shard_time_limit: its rows are not the
  //! whole table, so the stream cannot be COMPLETE; its last STATE holds the copy's progress.
  Error unfinished_copy_error(const StreamRun& r) const {
    return transient_error(fmt::format(
        "stream {}: the copy of shard(s) {} did not finish within timeout_seconds ({:g} s); its progress is saved "
        "and the next attempt continues the copy from there. Raise timeout_seconds to copy the table in one attempt.",
        r.cfg->name, fmt::join(r.time_limited, ","), seconds_of(opt_.shard_time_limit)));
  }

  static double seconds_of(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

  //! A warning the user should act on: on stderr, and through the output (a LOG on stdout in `read`).
  awaitable<void> warn_user(std::string message) {
    spdlog::warn("{}", message);
    co_await em_.warning(std::move(message));
  }

  void start_reshard(StreamRun& r) {
    if (r.resharding) return;
    r.resharding = true;
    for (auto* s : r.open_streams) s->cancel();
  }

  //! follow mode: a quiet source produces no rows, so nothing else would checkpoint; the output
  //! (extract) still needs one every checkpoint_interval_seconds to close its change files.
  awaitable<void> idle_checkpoints(StreamRun& r) {
    const auto interval = std::chrono::seconds(std::max<std::uint32_t>(in_.config.checkpoint_interval_seconds, 1));
    while (!r.ended && !r.failure) {
      r.idle_timer->expires_at(r.last_state + interval);
      co_await r.idle_timer->async_wait(asio::as_tuple(use_awaitable));
      if (r.ended || r.failure) break;
      if (Clock::now() - r.last_state >= interval) co_await checkpoint(r);
    }
  }

  awaitable<void> finish_stream(StreamRun& r) {
    r.ended = true;
    if (r.idle_timer) r.idle_timer->cancel();
    // Full refresh ends with fresh cursors: the next sync copies the table again. Incremental
    // ends with the positions reached.
    // (No repeat of an identical last STATE: the platform distrusts consecutive duplicates.)
    if (!r.failure && (r.full_refresh || r.changed_since_state || r.states == 0))
      co_await checkpoint(r, r.full_refresh);
    // Complete only once the output took the COMPLETE (the extract's files are renamed by then).
    if (!r.failure && !co_await em_.complete(r.index)) output_refused();
    if (r.failure) {
      // Keep what was read: the next attempt resumes from here.
      if (r.changed_since_state) co_await checkpoint(r);
      Error e = *r.failure;
      metrics_of(r).phase = StreamPhase::incomplete;
      metrics_of(r).ended_at = Clock::now();
      co_await em_.incomplete(r.index, std::move(e));
      co_return;
    }
    metrics_of(r).phase = StreamPhase::complete;
    metrics_of(r).ended_at = Clock::now();
  }

  //! Follows a reshard: one VStream over every shard of the stream (from their cursors, with
  //! stop_on_reshard) until vtgate sends the JOURNAL, then the journal's new shards replace the
  //! participants, and fresh stop positions are peeked.
  awaitable<bool> migrate(StreamRun& r) {
    std::vector<vitess::TableCursor> cursors;
    for (const auto& [shard, c] : r.cursors) {
      if (vitess::copy_pending(c)) co_return co_await restart_copy_on_new_shards(r);
      cursors.push_back(c);
    }
    Decoder decoder(r.decoder);
    std::uint32_t failures = 0;
    const std::uint32_t allowed = std::max<std::uint32_t>(in_.config.max_retries, 1);
    std::optional<binlogdata::Journal> journal;
    for (;;) {
      if (r.failure) co_return false;
      co_await slots_.acquire();
      bool progressed = false;
      std::vector<vitess::TableCursor> now;
      for (const auto& c : cursors) now.push_back(r.cursors.at(c.shard()));
      auto attempt = co_await read_attempt(r, now, decoder, progressed, true);
      slots_.release();
      if (attempt.journal) {
        journal = attempt.journal;
        break;
      }
      if (r.failure) co_return false;
      Error e = attempt.error.value_or(system_error("the VStream following the reshard ended without a journal"));
      failures = progressed ? 1 : failures + 1;
      if (!attempt.transient || failures >= allowed) {
        e.message = fmt::format("following the reshard of '{}': {}", r.cfg->keyspace, e.message);
        if (auto unserved = unserved_shards(r); !unserved.empty())
          e.message += unserved_advice(r, unserved);
        co_await fail_stream(r, e);
        co_return false;
      }
      co_await backoff(failures);
    }
    std::set<std::string> participants;
    for (const auto& p : journal->participants()) participants.insert(p.shard());
    std::vector<std::string> gone;
    for (const auto& [shard, c] : r.cursors) {
      if (participants.count(shard)) gone.push_back(shard);
    }
    for (const auto& s : gone) r.cursors.erase(s);
    for (const auto& sg : journal->shard_gtids()) {
      if (!sg.keyspace().empty() && sg.keyspace() != r.cfg->keyspace) continue;
      r.cursors[sg.shard()] = vitess::make_cursor(r.cfg->keyspace, sg.shard(), sg.gtid());
    }
    spdlog::info("stream {}: shards {} replaced by {} (journal {})", r.cfg->name, fmt::join(gone, ","),
                 fmt::join(keys_of(r.cursors), ","), journal->id());
    co_await checkpoint(r);
    // Stop positions of the new shards.
    auto peek = [&]() { return source_.current_positions(r.cfg->keyspace, r.cfg->name); };
    std::string what = fmt::format("reading the current position of '{}.{}'", r.cfg->keyspace, r.cfg->name);
    auto positions = co_await with_retries<std::map<std::string, std::string>>(peek, what);
    if (!positions) {
      co_await fail_stream(r, positions.error());
      co_return false;
    }
    for (auto& [shard, pos] : *positions) r.current[shard] = pos;
    co_return true;
  }

  //! The stream's shards that the start-of-read peek did not list (saved state of an older shard
  //! layout, or of another keyspace).
  static std::vector<std::string> unserved_shards(const StreamRun& r) {
    std::vector<std::string> out;
    for (const auto& [shard, c] : r.cursors) {
      if (!r.current.count(shard)) out.push_back(shard);
    }
    return out;
  }

  //! Why following a reshard of shards the saved state names can fail, and what to change.
  static std::string unserved_advice(const StreamRun& r, const std::vector<std::string>& unserved) {
    return fmt::format(
        " (the saved state of stream '{}' names shard(s) {} that keyspace '{}' does not serve; "
        "serving shards: {}. If those shards were deleted after a reshard, or the state belongs "
        "to another keyspace, reset the stream '{}')",
        r.cfg->name, fmt::join(unserved, ","), r.cfg->keyspace, fmt::join(keys(r.current), ","),
        r.cfg->name);
  }

  //! A reshard met while the table is still being copied: the copy cannot follow the journal.
  //! vtgate ends a stop_on_reshard stream at the JOURNAL (vitessio/vitess
  //! go/vt/vtgate/vstream_manager.go), before the old shards' copy finished, and an old shard's
  //! lastpk does not bound what a new shard still has to copy (the rows are spread by keyspace id,
  //! not by primary key). So the shards that are no longer served are replaced by the serving
  //! shards that replaced them, each with a fresh cursor: the table is copied again from scratch
  //! there. Rows the old shards already delivered come again (at-least-once, docs/state.md
  //! "Resharding"); shards the reshard did not touch keep their cursors.
  awaitable<bool> restart_copy_on_new_shards(StreamRun& r) {
    auto peek = [&]() { return source_.current_positions(r.cfg->keyspace, r.cfg->name); };
    std::string what = fmt::format("reading the current position of '{}.{}'", r.cfg->keyspace, r.cfg->name);
    auto positions = co_await with_retries<std::map<std::string, std::string>>(peek, what);
    if (!positions) {
      co_await fail_stream(r, positions.error());
      co_return false;
    }
    std::vector<std::string> gone, added;
    for (const auto& [shard, c] : r.cursors) {
      if (!positions->count(shard)) gone.push_back(shard);
    }
    // The new shards are the serving ones that cover a gone shard's key range (not the serving
    // shards the stream never read, e.g. left out by the config's `shards`).
    for (const auto& [shard, pos] : *positions) {
      const bool covers =
          std::any_of(gone.begin(), gone.end(), [&](const auto& g) { return ranges_overlap(g, shard); });
      if (!r.cursors.count(shard) && covers) added.push_back(shard);
    }
    if (gone.empty() || added.empty()) {
      // The journal came before vtgate serves the new shards: the next attempt finds them.
      co_await fail_stream(r, transient_error(fmt::format(
                                  "keyspace '{}' is being resharded while table '{}' is copied, and vtgate does not "
                                  "serve the new shards yet (serving: {}); the next attempt continues the copy there",
                                  r.cfg->keyspace, r.cfg->name, fmt::join(keys(*positions), ","))));
      co_return false;
    }
    for (const auto& shard : gone) r.cursors.erase(shard);
    for (const auto& shard : added) r.cursors[shard] = vitess::make_cursor(r.cfg->keyspace, shard);
    for (const auto& [shard, pos] : *positions) r.current[shard] = pos;
    co_await warn_user(fmt::format(
        "stream {}: keyspace '{}' was resharded while table '{}' was being copied; the copy starts again on the new "
        "shards {} (replacing {}), so rows already sent from the old shards are sent again",
        r.cfg->name, r.cfg->keyspace, r.cfg->name, fmt::join(added, ","), fmt::join(gone, ",")));
    co_await checkpoint(r);  // fresh cursors of the new shards: a resumed sync copies them too
    co_return true;
  }

  //! Whether two shards' key ranges ("-80", "40-80", "c0-": lower-case hex bounds, empty = open)
  //! overlap. Names that are not ranges ("0", an unsharded keyspace) cover everything.
  static bool ranges_overlap(const std::string& a, const std::string& b) {
    const auto da = a.find('-');
    const auto db = b.find('-');
    if (da == std::string::npos || db == std::string::npos) return true;
    const std::string a_start = a.substr(0, da), a_end = a.substr(da + 1);
    const std::string b_start = b.substr(0, db), b_end = b.substr(db + 1);
    // Hex strings (even length) compare like the key bytes they encode.
    return (b_end.empty() || a_start < b_end) && (a_end.empty() || b_start < a_end);
  }

  static std::vector<std::string> keys_of(const std::map<std::string, vitess::TableCursor>& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m) out.push_back(k);
    return out;
  }

  // ---- retries ------------------------------------------------------------------------------

  template <class T, class F>
  awaitable<Result<T>> with_retries(F& make, const std::string& what) {
    const std::uint32_t allowed = std::max<std::uint32_t>(in_.config.max_retries, 1);
    for (std::uint32_t attempt = 1;; ++attempt) {
      // stop() cancels the peek in flight and the backoff; neither may lead to another attempt.
      if (stop_reason_) co_return *stop_reason_;
      Result<T> res = co_await stoppable<T>(make);
      if (res) co_return res;
      if (stop_reason_) co_return *stop_reason_;
      if (res.error().type != FailureType::transient_error || attempt >= allowed) {
        Error e = res.error();
        e.message = fmt::format("{}: {}", what, e.message);
        co_return e;
      }
      spdlog::warn("{}: {}; retrying ({}/{})", what, res.error().message, attempt, allowed);
      ++m_.retries;
      co_await backoff(attempt);
    }
  }

  //! Runs one peek on a cancellation slot that stop() fires. The VStream's next() turns that
  //! into a cancelled call, so a peek at a silent or unreachable vtgate ends at once instead of
  //! at gRPC's connect timeout (about 20 s), as open streams do through EventStream::cancel().
  template <class T, class F>
  awaitable<Result<T>> stoppable(F& make) {
    asio::cancellation_signal signal;
    peeks_.insert(&signal);
    struct Unregister {
      std::set<asio::cancellation_signal*>& peeks;
      asio::cancellation_signal* signal;
      ~Unregister() { peeks.erase(signal); }
    } unregister{peeks_, &signal};
    std::optional<Result<T>> res;
    co_await asio::co_spawn(
        io_, [&]() -> awaitable<void> { res.emplace(co_await make()); },
        asio::bind_cancellation_slot(signal.slot(), use_awaitable));
    co_return std::move(*res);
  }

  awaitable<void> backoff(std::uint32_t failures) {
    std::chrono::milliseconds delay(opt_.retry_base.count() * (std::int64_t{1} << std::min<std::uint32_t>(failures - 1, 16)));
    delay = std::min(delay, opt_.retry_max);
    // Full jitter on the upper half: spreads reconnects of many shards after a common outage.
    std::uniform_real_distribution<double> dist(0.5, 1.0);
    auto wait = std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay.count()) * dist(rng_)));
    if (stop_reason_) co_return;
    asio::steady_timer t(io_, wait);
    sleeping_.insert(&t);
    co_await t.async_wait(asio::as_tuple(use_awaitable));
    sleeping_.erase(&t);
  }

  StreamMetrics& metrics_of(const StreamRun& r) { return m_.streams[r.index]; }

  asio::io_context& io_;
  const ReadInputs& in_;
  ShardSource& source_;
  SyncOutput& em_;
  const EngineOptions& opt_;
  Metrics& m_;
  std::optional<Error> stop_reason_;
  std::set<asio::steady_timer*> sleeping_;
  std::set<asio::cancellation_signal*> peeks_;  //!< position peeks in flight (see stoppable)
  asio::thread_pool pool_;
  Slots slots_;
  std::mt19937_64 rng_;
  std::deque<StreamRun> runs_;
};

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

int run_read(const ReadInputs& inputs, ShardSource& source, airbyte::MessageWriter& out, const EngineOptions& options,
             Metrics* metrics, const ReadCompanions& companions) {
  asio::io_context io(1);
  std::vector<airbyte::StreamDescriptor> descriptors;
  for (const auto& s : inputs.catalog.streams) descriptors.push_back(s.descriptor());
  airbyte::EmitterOptions eo;
  eo.queue_capacity = options.emitter_queue;
  if (options.clock_ms) eo.clock = options.clock_ms;
  airbyte::Emitter emitter(io.get_executor(), descriptors, out, eo);
  int exit_code = 1;
  asio::co_spawn(io, emitter.run(), [&](std::exception_ptr e, int code) { exit_code = e ? 1 : code; });
  AirbyteOutput output(emitter);
  {
    Engine engine(io, inputs, source, output, options, metrics);
    if (companions.start) companions.start(io, engine);
    asio::co_spawn(io, engine.run(), [&](std::exception_ptr) {
      if (companions.finish) companions.finish();
    });
    io.run();
  }
  return exit_code;
}

}  // namespace sv::engine
