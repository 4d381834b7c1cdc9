// src/emulator/vstream_session.cpp — one VStream call: Session::run resolves the request to shards
// with vtgate's validation and error texts (vitessio/vitess go/vt/vtgate/vstream_manager.go), the
// writer and heartbeat, the merged VGTID, and each shard's sequence (spawn_shard, shard_main).
#include "emulator/vstream_session.hpp"

#include <cctype>

namespace sv::emulator {
namespace asio = boost::asio;
using asio::use_awaitable;
using namespace std::chrono_literals;

//---------------------------------------------------------------------------------------------

binlogdata::ShardGtid* Session::shard_gtid(const Shard& sh) {
  for (auto& sg : *vgtid_.mutable_shard_gtids()) {
    if (sg.keyspace() == sh.keyspace && sg.shard() == sh.shard) return &sg;
  }
  auto* sg = vgtid_.add_shard_gtids();
  sg->set_keyspace(sh.keyspace);
  sg->set_shard(sh.shard);
  return sg;
}

std::string Session::tablet_of(const std::string& keyspace, const std::string& shard) const {
  // One PRIMARY per shard, uid 100 + the shard's index (as the MySQL front's SHOW VITESS_TABLETS),
  // remembered from the stream's start: a reshard takes the old shards out of the catalog.
  auto known = tablets_.find(keyspace + "/" + shard);
  if (known != tablets_.end()) return known->second;
  std::size_t index = 0;
  for (const auto& k : srv_.backend_.catalog()) {
    if (k.name != keyspace) continue;
    auto it = std::find(k.shards.begin(), k.shards.end(), shard);
    index = static_cast<std::size_t>(it - k.shards.begin());
  }
  return tablets_[keyspace + "/" + shard] = fmt::format("{}-{:010d}", kCell, 100 + index);
}

binlogdata::VEvent Session::make(binlogdata::VEventType type, const Shard* sh) const {
  binlogdata::VEvent ev;
  ev.set_type(type);
  ev.set_current_time(now_ns());
  if (sh) {
    ev.set_keyspace(sh->keyspace);
    ev.set_shard(sh->shard);
  }
  return ev;
}

binlogdata::VEvent Session::vgtid_event(const Shard& sh) const {
  auto ev = make(binlogdata::VGTID, &sh);
  *ev.mutable_vgtid() = vgtid_;
  return ev;
}

std::string Session::table_name(const Shard& sh, const std::string& table) const {
  return req_.flags().exclude_keyspace_from_table_name() ? table : sh.keyspace + "." + table;
}

binlogdata::VEvent Session::field_event(const Shard& sh, const TableSchema& schema, const Projection& p) const {
  auto ev = make(binlogdata::FIELD, &sh);
  auto* fe = ev.mutable_field_event();
  fe->set_table_name(table_name(sh, schema.name));
  if (p) {
    for (std::size_t c : *p) *fe->add_fields() = schema.fields[c];  // select order (Plan.fields)
  } else {
    for (const auto& f : schema.fields) *fe->add_fields() = f;
  }
  fe->set_keyspace(sh.keyspace);
  fe->set_shard(sh.shard);
  fe->set_enum_set_string_values(srv_.options_.enum_set_labels);
  return ev;
}

const Rule* Session::rule_for(const std::string& table) const {
  for (const auto& r : rules_) {
    if (r.matches(table)) return &r;
  }
  return nullptr;
}

std::optional<Projection> Session::projection_or_fail(Shard& sh, const TableSchema& schema) {
  const Rule* rule = rule_for(schema.name);
  // make_optional<Projection>: an engaged result even when the projection is "every column".
  if (!rule) return std::make_optional<Projection>();
  auto p = project_schema(*rule, schema);
  if (p) return std::make_optional<Projection>(std::move(*p));
  // vstreamer's error, retried by vtgate (FAILED_PRECONDITION: shouldRetry) and then passed on.
  stop(vtgate_shard_error(*shard_gtid(sh), tablet_of(sh.keyspace, sh.shard), grpc::StatusCode::FAILED_PRECONDITION,
                          p.error().message));
  return std::nullopt;
}

bool Session::table_selected(const std::string& table) const {
  for (const auto& r : rules_) {
    if (r.matches(table)) return true;
  }
  return false;
}

bool Session::row_passes(const TableSchema& schema, const RowChange& ch, const CopyFilter* f) const {
  if (!f) return true;
  if (f->copied.count(schema.name)) return true;
  auto started = f->lastpks.find(schema.name);
  if (started == f->lastpks.end() || started->second.rows_size() != 1) return false;
  const query::Row& image = ch.after ? *ch.after : *ch.before;
  // Compare the row's PK with lastpk: only rows already copied get their changes streamed.
  std::vector<std::string> vals;
  std::size_t off = 0;
  std::vector<std::pair<std::int64_t, std::size_t>> spans;
  for (int i = 0; i < image.lengths_size(); ++i) {
    spans.emplace_back(image.lengths(i), off);
    if (image.lengths(i) > 0) off += static_cast<std::size_t>(image.lengths(i));
  }
  const query::Row& lp = started->second.rows(0);
  std::size_t lp_off = 0;
  for (std::size_t n = 0; n < schema.pk_columns.size(); ++n) {
    const std::size_t col = schema.pk_columns[n];
    const auto [len, at] = spans[col];
    std::string v = len > 0 ? image.values().substr(at, static_cast<std::size_t>(len)) : std::string();
    const std::int64_t lp_len = n < static_cast<std::size_t>(lp.lengths_size()) ? lp.lengths(static_cast<int>(n)) : 0;
    std::string w = lp_len > 0 ? lp.values().substr(lp_off, static_cast<std::size_t>(lp_len)) : std::string();
    if (lp_len > 0) lp_off += static_cast<std::size_t>(lp_len);
    int c = compare_value(schema.fields[col].type(), v, w);
    if (c != 0) return c < 0;
  }
  return true;  // equal PK: that row was copied
}

asio::awaitable<bool> Session::push(Outgoing out, const std::string& shard) {
  if (end_) co_return false;
  auto slow = srv_.faults_.slow_shards.find(shard);
  if (slow != srv_.faults_.slow_shards.end() && slow->second.count() > 0) {
    asio::steady_timer t(srv_.io_, slow->second);
    co_await t.async_wait(asio::as_tuple(use_awaitable));
    if (end_) co_return false;
  }
  auto [ec] = co_await ch_.async_send(boost::system::error_code{}, std::move(out), asio::as_tuple(use_awaitable));
  co_return !ec && !end_;
}

asio::awaitable<bool> Session::push_events(const std::vector<binlogdata::VEvent>& evs, const std::string& shard,
                                           bool end_after) {
  PieceBuilder b;
  for (const auto& e : evs) b.add(e);
  Outgoing out;
  out.pieces.push_back(b.take());
  out.end_after = end_after;
  co_return co_await push(std::move(out), shard);
}

asio::awaitable<void> Session::writer() {
  auto& faults = srv_.faults_;
  asio::steady_timer timer(srv_.io_);
  for (;;) {
    auto [ec, out] = co_await ch_.async_receive(asio::as_tuple(use_awaitable));
    if (ec || end_) break;
    // A stall holds everything, heartbeats included: the client sees a silent server.
    while (!end_ && std::chrono::steady_clock::now() < faults.stall_until) {
      timer.expires_at(std::min(faults.stall_until, std::chrono::steady_clock::now() + 100ms));
      co_await timer.async_wait(asio::as_tuple(use_awaitable));
    }
    if (end_) break;
    if (faults.kill_generation != kill_seen_) {
      stop(end_status(faults.kill_mode, "stream ended by fault injection"), faults.kill_mode == EndMode::drop);
      break;
    }
    std::size_t n = out.events();
    bool cut = false;
    if (faults.end_after_events) {
      const std::uint64_t budget =
          *faults.end_after_events > events_sent_ ? *faults.end_after_events - events_sent_ : 0;
      if (n >= budget) {
        n = static_cast<std::size_t>(budget);
        cut = true;
      }
    }
    if (n > 0) {
      grpc::ByteBuffer buffer = to_buffer(out, n);
      srv_.stats_.bytes_sent += buffer.Length();
      bool ok = co_await reactor_->write(std::move(buffer));
      if (!ok) {
        stop(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
        break;
      }
      events_sent_ += n;
      srv_.stats_.events_sent += n;
      srv_.stats_.responses_sent += 1;
      last_send_ = std::chrono::steady_clock::now();
    }
    if (cut) {
      stop(end_status(faults.end_mode, "stream closed after " + std::to_string(events_sent_) + " events"),
           faults.end_mode == EndMode::drop);
      break;
    }
    if (out.end_after) {
      stop(grpc::Status::OK);
      break;
    }
    if (faults.stall_after_events && !stalled_once_ && events_sent_ >= *faults.stall_after_events) {
      stalled_once_ = true;
      auto until = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(faults.stall_seconds));
      while (!end_ && std::chrono::steady_clock::now() < until) {
        timer.expires_at(std::min(until, std::chrono::steady_clock::now() + 100ms));
        co_await timer.async_wait(asio::as_tuple(use_awaitable));
      }
    }
  }
}

asio::awaitable<void> Session::heartbeat() {
  const auto interval = std::chrono::seconds(req_.flags().heartbeat_interval());
  asio::steady_timer timer(srv_.io_);
  while (!end_) {
    timer.expires_at(std::min(last_send_ + interval, std::chrono::steady_clock::now() + srv_.options_.poll));
    co_await timer.async_wait(asio::as_tuple(use_awaitable));
    if (end_) break;
    if (std::chrono::steady_clock::now() < last_send_ + interval) continue;
    auto ev = make(binlogdata::HEARTBEAT, nullptr);
    ev.set_timestamp(ev.current_time() / 1000000000);
    last_send_ = std::chrono::steady_clock::now();  // one heartbeat per idle interval
    if (!co_await push_events(evlist(ev), std::string())) break;
  }
}

asio::awaitable<void> Session::run() {
  auto self = shared_from_this();
  ++srv_.stats_.streams_started;
  ++srv_.stats_.streams_active;
  auto& faults = srv_.faults_;
  std::vector<std::tuple<std::shared_ptr<Shard>, std::string, std::vector<binlogdata::TableLastPK>>> starts;

  // ---- validate and resolve as vtgate's resolveParams does
  auto catalog = srv_.backend_.catalog();
  auto find_ks = [&](const std::string& name) -> const KeyspaceInfo* {
    for (const auto& k : catalog) {
      if (k.name == name) return &k;
    }
    return nullptr;
  };
  std::optional<grpc::Status> error;
  if (faults.fail_streams > 0) {
    --faults.fail_streams;
    error = end_status(faults.fail_mode, "injected failure at stream start");
    if (faults.fail_mode == EndMode::drop) drop_ = true;
  }
  if (!error) {
    for (const auto& r : req_.filter().rules()) {
      Rule rule{r.match(), std::nullopt, std::nullopt};
      if (r.match().empty() || r.match()[0] != '/') rule.columns = detail::parse_select_list(r.filter());
      if (!r.match().empty() && r.match()[0] == '/') {
        try {
          rule.re.emplace(r.match().substr(1));
        } catch (const std::regex_error&) {
          error = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "invalid regular expression in rule: " + r.match());
        }
      }
      rules_.push_back(std::move(rule));
    }
    if (req_.filter().rules_size() == 0) rules_.push_back({"/.*", std::regex(".*"), std::nullopt});
  }
  // resolveParams (vitessio/vitess go/vt/vtgate/vstream_manager.go): every error it returns is
  // wrapped by VStream as "failed to resolve vstream parameters: …", keeping its code.
  const auto& in = req_.vgtid();
  auto resolve_error = [](grpc::StatusCode code, const std::string& why) {
    return grpc::Status(code, "failed to resolve vstream parameters: " + why);
  };
  if (!error && in.shard_gtids_size() == 0) {
    error = resolve_error(grpc::StatusCode::INVALID_ARGUMENT,
                          "vgtid must have at least one value with a starting position in ShardGtids");
  }
  std::vector<binlogdata::ShardGtid> sgs(in.shard_gtids().begin(), in.shard_gtids().end());
  // A single ShardGtid with an empty keyspace ("current" only) or a /regex keyspace stands for
  // every matching keyspace; the shard it names is dropped (all shards of each keyspace).
  if (!error && sgs.size() == 1 && (sgs[0].keyspace().empty() || sgs[0].keyspace()[0] == '/')) {
    const std::string ks = sgs[0].keyspace();
    const std::string gtid = sgs[0].gtid();
    std::optional<std::regex> re;
    if (ks.empty() && gtid != "current") {
      error = resolve_error(grpc::StatusCode::INVALID_ARGUMENT,
                            "for an empty keyspace, the Gtid value must be 'current': " + go_text(in));
    } else if (!ks.empty()) {
      // Go trims every leading and trailing '/' (strings.Trim).
      const auto b = ks.find_first_not_of('/');
      const auto e = ks.find_last_not_of('/');
      const std::string body = b == std::string::npos ? std::string() : ks.substr(b, e - b + 1);
      try {
        re.emplace(body);
      } catch (const std::regex_error& x) {
        error = resolve_error(grpc::StatusCode::UNKNOWN,
                              "failed to compile regexp using " + ks + ": error parsing regexp: " + x.what());
      }
    }
    if (!error) {
      std::vector<binlogdata::ShardGtid> all;
      for (const auto& k : catalog) {
        if (re && !std::regex_search(k.name, *re)) continue;  // Go's MatchString: unanchored
        binlogdata::ShardGtid sg;
        sg.set_keyspace(k.name);
        sg.set_gtid(gtid);
        all.push_back(sg);
      }
      sgs = all;
    }
  }
  for (std::size_t i = 0; !error && i < sgs.size(); ++i) {
    auto& sg = sgs[i];
    const std::string& gtid = sg.gtid();
    std::vector<std::string> shards;
    if (sg.shard().empty()) {
      if (gtid != "" && gtid != "current") {
        error =
            resolve_error(grpc::StatusCode::INVALID_ARGUMENT,
                          "if shards are unspecified, the Gtid value must be 'current' or empty; got: " + go_text(in));
        break;
      }
      const auto* k = find_ks(sg.keyspace());
      if (!k) {
        // srvtopo Resolver.GetKeyspaceShards: UNKNOWN "keyspace K fetch error: <topo error>".
        error = resolve_error(grpc::StatusCode::UNKNOWN,
                              "failed to get shards in keyspace " + sg.keyspace() + ": keyspace " + sg.keyspace() +
                                  " fetch error: node doesn't exist: keyspaces/" + sg.keyspace() + "/SrvKeyspace");
        break;
      }
      shards = k->shards;
    } else {
      shards = {sg.shard()};
    }
    for (const auto& s : shards) {
      auto sh = std::make_shared<Shard>();
      sh->keyspace = sg.keyspace();
      sh->shard = s;
      std::vector<binlogdata::TableLastPK> pks(sg.table_p_ks().begin(), sg.table_p_ks().end());
      starts.emplace_back(sh, gtid, std::move(pks));
    }
  }
  // What each shard's stream meets first (startOneStream / streamFromTablet, then the tablet):
  // the reshard check, the tablet, the start position, the copy's table plan. The first error
  // ends the whole VStream.
  for (std::size_t i = 0; !error && i < starts.size(); ++i) {
    const auto& [sh, gtid, pks] = starts[i];
    binlogdata::ShardGtid sg;
    sg.set_keyspace(sh->keyspace);
    sg.set_shard(sh->shard);
    sg.set_gtid(gtid);
    for (const auto& pk : pks) *sg.add_table_p_ks() = pk;
    const std::string prefix = "error starting stream from shard GTID " + go_text(sg) + ": ";
    const auto* k = find_ks(sh->keyspace);
    if (!k) {
      // keyspaceHasBeenResharded → topo FindAllShardsInKeyspace on a keyspace that does not
      // exist (the topo root, e.g. /vitess/global, precedes the path on a real cluster).
      error = grpc::Status(grpc::StatusCode::UNKNOWN, prefix + "failed to determine if keyspace " + sh->keyspace +
                                                          " has been resharded: FindAllShardsInKeyspace(" +
                                                          sh->keyspace + "): List: node doesn't exist: keyspaces/" +
                                                          sh->keyspace + "/shards");
      break;
    }
    bool serving = std::find(k->shards.begin(), k->shards.end(), sh->shard) != k->shards.end();
    // Old shards stay in the keyspace after a reshard until deleted (their binlog ends in a
    // journal). From a position they stay readable: replication, or a copy resumed with its
    // position, whose catch-up meets the journal before the copy goes on (vitessio/vitess
    // go/vt/vttablet/tabletserver/vstreamer/copy.go, catchupAndCopy). Without one
    // they have no serving tablet.
    bool retired = false;
    if (!serving) retired = (co_await srv_.backend_.current_position(sh->keyspace, sh->shard)).ok();
    if (!serving && !retired) {
      // keyspaceHasBeenResharded: FAILED_PRECONDITION, returned without a retry.
      error = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                           prefix + "failed to determine if keyspace " + sh->keyspace +
                               " has been resharded: shard provided in VGTID, " + sh->shard + ", not found in the " +
                               sh->keyspace + " keyspace");
      break;
    }
    if (!serving && (gtid == "" || gtid == "current")) {
      error = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           "no healthy tablet available for 'keyspace:\"" + sh->keyspace + "\" shard:\"" + sh->shard +
                               "\" tablet_type:" + topodata::TabletType_Name(req_.tablet_type()) + "'");
      break;
    }
    const std::string tablet = tablet_of(sh->keyspace, sh->shard);
    if (gtid != "" && gtid != "current") {
      // uvstreamer.setStreamStartPosition: "could not decode position: …" (INTERNAL, from
      // replication.DecodePosition / ParsePosition / ParseMysql56GTIDSet), not retried by vtgate.
      const auto slash = gtid.find('/');
      const std::string flavor = slash == std::string::npos ? std::string() : gtid.substr(0, slash);
      if (flavor != "MySQL56" && flavor != "MariaDB" && flavor != "FilePos") {
        error = vtgate_shard_error(sg, tablet, grpc::StatusCode::INTERNAL,
                                   "could not decode position: parse error: unknown GTIDSet flavor \"" + flavor + "\"");
        break;
      }
      if (flavor == "MySQL56") {
        const std::string set = gtid.substr(slash + 1);
        auto parsed = GtidSet::parse(gtid);
        if (!parsed) {
          const bool has_interval = set.find(':') != std::string::npos;
          error = vtgate_shard_error(sg, tablet, grpc::StatusCode::INTERNAL,
                                     "could not decode position: invalid MySQL 5.6 GTID set (\"" + set + "\")" +
                                         (has_interval ? ": " + parsed.error().message : ": expected uuid:interval"));
          break;
        }
      }
      // Another flavor parses in Vitess but is never contained in a MySQL56 server position:
      // shard_main answers the GTIDSet Mismatch as for any position the server does not have.
    }
    if (gtid.empty() || !pks.empty()) {
      // uvstreamer.buildTablePlan: a rule naming a table the schema engine does not know. Not an
      // SQL error, so vtgate retries it three times before giving up (shouldRetry).
      for (const auto& r : rules_) {
        if (r.re) continue;
        bool known = std::any_of(k->tables.begin(), k->tables.end(),
                                 [&](const TableSchemaPtr& t) { return t->name == r.match; });
        if (!known) {
          error = vtgate_shard_error(sg, tablet, grpc::StatusCode::UNKNOWN,
                                     "table " + r.match + " is not present in the database");
          break;
        }
      }
    }
  }
  if (error) {
    spdlog::info("vstream #{} rejected: {} {}", id_, static_cast<int>(error->error_code()), error->error_message());
    end_ = *error;
  } else {
    for (auto& [sh, gtid, pks] : starts) {
      auto* sg = shard_gtid(*sh);
      sg->set_gtid(gtid);
      for (const auto& pk : pks) *sg->add_table_p_ks() = pk;
    }
    for (auto& [sh, gtid, pks] : starts) (void)tablet_of(sh->keyspace, sh->shard);  // fixes the aliases
    for (auto& [sh, gtid, pks] : starts) spawn_shard(sh, gtid, pks);
    if (req_.flags().heartbeat_interval() > 0) {
      asio::co_spawn(
          srv_.io_, [self]() { return self->heartbeat(); }, asio::detached);
    }
    co_await writer();
  }

  grpc::Status status = end_.value_or(grpc::Status::OK);
  close_channel();
  spdlog::info("vstream #{} ends: code {} '{}'{} after {} events", id_, static_cast<int>(status.error_code()),
               status.error_message(), drop_ ? " (dropped)" : "", events_sent_);
  // A dropped connection: with the TCP proxy the client's socket is reset (no HTTP/2 frames at
  // all); without it the stream is reset with RST_STREAM.
  bool dropped_tcp = false;
  if (drop_ && srv_.dropper_) {
    // Let the bytes already written reach the client first, so it sees exactly the events sent.
    asio::steady_timer settle(srv_.io_, 100ms);
    co_await settle.async_wait(asio::as_tuple(use_awaitable));
    dropped_tcp = srv_.dropper_(peer_);
  }
  co_await reactor_->finish(status, drop_ && !dropped_tcp);
  delete reactor_;
  reactor_ = nullptr;
  --srv_.stats_.streams_active;
}

void Session::spawn_shard(std::shared_ptr<Shard> sh, std::string gtid, std::vector<binlogdata::TableLastPK> pks) {
  auto self = shared_from_this();
  asio::co_spawn(
      srv_.io_,
      [self, sh, gtid = std::move(gtid), pks = std::move(pks)]() mutable {
        return self->shard_main(sh, std::move(gtid), std::move(pks));
      },
      [self](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("vstream #{}: shard stream failed: {}", self->id_, ex.what());
          self->stop(grpc::Status(grpc::StatusCode::INTERNAL, ex.what()));
        }
      });
}

asio::awaitable<void> Session::shard_main(std::shared_ptr<Shard> sh, std::string gtid,
                                          std::vector<binlogdata::TableLastPK> pks) {
  auto self = shared_from_this();
  Backend& be = srv_.backend_;
  std::optional<GtidSet> pos;
  if (gtid == "current") {
    auto cur = co_await be.current_position(sh->keyspace, sh->shard);
    if (!cur) co_return fail(*sh, cur.error());
    pos = *cur;
    shard_gtid(*sh)->set_gtid(pos->to_string());
    // The tablet reports its start position right away (GTID + OTHER).
    if (!co_await push_events(evlist(vgtid_event(*sh), make(binlogdata::OTHER, sh.get())), sh->shard)) co_return;
  } else if (!gtid.empty()) {
    // vttablet refuses a start position its server does not contain before reading any binlog
    // (vitessio/vitess go/vt/vttablet/tabletserver/vstreamer/uvstreamer.go,
    // setStreamStartPosition): a restore, a failover to a server with fewer transactions, a
    // position of another server, or of another flavor (MariaDB/…, FilePos/…: run() let only
    // those and valid MySQL56 positions through). The INVALID_ARGUMENT reaches the client as the
    // tablet said it (docs/emulator.md: vtgate would first try the shard's other tablets).
    auto parsed = GtidSet::parse(gtid);
    auto cur = co_await be.current_position(sh->keyspace, sh->shard);
    if (!cur) co_return fail(*sh, cur.error());
    if (!parsed || !cur->contains(*parsed)) {
      co_return stop(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "GTIDSet Mismatch: requested source position:" + (parsed ? parsed->to_string() : gtid) +
                           ", current target vrep position: " + cur->to_string()));
    }
    pos = *parsed;
  }
  if (gtid.empty() || !pks.empty()) {
    if (!co_await copy_phase(*sh, pos, std::move(pks))) co_return;
  }
  co_await replicate(*sh, *pos, std::nullopt, nullptr);
}

}  // namespace sv::emulator
