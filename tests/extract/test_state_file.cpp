// tests/extract: _state.json — exact rendering, parsing, errors, atomic save, settings checks.
#include "extract/state_file.hpp"
#include "helpers.hpp"

using namespace test_extract;
using namespace sv::extract;

namespace {

ExtractState sample() {
  ExtractState s;
  s.keyspace = "ks";
  s.settings = Settings{Format::csv, Compression::zstd, true, true};
  TableRecord t;
  t.name = "orders";
  t.columns = {"id", "total"};
  t.state = sv::airbyte::StreamState({{"-80", "QUJD"}, {"80-", "REVG"}});
  FileKeyRecord k;
  k.base = FileRecord{"orders.-80.csv.zst", 120, 3, true};
  k.next_change = 4;
  k.change = FileRecord{"orders.-80.changes-000004.csv.zst", 55, 2, false};
  t.files["-80"] = k;
  FileKeyRecord k2;
  k2.base = FileRecord{"orders.80-.csv.zst", 0, 0, false};
  t.files["80-"] = k2;
  s.tables.push_back(t);
  TableRecord u;
  u.name = "users";
  u.complete = true;
  u.columns = {"id"};
  s.tables.push_back(u);
  return s;
}

const char* kSample =
    R"({"version":1,"keyspace":"ks","settings":{"format":"csv","compress":"zstd","split_per_shard":true,"follow":true},)"
    R"("tables":[{"name":"orders","complete":false,"columns":["id","total"],)"
    R"("state":{"shards":{"-80":{"cursor":"QUJD"},"80-":{"cursor":"REVG"}}},)"
    R"("files":[{"key":"-80","base":{"name":"orders.-80.csv.zst","bytes":120,"rows":3,"complete":true},"next_change":4,)"
    R"("change":{"name":"orders.-80.changes-000004.csv.zst","bytes":55,"rows":2,"complete":false}},)"
    R"({"key":"80-","base":{"name":"orders.80-.csv.zst","bytes":0,"rows":0,"complete":false},"next_change":1,"change":null}]},)"
    R"({"name":"users","complete":true,"columns":["id"],"state":null,"files":[]}]})"
    "\n";

}  // namespace

TEST_CASE("render_state: exact JSON; parse_state reads it back") {
  CHECK(render_state(sample()) == kSample);
  auto parsed = parse_state(kSample, "d/_state.json");
  REQUIRE(parsed.ok());
  CHECK(*parsed == sample());
}

TEST_CASE("file_extension") {
  CHECK(file_extension(Settings{Format::jsonl, Compression::none, false, false}) == "jsonl");
  CHECK(file_extension(Settings{Format::csv, Compression::gzip, false, false}) == "csv.gz");
  CHECK(file_extension(Settings{Format::jsonl, Compression::zstd, false, false}) == "jsonl.zst");
}

TEST_CASE("parse_state errors are config_errors naming the file and the field") {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{\"version\":1,",
       "d/_state.json is not valid JSON: Missing a name for object member. (at offset 13); delete it to start over"},
      {"[]", "d/_state.json is malformed: the document is not an object; delete it to start over"},
      {R"({"version":2})",
       "d/_state.json is malformed: $.version is 2 (this program writes 1); delete it to start over"},
      {R"({"version":1,"keyspace":"ks"})",
       "d/_state.json is malformed: $.settings is missing; delete it to start over"},
      {R"({"version":1,"keyspace":"ks","settings":{"format":"xml","compress":"none","split_per_shard":false,"follow":false},"tables":[]})",
       "d/_state.json is malformed: $.settings.format is \"xml\" (expected jsonl or csv); delete it to start over"},
      {R"({"version":1,"keyspace":"ks","settings":{"format":"csv","compress":"none","split_per_shard":false,"follow":false},)"
       R"("tables":[{"name":"t","complete":false,"columns":[],"state":{"shards":{"0":{"cur":"x"}}},"files":[]}]})",
       "d/_state.json is malformed: $.tables[0].state.shards[\"0\"].cursor is missing; delete it to start over"},
      {R"({"version":1,"keyspace":"ks","settings":{"format":"csv","compress":"none","split_per_shard":false,"follow":false},)"
       R"("tables":[{"name":"t","complete":false,"columns":[],"state":null,"files":[{"key":"","base":{"name":"t.csv","bytes":-1,"rows":0,"complete":false},"next_change":1,"change":null}]}]})",
       "d/_state.json is malformed: $.tables[0].files[0].base.bytes is not a non-negative integer; delete it to start "
       "over"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto parsed = parse_state(c.text, "d/_state.json");
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().type == sv::FailureType::config_error);
    CHECK(parsed.error().message == c.message);
  }
}

TEST_CASE("load_state: missing → none; save_state is atomic and readable") {
  TempDir dir;
  auto none = load_state(dir.path);
  REQUIRE(none.ok());
  CHECK(!none->has_value());
  REQUIRE(save_state(dir.path, sample()).ok());
  CHECK(list_dir(dir.path) == std::vector<std::string>{"_state.json"});
  CHECK(read_file(dir / "_state.json") == kSample);
  auto loaded = load_state(dir.path);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK(**loaded == sample());

  write_file(dir / "_state.json", "garbage");
  auto bad = load_state(dir.path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message ==
        dir / "_state.json" + " is not valid JSON: Invalid value. (at offset 0); delete it to start over");
}

TEST_CASE("check_resumable names the differing setting and both values") {
  const ExtractState s = sample();
  const std::string prefix = "d/_state.json was written with ";
  const std::string suffix = ": rerun with the same options or use another --output-dir";
  CHECK(check_resumable(s, "ks", s.settings, "d").ok());
  auto msg = [&](const std::string& ks, Settings want) {
    auto st = check_resumable(s, ks, want, "d");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().type == sv::FailureType::config_error);
    return st.error().message;
  };
  CHECK(msg("other", s.settings) == prefix + "keyspace ks, this run asks for other" + suffix);
  CHECK(msg("ks", Settings{Format::jsonl, Compression::zstd, true, true}) ==
        prefix + "--format csv, this run asks for jsonl" + suffix);
  CHECK(msg("ks", Settings{Format::csv, Compression::gzip, true, true}) ==
        prefix + "--compress zstd, this run asks for gzip" + suffix);
  CHECK(msg("ks", Settings{Format::csv, Compression::zstd, false, true}) ==
        prefix + "--split-per-shard on, this run asks for off" + suffix);
  CHECK(msg("ks", Settings{Format::csv, Compression::zstd, true, false}) ==
        prefix + "--follow on, this run asks for off" + suffix);
}
