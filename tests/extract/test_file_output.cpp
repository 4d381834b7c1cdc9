// tests/extract: FileOutput driven like the engine drives it (awaitable calls on an io_context):
// exact file contents, _state.json at checkpoints, resume, split per shard, --follow change files.
#include <sys/stat.h>

#include "extract/file_output.hpp"
#include "helpers.hpp"

using namespace test_extract;
using namespace sv::extract;
using sv::airbyte::StreamState;

namespace {

const std::vector<std::string> kCols{"id", "name"};

struct Fixture {
  TempDir dir;
  std::chrono::steady_clock::time_point now{};

  OutputOptions options(Settings settings) {
    OutputOptions o;
    o.dir = dir.path;
    o.keyspace = "ks";
    o.settings = settings;
    o.roll_seconds = std::chrono::seconds(60);
    o.roll_rows = 3;
    o.clock = [this] { return now; };
    return o;
  }

  std::unique_ptr<FileOutput> make(Settings settings, std::vector<TableSpec> tables = {{"t", "ks", kCols}}) {
    auto saved = load_state(dir.path);
    REQUIRE(saved.ok());
    auto out = FileOutput::create(options(settings), std::move(tables), std::move(*saved));
    REQUIRE_MESSAGE(out.ok(), (out.ok() ? std::string() : out.error().message));
    return std::move(*out);
  }

  std::string state_json() { return read_file(dir / "_state.json"); }
  std::uint64_t size(const std::string& name) { return fs::file_size(dir / name); }
};

std::string rows_text(Format f, std::initializer_list<int> ids) {
  std::string s;
  for (int id : ids) {
    s += f == Format::jsonl ? "{\"id\":" + std::to_string(id) + ",\"name\":\"n" + std::to_string(id) + "\"}\n"
                            : std::to_string(id) + ",\"n" + std::to_string(id) + "\"\r\n";
  }
  return s;
}

std::string settings_json(const char* format, const char* compress, bool split, bool follow) {
  return std::string(R"({"version":1,"keyspace":"ks","settings":{"format":")") + format + R"(","compress":")" +
         compress + R"(","split_per_shard":)" + (split ? "true" : "false") + R"(,"follow":)" +
         (follow ? "true" : "false") + "},";
}

std::string file_json(const std::string& name, std::uint64_t bytes, std::uint64_t rows, bool complete) {
  return R"({"name":")" + name + R"(","bytes":)" + std::to_string(bytes) + R"(,"rows":)" + std::to_string(rows) +
         R"(,"complete":)" + (complete ? "true" : "false") + "}";
}

std::string shards_json(const std::map<std::string, std::string>& shards) {
  std::string s = R"({"shards":{)";
  bool first = true;
  for (const auto& [shard, c] : shards) {
    if (!first) s += ",";
    first = false;
    s += "\"" + shard + R"(":{"cursor":")" + c + "\"}";
  }
  return s + "}}";
}

}  // namespace

TEST_CASE("one table, every format and compression: exact files and _state.json") {
  for (Format format : {Format::jsonl, Format::csv}) {
    for (Compression compress : {Compression::none, Compression::gzip, Compression::zstd}) {
      const Settings settings{format, compress, false, false};
      const std::string ext = file_extension(settings);
      CAPTURE(ext);
      Fixture fx;
      auto out = fx.make(settings);
      const std::string head = settings_json(to_string(format), to_string(compress), false, false);
      CHECK(fx.state_json() ==
            head + R"("tables":[{"name":"t","complete":false,"columns":["id","name"],"state":null,"files":[]}]})"
                   "\n");

      CHECK(run([&] { return out->started(0); }));
      CHECK(run([&] { return out->estimate(0, 100, 1000); }));
      CHECK(out->queued() == 0);
      CHECK(push(*out, 0, "-80", rows_text(format, {1, 2}), 2));
      CHECK(exists(fx.dir / ("t." + ext + ".part")));
      const std::map<std::string, std::string> shards{{"-80", cursor("-80", "", true)},
                                                      {"80-", cursor("80-", "", true)}};
      CHECK(push(*out, 0, "80-", rows_text(format, {3}), 1, StreamState(shards)));
      const std::uint64_t at = fx.size("t." + ext + ".part");
      const std::string header = format == Format::csv ? "id,name\r\n" : "";
      CHECK(decompress(read_file(fx.dir / ("t." + ext + ".part")), compress) == header + rows_text(format, {1, 2, 3}));
      CHECK(fx.state_json() == head + R"("tables":[{"name":"t","complete":false,"columns":["id","name"],"state":)" +
                                   shards_json(shards) + R"(,"files":[{"key":"","base":)" +
                                   file_json("t." + ext, at, 3, false) +
                                   R"(,"next_change":1,"change":null}]}]})"
                                   "\n");
      CHECK(!exists(fx.dir / ("t." + ext)));

      CHECK(push(*out, 0, "-80", rows_text(format, {4}), 1));
      CHECK(complete(*out, 0));
      shutdown(*out);
      CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t." + ext});
      const std::string final_bytes = read_file(fx.dir / ("t." + ext));
      CHECK(decompress(final_bytes, compress) == header + rows_text(format, {1, 2, 3, 4}));
      CHECK(fx.state_json() == head + R"("tables":[{"name":"t","complete":true,"columns":["id","name"],"state":)" +
                                   shards_json(shards) + R"(,"files":[{"key":"","base":)" +
                                   file_json("t." + ext, final_bytes.size(), 4, true) +
                                   R"(,"next_change":1,"change":null}]}]})"
                                   "\n");
      auto summary = out->summary();
      REQUIRE(summary.size() == 1);
      CHECK(summary[0].name == "t");
      CHECK(summary[0].rows == 4);
      CHECK(summary[0].files == std::vector<std::string>{"t." + ext});
      CHECK(summary[0].open_files.empty());
      CHECK(summary[0].complete);
      CHECK(!out->error());
    }
  }
}

TEST_CASE("a table with no rows still gets its (empty) file; CSV keeps the header") {
  Fixture fx;
  auto out = fx.make(Settings{Format::csv, Compression::gzip, false, false});
  CHECK(complete(*out, 0));
  CHECK(gunzip(read_file(fx.dir / "t.csv.gz")) == "id,name\r\n");
  Fixture fy;
  auto out2 = fy.make(Settings{Format::jsonl, Compression::none, false, false});
  CHECK(complete(*out2, 0));
  CHECK(read_file(fy.dir / "t.jsonl") == "");
}

TEST_CASE("no final name before complete; interrupted tables keep .part files") {
  Fixture fx;
  auto out =
      fx.make(Settings{Format::jsonl, Compression::none, false, false}, {{"a", "ks", kCols}, {"b", "ks", kCols}});
  CHECK(push(*out, 0, "0", rows_text(Format::jsonl, {1}), 1, StreamState({{"0", cursor("0", "", true)}})));
  CHECK(push(*out, 1, "0", rows_text(Format::jsonl, {2}), 1, StreamState({{"0", cursor("0", "", true)}})));
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "a.jsonl.part", "b.jsonl.part"});
  CHECK(complete(*out, 1));
  CHECK(incomplete(*out, 0));
  shutdown(*out);
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "a.jsonl.part", "b.jsonl"});
  auto summary = out->summary();
  CHECK(summary[0].open_files == std::vector<std::string>{"a.jsonl.part"});
  CHECK(summary[0].files.empty());
  CHECK(!summary[0].complete);
  CHECK(summary[1].files == std::vector<std::string>{"b.jsonl"});
  // Pushes after the end are dropped; unknown streams are an error.
  CHECK(push(*out, 1, "0", rows_text(Format::jsonl, {9}), 1));
  CHECK(read_file(fx.dir / "b.jsonl") == rows_text(Format::jsonl, {2}));
  CHECK_FALSE(push(*out, 7, "0", "x\n", 1));
  REQUIRE(out->error());
  CHECK(out->error()->message == "a batch for unknown stream 7");
}

TEST_CASE("resume: .part truncated to the checkpoint, rows continue, stale .part emptied") {
  for (Compression compress : {Compression::none, Compression::gzip, Compression::zstd}) {
    const Settings settings{Format::csv, compress, false, false};
    const std::string ext = file_extension(settings);
    CAPTURE(ext);
    Fixture fx;
    const StreamState s1({{"0", cursor("0", "", true)}});
    std::uint64_t at = 0;
    {
      auto out = fx.make(settings);
      CHECK(push(*out, 0, "0", rows_text(Format::csv, {1, 2}), 2, s1));
      at = fx.size("t." + ext + ".part");
      CHECK(push(*out, 0, "0", rows_text(Format::csv, {3}), 1));  // not covered by a checkpoint
      CHECK(incomplete(*out, 0));
      shutdown(*out);
      CHECK(out->summary()[0].rows == 3);
    }
    // A crash could leave anything after the checkpoint: simulate garbage there.
    {
      std::ofstream f(fx.dir / ("t." + ext + ".part"), std::ios::binary | std::ios::app);
      f << "GARBAGE-AFTER-CHECKPOINT";
    }
    write_file(fx.dir / ("u." + ext + ".part"), "stale");
    auto out = fx.make(settings, {{"t", "ks", kCols}, {"u", "ks", kCols}});
    CHECK(fx.size("t." + ext + ".part") == at);
    CHECK(fx.size("u." + ext + ".part") == 0);
    CHECK(push(*out, 0, "0", rows_text(Format::csv, {3}), 1));
    CHECK(push(*out, 1, "0", rows_text(Format::csv, {10}), 1));
    CHECK(complete(*out, 0));
    CHECK(complete(*out, 1));
    shutdown(*out);
    CHECK(decompress(read_file(fx.dir / ("t." + ext)), compress) == "id,name\r\n" + rows_text(Format::csv, {1, 2, 3}));
    CHECK(decompress(read_file(fx.dir / ("u." + ext)), compress) == "id,name\r\n" + rows_text(Format::csv, {10}));
    CHECK(out->summary()[0].rows == 1);
    CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t." + ext, "u." + ext});
  }
}

TEST_CASE("resume refuses a .part shorter than its checkpoint, a settings change, a complete table") {
  Fixture fx;
  const Settings settings{Format::jsonl, Compression::none, false, false};
  {
    auto out = fx.make(settings, {{"t", "ks", kCols}, {"done", "ks", kCols}});
    CHECK(push(*out, 0, "0", rows_text(Format::jsonl, {1, 2}), 2, StreamState({{"0", cursor("0", "", true)}})));
    CHECK(complete(*out, 1));
    shutdown(*out);
  }
  auto saved = load_state(fx.dir.path);
  REQUIRE(saved.ok());
  REQUIRE(saved->has_value());
  CHECK((*saved)->find("done")->complete);
  CHECK_FALSE((*saved)->find("t")->complete);
  CHECK((*saved)->find("t")->state == StreamState({{"0", cursor("0", "", true)}}));

  SUBCASE("settings") {
    auto out = FileOutput::create(fx.options(Settings{Format::csv, Compression::none, false, false}),
                                  {{"t", "ks", kCols}}, **saved);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().message == fx.dir.path +
                                     "/_state.json was written with --format jsonl, this run asks for csv: "
                                     "rerun with the same options or use another --output-dir");
  }
  SUBCASE("complete table in the catalog") {
    auto out = FileOutput::create(fx.options(settings), {{"done", "ks", kCols}}, **saved);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().message ==
          "table done is already complete in " + fx.dir.path + "/_state.json; leave it out of the extract");
  }
  SUBCASE("shorter .part") {
    fs::resize_file(fx.dir / "t.jsonl.part", 5);
    auto out = FileOutput::create(fx.options(settings), {{"t", "ks", kCols}}, **saved);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().type == sv::FailureType::config_error);
    CHECK(out.error().message == fx.dir / "t.jsonl.part" + " is shorter than its checkpoint (5 bytes, " +
                                     std::to_string(rows_text(Format::jsonl, {1, 2}).size()) + " recorded); delete " +
                                     fx.dir.path + " to start over");
  }
  SUBCASE("other tables' entries are kept") {
    auto out = FileOutput::create(fx.options(settings), {{"t", "ks", kCols}}, **saved);
    REQUIRE(out.ok());
    CHECK(complete(**out, 0));
    auto after = load_state(fx.dir.path);
    REQUIRE(after.ok());
    CHECK((*after)->tables.size() == 2);
    CHECK((*after)->find("done")->complete);
    CHECK((*after)->find("t")->complete);
    CHECK(read_file(fx.dir / "t.jsonl") == rows_text(Format::jsonl, {1, 2}));
  }
}

TEST_CASE("split per shard: one file per shard, an empty file for a shard without rows") {
  Fixture fx;
  auto out = fx.make(Settings{Format::csv, Compression::none, true, false});
  const std::map<std::string, std::string> shards{
      {"-40", cursor("-40", "", true)}, {"40-80", cursor("40-80", "", true)}, {"80-", cursor("80-", "", true)}};
  CHECK(push(*out, 0, "-40", rows_text(Format::csv, {1, 2}), 2));
  CHECK(push(*out, 0, "40-80", rows_text(Format::csv, {3}), 1, StreamState(shards)));
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t.-40.csv.part", "t.40-80.csv.part"});
  const std::string h = "id,name\r\n";
  CHECK(fx.state_json() == settings_json("csv", "none", true, false) +
                               R"("tables":[{"name":"t","complete":false,"columns":["id","name"],"state":)" +
                               shards_json(shards) + R"(,"files":[{"key":"-40","base":)" +
                               file_json("t.-40.csv", (h + rows_text(Format::csv, {1, 2})).size(), 2, false) +
                               R"(,"next_change":1,"change":null},{"key":"40-80","base":)" +
                               file_json("t.40-80.csv", (h + rows_text(Format::csv, {3})).size(), 1, false) +
                               R"(,"next_change":1,"change":null}]}]})"
                               "\n");
  CHECK(push(*out, 0, "-40", rows_text(Format::csv, {4}), 1));
  CHECK(complete(*out, 0));
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t.-40.csv", "t.40-80.csv", "t.80-.csv"});
  CHECK(read_file(fx.dir / "t.-40.csv") == h + rows_text(Format::csv, {1, 2, 4}));
  CHECK(read_file(fx.dir / "t.40-80.csv") == h + rows_text(Format::csv, {3}));
  CHECK(read_file(fx.dir / "t.80-.csv") == h);
  CHECK(out->summary()[0].files == std::vector<std::string>{"t.-40.csv", "t.40-80.csv", "t.80-.csv"});
}

TEST_CASE("--follow: base file closed when every shard's copy is over, then rolling change files") {
  Fixture fx;
  const Settings settings{Format::jsonl, Compression::zstd, false, true};
  auto out = fx.make(settings);
  const auto J = [](std::initializer_list<int> ids) { return rows_text(Format::jsonl, ids); };
  const std::string gtid = "MySQL56/a:1-10";

  CHECK(push(*out, 0, "-80", J({1}), 1,
             StreamState({{"-80", cursor("-80", "", true)}, {"80-", cursor("80-", "", true)}})));
  CHECK(push(*out, 0, "80-", J({2}), 1,
             StreamState({{"-80", cursor("-80", gtid, false)}, {"80-", cursor("80-", "", true)}})));
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t.jsonl.zst.part"});
  // A shard past its copy but with a last_known_pk still copies.
  CHECK(push(*out, 0, "80-", "", 0,
             StreamState({{"-80", cursor("-80", gtid, false)}, {"80-", cursor("80-", gtid, true)}})));
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t.jsonl.zst.part"});
  const StreamState both({{"-80", cursor("-80", gtid, false)}, {"80-", cursor("80-", gtid, false)}});
  CHECK(push(*out, 0, "80-", J({3}), 1, both));  // its rows still belong to the base file
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t.jsonl.zst"});
  CHECK(unzstd(read_file(fx.dir / "t.jsonl.zst")) == J({1, 2, 3}));

  fx.now += std::chrono::seconds(10);
  CHECK(push(*out, 0, "-80", J({4}), 1));
  CHECK(exists(fx.dir / "t.changes-000001.jsonl.zst.part"));
  CHECK(push(*out, 0, "-80", J({5}), 1, both));  // 2 rows, 0 s old: stays open
  CHECK(exists(fx.dir / "t.changes-000001.jsonl.zst.part"));
  const auto c1 = fx.size("t.changes-000001.jsonl.zst.part");
  CHECK(fx.state_json() ==
        settings_json("jsonl", "zstd", false, true) +
            R"("tables":[{"name":"t","complete":false,"columns":["id","name"],"state":)" + shards_json(both.shards) +
            R"(,"files":[{"key":"","base":)" + file_json("t.jsonl.zst", fx.size("t.jsonl.zst"), 3, true) +
            R"(,"next_change":1,"change":)" + file_json("t.changes-000001.jsonl.zst", c1, 2, false) + "}]}]}\n");
  CHECK(push(*out, 0, "80-", J({6}), 1, both));  // 3 rows = roll_rows: closed
  CHECK(unzstd(read_file(fx.dir / "t.changes-000001.jsonl.zst")) == J({4, 5, 6}));
  CHECK(fx.state_json() == settings_json("jsonl", "zstd", false, true) +
                               R"("tables":[{"name":"t","complete":false,"columns":["id","name"],"state":)" +
                               shards_json(both.shards) + R"(,"files":[{"key":"","base":)" +
                               file_json("t.jsonl.zst", fx.size("t.jsonl.zst"), 3, true) +
                               R"(,"next_change":2,"change":null}]}]})"
                               "\n");

  CHECK(push(*out, 0, "80-", J({7}), 1));
  CHECK(push(*out, 0, "80-", "", 0, both));  // 1 row, young: stays open
  fx.now += std::chrono::seconds(60);
  CHECK(push(*out, 0, "80-", "", 0, both));  // 60 s old: closed
  CHECK(unzstd(read_file(fx.dir / "t.changes-000002.jsonl.zst")) == J({7}));

  CHECK(push(*out, 0, "-80", J({8}), 1, both));
  CHECK(push(*out, 0, "-80", J({9}), 1));  // after the last checkpoint: a resume reads it again
  CHECK(incomplete(*out, 0));
  shutdown(*out);
  CHECK(unzstd(read_file(fx.dir / "t.changes-000003.jsonl.zst")) == J({8}));
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t.changes-000001.jsonl.zst",
                                                          "t.changes-000002.jsonl.zst", "t.changes-000003.jsonl.zst",
                                                          "t.jsonl.zst"});
  auto summary = out->summary();
  CHECK(summary[0].rows == 8);
  CHECK(summary[0].files == std::vector<std::string>{"t.jsonl.zst", "t.changes-000001.jsonl.zst",
                                                     "t.changes-000002.jsonl.zst", "t.changes-000003.jsonl.zst"});
  CHECK(summary[0].open_files.empty());
  CHECK(fx.state_json() == settings_json("jsonl", "zstd", false, true) +
                               R"("tables":[{"name":"t","complete":false,"columns":["id","name"],"state":)" +
                               shards_json(both.shards) + R"(,"files":[{"key":"","base":)" +
                               file_json("t.jsonl.zst", fx.size("t.jsonl.zst"), 3, true) +
                               R"(,"next_change":4,"change":null}]}]})"
                               "\n");

  // The resumed run continues with change file 4.
  auto again = fx.make(settings);
  CHECK(push(*again, 0, "-80", J({9}), 1, both));
  CHECK(incomplete(*again, 0));
  CHECK(unzstd(read_file(fx.dir / "t.changes-000004.jsonl.zst")) == J({9}));
}

TEST_CASE("--follow: a change file with nothing checkpointed is removed at the end") {
  Fixture fx;
  auto out = fx.make(Settings{Format::csv, Compression::none, false, true});
  const StreamState done({{"0", cursor("0", "MySQL56/a:1", false)}});
  CHECK(push(*out, 0, "0", "", 0, done));  // empty table: the base file is created and closed
  CHECK(read_file(fx.dir / "t.csv") == "id,name\r\n");
  CHECK(push(*out, 0, "0", rows_text(Format::csv, {1}), 1));
  CHECK(exists(fx.dir / "t.changes-000001.csv.part"));
  shutdown(*out);  // ends the stream as incomplete
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t.csv"});
  CHECK(out->summary()[0].rows == 0);
}

TEST_CASE("--follow with --split-per-shard: each shard switches on its own") {
  Fixture fx;
  auto out = fx.make(Settings{Format::jsonl, Compression::gzip, true, true});
  const std::string g = "MySQL56/a:1-5";
  CHECK(push(
      *out, 0, "-80", rows_text(Format::jsonl, {1}), 1,
      StreamState({{"-80", cursor("-80", g, false)}, {"80-", cursor("80-", "", true)}, {"x", cursor("x", g, false)}})));
  CHECK(push(*out, 0, "80-", rows_text(Format::jsonl, {2}), 1));
  CHECK(push(*out, 0, "-80", rows_text(Format::jsonl, {3}), 1));
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t.-80.changes-000001.jsonl.gz.part",
                                                          "t.-80.jsonl.gz", "t.80-.jsonl.gz.part", "t.x.jsonl.gz"});
  CHECK(gunzip(read_file(fx.dir / "t.-80.jsonl.gz")) == rows_text(Format::jsonl, {1}));
  CHECK(gunzip(read_file(fx.dir / "t.x.jsonl.gz")) == "");
}

TEST_CASE("I/O errors: an unusable directory, a full disk") {
  Fixture fx;
  SUBCASE("output dir under a regular file") {
    write_file(fx.dir / "file", "x");
    OutputOptions o = fx.options(Settings{});
    o.dir = fx.dir / "file/out";
    auto out = FileOutput::create(o, {{"t", "ks", kCols}}, std::nullopt);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().type == sv::FailureType::config_error);
    CHECK(out.error().message == "cannot create directory " + fx.dir / "file/out" + ": Not a directory");
  }
  SUBCASE("disk full at a checkpoint") {
    auto out = fx.make(Settings{}, {{"t", "ks", kCols}, {"u", "ks", kCols}});
    CHECK(push(*out, 0, "0", rows_text(Format::jsonl, {1}), 1));
    {
      FileSizeLimit full(1);
      CHECK_FALSE(push(*out, 0, "0", "", 0, StreamState({{"0", cursor("0", "", true)}})));
    }
    REQUIRE(out->error());
    const std::string reason = "cannot write " + fx.dir / "t.jsonl.part" + ": File too large";
    CHECK(out->error()->message == reason);
    CHECK(out->error()->type == sv::FailureType::config_error);
    CHECK_FALSE(push(*out, 0, "0", rows_text(Format::jsonl, {2}), 1));
    CHECK_FALSE(complete(*out, 0));
    // The engine then ends every table incomplete with its own reason ("the output stopped"):
    // the summary names the disk's error for both, the table that failed and the one it stopped.
    CHECK_FALSE(incomplete(*out, 0));
    shutdown(*out);
    for (const auto& t : out->summary()) {
      CAPTURE(t.name);
      CHECK_FALSE(t.complete);
      REQUIRE(t.failure);
      CHECK(t.failure->message == reason);
    }
    // The state still says nothing was checkpointed.
    CHECK(fx.state_json() ==
          settings_json("jsonl", "none", false, false) +
              R"("tables":[{"name":"t","complete":false,"columns":["id","name"],"state":null,"files":[]},)"
              R"({"name":"u","complete":false,"columns":["id","name"],"state":null,"files":[]}]})"
              "\n");
  }
}

TEST_CASE("a rename interrupted after the state said complete is finished by the next run") {
  Fixture fx;
  ExtractState s;
  s.keyspace = "ks";
  s.settings = Settings{Format::jsonl, Compression::none, true, true};
  TableRecord t;
  t.name = "t";
  t.columns = kCols;
  t.state = StreamState({{"-80", cursor("-80", "MySQL56/a:1", false)}});
  FileKeyRecord k;
  k.base = FileRecord{"t.-80.jsonl", 6, 1, true};
  k.next_change = 3;
  k.change = FileRecord{"t.-80.changes-000002.jsonl", 4, 1, true};
  t.files["-80"] = k;
  s.tables.push_back(t);
  REQUIRE(save_state(fx.dir.path, s).ok());
  write_file(fx.dir / "t.-80.jsonl.part", "base\n\nJUNK");
  write_file(fx.dir / "t.-80.changes-000002.jsonl.part", "chg\nJUNK");
  auto out = fx.make(s.settings);
  CHECK(list_dir(fx.dir.path) == std::vector<std::string>{"_state.json", "t.-80.changes-000002.jsonl", "t.-80.jsonl"});
  CHECK(read_file(fx.dir / "t.-80.jsonl") == "base\n\n");
  CHECK(read_file(fx.dir / "t.-80.changes-000002.jsonl") == "chg\n");
  CHECK(out->state().tables[0].files.at("-80").change == std::nullopt);
  CHECK(push(*out, 0, "-80", "{}\n", 1, StreamState({{"-80", cursor("-80", "MySQL56/a:2", false)}})));
  CHECK(exists(fx.dir / "t.-80.changes-000003.jsonl.part"));
}

TEST_CASE("only this table's .part files the state does not cover are emptied") {
  Fixture fx;
  const Settings settings{Format::jsonl, Compression::none, true, true};
  const std::vector<std::string> names{"t.-80.jsonl.part",
                                       "t.-80.changes-000002.jsonl.part",
                                       "t.changes-000001.jsonl.part",
                                       "tx.jsonl.part",
                                       "t.-80.jsonl",
                                       "t.-80.csv.part",
                                       "t.jsonl.part",
                                       "t.zz.jsonl.part"};
  for (const auto& n : names) write_file(fx.dir / n, "old");
  auto out = fx.make(settings);
  std::vector<std::uint64_t> sizes;
  for (const auto& n : names) sizes.push_back(fx.size(n));
  // Emptied: this table's per-shard base and change files. Kept: names that are not this
  // table's files under these settings (no shard, other table, final name, other format,
  // a shard name that is not a key range).
  CHECK(sizes == std::vector<std::uint64_t>{0, 0, 3, 3, 3, 3, 3, 3});
}

TEST_CASE("resume with changed columns: CSV refuses, JSONL continues") {
  for (Format format : {Format::csv, Format::jsonl}) {
    Fixture fx;
    const Settings settings{format, Compression::none, false, false};
    {
      auto out = fx.make(settings);
      CHECK(push(*out, 0, "0", rows_text(format, {1}), 1, StreamState({{"0", cursor("0", "", true)}})));
      shutdown(*out);
    }
    auto saved = load_state(fx.dir.path);
    REQUIRE(saved.ok());
    auto out = FileOutput::create(fx.options(settings), {{"t", "ks", {"id", "name", "extra"}}}, std::move(*saved));
    if (format == Format::csv) {
      REQUIRE_FALSE(out.ok());
      CHECK(out.error().message == "the columns of table t changed since " + fx.dir.path +
                                       "/_state.json was written, so its CSV files cannot be continued; delete " +
                                       fx.dir.path + " to start over");
    } else {
      REQUIRE(out.ok());
      CHECK((*out)->state().tables[0].columns == std::vector<std::string>{"id", "name", "extra"});
    }
  }
}

TEST_CASE("each checkpoint's state replaces the saved state, with or without rows") {
  Fixture fx;
  auto out = fx.make(Settings{});
  const std::string a = cursor("-80", "", true);
  const std::string b = cursor("80-", "", true);
  CHECK(push(*out, 0, "-80", rows_text(Format::jsonl, {1}), 1, StreamState({{"-80", a}})));
  CHECK(out->state().tables[0].state == StreamState({{"-80", a}}));
  CHECK(push(*out, 0, "80-", "", 0, StreamState({{"-80", a}, {"80-", b}})));
  CHECK(out->state().tables[0].state == StreamState({{"-80", a}, {"80-", b}}));
  CHECK(push(*out, 0, "80-", "", 0, StreamState({{"0", a}})));
  CHECK(out->state().tables[0].state == StreamState({{"0", a}}));
  CHECK_FALSE(out->error());
}

TEST_CASE("resume never follows a link or opens a FIFO at a .part, _state.json or _state.json.tmp path") {
  Fixture fx;
  TempDir outside;
  const std::string target = outside / "precious";
  const Settings settings{Format::jsonl, Compression::none, false, false};
  {
    auto out = fx.make(settings);
    CHECK(push(*out, 0, "0", rows_text(Format::jsonl, {1, 2}), 2, StreamState({{"0", cursor("0", "", true)}})));
    CHECK(incomplete(*out, 0));
    shutdown(*out);
  }
  const std::string advice =
      ", not a regular file: extract writes only regular files in its output directory; remove "
      "it or choose another --output-dir";
  const auto create = [&](std::vector<TableSpec> tables = {{"t", "ks", kCols}}) {
    auto saved = load_state(fx.dir.path);
    REQUIRE(saved.ok());
    return FileOutput::create(fx.options(settings), std::move(tables), std::move(*saved));
  };
  write_file(target, "0123456789abcdefghijklmnopqrstuvwxyz\n");
  SUBCASE(
      "the table's .part is a link: refused, the target keeps every byte and the link stays a "
      "link") {
    fs::remove(fx.dir / "t.jsonl.part");
    fs::create_symlink(target, fx.dir / "t.jsonl.part");
    auto out = create();
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().type == sv::FailureType::config_error);
    CHECK(out.error().message == fx.dir / "t.jsonl.part" + " is a symbolic link" + advice);
    CHECK(read_file(target) == "0123456789abcdefghijklmnopqrstuvwxyz\n");
    CHECK(fs::is_symlink(fx.dir / "t.jsonl.part"));
    CHECK_FALSE(exists(fx.dir / "t.jsonl"));
  }
  SUBCASE("a stale .part the state does not cover is a link: not emptied through it") {
    fs::create_symlink(target, fx.dir / "t.-80.jsonl.part");
    Settings split = settings;
    split.split_per_shard = true;
    fs::remove(fx.dir / "_state.json");
    fs::remove(fx.dir / "t.jsonl.part");
    auto out = FileOutput::create(fx.options(split), {{"t", "ks", kCols}}, std::nullopt);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().message == fx.dir / "t.-80.jsonl.part" + " is a symbolic link" + advice);
    CHECK(read_file(target) == "0123456789abcdefghijklmnopqrstuvwxyz\n");
  }
  SUBCASE("_state.json.tmp is a link: the checkpoint fails, nothing is written through it") {
    fs::create_symlink(target, fx.dir / "_state.json.tmp");
    auto out = create();
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().message == fx.dir / "_state.json.tmp" + " is a symbolic link" + advice);
    CHECK(read_file(target) == "0123456789abcdefghijklmnopqrstuvwxyz\n");
  }
  SUBCASE("_state.json is a link or a FIFO: not read") {
    const std::string state = fx.dir / "_state.json";
    fs::rename(state, outside / "state.json");
    fs::create_symlink(outside / "state.json", state);
    const std::string refused = state +
                                " is not a regular file (a symbolic link, FIFO or device): extract reads only "
                                "the _state.json it wrote; remove it or choose another --output-dir";
    auto linked = load_state(fx.dir.path);
    REQUIRE_FALSE(linked.ok());
    CHECK(linked.error().type == sv::FailureType::config_error);
    CHECK(linked.error().message == refused);
    fs::remove(state);
    REQUIRE(::mkfifo(state.c_str(), 0600) == 0);
    auto fifo = load_state(fx.dir.path);  // returns at once: O_NONBLOCK, then not a regular file
    REQUIRE_FALSE(fifo.ok());
    CHECK(fifo.error().message == refused);
  }
  SUBCASE("a table or _state.json entry whose file name would leave the directory") {
    auto out = create({{"t", "ks", kCols}, {"../escape", "ks", kCols}});
    REQUIRE(out.ok());
    CHECK_FALSE(push(**out, 1, "0", rows_text(Format::jsonl, {1}), 1));
    REQUIRE((*out)->error());
    CHECK((*out)->error()->message ==
          "'../escape.jsonl' cannot be a file name in the output directory (a table, shard or "
          "_state.json entry with "
          "'/' in its name): leave that table out with --tables");
    CHECK_FALSE(exists(fx.dir.path + "/../escape.jsonl.part"));
  }
}
