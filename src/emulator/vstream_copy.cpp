// src/emulator/vstream_copy.cpp — a shard's copy phase as vttablet's vstreamer does it
// (copy_phase, copy_table): table by table in PK order from the last PK, with catch-up and the
// pre-encoded batch cache.
#include "emulator/vstream_session.hpp"

namespace sv::emulator {
namespace asio = boost::asio;
using asio::use_awaitable;
using namespace std::chrono_literals;

asio::awaitable<bool> Session::copy_phase(Shard& sh, std::optional<GtidSet>& pos,
                                          std::vector<binlogdata::TableLastPK> pks) {
  auto catalog = srv_.backend_.catalog();
  std::vector<std::string> tables;
  for (const auto& k : catalog) {
    if (k.name != sh.keyspace) continue;
    for (const auto& t : k.tables) {
      if (!table_selected(t->name)) continue;
      const auto& only = req_.flags().tables_to_copy();
      if (!only.empty() && std::find(only.begin(), only.end(), t->name) == only.end()) continue;
      tables.push_back(t->name);
    }
  }
  std::sort(tables.begin(), tables.end());
  // Every selected table in name order, as vttablet's buildTablePlan (vitessio/vitess
  // go/vt/vttablet/tabletserver/vstreamer/uvstreamer.go: sort.Strings(uvs.tablesToCopy)): a table
  // named in table_p_ks continues after its lastpk, the others are copied from scratch.
  CopyFilter filter;
  for (const auto& pk : pks) {
    if (pk.has_lastpk() && pk.lastpk().rows_size() > 0) filter.lastpks[pk.table_name()] = pk.lastpk();
  }
  for (const auto& table : tables) {
    std::optional<query::QueryResult> lastpk;
    if (auto it = filter.lastpks.find(table); it != filter.lastpks.end()) lastpk = it->second;
    if (!co_await copy_table(sh, pos, table, lastpk, filter)) co_return false;
    filter.copied.insert(table);
  }
  auto done = make(binlogdata::COPY_COMPLETED, &sh);
  std::vector<binlogdata::VEvent> evs{done};
  // vtgate adds its own marker, without keyspace and shard, to the batch of the shard that
  // completes the set: once every shard of the VGTID has sent COPY_COMPLETED
  // (vstream_manager.go, isCopyFullyCompleted). A shard that started from a position never
  // copies, so a stream mixing both never gets the final marker.
  copy_completed_.insert(sh.keyspace + "/" + sh.shard);
  const bool all_copied = std::all_of(
      vgtid_.shard_gtids().begin(), vgtid_.shard_gtids().end(),
      [&](const binlogdata::ShardGtid& s) { return copy_completed_.count(s.keyspace() + "/" + s.shard()) > 0; });
  if (all_copied) {
    auto all = make(binlogdata::COPY_COMPLETED, nullptr);
    evs.push_back(all);
  }
  co_return co_await push_events(evs, sh.shard);
}

asio::awaitable<bool> Session::copy_table(Shard& sh, std::optional<GtidSet>& pos, const std::string& table,
                                          std::optional<query::QueryResult> lastpk, CopyFilter& filter) {
  Backend& be = srv_.backend_;
  // Catch up on what changed since the saved position (rows already copied only).
  if (pos) {
    auto cur = co_await be.current_position(sh.keyspace, sh.shard);
    if (!cur) co_return (fail(sh, cur.error()), false);
    if (!pos->contains(*cur) && !co_await replicate(sh, *pos, *cur, &filter)) co_return false;
    *pos = *cur;
  }
  // Pre-encoded mode: replay a whole table copy when the same snapshot was copied before.
  TableSchemaPtr schema;
  for (const auto& k : be.catalog()) {
    if (k.name != sh.keyspace) continue;
    for (const auto& t : k.tables) {
      if (t->name == table) schema = t;
    }
  }
  if (!schema) co_return (fail(sh, system_error("table " + table + " is not present in the database")), false);
  // The rule's select list, planned before the copy's query as the rowstreamer's buildPlan does
  // (vitessio/vitess go/vt/vttablet/tabletserver/vstreamer/rowstreamer.go): ROW events carry the
  // selected columns only, while lastpk stays over the table's primary key (its pkColumns index
  // the full row the rowstreamer selects from MySQL).
  auto planned = projection_or_fail(sh, *schema);
  if (!planned) co_return false;
  Projection projection = std::move(*planned);
  const bool use_cache = srv_.options_.pre_encoded && be.deterministic_copy();
  std::string key;
  std::shared_ptr<const VStreamServer::Impl::CachedTable> cached;
  GtidSet snapshot;
  std::unique_ptr<CopyCursor> cursor;
  if (use_cache) {
    auto cur = co_await be.current_position(sh.keyspace, sh.shard);
    if (!cur) co_return (fail(sh, cur.error()), false);
    snapshot = *cur;
    key = sh.keyspace + "|" + sh.shard + "|" + table + "|" + std::to_string(schema->version) + "|" +
          snapshot.to_string() + "|" + (lastpk ? lastpk->rows(0).SerializeAsString() : std::string()) + "|" +
          std::to_string(srv_.options_.copy_packet_bytes) +
          (req_.flags().exclude_keyspace_from_table_name() ? "|t" : "|kt");
    if (projection) {
      for (std::size_t c : *projection) key += "|" + std::to_string(c);
    }
    auto it = srv_.cache_.find(key);
    if (it != srv_.cache_.end()) {
      cached = it->second;
      ++srv_.stats_.cache_hits;
    }
  }
  if (!cached) {
    const query::Row* lp = lastpk ? &lastpk->rows(0) : nullptr;
    auto c = co_await be.open_copy(sh.keyspace, sh.shard, table, lp);
    if (!c) co_return (fail(sh, c.error()), false);
    cursor = std::move(*c);
    if (cursor->schema()->version != schema->version) {
      // The snapshot's schema is newer than the catalog's: plan the select list on it.
      schema = cursor->schema();
      planned = projection_or_fail(sh, *schema);
      if (!planned) co_return false;
      projection = std::move(*planned);
    }
    schema = cursor->schema();
    // Fast-forward: changes between our position and the snapshot, for rows already copied.
    if (pos && !pos->contains(cursor->position()) && !co_await replicate(sh, *pos, cursor->position(), &filter)) {
      co_return false;
    }
    snapshot = cursor->position();
  }
  pos = snapshot;
  auto* sg = shard_gtid(sh);
  sg->set_gtid(snapshot.to_string());
  // BEGIN, FIELD, VGTID (with the lastpk reached so far, if any)
  if (!co_await push_events(evlist(make(binlogdata::BEGIN, &sh), field_event(sh, *schema, projection), vgtid_event(sh)),
                            sh.shard))
    co_return false;
  sh.fields_sent[table] = schema->version;
  sh.projections[table] = projection;

  // The rowstreamer's pkfields carry a PK column's name and type only (vitessio/vitess
  // go/vt/vttablet/tabletserver/vstreamer/rowstreamer.go, streamQuery).
  query::QueryResult pk_template;
  for (std::size_t c : schema->pk_columns) {
    auto* f = pk_template.add_fields();
    f->set_name(schema->fields[c].name());
    f->set_type(schema->fields[c].type());
  }
  auto set_lastpk = [&](const query::Row& pkrow) {
    query::QueryResult qr = pk_template;
    *qr.add_rows() = pkrow;
    binlogdata::TableLastPK* slot = nullptr;
    for (auto& t : *sg->mutable_table_p_ks()) {
      if (t.table_name() == table) slot = &t;
    }
    if (!slot) {
      slot = sg->add_table_p_ks();
      slot->set_table_name(table);
    }
    *slot->mutable_lastpk() = qr;
    filter.lastpks[table] = qr;
  };
  // One response per batch: [BEGIN (all but the first batch)] ROW... VGTID(lastpk) COMMIT.
  auto finish_batch = [&](Piece rows, const query::Row& pkrow, bool begin) -> asio::awaitable<bool> {
    set_lastpk(pkrow);
    PieceBuilder tail;
    tail.add(vgtid_event(sh));
    tail.add(make(binlogdata::COMMIT, &sh));
    Outgoing out;
    if (begin) {
      PieceBuilder head;
      head.add(make(binlogdata::BEGIN, &sh));
      out.pieces.push_back(head.take());
    }
    out.pieces.push_back(std::move(rows));
    out.pieces.push_back(tail.take());
    co_return co_await push(std::move(out), sh.shard);
  };

  bool first = true;
  if (cached) {
    for (const auto& b : *cached) {
      if (!co_await finish_batch(b.rows, b.lastpk, !first)) co_return false;
      first = false;
    }
  } else {
    auto recording = use_cache ? std::make_shared<VStreamServer::Impl::CachedTable>() : nullptr;
    const std::string tname = table_name(sh, table);
    for (;;) {
      PieceBuilder rows;
      query::Row last;
      std::size_t count = 0;
      while (rows.bytes.size() < srv_.options_.copy_packet_bytes) {
        // Ask for about as many rows as still fit in the packet (rows seen so far give the size).
        const std::size_t left = srv_.options_.copy_packet_bytes - rows.bytes.size();
        const std::size_t avg = count > 0 ? rows.bytes.size() / count : 0;
        const std::size_t want = avg == 0 ? 4 : std::clamp<std::size_t>(left / avg + 1, 1, 256);
        auto batch = co_await cursor->next(want);
        if (!batch) co_return (fail(sh, batch.error()), false);
        if (end_) co_return false;
        if (batch->empty()) break;
        for (auto& r : *batch) {
          // One ROW event per copied row, as the tablet's rowstreamer sends them.
          binlogdata::VEvent ev;
          ev.set_type(binlogdata::ROW);
          ev.set_keyspace(sh.keyspace);
          ev.set_shard(sh.shard);
          auto* re = ev.mutable_row_event();
          re->set_table_name(tname);
          re->set_keyspace(sh.keyspace);
          re->set_shard(sh.shard);
          *re->add_row_changes()->mutable_after() = project_row(r, projection);
          rows.add(ev);
          ++count;
          last = std::move(r);
        }
      }
      if (count == 0) break;
      query::Row pkrow;
      {
        std::size_t off = 0;
        std::vector<std::pair<std::int64_t, std::size_t>> spans;
        for (int i = 0; i < last.lengths_size(); ++i) {
          spans.emplace_back(last.lengths(i), off);
          if (last.lengths(i) > 0) off += static_cast<std::size_t>(last.lengths(i));
        }
        for (std::size_t c : schema->pk_columns) {
          pkrow.add_lengths(spans[c].first);
          if (spans[c].first > 0)
            pkrow.mutable_values()->append(last.values(), spans[c].second, static_cast<std::size_t>(spans[c].first));
        }
      }
      Piece piece = rows.take();
      if (recording) recording->push_back({piece, pkrow});
      if (!co_await finish_batch(std::move(piece), pkrow, !first)) co_return false;
      first = false;
    }
    if (recording) srv_.cache_[key] = recording;
  }
  // Table done: its entry leaves table_p_ks (LASTPK completed → VGTID without it).
  auto& pks = *sg->mutable_table_p_ks();
  for (int i = 0; i < pks.size(); ++i) {
    if (pks[i].table_name() == table) {
      pks.DeleteSubrange(i, 1);
      break;
    }
  }
  co_return co_await push_events(evlist(make(binlogdata::BEGIN, &sh), vgtid_event(sh), make(binlogdata::COMMIT, &sh)),
                                 sh.shard);
}

}  // namespace sv::emulator
