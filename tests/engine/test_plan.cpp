// tests/engine: planning (engine/plan.hpp) without I/O — starting cursors from state, config and
// starting_gtids, stop positions, when a shard is finished, start points and key-range overlap.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "airbyte/config.hpp"
#include "engine/plan.hpp"
#include "vitess/cursor.hpp"

using namespace sv;
using namespace sv::engine;

namespace {

const std::string kUuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
std::string pos(int last) { return "MySQL56/" + kUuid + ":1-" + std::to_string(last); }

airbyte::Config config(const std::string& extra = "") {
  auto c = airbyte::parse_config(R"({"host":"h","database":"ks","username":"u","password":"p")" +
                                 (extra.empty() ? std::string() : "," + extra) + "}");
  REQUIRE(c.ok());
  return *c;
}

const Positions kCurrent{{"-80", pos(10)}, {"80-", pos(20)}};
const std::string kStream = "t";
const std::string kKeyspace = "ks";

Result<Cursors> plan(const airbyte::Config& cfg, ReadMode mode, const std::optional<airbyte::StreamState>& saved = {}) {
  return plan_cursors(PlanInputs{cfg, kStream, kKeyspace, mode, saved, kCurrent});
}

}  // namespace

TEST_CASE("plan_cursors: without state every serving shard starts a copy, or the config's shards") {
  auto all = plan(config(), ReadMode{});
  REQUIRE(all.ok());
  CHECK(keys(*all) == std::vector<std::string>{"-80", "80-"});
  CHECK(all->at("-80").position().empty());
  CHECK(all->at("80-").keyspace() == "ks");

  auto some = plan(config(R"("shards":"80-")"), ReadMode{});
  REQUIRE(some.ok());
  CHECK(keys(*some) == std::vector<std::string>{"80-"});

  auto missing = plan(config(R"("shards":"-40")"), ReadMode{});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().type == FailureType::config_error);
  CHECK(missing.error().message == "shard -40 does not exist on the source database (serving shards of 'ks': -80,80-)");
}

TEST_CASE("plan_cursors: starting_gtids start incremental shards; 'current' is the peeked position") {
  const auto cfg = config(R"("starting_gtids":"{\"ks\":{\"-80\":\"current\",\"80-\":\")" + pos(5) + R"(\"}}")");
  auto inc = plan(cfg, ReadMode{});
  REQUIRE(inc.ok());
  CHECK(inc->at("-80").position() == pos(10));
  CHECK(inc->at("80-").position() == pos(5));
  // full_refresh copies; starting_gtids do not apply.
  auto full = plan(cfg, ReadMode{true, false});
  REQUIRE(full.ok());
  CHECK(full->at("-80").position().empty());
  CHECK(full->at("80-").position().empty());
}

TEST_CASE("check_starting_gtids names the shard that is not served or not a GTID set") {
  CHECK(check_starting_gtids("ks", kCurrent, {{"-80", "current"}, {"80-", pos(3)}}).ok());
  auto unserved = check_starting_gtids("ks", kCurrent, {{"-40", "current"}});
  REQUIRE_FALSE(unserved.ok());
  CHECK(unserved.error().type == FailureType::config_error);
  CHECK(unserved.error().message ==
        "config field 'starting_gtids' names shard -40 of keyspace 'ks', which vtgate does not "
        "serve (serving "
        "shards: -80,80-)");
  auto invalid = check_starting_gtids("ks", kCurrent, {{"80-", "nonsense"}});
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.error().type == FailureType::config_error);
  CHECK(invalid.error().message.rfind("config field 'starting_gtids' has an invalid position for shard 80- of "
                                      "keyspace 'ks': ",
                                      0) == 0);
}

TEST_CASE("plan_cursors: the saved state's cursors win; a bad one is a config_error naming the shard") {
  airbyte::StreamState saved(Positions{{"-80", vitess::encode_cursor(vitess::make_cursor("", "", pos(7)))}});
  auto from_state = plan(config(), ReadMode{}, saved);
  REQUIRE(from_state.ok());
  CHECK(keys(*from_state) == std::vector<std::string>{"-80"});
  CHECK(from_state->at("-80").shard() == "-80");    // filled in from the state's key
  CHECK(from_state->at("-80").keyspace() == "ks");  // and from the stream
  CHECK(from_state->at("-80").position() == pos(7));

  airbyte::StreamState garbage(Positions{{"80-", "not a cursor"}});
  auto bad = plan(config(), ReadMode{}, garbage);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().type == FailureType::config_error);
  CHECK(bad.error().message.rfind("the saved state of stream 't' has an invalid cursor for shard '80-': ", 0) == 0);

  airbyte::StreamState bad_position({{"80-", vitess::encode_cursor(vitess::make_cursor("ks", "80-", "MySQL56/x"))}});
  auto bad_pos = plan(config(), ReadMode{}, bad_position);
  REQUIRE_FALSE(bad_pos.ok());
  CHECK(bad_pos.error().message.rfind("the saved state of stream 't' has an invalid position for shard '80-': ", 0) ==
        0);
  CHECK(bad_pos.error().message.find("; reset the stream 't'") != std::string::npos);
}

TEST_CASE("stop_of and shard_finished: an incremental shard is finished exactly at its peeked position") {
  REQUIRE(stop_of(kCurrent, "-80"));
  CHECK(*stop_of(kCurrent, "-80") == *vitess::GtidSet::parse(pos(10)));
  CHECK_FALSE(stop_of(kCurrent, "c0-"));
  CHECK_FALSE(stop_of(Positions{{"-80", ""}}, "-80"));

  const ReadMode incremental{};
  CHECK(shard_finished(incremental, kCurrent, vitess::make_cursor("ks", "-80", pos(10))));
  CHECK_FALSE(shard_finished(incremental, kCurrent, vitess::make_cursor("ks", "-80", pos(9))));
  CHECK_FALSE(
      shard_finished(incremental, kCurrent, vitess::make_cursor("ks", "-80", pos(11))));  // ahead: vtgate judges
  CHECK_FALSE(shard_finished(incremental, kCurrent, vitess::make_cursor("ks", "-80")));   // copy pending
  CHECK_FALSE(shard_finished(incremental, kCurrent, vitess::make_cursor("ks", "c0-", pos(10))));            // no stop
  CHECK_FALSE(shard_finished(ReadMode{false, true}, kCurrent, vitess::make_cursor("ks", "-80", pos(10))));  // follow

  const ReadMode full{true, false};
  CHECK(shard_finished(full, kCurrent, vitess::make_cursor("ks", "-80", pos(3))));  // copy finished earlier
  CHECK_FALSE(shard_finished(full, kCurrent, vitess::make_cursor("ks", "-80")));
}

TEST_CASE("plan_for and plan_until_journal say where a shard's read is done") {
  const auto c = vitess::make_cursor("ks", "80-", pos(4));
  auto inc = plan_for(ReadMode{}, kCurrent, c);
  CHECK(inc.shard == "80-");
  CHECK_FALSE(inc.copying);
  CHECK_FALSE(inc.stop_after_copy);
  REQUIRE(inc.stop);
  CHECK(*inc.stop == *vitess::GtidSet::parse(pos(20)));

  CHECK_FALSE(plan_for(ReadMode{false, true}, kCurrent, c).stop);  // follow never stops

  auto full = plan_for(ReadMode{true, false}, kCurrent, vitess::make_cursor("ks", "80-"));
  CHECK(full.copying);
  CHECK(full.stop_after_copy);
  CHECK_FALSE(full.stop);

  auto journal = plan_until_journal(vitess::make_cursor("ks", "80-"));
  CHECK(journal.copying);
  CHECK_FALSE(journal.stop_after_copy);
  CHECK_FALSE(journal.stop);
}

TEST_CASE(
    "start_point resumes a copy after lastpk from a fresh snapshot unless "
    "use_gtid_with_table_pks") {
  auto plain = start_point(vitess::make_cursor("ks", "-80", pos(4)), false);
  CHECK(plain.shard == "-80");
  CHECK(plain.gtid == pos(4));
  CHECK_FALSE(plain.lastpk);

  auto copying = vitess::make_cursor("ks", "-80", pos(4));
  auto* row = copying.mutable_last_known_pk()->add_rows();
  row->add_lengths(1);
  row->set_values("3");
  auto fresh = start_point(copying, false);
  CHECK(fresh.gtid.empty());
  REQUIRE(fresh.lastpk);
  CHECK(fresh.lastpk->rows_size() == 1);
  auto kept = start_point(copying, true);
  CHECK(kept.gtid == pos(4));
  CHECK(kept.lastpk);
}

TEST_CASE("ranges_overlap compares hex key ranges; names that are not ranges cover everything") {
  CHECK(ranges_overlap("-80", "-40"));
  CHECK(ranges_overlap("-80", "40-80"));
  CHECK_FALSE(ranges_overlap("-80", "80-"));
  CHECK_FALSE(ranges_overlap("80-", "-80"));
  CHECK(ranges_overlap("80-", "c0-"));
  CHECK(ranges_overlap("-", "40-80"));
  CHECK_FALSE(ranges_overlap("40-80", "80-c0"));
  CHECK(ranges_overlap("0", "-80"));
  CHECK(ranges_overlap("-80", "0"));
}

TEST_CASE("select_columns: a select list only for a strict subset of a known table, with its primary key") {
  vitess::TableInfo table;
  table.name = "t";
  for (const char* c : {"id", "a", "b", "c", "k2"}) table.columns.push_back({c, "int", false});
  table.primary_key = {"id", "k2"};
  airbyte::ConfiguredStream s;
  s.name = "t";
  s.keyspace = "ks";

  // Catalog order, computed columns left out, then the primary key columns the catalog lacks;
  // `unselected` = every table column outside the catalog, in table order (the PK ones too).
  s.columns = {"b", "_ab_cdc_updated_at", "a", "_ab_cdc_deleted_at", "_planetscale_metadata", "id"};
  auto sel = select_columns(s, &table);
  CHECK(sel.select_list == std::vector<std::string>{"b", "a", "id", "k2"});
  CHECK(sel.unselected == std::vector<std::string>{"c", "k2"});

  // A configured primary_key field counts as well.
  s.columns = {"a"};
  s.primary_key = {{"c"}};
  sel = select_columns(s, &table);
  CHECK(sel.select_list == std::vector<std::string>{"a", "id", "k2", "c"});
  CHECK(sel.unselected == std::vector<std::string>{"id", "b", "c", "k2"});
  s.primary_key.clear();

  // `SELECT *`: unknown table, no properties, every column (in any order), a column the table
  // does not have (the decoder's error names it at the FIELD event).
  CHECK(select_columns(s, nullptr).select_list.empty());
  s.columns.clear();
  CHECK(select_columns(s, &table).select_list.empty());
  s.columns = {"k2", "c", "b", "a", "id", "_ab_cdc_updated_at"};
  CHECK(select_columns(s, &table).select_list.empty());
  CHECK(select_columns(s, &table).unselected.empty());
  s.columns = {"a", "gone"};
  CHECK(select_columns(s, &table).select_list.empty());
  // Only the key is missing from a catalog that lists every other column: still a strict subset
  // of nothing, since the key is added back.
  s.columns = {"a", "b", "c"};
  CHECK(select_columns(s, &table).select_list.empty());
}
