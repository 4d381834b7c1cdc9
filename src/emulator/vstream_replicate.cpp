// src/emulator/vstream_replicate.cpp — a shard's replication from a GTID position (replicate) and
// the JOURNAL event of a reshard or MoveTables (on_journal).
#include "emulator/vstream_session.hpp"

namespace sv::emulator {
namespace asio = boost::asio;
using asio::use_awaitable;
using namespace std::chrono_literals;

asio::awaitable<bool> Session::replicate(Shard& sh, GtidSet pos, std::optional<GtidSet> until,
                                         const CopyFilter* copy_filter) {
  Backend& be = srv_.backend_;
  auto opened = co_await be.open_replication(sh.keyspace, sh.shard, pos);
  if (!opened) co_return (fail(sh, opened.error()), false);
  auto cursor = std::move(*opened);
  auto* sg = shard_gtid(sh);
  while (!end_) {
    if (until && pos.contains(*until)) co_return true;
    auto next = co_await cursor->next(srv_.options_.poll);
    if (!next) co_return (fail(sh, next.error()), false);
    if (end_) co_return false;
    if (!*next) continue;
    Transaction& tx = **next;
    pos = tx.position;
    auto stamp = [&](binlogdata::VEvent ev) {
      ev.set_timestamp(tx.timestamp);
      return ev;
    };
    std::vector<binlogdata::VEvent> evs;
    switch (tx.kind) {
      case Transaction::Kind::rows: {
        evs.push_back(stamp(make(binlogdata::BEGIN, &sh)));
        for (const auto& tr : tx.rows) {
          if (!table_selected(tr.schema->name)) continue;
          // A new schema version (first rows, or after a DDL) is planned again at its TABLE_MAP,
          // as vstreamer's buildTablePlan does: a selected column the DDL dropped ends the stream.
          auto sent = sh.fields_sent.find(tr.schema->name);
          const bool new_fields = sent == sh.fields_sent.end() || sent->second != tr.schema->version;
          if (new_fields) {
            auto planned = projection_or_fail(sh, *tr.schema);
            if (!planned) co_return false;
            sh.projections[tr.schema->name] = std::move(*planned);
          }
          const Projection& projection = sh.projections[tr.schema->name];
          binlogdata::VEvent ev = stamp(make(binlogdata::ROW, &sh));
          auto* re = ev.mutable_row_event();
          re->set_table_name(table_name(sh, tr.schema->name));
          re->set_keyspace(sh.keyspace);
          re->set_shard(sh.shard);
          re->set_flags(1);  // STMT_END_F, as MySQL sets it on the last rows event of a statement
          for (const auto& ch : tr.changes) {
            if (!row_passes(*tr.schema, ch, copy_filter)) continue;
            auto* rc = re->add_row_changes();
            auto conv = [&](const query::Row& r) {
              return project_row(srv_.options_.enum_set_labels ? r : enum_set_to_numbers(r, *tr.schema), projection);
            };
            if (ch.before) *rc->mutable_before() = conv(*ch.before);
            if (ch.after) *rc->mutable_after() = conv(*ch.after);
          }
          if (re->row_changes_size() == 0) continue;
          if (new_fields) {
            evs.push_back(stamp(field_event(sh, *tr.schema, projection)));
            sh.fields_sent[tr.schema->name] = tr.schema->version;
          }
          evs.push_back(std::move(ev));
        }
        sg->set_gtid(pos.to_string());
        evs.push_back(stamp(vgtid_event(sh)));
        evs.push_back(stamp(make(binlogdata::COMMIT, &sh)));
        break;
      }
      case Transaction::Kind::ddl: {
        sg->set_gtid(pos.to_string());
        evs.push_back(stamp(vgtid_event(sh)));
        const bool mine = tx.new_schema && table_selected(tx.new_schema->name);
        auto ev = stamp(make(mine ? binlogdata::DDL : binlogdata::OTHER, &sh));
        if (mine) {
          ev.set_statement(tx.statement);
          sh.fields_sent.erase(tx.new_schema->name);  // the next ROW of that table gets a FIELD
        }
        evs.push_back(std::move(ev));
        break;
      }
      case Transaction::Kind::other: {
        sg->set_gtid(pos.to_string());
        evs.push_back(stamp(vgtid_event(sh)));
        evs.push_back(stamp(make(binlogdata::OTHER, &sh)));
        break;
      }
      case Transaction::Kind::journal: {
        if (tx.journal) co_await on_journal(sh, *tx.journal, tx.timestamp, pos);
        co_return false;  // this shard's stream is over either way
      }
    }
    if (!co_await push_events(evs, sh.shard)) co_return false;
  }
  co_return false;
}

asio::awaitable<void> Session::on_journal(Shard& sh, const JournalInfo& j, std::int64_t ts, const GtidSet& pos) {
  // vitessio/vitess go/vt/vtgate/vstream_manager.go, streamFromTablet and getJournalEvent.
  auto* sg = shard_gtid(sh);
  const auto& flags = req_.flags();
  // A SHARDS journal is passed on, per participant as each reaches it, with the events that
  // follow it in the tablet's batch up to the COMMIT (the journal row's own transaction) when
  // stop_on_reshard or include_reshard_journal_events is set; otherwise vtgate keeps it.
  if (j.shards_migration && (flags.stop_on_reshard() || flags.include_reshard_journal_events())) {
    binlogdata::VEvent ev = make(binlogdata::JOURNAL, &sh);
    ev.set_timestamp(ts);
    auto* jr = ev.mutable_journal();
    jr->set_id(j.id);
    jr->set_migration_type(binlogdata::SHARDS);
    for (const auto& t : j.tables) jr->add_tables(t);
    jr->set_local_position(sg->gtid());
    for (const auto& t : j.targets) {
      auto* target = jr->add_shard_gtids();
      target->set_keyspace(t.keyspace);
      target->set_shard(t.shard);
      target->set_gtid(t.position.to_string());
    }
    for (const auto& p : j.participants) {
      auto* ks = jr->add_participants();
      ks->set_keyspace(sh.keyspace);
      ks->set_shard(p);
    }
    for (const auto& w : j.source_workflows) jr->add_source_workflows(w);
    sg->set_gtid(pos.to_string());  // the journal row's transaction
    auto begin = make(binlogdata::BEGIN, &sh);
    auto vgtid = vgtid_event(sh);
    auto commit = make(binlogdata::COMMIT, &sh);
    begin.set_timestamp(ts);
    vgtid.set_timestamp(ts);
    commit.set_timestamp(ts);
    if (!co_await push_events(evlist(begin, ev, vgtid, commit), sh.shard)) co_return;
  }
  // getJournalEvent ignores TABLES migrations (MoveTables): the stream of that shard goes on in
  // Vitess; the emulator's backends write no such journal.
  if (!j.shards_migration) co_return;

  // Every participant must be in this stream, else vtgate cannot migrate it: INTERNAL, not
  // retried (shouldRetry).
  std::set<std::string> in_stream;
  for (const auto& s : vgtid_.shard_gtids()) {
    if (s.keyspace() == sh.keyspace) in_stream.insert(s.shard());
  }
  std::size_t present = 0;
  for (const auto& p : j.participants) present += in_stream.count(p);
  if (present != j.participants.size()) {
    std::string parts, stream;
    for (const auto& p : j.participants) {
      parts += (parts.empty() ? "" : " ") + std::string("keyspace:\"") + sh.keyspace + "\" shard:\"" + p + "\"";
    }
    for (const auto& s : vgtid_.shard_gtids()) stream += (stream.empty() ? "" : " ") + go_text(s);
    const std::string tablet = tablet_of(sh.keyspace, sh.shard);
    const std::string at = go_text(*sg);
    stop(grpc::Status(grpc::StatusCode::INTERNAL,
                      "error starting stream from shard GTID " + at + ": error in vstream for " + sh.keyspace + "/" +
                          sh.shard + " on tablet " + tablet + ": error getting journal event for shard GTID " + at +
                          " on tablet " + tablet + ": not all journaling participants are in the stream: journal: [" +
                          parts + "], stream: [" + stream + "]"));
    co_return;
  }
  auto& arrived = journal_arrivals_[j.id];
  arrived.insert(sh.shard);
  if (arrived.size() < j.participants.size()) co_return;  // the last participant does the switch

  if (flags.stop_on_reshard()) {
    // No new streams; the participants' streams end (EOF) at least stopOnReshardDelay (500 ms)
    // after the journal, and the VStream ends once no other shard streams.
    bool others = false;
    for (const auto& s : vgtid_.shard_gtids()) {
      if (s.keyspace() != sh.keyspace ||
          std::find(j.participants.begin(), j.participants.end(), s.shard()) == j.participants.end()) {
        others = true;
      }
    }
    if (others) co_return;
    asio::steady_timer delay(srv_.io_, 500ms);
    co_await delay.async_wait(asio::as_tuple(use_awaitable));
    Outgoing end;
    end.end_after = true;
    co_await push(std::move(end), sh.shard);
    co_return;
  }
  // Migrate: replace the participants by the new shards and go on streaming from there.
  auto* list = vgtid_.mutable_shard_gtids();
  for (int i = list->size() - 1; i >= 0; --i) {
    const auto& s = (*list)[i];
    if (s.keyspace() == sh.keyspace &&
        std::find(j.participants.begin(), j.participants.end(), s.shard()) != j.participants.end()) {
      list->DeleteSubrange(i, 1);
    }
  }
  for (const auto& t : j.targets) {
    auto* s = list->Add();
    s->set_keyspace(t.keyspace);
    s->set_shard(t.shard);
    s->set_gtid(t.position.to_string());
    auto nsh = std::make_shared<Shard>();
    nsh->keyspace = t.keyspace;
    nsh->shard = t.shard;
    spawn_shard(nsh, t.position.to_string(), {});
  }
}

}  // namespace sv::emulator
