// src/engine: VStream responses → committed chunks of rows (see decoder.hpp).
#include "engine/decoder.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace sv::engine {

std::string format_utc_seconds(std::int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

namespace {

bool is_computed(const std::string& name) {
  return name == kUpdatedAtColumn || name == kDeletedAtColumn || name == kMetadataColumn;
}

//! `ks.table` or `table` → `table`.
std::string_view bare_table(std::string_view name) {
  const auto dot = name.find('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

}  // namespace

Decoder::Decoder(DecoderOptions options) : options_(std::move(options)) {
  for (const auto& c : options_.columns) {
    if (c == kUpdatedAtColumn) select_updated_at_ = true;
    if (c == kDeletedAtColumn) select_deleted_at_ = true;
  }
}

void Decoder::reset(const std::vector<ShardPlan>& plans) {
  shards_.clear();
  sequence_ = 0;  // per attempt, as the Go connector counts
  for (const auto& p : plans) {
    auto [it, inserted] = shards_.try_emplace(p.shard);
    (void)inserted;
    ShardState& s = it->second;
    s.plan = p;
    s.working = p.cursor;
    s.copying = p.copying;
    s.pending = options_.row_writer();
  }
}

bool Decoder::all_done() const {
  for (const auto& [name, s] : shards_) {
    if (!s.done) return false;
  }
  return true;
}

bool Decoder::done(const std::string& shard) const {
  auto it = shards_.find(shard);
  return it != shards_.end() && it->second.done;
}

const vitess::TableCursor& Decoder::cursor(const std::string& shard) const { return shards_.at(shard).plan.cursor; }

Decoder::ShardState* Decoder::shard_for(std::string_view shard) {
  if (!shard.empty()) {
    auto it = shards_.find(shard);
    return it == shards_.end() ? nullptr : &it->second;
  }
  // Events without a shard (older vtgates): only unambiguous with one shard.
  return shards_.size() == 1 ? &shards_.begin()->second : nullptr;
}

DecodeOutput Decoder::process(const vtgate::VStreamResponse& response, std::int64_t emitted_at, std::int64_t now_ns) {
  DecodeOutput out;
  // The metadata's vgtid_position is the position after this response (as the Go connector
  // reports it), so find the response's last VGTID first.
  std::string position;
  if (options_.include_metadata) {
    for (int i = response.events_size() - 1; i >= 0 && position.empty(); --i) {
      const auto& ev = response.events(i);
      if (ev.type() != binlogdata::VGTID) continue;
      for (const auto& sg : ev.vgtid().shard_gtids()) {
        if (sg.shard() == ev.shard() || ev.vgtid().shard_gtids_size() == 1) position = sg.gtid();
      }
    }
    if (position.empty() && shards_.size() == 1) position = shards_.begin()->second.working.position();
  }
  for (const auto& ev : response.events()) {
    if (out.error || out.journal) break;
    if (ev.timestamp() > out.last_event_time) out.last_event_time = ev.timestamp();
    on_event(ev, emitted_at, now_ns, position, out);
  }
  return out;
}

// process()'s metadata position for a response in wire form: the same search, front to back (the
// last VGTID event that names a position wins). A malformed response is left to the main pass.
std::string Decoder::wire_position(std::string_view response) {
  std::string position;
  vitess::raw::ResponseReader reader(response);
  vitess::raw::EventHeader h;
  for (;;) {
    auto more = reader.next(h);
    if (!more || !*more) break;
    if (h.type != binlogdata::VGTID) continue;
    if (!event_.ParseFromArray(h.bytes.data(), static_cast<int>(h.bytes.size()))) break;
    std::string found;
    for (const auto& sg : event_.vgtid().shard_gtids()) {
      if (sg.shard() == event_.shard() || event_.vgtid().shard_gtids_size() == 1) found = sg.gtid();
    }
    if (!found.empty()) position = std::move(found);
  }
  if (position.empty() && shards_.size() == 1) position = shards_.begin()->second.working.position();
  return position;
}

DecodeOutput Decoder::process_wire(std::string_view response, std::int64_t emitted_at, std::int64_t now_ns) {
  DecodeOutput out;
  std::string position;
  if (options_.include_metadata) position = wire_position(response);
  vitess::raw::ResponseReader reader(response);
  vitess::raw::EventHeader h;
  while (!out.error && !out.journal) {
    auto more = reader.next(h);
    if (!more) {
      out.error = more.error();
      break;
    }
    if (!*more) break;
    if (h.timestamp > out.last_event_time) out.last_event_time = h.timestamp;
    if (h.type == binlogdata::ROW) {
      // The hot path: rows rendered from views into `response`, no message built.
      if (auto st = rows_.open(h); !st) {
        out.error = st.error();
        break;
      }
      if (bare_table(rows_.table_name()) != options_.table) continue;
      ShardState* s = shard_for(h.shard);
      if (s && !s->done) on_wire_row(*s, h.timestamp, emitted_at, now_ns, position, out);
      continue;
    }
    if (!event_.ParseFromArray(h.bytes.data(), static_cast<int>(h.bytes.size()))) {
      out.error =
          system_error(fmt::format("malformed VStream response: a binlogdata.VEvent of type {} protobuf "
                                   "cannot parse",
                                   h.type));
      break;
    }
    on_event(event_, emitted_at, now_ns, position, out);
  }
  return out;
}

void Decoder::on_event(const binlogdata::VEvent& ev, std::int64_t emitted_at, std::int64_t now_ns,
                       const std::string& position, DecodeOutput& out) {
  switch (ev.type()) {
    case binlogdata::FIELD: {
      if (bare_table(ev.field_event().table_name()) != options_.table) break;
      ShardState* s = shard_for(ev.shard());
      if (s && !s->done) on_field(*s, ev.field_event(), out);
      break;
    }
    case binlogdata::ROW: {
      if (bare_table(ev.row_event().table_name()) != options_.table) break;
      ShardState* s = shard_for(ev.shard());
      if (s && !s->done) on_row(*s, ev, emitted_at, now_ns, position, out);
      break;
    }
    case binlogdata::VGTID: {
      ShardState* s = shard_for(ev.shard());
      if (s && !s->done) {
        on_vgtid(*s, ev.vgtid(), out);
      } else if (!s && ev.shard().empty()) {
        for (auto& [name, st] : shards_) {
          if (!st.done) on_vgtid(st, ev.vgtid(), out);
        }
      }
      break;
    }
    case binlogdata::LASTPK: {
      ShardState* s = shard_for(ev.shard());
      if (s && !s->done && ev.last_p_k_event().has_table_last_p_k()) {
        const auto& t = ev.last_p_k_event().table_last_p_k();
        if (t.has_lastpk() && t.lastpk().rows_size() > 0) *s->working.mutable_last_known_pk() = t.lastpk();
      }
      break;
    }
    case binlogdata::COPY_COMPLETED: {
      if (ev.keyspace().empty() && ev.shard().empty()) {
        for (auto& [name, st] : shards_) {
          if (st.copying && !st.done) on_copy_completed(st, out);
        }
      } else if (ShardState* s = shard_for(ev.shard()); s && s->copying && !s->done) {
        on_copy_completed(*s, out);
      }
      break;
    }
    case binlogdata::JOURNAL:
      out.journal = ev.journal();
      out.journal_shard = ev.shard();
      break;
    default:
      // BEGIN/COMMIT/DDL/OTHER/HEARTBEAT/VERSION…: positions come with the VGTID events, and a
      // DDL is followed by a FIELD event before the next row of the table.
      break;
  }
}

Error missing_columns_error(const DecoderOptions& options, const std::vector<std::string>& missing) {
  return config_error(
      fmt::format("table '{}.{}' no longer has the column(s) {} selected in the catalog: refresh the source schema in "
                  "Airbyte and reset the stream '{}'",
                  options.keyspace, options.table, fmt::join(missing, ", "), options.descriptor.name));
}

void Decoder::on_field(ShardState& s, const binlogdata::FieldEvent& fe, DecodeOutput& out) {
  s.columns = vitess::make_columns(fe.fields(), options_.values, fe.enum_set_string_values());
  s.selection.clear();
  std::map<std::string, std::uint32_t> by_name;
  for (std::uint32_t i = 0; i < s.columns.size(); ++i) by_name.emplace(s.columns[i].name, i);
  if (options_.columns.empty()) {
    for (std::uint32_t i = 0; i < s.columns.size(); ++i) s.selection.push_back(i);
  } else {
    std::vector<std::string> missing;
    std::set<std::string> selected;
    for (const auto& name : options_.columns) {
      selected.insert(name);
      if (is_computed(name)) continue;
      auto it = by_name.find(name);
      if (it == by_name.end()) {
        missing.push_back(name);
      } else {
        s.selection.push_back(it->second);
      }
    }
    if (!missing.empty()) {
      out.error = missing_columns_error(options_, missing);
      return;
    }
    if (options_.select_list.empty()) {
      for (const auto& c : s.columns) {
        if (!selected.count(c.name) && warned_columns_.insert(c.name).second) out.new_columns.push_back(c.name);
      }
    } else {
      // Only the select list arrives (the primary key columns it adds are not news).
      for (const auto& c : options_.unselected_columns) {
        if (warned_columns_.insert(c).second) out.new_columns.push_back(c);
      }
    }
    check_types(s, out);
  }
  s.have_fields = true;
}

// Values always follow the FIELD event's types (an ALTER ... MODIFY mid-sync included); a type
// that discover would now declare differently is reported, so the user refreshes the schema
// before the destination rejects or mistypes the values (docs/type-mapping.md, "Type changes").
void Decoder::check_types(const ShardState& s, DecodeOutput& out) {
  for (std::size_t k = 0; k < s.selection.size(); ++k) {
    const vitess::Column& c = s.columns[s.selection[k]];
    auto it = std::find(options_.columns.begin(), options_.columns.end(), c.name);
    const auto index = static_cast<std::size_t>(it - options_.columns.begin());
    if (c.column_type.empty() || index >= options_.column_types.size()) continue;  // nothing to compare
    const airbyte::PropertyType& declared = options_.column_types[index];
    if (declared.types.empty()) continue;
    const vitess::PropertySchema now = vitess::property_schema(c.column_type, true, options_.values);
    const bool same = std::find(declared.types.begin(), declared.types.end(), now.type) != declared.types.end() &&
                      declared.format == now.format && declared.airbyte_type == now.airbyte_type;
    const std::string what = fmt::format("{} ({})", c.name, c.column_type);
    if (!same && warned_types_.insert(what).second) out.changed_types.push_back(what);
  }
}

void Decoder::on_row(ShardState& s, const binlogdata::VEvent& ev, std::int64_t emitted_at, std::int64_t now_ns,
                     const std::string& position, DecodeOutput& out) {
  if (!s.have_fields) {
    out.error = system_error(
        fmt::format("VStream sent rows of '{}' on shard {} before its FIELD event", options_.table, s.plan.shard));
    return;
  }
  for (const auto& change : ev.row_event().row_changes()) {
    if (change.has_after()) {
      if (!write_record(s, change.after(), emitted_at, ev.timestamp(), false, now_ns, position, out)) return;
    } else if (change.has_before() && options_.capture_deletes) {
      if (!write_record(s, change.before(), emitted_at, ev.timestamp(), true, now_ns, position, out)) return;
    }
  }
}

void Decoder::on_wire_row(ShardState& s, std::int64_t event_time, std::int64_t emitted_at, std::int64_t now_ns,
                          const std::string& position, DecodeOutput& out) {
  if (!s.have_fields) {
    out.error = system_error(
        fmt::format("VStream sent rows of '{}' on shard {} before its FIELD event", options_.table, s.plan.shard));
    return;
  }
  vitess::raw::RowChangeView change;
  for (;;) {
    auto more = rows_.next(change);
    if (!more) {
      out.error = more.error();
      return;
    }
    if (!*more) return;
    if (change.after.present) {
      if (!write_record(s, change.after.row, emitted_at, event_time, false, now_ns, position, out)) return;
    } else if (change.before.present && options_.capture_deletes) {
      if (!write_record(s, change.before.row, emitted_at, event_time, true, now_ns, position, out)) return;
    }
  }
}

template <class RowForm>
bool Decoder::write_record(ShardState& s, const RowForm& row, std::int64_t emitted_at, std::int64_t event_time,
                           bool deleted, std::int64_t now_ns, const std::string& position, DecodeOutput& out) {
  if (auto st = vitess::split_row(row, s.columns.size(), cells_); !st) {
    out.error = system_error(
        fmt::format("malformed row of '{}' on shard {}: {}", options_.table, s.plan.shard, st.error().message));
    return false;
  }
  RowView view;
  view.emitted_at = emitted_at;
  view.columns = s.columns;
  view.cells = cells_;
  view.selection = s.selection;
  std::string updated_at;
  if (select_updated_at_) {
    view.updated_at.present = true;
    if (event_time > 0) {  // copy-phase rows have no change time: null
      updated_at = format_utc_seconds(event_time);
      view.updated_at = ComputedText{true, false, updated_at};
    }
  }
  std::string deleted_at;
  if (select_deleted_at_ || deleted) {
    view.deleted_at.present = true;
    if (deleted) {
      deleted_at = format_utc_seconds(event_time > 0 ? event_time : emitted_at / 1000);
      view.deleted_at = ComputedText{true, false, deleted_at};
    }
  }
  RowMetadata metadata;
  if (options_.include_metadata) {
    metadata = RowMetadata{now_ns, ++sequence_, position};
    view.metadata = &metadata;
  }
  s.pending->write(view);
  return true;
}

void Decoder::on_vgtid(ShardState& s, const binlogdata::VGtid& vgtid, DecodeOutput& out) {
  const binlogdata::ShardGtid* mine = nullptr;
  for (const auto& sg : vgtid.shard_gtids()) {
    if (sg.shard() == s.plan.shard && (sg.keyspace().empty() || sg.keyspace() == options_.keyspace)) mine = &sg;
  }
  if (!mine && vgtid.shard_gtids_size() == 1 && shards_.size() == 1) mine = &vgtid.shard_gtids(0);
  if (!mine) return;
  vitess::TableCursor next = s.working;
  next.set_position(mine->gtid());
  next.clear_last_known_pk();
  for (const auto& t : mine->table_p_ks()) {
    if ((t.table_name().empty() || bare_table(t.table_name()) == options_.table) && t.has_lastpk() &&
        t.lastpk().rows_size() > 0) {
      *next.mutable_last_known_pk() = t.lastpk();
    }
  }
  s.working = next;
  if (s.copying && !vitess::has_last_pk(next)) {
    // Inside a copy, a position without lastpk is the table's start or end: resuming from it would
    // skip the copy, so it only becomes the cursor once COPY_COMPLETED confirms the copy is done.
    s.copy_end = next;
    return;
  }
  commit(s, next, out);
  check_stop(s, out);
}

void Decoder::on_copy_completed(ShardState& s, DecodeOutput& out) {
  s.copying = false;
  vitess::TableCursor end = s.copy_end ? *s.copy_end : s.working;
  end.clear_last_known_pk();
  s.copy_end.reset();
  commit(s, end, out);
  if (s.plan.stop_after_copy) {
    s.done = true;
    out.finished.push_back(s.plan.shard);
    return;
  }
  check_stop(s, out);
}

void Decoder::commit(ShardState& s, const vitess::TableCursor& cursor, DecodeOutput& out) {
  s.plan.cursor = cursor;
  Commit c;
  c.shard = s.plan.shard;
  c.count = s.pending->count();
  c.lines = s.pending->take();
  c.cursor = cursor;
  out.commits.push_back(std::move(c));
}

void Decoder::check_stop(ShardState& s, DecodeOutput& out) {
  if (s.copying || s.done || !s.plan.stop || vitess::has_last_pk(s.plan.cursor)) return;
  auto pos = vitess::GtidSet::parse(s.plan.cursor.position());
  if (!pos) return;  // not a MySQL56 position: keep reading (never stop on a guess)
  if (pos->contains(*s.plan.stop)) {
    s.done = true;
    out.finished.push_back(s.plan.shard);
  }
}

}  // namespace sv::engine
