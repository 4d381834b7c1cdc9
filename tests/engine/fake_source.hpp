// tests/engine: an in-memory ShardSource. Each shard holds a table `t(id bigint PK, name varchar)`
// (plus columns added by DDLs) and a binlog of transactions; VStreams are generated from a request
// the way vtgate answers it (copy with lastpk batches, COPY_COMPLETED, CDC from a position), and
// faults cut a stream after N events (mid-transaction included) with an error or EOF.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/shard_source.hpp"
#include "engine/sync.hpp"
#include "vitess/gtid.hpp"
#include "vitess/vstream_client.hpp"

namespace sv::engine::testing {

namespace asio = boost::asio;

inline query::Field field(const std::string& name, query::Type type, const std::string& column_type) {
  query::Field f;
  f.set_name(name);
  f.set_type(type);
  f.set_column_type(column_type);
  return f;
}

//! One change of a transaction: insert (after only), update (both), delete (before only).
struct Change {
  std::int64_t id = 0;
  std::optional<std::string> before;
  std::optional<std::string> after;
};

struct Tx {
  std::vector<Change> changes;
  std::int64_t timestamp = 1700000000;
  //! A DDL: the table's column list afterwards (names; id and name keep their types, others are
  //! varchar holding "<column>-<id>"). `name bigint` / `name decimal(10,2)` changes name's type
  //! (its values are then the change texts, which must fit).
  std::optional<std::vector<std::string>> ddl_columns;
  std::optional<binlogdata::Journal> journal;  //!< a reshard marker (the shard ends here)
};

inline Tx tx(std::vector<Change> changes, std::int64_t timestamp = 1700000000) {
  Tx t;
  t.changes = std::move(changes);
  t.timestamp = timestamp;
  return t;
}
inline Tx ddl(std::vector<std::string> columns) {
  Tx t;
  t.ddl_columns = std::move(columns);
  return t;
}

struct Fault {
  std::size_t after_events = 0;  //!< events delivered before the end
  //! SourceError or SourceEof; none: the stream stalls after them (idles like a silent vtgate).
  std::optional<SourceItem> end;
};

struct FakeShard {
  std::string uuid;
  std::map<std::int64_t, std::string> initial;  //!< rows before the binlog
  std::vector<Tx> log;
  std::deque<Fault> faults;  //!< consumed one per opened stream
  bool serving = true;
};

inline std::string position(const FakeShard& s, std::size_t n) {
  return "MySQL56/" + s.uuid + ":1-" + std::to_string(10 + n);
}
inline std::size_t seq_of(const std::string& pos) {
  return static_cast<std::size_t>(std::stoull(pos.substr(pos.rfind('-') + 1))) - 10;
}

//! With ENGINE_FAKE_SOURCE_WIRE=1 (the *_wire tests of tests/engine/meson.build) every response
//! reaches the engine in wire form, as the gRPC source delivers it (Decoder::process_wire), so the
//! same tests and golden files check both decoders.
inline bool wire_form() {
  const char* v = std::getenv("ENGINE_FAKE_SOURCE_WIRE");
  return v != nullptr && std::string_view(v) == "1";
}

//! EngineOptions::inline_decode_bytes for the tests: the default, or ENGINE_INLINE_DECODE_BYTES
//! (the *_pool tests of tests/engine/meson.build set 0, so every response goes through the
//! decode pool; with the default the fake source's small responses are decoded inline).
inline std::size_t inline_decode_bytes() {
  const char* v = std::getenv("ENGINE_INLINE_DECODE_BYTES");
  return v != nullptr ? static_cast<std::size_t>(std::stoull(v)) : EngineOptions{}.inline_decode_bytes;
}

class FakeStream final : public EventStream {
 public:
  explicit FakeStream(std::deque<SourceItem> items) : items_(std::move(items)) {}
  asio::awaitable<SourceItem> next() override {
    if (cancelled_) co_return SourceItem(SourceError{transient_error("cancelled")});
    if (!items_.empty()) {
      SourceItem it = std::move(items_.front());
      if (!std::holds_alternative<vtgate::VStreamResponse>(it)) {
        end_ = it;
      } else {
        items_.pop_front();
        if (wire_form()) it = vitess::WireResponse(std::get<vtgate::VStreamResponse>(it).SerializeAsString());
      }
      co_return it;
    }
    // Nothing more: wait like an idle vtgate, bounded so a broken test cannot hang.
    timer_.emplace(co_await asio::this_coro::executor, std::chrono::seconds(3));
    co_await timer_->async_wait(asio::as_tuple(asio::use_awaitable));
    co_return SourceItem(SourceError{transient_error(cancelled_ ? "cancelled" : "fake stream idle")});
  }
  void cancel() override {
    cancelled_ = true;
    if (timer_) timer_->cancel();
  }

 private:
  std::deque<SourceItem> items_;
  std::optional<SourceItem> end_;
  std::optional<asio::steady_timer> timer_;
  bool cancelled_ = false;
};

class FakeSource final : public ShardSource {
 public:
  std::string keyspace = "ks";
  std::string table = "t";
  std::map<std::string, FakeShard> shards;
  std::size_t batch_rows = 2;
  std::vector<StreamRequest> requests;
  int position_failures = 0;  //!< current_positions fails (transient) this many times first
  int position_calls = 0;     //!< current_positions calls so far
  //! current_positions first waits this long, as a silent vtgate does; the wait ends early when
  //! the awaiting coroutine is cancelled (the call then fails like a cancelled VStream).
  std::chrono::milliseconds position_delay{0};
  //! Scripted streams: when set and it returns items, they replace the generated ones.
  std::function<std::optional<std::deque<SourceItem>>(const StreamRequest&)> script;

  void add_shard(const std::string& name, std::int64_t first_id, std::int64_t rows) {
    FakeShard s;
    s.uuid = fmt_uuid(shards.size() + 1);
    for (std::int64_t i = 0; i < rows; ++i) s.initial[first_id + i] = "n" + std::to_string(first_id + i);
    shards[name] = std::move(s);
  }

  asio::awaitable<Result<std::map<std::string, std::string>>> current_positions(const std::string& ks,
                                                                                const std::string&) override {
    ++position_calls;
    if (position_delay.count() > 0) {
      asio::steady_timer wait(co_await asio::this_coro::executor, position_delay);
      auto [ec] = co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return transient_error("fake: position peek cancelled");
    }
    if (position_failures > 0) {
      --position_failures;
      co_return transient_error("fake: positions unavailable");
    }
    if (ks != keyspace) co_return config_error("unknown keyspace " + ks);
    std::map<std::string, std::string> out;
    for (const auto& [name, s] : shards) {
      if (s.serving) out[name] = position(s, s.log.size());
    }
    co_return out;
  }

  asio::awaitable<std::unique_ptr<EventStream>> open(const StreamRequest& req) override {
    requests.push_back(req);
    if (script) {
      if (auto items = script(req)) co_return std::make_unique<FakeStream>(std::move(*items));
    }
    std::deque<SourceItem> items;
    if (req.shards.size() == 1) {
      auto it = shards.find(req.shards[0].shard);
      if (it == shards.end()) {
        items.push_back(SourceError{transient_error("no healthy tablet")});
      } else if (auto refused = refuse_position(it->second, req.shards[0])) {
        items.push_back(std::move(*refused));
      } else {
        table = req.table;  // every table of the fake has the same rows
        items = generate(it->first, it->second, req.shards[0]);
        apply_fault(it->second, items);
      }
    } else {
      items.push_back(SourceError{system_error("fake: multi-shard streams need a script")});
    }
    co_return std::make_unique<FakeStream>(std::move(items));
  }

  //! vttablet refuses a start position its server does not contain (vitessio/vitess
  //! go/vt/vttablet/tabletserver/vstreamer/uvstreamer.go, setStreamStartPosition), and vtgate
  //! passes the INVALID_ARGUMENT on; classified as the gRPC client classifies it.
  static std::optional<SourceItem> refuse_position(const FakeShard& s, const ShardStartPoint& sp) {
    if (sp.gtid.empty() || sp.gtid == "current") return std::nullopt;
    const std::string now = position(s, s.log.size());
    auto requested = vitess::GtidSet::parse(sp.gtid);
    auto current = vitess::GtidSet::parse(now);
    if (!requested) {
      grpc::Status status(grpc::StatusCode::INTERNAL, "could not decode position: " + requested.error().message);
      return SourceItem(SourceError{vitess::classify_status(status).to_error()});
    }
    if (current && current->contains(*requested)) return std::nullopt;
    grpc::Status status(grpc::StatusCode::INVALID_ARGUMENT, "GTIDSet Mismatch: requested source position:" + sp.gtid +
                                                                ", current target vrep position: " + now);
    return SourceItem(SourceError{vitess::classify_status(status).to_error()});
  }

  static std::string fmt_uuid(std::size_t n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-0000-0000-%012zu", n);
    return buf;
  }

  //! Columns of the table after the first n transactions of a shard.
  std::vector<std::string> columns_at(const FakeShard& s, std::size_t n) const {
    std::vector<std::string> cols{"id", "name"};
    for (std::size_t i = 0; i < n && i < s.log.size(); ++i) {
      if (s.log[i].ddl_columns) cols = *s.log[i].ddl_columns;
    }
    return cols;
  }

  binlogdata::VEvent field_event(const std::string& shard, const std::vector<std::string>& cols) const {
    binlogdata::VEvent ev = make(binlogdata::FIELD, shard);
    auto* fe = ev.mutable_field_event();
    fe->set_table_name(keyspace + "." + table);
    for (const auto& c : cols) {
      const auto space = c.find(' ');
      if (c == "id") {
        *fe->add_fields() = field("id", query::INT64, "bigint");
      } else if (space != std::string::npos) {  // `<name> <column type>`
        const std::string type = c.substr(space + 1);
        *fe->add_fields() = field(c.substr(0, space), type == "bigint" ? query::INT64 : query::DECIMAL, type);
      } else {
        *fe->add_fields() = field(c, query::VARCHAR, "varchar(32)");
      }
    }
    fe->set_enum_set_string_values(true);
    return ev;
  }

  static query::Row row(const std::vector<std::string>& cols, std::int64_t id, const std::string& name) {
    query::Row r;
    for (const auto& spec : cols) {
      const std::string c = spec.substr(0, spec.find(' '));
      std::string v = c == "id" ? std::to_string(id) : c == "name" ? name : c + "-" + std::to_string(id);
      r.add_lengths(static_cast<std::int64_t>(v.size()));
      r.mutable_values()->append(v);
    }
    return r;
  }

  static query::QueryResult lastpk(std::int64_t id) {
    query::QueryResult qr;
    *qr.add_fields() = field("id", query::INT64, "");
    auto* r = qr.add_rows();
    std::string v = std::to_string(id);
    r->add_lengths(static_cast<std::int64_t>(v.size()));
    r->set_values(v);
    return qr;
  }

  binlogdata::VEvent make(binlogdata::VEventType type, const std::string& shard) const {
    binlogdata::VEvent ev;
    ev.set_type(type);
    ev.set_keyspace(keyspace);
    ev.set_shard(shard);
    return ev;
  }

  binlogdata::VEvent vgtid(const std::string& shard, const std::string& gtid, std::optional<std::int64_t> pk) const {
    binlogdata::VEvent ev = make(binlogdata::VGTID, shard);
    auto* sg = ev.mutable_vgtid()->add_shard_gtids();
    sg->set_keyspace(keyspace);
    sg->set_shard(shard);
    sg->set_gtid(gtid);
    if (pk) {
      auto* t = sg->add_table_p_ks();
      t->set_table_name(table);
      *t->mutable_lastpk() = lastpk(*pk);
    }
    return ev;
  }

  //! The rows of a shard after the first n transactions.
  static std::map<std::int64_t, std::string> rows_at(const FakeShard& s, std::size_t n) {
    auto rows = s.initial;
    for (std::size_t i = 0; i < n && i < s.log.size(); ++i) {
      for (const auto& c : s.log[i].changes) {
        if (c.after) {
          rows[c.id] = *c.after;
        } else {
          rows.erase(c.id);
        }
      }
    }
    return rows;
  }

  std::deque<SourceItem> generate(const std::string& shard, const FakeShard& s, const ShardStartPoint& sp) const {
    std::deque<SourceItem> out;
    auto respond = [&](std::vector<binlogdata::VEvent> evs) {
      vtgate::VStreamResponse r;
      for (auto& e : evs) *r.add_events() = std::move(e);
      out.push_back(std::move(r));
    };
    const std::size_t now = s.log.size();
    std::size_t from = 0;
    std::optional<std::vector<std::string>> sent_cols;
    if (sp.gtid.empty() || sp.lastpk) {
      // Copy from a snapshot at `now`, after lastpk.
      std::int64_t after = sp.lastpk ? std::stoll(sp.lastpk->rows(0).values()) : INT64_MIN;
      if (!sp.gtid.empty()) {
        // Catch up first: changes since the saved position to rows already copied.
        std::size_t p = seq_of(sp.gtid);
        for (std::size_t i = p; i < now; ++i) {
          cdc_tx(
              shard, s, i, out, sent_cols, [&](std::int64_t id) { return id <= after; }, after);
        }
      }
      const auto cols = columns_at(s, now);
      const std::string snap = position(s, now);
      std::optional<std::int64_t> pk_so_far;
      if (sp.lastpk) pk_so_far = after;
      respond({make(binlogdata::BEGIN, shard), field_event(shard, cols), vgtid(shard, snap, pk_so_far)});
      sent_cols = cols;
      std::vector<binlogdata::VEvent> batch;
      std::int64_t last = 0;
      bool first = true;
      auto flush = [&]() {
        if (batch.empty()) return;
        if (!first) batch.insert(batch.begin(), make(binlogdata::BEGIN, shard));
        first = false;
        batch.push_back(vgtid(shard, snap, last));
        batch.push_back(make(binlogdata::COMMIT, shard));
        respond(std::move(batch));
        batch.clear();
      };
      for (const auto& [id, name] : rows_at(s, now)) {
        if (id <= after) continue;
        binlogdata::VEvent ev = make(binlogdata::ROW, shard);
        ev.mutable_row_event()->set_table_name(keyspace + "." + table);
        *ev.mutable_row_event()->add_row_changes()->mutable_after() = row(cols, id, name);
        batch.push_back(std::move(ev));
        last = id;
        if (batch.size() >= batch_rows) flush();
      }
      flush();
      respond({make(binlogdata::BEGIN, shard), vgtid(shard, snap, std::nullopt), make(binlogdata::COMMIT, shard)});
      binlogdata::VEvent all;
      all.set_type(binlogdata::COPY_COMPLETED);
      respond({make(binlogdata::COPY_COMPLETED, shard), all});
      from = now;
    } else if (sp.gtid == "current") {
      // vtgate starts from the shard's position now and reports it right away (VGTID, OTHER).
      respond({vgtid(shard, position(s, now), std::nullopt), make(binlogdata::OTHER, shard)});
      from = now;
    } else {
      from = seq_of(sp.gtid);
    }
    for (std::size_t i = from; i < now; ++i) {
      cdc_tx(
          shard, s, i, out, sent_cols, [](std::int64_t) { return true; }, std::nullopt);
    }
    return out;
  }

  //! One transaction of the log. `lastpk`: set during a resumed copy's catch-up, whose VGTIDs carry
  //! the table's lastpk as vtgate's do (the request's table_p_ks until the copy moves it).
  template <class F>
  void cdc_tx(const std::string& shard, const FakeShard& s, std::size_t i, std::deque<SourceItem>& out,
              std::optional<std::vector<std::string>>& sent_cols, F keep, std::optional<std::int64_t> lastpk) const {
    const Tx& tx = s.log[i];
    vtgate::VStreamResponse r;
    auto add = [&](binlogdata::VEvent ev) {
      ev.set_timestamp(tx.timestamp);
      *r.add_events() = std::move(ev);
    };
    const std::string pos = position(s, i + 1);
    if (tx.journal) {
      binlogdata::VEvent ev = make(binlogdata::JOURNAL, shard);
      *ev.mutable_journal() = *tx.journal;
      add(ev);
      out.push_back(std::move(r));
      return;
    }
    if (tx.ddl_columns) {
      add(vgtid(shard, pos, std::nullopt));
      binlogdata::VEvent ddl = make(binlogdata::DDL, shard);
      ddl.set_statement("ALTER TABLE t ...");
      add(ddl);
      out.push_back(std::move(r));
      sent_cols.reset();
      return;
    }
    add(make(binlogdata::BEGIN, shard));
    const auto cols = columns_at(s, i + 1);
    binlogdata::VEvent ev = make(binlogdata::ROW, shard);
    ev.mutable_row_event()->set_table_name(keyspace + "." + table);
    for (const auto& c : tx.changes) {
      if (!keep(c.id)) continue;
      auto* rc = ev.mutable_row_event()->add_row_changes();
      if (c.before) *rc->mutable_before() = row(cols, c.id, *c.before);
      if (c.after) *rc->mutable_after() = row(cols, c.id, *c.after);
    }
    if (ev.row_event().row_changes_size() > 0) {
      if (!sent_cols || *sent_cols != cols) {
        add(field_event(shard, cols));
        sent_cols = cols;
      }
      add(ev);
    }
    add(vgtid(shard, pos, lastpk));
    add(make(binlogdata::COMMIT, shard));
    out.push_back(std::move(r));
  }

  static void apply_fault(FakeShard& s, std::deque<SourceItem>& items) {
    if (s.faults.empty()) return;
    Fault f = s.faults.front();
    s.faults.pop_front();
    std::deque<SourceItem> cut;
    std::size_t budget = f.after_events;
    for (auto& it : items) {
      auto& r = std::get<vtgate::VStreamResponse>(it);
      if (budget == 0) break;
      if (static_cast<std::size_t>(r.events_size()) <= budget) {
        budget -= static_cast<std::size_t>(r.events_size());
        cut.push_back(std::move(it));
      } else {
        r.mutable_events()->DeleteSubrange(static_cast<int>(budget), r.events_size() - static_cast<int>(budget));
        budget = 0;
        cut.push_back(std::move(it));
      }
    }
    if (f.end) cut.push_back(*f.end);
    items = std::move(cut);
  }
};

}  // namespace sv::engine::testing
