// tests/e2e: the built `source-vitess extract` against `vtgate-emulator`: several tables × 4 shards
// (synthetic backend) in every format and compression, split per shard or not, compared exactly
// with the rows the deterministic Dataset says the tables hold (JSONL byte for byte; CSV byte for
// byte and read back by Python's csv module); SIGKILL mid-copy then resume; reruns of a complete or
// a mismatched DIR; usage errors; the Prometheus endpoint while an extract runs; and `--follow` on
// real MariaDB shards capturing SQL changes into rolling change files.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

#include "e2e_support.hpp"
#include "util/base64.hpp"
#include "vitess/cursor.hpp"

using namespace sv;
using namespace sv::e2e;
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// Running the command

struct Run {
  int code = -1;
  std::string out, err;
};

std::vector<std::string> extract_argv(std::vector<std::string> args) {
  args.insert(args.begin(), {env_or("SOURCE_VITESS", "source-vitess"), "extract"});
  return args;
}

//! Runs `source-vitess extract ARGS` to completion (bounded).
Run run_extract(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(120)) {
  TempDir io;
  Child c = Child::spawn(extract_argv(args), io.file("out"), io.file("err"));
  Run r;
  r.code = c.wait(timeout);
  r.out = read_file(io.file("out"));
  r.err = read_file(io.file("err"));
  return r;
}

std::string synthetic_config(const Emulator& emu, const std::string& extra = "") {
  return R"({"host":"127.0.0.1","grpc_port":)" + std::to_string(emu.grpc_port) +
         R"(,"tls_mode":"disabled","database":"commerce","username":"u","password":"")" +
         (extra.empty() ? "" : "," + extra) + "}";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// ---------------------------------------------------------------------------------------------
// The stdout summary and the directory

struct Summary {
  bool parsed = false;
  std::string output_dir;
  bool complete = false;
  std::map<std::string, std::uint64_t> rows;              //!< per table
  std::map<std::string, std::vector<std::string>> files;  //!< per table
  std::vector<std::string> already_complete;              //!< tables skipped by a rerun
  std::map<std::string, std::string> errors;              //!< per table that has an `error`
};

//! stdout must be exactly one JSON line: the summary.
Summary parse_summary(const std::string& out) {
  Summary s;
  if (out.empty() || out.back() != '\n' || out.find('\n') != out.size() - 1) return s;
  rapidjson::Document d;
  d.Parse(out.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("output_dir") || !d["output_dir"].IsString() ||
      !d.HasMember("complete") || !d["complete"].IsBool() || !d.HasMember("tables") || !d["tables"].IsArray())
    return s;
  s.output_dir = d["output_dir"].GetString();
  s.complete = d["complete"].GetBool();
  for (const auto& t : d["tables"].GetArray()) {
    if (!t.IsObject() || !t.HasMember("name") || !t.HasMember("rows") || !t.HasMember("files")) return s;
    const std::string name = t["name"].GetString();
    s.rows[name] = t["rows"].GetUint64();
    auto& files = s.files[name];
    for (const auto& f : t["files"].GetArray()) files.push_back(f.GetString());
    if (t.HasMember("error") && t["error"].IsString()) s.errors[name] = t["error"].GetString();
  }
  if (d.HasMember("already_complete") && d["already_complete"].IsArray()) {
    for (const auto& t : d["already_complete"].GetArray()) s.already_complete.push_back(t.GetString());
  }
  s.parsed = true;
  return s;
}

//! Names of the regular files in dir, sorted.
std::vector<std::string> dir_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file()) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

//! name → (size, mtime ns) of every file in dir: "the rerun wrote nothing".
std::map<std::string, std::pair<std::uintmax_t, std::int64_t>> dir_snapshot(const std::string& dir) {
  std::map<std::string, std::pair<std::uintmax_t, std::int64_t>> out;
  for (const auto& name : dir_files(dir)) {
    struct stat st {};
    ::stat((dir + "/" + name).c_str(), &st);
    out[name] = {static_cast<std::uintmax_t>(st.st_size),
                 static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  }
  return out;
}

bool has_part_file(const std::string& dir) {
  for (const auto& f : dir_files(dir))
    if (f.ends_with(".part")) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Decompression (multi-member gzip, multi-frame zstd); throws on truncated or corrupt data.

std::string gunzip(const std::string& in) {
  z_stream s{};
  if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  std::string out;
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  char buf[1 << 16];
  for (;;) {
    s.next_out = reinterpret_cast<Bytef*>(buf);
    s.avail_out = sizeof buf;
    const int r = inflate(&s, Z_NO_FLUSH);
    out.append(buf, sizeof buf - s.avail_out);
    if (r == Z_STREAM_END) {
      if (s.avail_in == 0) break;
      inflateReset(&s);  // the next gzip member
      continue;
    }
    if (r != Z_OK) {
      inflateEnd(&s);
      throw std::runtime_error("gzip data is corrupt or truncated (inflate " + std::to_string(r) + ")");
    }
  }
  inflateEnd(&s);
  return out;
}

std::string unzstd(const std::string& in) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::string out;
  std::vector<char> buf(ZSTD_DStreamOutSize());
  std::size_t last = 0;
  while (input.pos < input.size) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    last = ZSTD_decompressStream(ctx.get(), &output, &input);
    if (ZSTD_isError(last)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(last));
    out.append(buf.data(), output.pos);
  }
  // Drain what the context still holds; 0 = the last frame is complete.
  for (int i = 0; i < 1000 && last != 0; ++i) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    last = ZSTD_decompressStream(ctx.get(), &output, &input);
    if (ZSTD_isError(last)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(last));
    out.append(buf.data(), output.pos);
    if (output.pos == 0) break;
  }
  if (last != 0) throw std::runtime_error("zstd data is truncated (last frame incomplete)");
  return out;
}

//! A file's text, decompressed by its extension (.gz, .zst).
std::string file_text(const std::string& path) {
  const std::string raw = read_file(path);
  if (path.ends_with(".gz")) return gunzip(raw);
  if (path.ends_with(".zst")) return unzstd(raw);
  return raw;
}

std::vector<std::string> jsonl_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back("<unterminated>" + text.substr(start));
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CSV per the contract: null → empty unquoted; string → quoted, inner quotes doubled; number → its
// JSON text; true/false; object/array → compact JSON, quoted.

std::string csv_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

//! One top-level member value of a JSON object: the CSV field text and the value Python's csv
//! module reads back.
struct CsvCell {
  std::string field;
  std::string parsed;
};

//! SAX handler over one JSON object (numbers as raw text) producing its cells in member order.
struct CellsHandler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, CellsHandler> {
  std::vector<CsvCell> cells;
  int depth = 0;
  rapidjson::StringBuffer nested_buf;
  std::unique_ptr<rapidjson::Writer<rapidjson::StringBuffer>> nested;

  void scalar(std::string field, std::string parsed) { cells.push_back({std::move(field), std::move(parsed)}); }
  bool Null() {
    if (nested) return nested->Null();
    scalar("", "");
    return true;
  }
  bool Bool(bool b) {
    if (nested) return nested->Bool(b);
    scalar(b ? "true" : "false", b ? "true" : "false");
    return true;
  }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    if (nested) return nested->RawValue(s, n, rapidjson::kNumberType);
    scalar(std::string(s, n), std::string(s, n));
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (nested) return nested->String(s, n);
    scalar(csv_quote(std::string_view(s, n)), std::string(s, n));
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) { return nested ? nested->Key(s, n) : true; }
  bool open(bool object) {
    if (++depth == 1) return true;
    if (depth == 2) {
      nested_buf.Clear();
      nested = std::make_unique<rapidjson::Writer<rapidjson::StringBuffer>>(nested_buf);
    }
    return object ? nested->StartObject() : nested->StartArray();
  }
  bool close(bool object, rapidjson::SizeType n) {
    if (depth-- == 1) return true;
    const bool ok = object ? nested->EndObject(n) : nested->EndArray(n);
    if (depth == 1) {
      const std::string text = nested_buf.GetString();
      nested.reset();
      scalar(csv_quote(text), text);
    }
    return ok;
  }
  bool StartObject() { return open(true); }
  bool EndObject(rapidjson::SizeType n) { return close(true, n); }
  bool StartArray() { return open(false); }
  bool EndArray(rapidjson::SizeType n) { return close(false, n); }
};

std::vector<CsvCell> csv_cells(const std::string& json) {
  CellsHandler h;
  rapidjson::Reader reader;
  rapidjson::StringStream ss(json.c_str());
  if (!reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(ss, h)) throw std::runtime_error("bad JSON " + json);
  return h.cells;
}

//! The exact CSV record (without its CRLF) of a JSON row.
std::string csv_record(const std::string& json) {
  std::string out;
  bool first = true;
  for (const auto& c : csv_cells(json)) {
    if (!first) out += ',';
    first = false;
    out += c.field;
  }
  return out;
}

std::string json_string_array(const std::vector<std::string>& values) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  w.StartArray();
  for (const auto& v : values) w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  w.EndArray();
  return b.GetString();
}

//! The row as Python's csv.reader yields it, as a JSON array of strings.
std::string csv_parsed(const std::string& json) {
  std::vector<std::string> values;
  for (const auto& c : csv_cells(json)) values.push_back(c.parsed);
  return json_string_array(values);
}

//! Splits CSV text into records at CRLFs outside quoted fields. `ok` turns false on a bare LF or
//! CR outside quotes, or a last record without CRLF.
std::vector<std::string> csv_records(const std::string& text, bool& ok) {
  std::vector<std::string> out;
  ok = true;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      out.push_back(std::move(cur));
      cur.clear();
      ++i;
      continue;
    }
    if (!quoted && (c == '\r' || c == '\n')) ok = false;
    cur += c;
  }
  if (!cur.empty()) {
    ok = false;
    out.push_back(std::move(cur));
  }
  return out;
}

struct PyCsv {
  std::vector<std::string> header;
  std::vector<std::string> rows;  //!< each a JSON array of strings (normalized), sorted
  std::vector<std::string> problems;
};

//! Python's csv module on the (decompressed) CSV text.
PyCsv python_csv(const std::string& text) {
  TempDir tmp;
  write_file(tmp.file("in.csv"), text);
  Child c = Child::spawn(
      {env_or("PYTHON3", "/usr/bin/python3"), env_or("EXTRACT_CSV_CHECK", "extract_csv_check.py"), tmp.file("in.csv")},
      tmp.file("out"), tmp.file("err"));
  PyCsv r;
  const int code = c.wait(std::chrono::seconds(60));
  rapidjson::Document d;
  const std::string out = read_file(tmp.file("out"));
  d.Parse(out.c_str());
  if (code != 0 || d.HasParseError() || !d.IsObject()) {
    r.problems.push_back("extract_csv_check.py failed (exit " + std::to_string(code) +
                         "): " + read_file(tmp.file("err")));
    return r;
  }
  for (const auto& h : d["header"].GetArray()) r.header.push_back(h.GetString());
  for (const auto& row : d["rows"].GetArray()) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    row.Accept(w);
    r.rows.push_back(b.GetString());
  }
  std::sort(r.rows.begin(), r.rows.end());
  for (const auto& p : d["problems"].GetArray()) r.problems.push_back(p.GetString());
  return r;
}

// ---------------------------------------------------------------------------------------------
// Checking a file against the expected rows

std::string ext_of(const std::string& format, const std::string& compress) {
  return format + (compress == "gzip" ? ".gz" : compress == "zstd" ? ".zst" : "");
}

//! Sorted rows equal, else the first difference is shown.
void check_same_rows(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  CHECK(got.size() == want.size());
  CHECK(got == want);
  if (got == want) return;
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      MESSAGE("first difference:\n got  ", got[i], "\n want ", want[i]);
      break;
    }
  }
}

//! Compares one output file with the expected JSON rows (any order). CSV: the header, each record
//! byte for byte, CRLF line ends, and Python's csv module reading back the same values.
void check_file(const std::string& path, const std::string& format, const std::vector<std::string>& columns,
                const std::vector<std::string>& want_json) {
  INFO("file ", path);
  std::string text;
  try {
    text = file_text(path);
  } catch (const std::exception& e) {
    FAIL_CHECK("cannot read ", path, ": ", e.what());
    return;
  }
  if (format == "jsonl") {
    check_same_rows(sorted(jsonl_lines(text)), sorted(want_json));
    return;
  }
  bool well_formed = false;
  auto records = csv_records(text, well_formed);
  CHECK_MESSAGE(well_formed, "CSV records must end with CRLF (outside quoted fields)");
  REQUIRE(!records.empty());
  std::vector<std::string> header_fields;
  for (const auto& c : columns) header_fields.push_back(c);
  CHECK(records.front() == join(header_fields, ","));
  std::vector<std::string> got(records.begin() + 1, records.end());
  std::vector<std::string> want, want_parsed;
  for (const auto& j : want_json) {
    want.push_back(csv_record(j));
    want_parsed.push_back(csv_parsed(j));
  }
  check_same_rows(sorted(got), sorted(want));
  const PyCsv py = python_csv(text);
  for (const auto& p : py.problems) MESSAGE("python csv: ", p);
  CHECK(py.problems.empty());
  CHECK(py.header == columns);
  CHECK(py.rows == sorted(want_parsed));
}

//! stdout of a program (run to completion, bounded); "<exit N>" appended when it fails.
std::string tool_output(const std::vector<std::string>& argv) {
  TempDir tmp;
  Child c = Child::spawn(argv, tmp.file("out"), tmp.file("err"));
  const int code = c.wait(std::chrono::seconds(60));
  return read_file(tmp.file("out")) +
         (code == 0 ? "" : "<exit " + std::to_string(code) + "> " + read_file(tmp.file("err")));
}

//! The _state.json of DIR, parsed (an empty object when it is missing or broken).
rapidjson::Document state_of(const std::string& dir) {
  rapidjson::Document d;
  const std::string text = read_file(dir + "/_state.json");
  d.Parse(text.c_str());
  if (d.HasParseError() || !d.IsObject()) d.SetObject();
  return d;
}

//! The entry of `table` in a parsed _state.json ({"name","complete","columns","state","files"}),
//! or null.
const rapidjson::Value* state_table(const rapidjson::Document& state, const std::string& table) {
  if (!state.HasMember("tables") || !state["tables"].IsArray()) return nullptr;
  for (const auto& t : state["tables"].GetArray()) {
    if (t.IsObject() && t.HasMember("name") && t["name"].IsString() && t["name"].GetString() == table) return &t;
  }
  return nullptr;
}

//! Rows the table's unfinished base files held at the last checkpoint (0 before the first one).
std::uint64_t checkpointed_rows(const rapidjson::Document& state, const std::string& table) {
  const auto* t = state_table(state, table);
  std::uint64_t rows = 0;
  if (t == nullptr || !t->HasMember("files")) return 0;
  for (const auto& f : (*t)["files"].GetArray()) {
    if (f.HasMember("base") && f["base"].IsObject()) rows += f["base"]["rows"].GetUint64();
  }
  return rows;
}

//! True once some table has a checkpointed stream state and rows in a file.
bool has_checkpoint(const std::string& dir) {
  const auto state = state_of(dir);
  if (!state.HasMember("tables") || !state["tables"].IsArray()) return false;
  for (const auto& t : state["tables"].GetArray()) {
    if (t.HasMember("state") && t["state"].IsObject() && checkpointed_rows(state, t["name"].GetString()) > 0)
      return true;
  }
  return false;
}

}  // namespace

// =============================================================================================
// Synthetic backend

namespace {

const std::vector<std::string> kTables = {"all_types", "customers", "order_items"};

struct Variant {
  std::string format, compress;
  bool split;
};

//! The synthetic backend has no MySQL front for discovery: extract takes the tables and their
//! columns from a catalog (discover's shape: every table of the dataset).
std::string write_catalog(const TempDir& work, const emulator::Dataset& ds) {
  std::vector<StreamSpec> streams;
  for (std::size_t t = 0; t < ds.table_count(); ++t) streams.push_back({ds.table_name(t), "full_refresh"});
  write_file(work.file("catalog.json"), catalog_json(ds, streams));
  return work.file("catalog.json");
}

std::vector<std::string> variant_args(const std::string& config, const std::string& dir, const Variant& v,
                                      const std::vector<std::string>& tables) {
  const std::string catalog = fs::path(config).parent_path() / "catalog.json";
  std::vector<std::string> a{"--config",        config,     "--catalog", catalog,      "--output-dir", dir, "--tables",
                             join(tables, ","), "--format", v.format,    "--compress", v.compress};
  if (v.split) a.push_back("--split-per-shard");
  return a;
}

//! Checks a finished extract of `tables` in DIR: the files (and nothing else but _state.json),
//! every row exactly, _state.json, and (`fresh`: the run wrote everything) the summary's rows and
//! files.
void check_complete_dir(const emulator::Dataset& ds, const std::string& dir, const Variant& v,
                        const std::vector<std::string>& tables, const Summary& summary, bool fresh) {
  const std::string ext = ext_of(v.format, v.compress);
  std::vector<std::string> want_files{"_state.json"};
  for (const auto& table : tables) {
    const auto t = *ds.table_index(table);
    std::vector<std::string> table_files;
    if (v.split) {
      for (const auto& shard : ds.config().shards) table_files.push_back(table + "." + shard + "." + ext);
    } else {
      table_files.push_back(table + "." + ext);
    }
    want_files.insert(want_files.end(), table_files.begin(), table_files.end());
    if (fresh) {
      CHECK(sorted(summary.files.count(table) ? summary.files.at(table) : std::vector<std::string>{}) ==
            sorted(table_files));
      CHECK(summary.rows.count(table) == 1);
      if (summary.rows.count(table)) CHECK(summary.rows.at(table) == expected_rows_raw(ds, t, 0).size());
    }
    if (v.split) {
      for (const auto& shard : ds.config().shards)
        check_file(dir + "/" + table + "." + shard + "." + ext, v.format, column_names(ds, t),
                   expected_rows_raw(ds, t, 0, shard));
    } else {
      check_file(dir + "/" + table + "." + ext, v.format, column_names(ds, t), expected_rows_raw(ds, t, 0));
    }
  }
  CHECK(dir_files(dir) == sorted(want_files));
  CHECK(summary.complete);
  // _state.json: the settings, and per table complete, its columns, a cursor per shard, and every
  // file complete with its row count.
  const auto state = state_of(dir);
  REQUIRE(state.HasMember("settings"));
  CHECK(std::string(state["settings"]["format"].GetString()) == v.format);
  CHECK(std::string(state["settings"]["compress"].GetString()) == v.compress);
  CHECK(state["settings"]["split_per_shard"].GetBool() == v.split);
  CHECK(state["settings"]["follow"].GetBool() == false);
  for (const auto& table : tables) {
    INFO("_state.json table ", table);
    const auto t = *ds.table_index(table);
    const auto* rec = state_table(state, table);
    REQUIRE(rec != nullptr);
    CHECK((*rec)["complete"].GetBool());
    std::vector<std::string> cols;
    for (const auto& c : (*rec)["columns"].GetArray()) cols.push_back(c.GetString());
    CHECK(cols == column_names(ds, t));
    REQUIRE((*rec)["state"].IsObject());
    std::vector<std::string> shards;
    for (const auto& m : (*rec)["state"]["shards"].GetObject()) shards.push_back(m.name.GetString());
    CHECK(sorted(shards) == sorted(ds.config().shards));
    std::uint64_t rows = 0;
    for (const auto& f : (*rec)["files"].GetArray()) {
      CHECK(f["base"]["complete"].GetBool());
      rows += f["base"]["rows"].GetUint64();
      const std::string key = f["key"].GetString();
      CHECK(std::string(f["base"]["name"].GetString()) == table + (key.empty() ? "" : "." + key) + "." + ext);
    }
    CHECK(rows == expected_rows_raw(ds, t, 0).size());
    CHECK((*rec)["files"].Size() == (v.split ? ds.config().shards.size() : 1));
  }
}

}  // namespace

TEST_CASE("every format and compression, 3 tables × 4 shards, split or not: exactly the table rows") {
  Emulator emu(dataset(kTables, 300));
  emulator::Dataset ds(emu.data);
  TempDir work;
  write_file(work.file("config.json"), synthetic_config(emu, R"("checkpoint_interval_records":100)"));
  write_catalog(work, ds);
  const std::vector<Variant> variants = {
      {"jsonl", "none", false}, {"jsonl", "gzip", false}, {"jsonl", "zstd", true}, {"jsonl", "none", true},
      {"csv", "none", false},   {"csv", "gzip", true},    {"csv", "zstd", false},
  };
  int n = 0;
  for (const auto& v : variants) {
    INFO("--format ", v.format, " --compress ", v.compress, std::string(v.split ? " --split-per-shard" : ""));
    // A directory that does not exist yet: extract creates it.
    const std::string dir = work.file("out" + std::to_string(n++));
    const Run r = run_extract(variant_args(work.file("config.json"), dir, v, kTables));
    if (r.code != 0) MESSAGE("stderr:\n", r.err);
    CHECK(r.code == 0);
    const Summary s = parse_summary(r.out);
    CHECK_MESSAGE(s.parsed, ("stdout: " + r.out));
    CHECK(s.output_dir == dir);
    check_complete_dir(ds, dir, v, kTables, s, true);
  }
  SUBCASE("defaults: jsonl, no compression, one file per table") {
    const std::string dir = work.file("defaults");
    const Run r = run_extract({"--config", work.file("config.json"), "--catalog", work.file("catalog.json"),
                               "--output-dir", dir, "--tables", "customers"});
    CHECK(r.code == 0);
    const Summary s = parse_summary(r.out);
    CHECK(s.parsed);
    check_complete_dir(ds, dir, {"jsonl", "none", false}, {"customers"}, s, true);
  }
}

TEST_CASE("SIGKILL mid-copy after a checkpoint, rerun: every row exactly once; complete and mismatched reruns") {
  // Slow shards and small copy packets: the copy lasts seconds, checkpoints every 100 rows.
  std::vector<std::string> flags{"--copy-packet-bytes=2000"};
  for (const auto& s : emulator::Dataset::shard_names(4)) flags.push_back("--slow-shard=" + s + ":15");
  Emulator emu(dataset({"customers", "order_items"}, 10000), flags);
  emulator::Dataset ds(emu.data);
  const std::vector<std::string> tables{"customers", "order_items"};
  TempDir work;
  write_file(work.file("config.json"), synthetic_config(emu, R"("checkpoint_interval_records":100)"));
  write_catalog(work, ds);
  for (const Variant& v :
       {Variant{"jsonl", "none", false}, Variant{"csv", "zstd", true}, Variant{"jsonl", "gzip", true}}) {
    INFO("--format ", v.format, " --compress ", v.compress, std::string(v.split ? " --split-per-shard" : ""));
    const std::string dir = work.file("kill-" + v.format + "-" + v.compress);
    const auto args = variant_args(work.file("config.json"), dir, v, tables);
    {
      Child c = Child::spawn(extract_argv(args), work.file("killed.out"), work.file("killed.err"));
      // Wait for a checkpoint with rows in _state.json and a little more, then SIGKILL.
      const bool checkpointed =
          sv::testing::wait_until([&] { return has_checkpoint(dir) && has_part_file(dir); }, std::chrono::seconds(20));
      REQUIRE_MESSAGE(checkpointed, ("no checkpoint within 20 s: " + read_file(work.file("killed.err"))));
      // Not a wait for a condition: the kill is meant to land a while after the checkpoint, with
      // rows written past it (the case under test).
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      int status = 0;
      REQUIRE_MESSAGE(::waitpid(c.pid, &status, WNOHANG) == 0, "the extract ended before the kill: make it slower");
      c.kill_now();
    }
    // Killed: .part files, and no table is complete yet (its final file absent).
    CHECK(has_part_file(dir));
    const std::string ext = ext_of(v.format, v.compress);
    for (const auto& table : tables) {
      INFO("table ", table);
      for (const auto& f : dir_files(dir)) CHECK_FALSE(f == table + "." + ext);
    }
    CHECK(read_file(work.file("killed.out")).empty());  // no summary from a killed process
    const auto killed_state = state_of(dir);

    // A copy of DIR whose .part is shorter than its checkpoint cannot resume.
    {
      const std::string broken = dir + "-short";
      fs::copy(dir, broken);
      std::string victim;
      std::uint64_t recorded = 0;
      for (const auto& t : killed_state["tables"].GetArray()) {
        for (const auto& f : t["files"].GetArray()) {
          if (!f["base"]["complete"].GetBool() && f["base"]["bytes"].GetUint64() > 0) {
            victim = f["base"]["name"].GetString() + std::string(".part");
            recorded = f["base"]["bytes"].GetUint64();
          }
        }
      }
      REQUIRE(!victim.empty());
      fs::resize_file(broken + "/" + victim, 1);
      auto broken_args = args;
      *std::find(broken_args.begin(), broken_args.end(), dir) = broken;
      const Run r = run_extract(broken_args);
      CHECK(r.code == 1);
      CHECK(r.out.empty());
      CHECK_MESSAGE(
          r.err.find("extract: " + broken + "/" + victim + " is shorter than its checkpoint (1 bytes, " +
                     std::to_string(recorded) + " recorded); delete " + broken + " to start over") != std::string::npos,
          r.err);
    }

    // Rerun the same command: resumes, completes, every row once.
    const Run resumed = run_extract(args);
    if (resumed.code != 0) MESSAGE("stderr:\n", resumed.err);
    REQUIRE(resumed.code == 0);
    const Summary s = parse_summary(resumed.out);
    REQUIRE_MESSAGE(s.parsed, ("stdout: " + resumed.out));
    check_complete_dir(ds, dir, v, tables, s, false);
    // A resumed compressed file is several gzip members / zstd frames: standard tools read it
    // whole, the same text as zlib/libzstd here.
    if (v.compress != "none") {
      for (const auto& f : dir_files(dir)) {
        if (f == "_state.json") continue;
        INFO("file ", f);
        const std::string path = dir + "/" + f;
        const std::string want = file_text(path);
        if (v.compress == "gzip") {
          CHECK(tool_output({"/bin/gzip", "-dc", path}) == want);
          CHECK(tool_output({env_or("PYTHON3", "/usr/bin/python3"), "-c",
                             "import gzip,sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())", path}) == want);
        } else if (fs::exists("/usr/bin/zstd")) {
          CHECK(tool_output({"/usr/bin/zstd", "-dcq", path}) == want);
        }
      }
    }
    // It resumed rather than started over: this run wrote exactly the rows after the checkpoint.
    std::uint64_t resumed_from = 0;
    for (const auto& table : tables) {
      INFO("table ", table);
      const std::uint64_t total = expected_rows_raw(ds, *ds.table_index(table), 0).size();
      const std::uint64_t kept = checkpointed_rows(killed_state, table);
      resumed_from += kept;
      CHECK((s.rows.count(table) ? s.rows.at(table) : 0) == total - kept);
    }
    CHECK(resumed_from > 0);

    // A rerun on the complete DIR writes nothing and exits 0.
    const auto before = dir_snapshot(dir);
    const Run again = run_extract(args);
    CHECK(again.code == 0);
    const Summary s2 = parse_summary(again.out);
    CHECK_MESSAGE(s2.parsed, ("stdout: " + again.out));
    CHECK(s2.complete);
    CHECK(s2.rows.empty());
    CHECK(sorted(s2.already_complete) == sorted(tables));
    CHECK(dir_snapshot(dir) == before);

    // A rerun with another --format fails and names the mismatch; nothing changes.
    auto other = args;
    const std::string other_format = v.format == "csv" ? "jsonl" : "csv";
    *std::find(other.begin(), other.end(), v.format) = other_format;
    const Run mismatch = run_extract(other);
    CHECK(mismatch.code == 1);
    CHECK(mismatch.out.empty());
    CHECK_MESSAGE(mismatch.err.find("extract: " + dir + "/_state.json was written with --format " + v.format +
                                    ", this run asks for " + other_format +
                                    ": rerun with the same options or use another --output-dir") != std::string::npos,
                  mismatch.err);
    CHECK(dir_snapshot(dir) == before);
  }
}

TEST_CASE("SIGTERM mid-copy: exit 1 with an incomplete summary after a final checkpoint; the rerun completes") {
  std::vector<std::string> flags{"--copy-packet-bytes=2000"};
  for (const auto& s : emulator::Dataset::shard_names(4)) flags.push_back("--slow-shard=" + s + ":10");
  Emulator emu(dataset({"customers"}, 8000), flags);
  emulator::Dataset ds(emu.data);
  TempDir work;
  write_file(work.file("config.json"), synthetic_config(emu, R"("checkpoint_interval_records":500)"));
  const Variant v{"csv", "gzip", false};
  const std::string dir = work.file("d");
  const auto args = variant_args(work.file("config.json"), dir, v, {"customers"});
  write_catalog(work, ds);
  Child c = Child::spawn(extract_argv(args), work.file("out"), work.file("err"));
  const bool copying = sv::testing::wait_until([&] { return has_checkpoint(dir); }, std::chrono::seconds(20));
  REQUIRE(copying);
  ::kill(c.pid, SIGTERM);
  CHECK(c.wait(std::chrono::seconds(30)) == 1);
  Summary stopped = parse_summary(read_file(work.file("out")));
  REQUIRE_MESSAGE(stopped.parsed, ("stdout: " + read_file(work.file("out"))));
  CHECK_FALSE(stopped.complete);
  CHECK(stopped.files["customers"].empty());
  CHECK(dir_files(dir) == std::vector<std::string>{"_state.json", "customers.csv.gz.part"});
  CHECK(read_file(work.file("err"))
            .find("extract: interrupted by signal 15; rerun the same command to resume from the "
                  "last checkpoint") != std::string::npos);
  // The stop checkpointed every row it wrote: the rerun writes exactly the rest.
  const Run rerun = run_extract(args);
  CHECK(rerun.code == 0);
  Summary done = parse_summary(rerun.out);
  REQUIRE(done.parsed);
  const std::uint64_t total = expected_rows_raw(ds, *ds.table_index("customers"), 0).size();
  CHECK(stopped.rows["customers"] > 0);
  CHECK(stopped.rows["customers"] + done.rows["customers"] == total);
  check_complete_dir(ds, dir, v, {"customers"}, done, false);
}

TEST_CASE("--follow: a VStream that fails for good ends the extract with exit 1 and the error in the summary") {
  Emulator emu(dataset({"customers"}, 200));
  emulator::Dataset ds(emu.data);
  TempDir work;
  write_file(work.file("config.json"), synthetic_config(emu, R"("checkpoint_interval_seconds":1)"));
  const std::string dir = work.file("d");
  Child c = Child::spawn(extract_argv({"--config", work.file("config.json"), "--catalog", write_catalog(work, ds),
                                       "--output-dir", dir, "--tables", "customers", "--follow"}),
                         work.file("out"), work.file("err"));
  // Once the copy is over (the base file is final), vtgate ends every stream with INTERNAL.
  const bool copied =
      sv::testing::wait_until([&] { return fs::exists(fs::path(dir) / "customers.jsonl"); }, std::chrono::seconds(10));
  REQUIRE(copied);
  emu.control("POST", "/fault/end-streams?mode=internal");
  const int code = c.wait(std::chrono::seconds(30));
  CHECK(code == 1);
  const std::string out = read_file(work.file("out"));
  CHECK(out.find(R"("name":"customers","rows":)" +
                 std::to_string(expected_rows_raw(ds, *ds.table_index("customers"), 0).size()) +
                 R"(,"complete":false,"error":"VStream failed: INTERNAL: )") != std::string::npos);
  CHECK(read_file(work.file("err")).find("extract: some tables are incomplete") != std::string::npos);
}

TEST_CASE("an empty table: a CSV file with the header only, an empty JSONL, valid compressed files") {
  Emulator emu(dataset({"customers"}, 0));
  emulator::Dataset ds(emu.data);
  TempDir work;
  write_file(work.file("config.json"), synthetic_config(emu));
  write_catalog(work, ds);
  for (const Variant& v :
       {Variant{"csv", "gzip", false}, Variant{"jsonl", "zstd", true}, Variant{"csv", "none", false}}) {
    INFO("--format ", v.format, " --compress ", v.compress, std::string(v.split ? " --split-per-shard" : ""));
    const std::string dir = work.file(v.format + "-" + v.compress);
    const Run r = run_extract(variant_args(work.file("config.json"), dir, v, {"customers"}));
    CHECK(r.code == 0);
    const Summary s = parse_summary(r.out);
    CHECK(s.parsed);
    check_complete_dir(ds, dir, v, {"customers"}, s, true);
    for (const auto& f : dir_files(dir)) {
      if (f == "_state.json") continue;
      CHECK(file_text(dir + "/" + f) == (v.format == "csv" ? "id,email,name,balance,created_at\r\n" : ""));
    }
  }
}

TEST_CASE("usage and input errors: exit 2 or 1 with a message on stderr") {
  Emulator emu(dataset({"customers"}, 20));
  emulator::Dataset ds(emu.data);
  TempDir work;
  write_file(work.file("config.json"), synthetic_config(emu));
  const std::string cfg = work.file("config.json");
  const std::string catalog = write_catalog(work, ds);
  struct Case {
    const char* name;
    std::vector<std::string> args;  //!< after --config
    int code;
    std::string message;  //!< on stderr, after the log prefix
  };
  const std::string d = work.file("d");
  const std::vector<Case> cases = {
      {"unknown --format",
       {"--catalog", catalog, "--output-dir", d, "--format", "xml"},
       2,
       "extract: --format must be jsonl or csv, not 'xml' (see source-vitess extract --help)"},
      {"unknown --compress",
       {"--catalog", catalog, "--output-dir", d, "--compress", "lz4"},
       2,
       "extract: --compress must be none, gzip or zstd, not 'lz4' (see source-vitess extract "
       "--help)"},
      {"no --output-dir",
       {"--catalog", catalog, "--tables", "customers"},
       2,
       "extract: missing --output-dir <dir> (see source-vitess extract --help)"},
      {"an unknown option",
       {"--catalog", catalog, "--output-dir", d, "--bogus"},
       2,
       "extract: unknown option '--bogus' (see source-vitess extract --help)"},
      {"a bad metrics address",
       {"--catalog", catalog, "--output-dir", d, "--metrics-address", "localhost"},
       2,
       "extract: invalid metrics address 'localhost': "},
      {"a table that does not exist",
       {"--catalog", catalog, "--output-dir", d, "--tables", "customers,nosuch"},
       1,
       "extract: keyspace 'commerce' has no table nosuch (its tables: customers)"},
      {"--output-dir is a file",
       {"--catalog", catalog, "--output-dir", cfg},
       1,
       "extract: --output-dir " + cfg + " is not a directory: give a directory (it is created if missing)"},
      {"--output-dir under a file",
       {"--catalog", catalog, "--output-dir", cfg + "/d"},
       1,
       "extract: --output-dir " + cfg + "/d is not a directory: a part of its path is a file"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto args = c.args;
    args.insert(args.begin(), {"--config", cfg});
    const Run r = run_extract(args);
    CHECK(r.code == c.code);
    CHECK_MESSAGE(r.err.find(c.message) != std::string::npos, r.err);
    CHECK(r.out.empty());
    CHECK_FALSE(fs::exists(d));
  }
}

TEST_CASE("--metrics-address: Prometheus text while the extract runs") {
  std::vector<std::string> flags{"--copy-packet-bytes=2000"};
  for (const auto& s : emulator::Dataset::shard_names(4)) flags.push_back("--slow-shard=" + s + ":15");
  Emulator emu(dataset({"customers", "order_items"}, 8000), flags);
  emulator::Dataset ds(emu.data);
  TempDir work;
  write_file(work.file("config.json"), synthetic_config(emu, R"("checkpoint_interval_records":500)"));
  const int port = free_port();
  Child c = Child::spawn(extract_argv({"--config", work.file("config.json"), "--catalog", write_catalog(work, ds),
                                       "--output-dir", work.file("d"), "--tables", "customers,order_items",
                                       "--metrics-address", "127.0.0.1:" + std::to_string(port)}),
                         work.file("out"), work.file("err"));
  // Scrape until every table × shard has copied rows, while the extract still runs.
  std::pair<int, std::string> got{0, ""};
  std::map<std::string, double> records;  // "table shard" → source_vitess_records_total
  bool seen = false;
  bool running = true;
  std::optional<int> early_exit;  // the exit code when the extract ended while being scraped
  // Nothing signals a new sample: the endpoint is scraped every 50 ms until the deadline.
  (void)sv::testing::wait_until(
      [&] {
        got = http_get(port, "/metrics");
        if (!early_exit) early_exit = c.exited();
        running = !early_exit;
        records.clear();
        std::istringstream in(got.second);
        std::string line;
        while (std::getline(in, line)) {
          for (const char* table : {"customers", "order_items"}) {
            for (const auto& shard : emu.data.shards) {
              const std::string prefix = std::string("source_vitess_records_total{stream=\"") + table +
                                         "\",namespace=\"commerce\",shard=\"" + shard + "\"} ";
              if (line.rfind(prefix, 0) == 0)
                records[std::string(table) + " " + shard] = std::strtod(line.c_str() + prefix.size(), nullptr);
            }
          }
        }
        seen = got.first == 200 && records.size() == 8 &&
               std::all_of(records.begin(), records.end(), [](const auto& r) { return r.second > 0; });
        return seen || !running;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(50));
  CHECK_MESSAGE(seen, ("no per-shard records_total for both tables while running; last answer: " +
                       std::to_string(got.first) + "\n" + got.second));
  CHECK(got.second.find("# TYPE source_vitess_records_total counter\n") != std::string::npos);
  // Every sample line is `source_vitess_<name>[{labels}] <number>`.
  std::istringstream in(got.second);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    INFO("line: ", line);
    const auto sp = line.rfind(' ');
    REQUIRE(sp != std::string::npos);
    CHECK(line.rfind("source_vitess_", 0) == 0);
    char* end = nullptr;
    (void)std::strtod(line.c_str() + sp + 1, &end);
    CHECK(*end == '\0');
    ++samples;
  }
  CHECK(samples > 0);
  const int code = early_exit ? *early_exit : c.wait(std::chrono::seconds(60));
  CHECK(code == 0);
}

// =============================================================================================
// --follow on real MariaDB shards

namespace {

// Two shards -80 / 80-: even ids on -80, odd on 80- (as in test_mariadb_cluster.cpp).
struct Cluster : MariaDbCluster {
  Cluster() {
    for (int shard = 0; shard < 2; ++shard)
      sql(shard,
          "CREATE TABLE commerce.customers (id BIGINT UNSIGNED PRIMARY KEY, email VARCHAR(64) NOT NULL, "
          "tier ENUM('free','pro') NOT NULL, balance DECIMAL(10,2), active TINYINT(1) NOT NULL, "
          "avatar VARBINARY(8), created DATETIME(3) NOT NULL)");
    for (int id = 1; id <= 6; ++id) insert(id);
    start_emulator();
  }
  void insert(int id) {
    sql(id % 2 == 0 ? 0 : 1, "INSERT INTO commerce.customers VALUES (" + std::to_string(id) + ", 'c" +
                                 std::to_string(id) + "@example.com', '" + (id % 3 ? "free" : "pro") + "', " +
                                 std::to_string(id) + ".25, " + std::to_string(id % 2) + ", X'00FF" +
                                 std::to_string(10 + id) + "', '2024-05-0" + std::to_string(id) + " 10:00:00.123')");
  }
};

//! The columns of Cluster::insert(id)'s row as a JSON object body (no braces closed), tier given.
std::string record_of(int id, const std::string& tier) {
  // Cluster::insert writes X'00FF<decimal 10+id>': the decimal digits read as hex.
  const std::string avatar{'\0', '\xff', static_cast<char>(std::stoi(std::to_string(10 + id), nullptr, 16))};
  return R"({"id":)" + std::to_string(id) + R"(,"email":"c)" + std::to_string(id) + R"(@example.com","tier":")" + tier +
         R"(","balance":)" + std::to_string(id) + R"(.25,"active":)" + std::string(id % 2 ? "true" : "false") +
         R"(,"avatar":")" + base64_encode(avatar) + R"(","created":"2024-05-)" + (id < 10 ? "0" : "") +
         std::to_string(id) + R"(T10:00:00.123000")";
}
std::string tier_of(int id) { return id % 3 ? "free" : "pro"; }

//! A change row with its _ab_cdc_* values replaced by markers: "T" (a timestamp string) or null.
std::string mark_cdc(const std::string& line) {
  rapidjson::Document d;
  d.Parse(line.c_str());
  if (d.HasParseError() || !d.IsObject()) return "<not JSON> " + line;
  for (const char* k : {"_ab_cdc_updated_at", "_ab_cdc_deleted_at"}) {
    if (d.HasMember(k) && d[k].IsString() && std::string(d[k].GetString()).size() >= 19) d[k].SetString("T");
  }
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  d.Accept(w);
  return b.GetString();
}

//! Rows of the final change files of `table` in DIR, in file order then line order.
std::vector<std::string> change_rows(const std::string& dir, const std::string& table) {
  std::vector<std::string> out;
  for (const auto& f : dir_files(dir)) {
    if (f.rfind(table + ".changes-", 0) != 0 || f.ends_with(".part")) continue;
    for (auto& l : jsonl_lines(read_file(dir + "/" + f))) out.push_back(std::move(l));
  }
  return out;
}

//! The per-shard positions of `table` in DIR/_state.json: shard → TableCursor.position.
std::map<std::string, std::string> positions(const std::string& dir, const std::string& table) {
  std::map<std::string, std::string> out;
  const auto state = state_of(dir);
  const auto* t = state_table(state, table);
  if (t == nullptr || !(*t)["state"].IsObject()) return out;
  for (const auto& m : (*t)["state"]["shards"].GetObject()) {
    if (auto cur = vitess::decode_cursor(m.value["cursor"].GetString())) out[m.name.GetString()] = cur->position();
  }
  return out;
}

}  // namespace

TEST_CASE("--follow on MariaDB shards: base file, then SQL changes in rolling change files; SIGTERM ends cleanly") {
  Cluster cluster;
  TempDir work;
  write_file(work.file("config.json"), cluster.config(R"("max_retries":1,"checkpoint_interval_seconds":1)"));
  const std::string dir = work.file("dump");
  const std::vector<std::string> args{
      "--config", work.file("config.json"), "--output-dir", dir, "--tables", "customers", "--follow", "--roll-seconds",
      "1"};
  const std::string cdc_nulls = R"(,"_ab_cdc_updated_at":null,"_ab_cdc_deleted_at":null})";
  std::map<std::string, std::string> copied_at;
  {
    Child c = Child::spawn(extract_argv(args), work.file("f1.out"), work.file("f1.err"));
    const bool base = sv::testing::wait_until([&] { return fs::exists(dir + "/customers.jsonl"); },
                                              std::chrono::seconds(30), std::chrono::milliseconds(50));
    REQUIRE_MESSAGE(base, ("no final customers.jsonl within 30 s: " + read_file(work.file("f1.err"))));
    std::vector<std::string> want_base;
    for (int id = 1; id <= 6; ++id) want_base.push_back(record_of(id, tier_of(id)) + cdc_nulls);
    CHECK(sorted(jsonl_lines(read_file(dir + "/customers.jsonl"))) == sorted(want_base));
    // A checkpoint after the copy: _state.json is rewritten (every checkpoint_interval_seconds,
    // 1 s here, even on a quiet stream).
    const auto copy_state = fs::last_write_time(dir + "/_state.json");
    REQUIRE(sv::testing::wait_until([&] { return fs::last_write_time(dir + "/_state.json") != copy_state; },
                                    std::chrono::seconds(10), std::chrono::milliseconds(50)));
    copied_at = positions(dir, "customers");
    CHECK(copied_at.size() == 2);

    cluster.insert(7);
    cluster.sql(0, "UPDATE commerce.customers SET tier = 'pro' WHERE id = 2");
    cluster.sql(1, "DELETE FROM commerce.customers WHERE id = 5");
    auto wait_rows = [&](std::size_t n, int tenths) {
      std::vector<std::string> rows;
      (void)sv::testing::wait_until(
          [&] {
            rows = change_rows(dir, "customers");
            return rows.size() >= n;
          },
          std::chrono::milliseconds(100 * tenths), std::chrono::milliseconds(100));
      return rows.size();
    };
    // A change file rolls at a checkpoint once it is older than --roll-seconds; a quiet stream
    // still checkpoints every checkpoint_interval_seconds (1 s here).
    const std::size_t rolled = wait_rows(3, 150);
    CHECK_MESSAGE(rolled == 3, ("rows in final change files 15 s after the changes: " + std::to_string(rolled)));
    ::kill(c.pid, SIGTERM);
    const int code = c.wait(std::chrono::seconds(30));
    CHECK(code == 0);
    if (code != 0) MESSAGE("stderr:\n", read_file(work.file("f1.err")));
  }
  CHECK_FALSE(has_part_file(dir));
  Summary s = parse_summary(read_file(work.file("f1.out")));
  CHECK_MESSAGE(s.parsed, ("stdout: " + read_file(work.file("f1.out"))));
  std::vector<std::string> marked;
  for (const auto& r : change_rows(dir, "customers")) marked.push_back(mark_cdc(r));
  std::vector<std::string> want_changes{
      record_of(7, "free") + R"(,"_ab_cdc_updated_at":"T","_ab_cdc_deleted_at":null})",
      record_of(2, "pro") + R"(,"_ab_cdc_updated_at":"T","_ab_cdc_deleted_at":null})",
      record_of(5, tier_of(5)) + R"(,"_ab_cdc_updated_at":"T","_ab_cdc_deleted_at":"T"})",
  };
  CHECK(s.rows["customers"] == 6 + want_changes.size());
  CHECK(sorted(marked) == sorted(want_changes));
  // The change files are named from 000001 on, all final.
  bool first_found = false;
  for (const auto& f : dir_files(dir)) first_found = first_found || f == "customers.changes-000001.jsonl";
  CHECK(first_found);
  // Both shards' cursors moved past the changes.
  const auto after = positions(dir, "customers");
  REQUIRE(after.size() == 2);
  for (const auto& entry : after) {
    const auto& shard = entry.first;  // named, not bound: INFO captures it in a lambda (clang 14)
    const auto& pos = entry.second;
    INFO("shard ", shard);
    CHECK(!pos.empty());
    CHECK(pos != copied_at[shard]);
  }

  // Follow again on the same DIR: nothing is replayed; a new insert arrives once.
  {
    Child c = Child::spawn(extract_argv(args), work.file("f2.out"), work.file("f2.err"));
    // Fixed pauses, not waits for a condition: a follower shows nothing (no file, no output) until
    // it stops, so the test gives it time to resume streaming and then to write the insert; the
    // checks after the stop are exact either way.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    cluster.insert(8);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    ::kill(c.pid, SIGTERM);
    CHECK(c.wait(std::chrono::seconds(30)) == 0);
  }
  // The second run copied nothing again: it wrote the one new change only.
  Summary s2 = parse_summary(read_file(work.file("f2.out")));
  CHECK_MESSAGE(s2.parsed, ("stdout: " + read_file(work.file("f2.out"))));
  CHECK(s2.rows["customers"] == 1);
  std::vector<std::string> all;
  for (const auto& r : change_rows(dir, "customers")) all.push_back(mark_cdc(r));
  auto want_all = want_changes;
  want_all.push_back(record_of(8, tier_of(8)) + R"(,"_ab_cdc_updated_at":"T","_ab_cdc_deleted_at":null})");
  CHECK(sorted(all) == sorted(want_all));
  CHECK_FALSE(has_part_file(dir));

  // The same as CSV, zstd, one file per shard, into a fresh DIR. The table now holds ids
  // 1 2(pro) 3 4 6 7 8: even ids on -80, odd on 80-.
  const std::string dir2 = work.file("dump-csv");
  const std::vector<std::string> args2{"--config",
                                       work.file("config.json"),
                                       "--output-dir",
                                       dir2,
                                       "--tables",
                                       "customers",
                                       "--follow",
                                       "--roll-seconds",
                                       "1",
                                       "--format",
                                       "csv",
                                       "--compress",
                                       "zstd",
                                       "--split-per-shard"};
  auto shard_changes = [&](const std::string& shard) {
    // CSV records of the final change files of one shard, header checked, _ab_cdc values marked.
    std::vector<std::string> out;
    for (const auto& f : dir_files(dir2)) {
      if (f.rfind("customers." + shard + ".changes-", 0) != 0 || f.ends_with(".part")) continue;
      bool ok = false;
      auto records = csv_records(file_text(dir2 + "/" + f), ok);
      CHECK(ok);
      if (records.empty()) continue;
      CHECK(records.front() == "id,email,tier,balance,active,avatar,created,_ab_cdc_updated_at,_ab_cdc_deleted_at");
      for (std::size_t i = 1; i < records.size(); ++i) {
        // No field of these rows holds a comma: split, mark the last two when set.
        std::vector<std::string> fields;
        std::stringstream ss(records[i]);
        for (std::string x; std::getline(ss, x, ',');) fields.push_back(x);
        if (records[i].back() == ',') fields.push_back("");
        for (std::size_t k = fields.size() >= 2 ? fields.size() - 2 : 0; k < fields.size(); ++k)
          if (!fields[k].empty()) fields[k] = "\"T\"";
        out.push_back(join(fields, ","));
      }
    }
    return out;
  };
  {
    Child c = Child::spawn(extract_argv(args2), work.file("f3.out"), work.file("f3.err"));
    const bool base = sv::testing::wait_until(
        [&] { return fs::exists(dir2 + "/customers.-80.csv.zst") && fs::exists(dir2 + "/customers.80-.csv.zst"); },
        std::chrono::seconds(15), std::chrono::milliseconds(50));
    REQUIRE_MESSAGE(base, ("no final base files within 15 s: " + read_file(work.file("f3.err"))));
    cluster.insert(10);
    cluster.sql(1, "DELETE FROM commerce.customers WHERE id = 3");
    (void)sv::testing::wait_until([&] { return !shard_changes("-80").empty() && !shard_changes("80-").empty(); },
                                  std::chrono::seconds(15), std::chrono::milliseconds(100));
    ::kill(c.pid, SIGTERM);
    CHECK(c.wait(std::chrono::seconds(30)) == 0);
  }
  CHECK_FALSE(has_part_file(dir2));
  const std::vector<std::string> columns{
      "id", "email", "tier", "balance", "active", "avatar", "created", "_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
  std::vector<std::string> even, odd;
  for (int id : {2, 4, 6, 8}) even.push_back(record_of(id, id == 2 ? "pro" : tier_of(id)) + cdc_nulls);
  for (int id : {1, 3, 7}) odd.push_back(record_of(id, tier_of(id)) + cdc_nulls);
  check_file(dir2 + "/customers.-80.csv.zst", "csv", columns, even);
  check_file(dir2 + "/customers.80-.csv.zst", "csv", columns, odd);
  CHECK(shard_changes("-80") ==
        std::vector<std::string>{
            csv_record(record_of(10, tier_of(10)) + R"(,"_ab_cdc_updated_at":"T","_ab_cdc_deleted_at":null})")});
  CHECK(shard_changes("80-") ==
        std::vector<std::string>{
            csv_record(record_of(3, tier_of(3)) + R"(,"_ab_cdc_updated_at":"T","_ab_cdc_deleted_at":"T"})")});
}

TEST_CASE(
    "a full disk mid-copy: one line with the reason, no table complete, the summary names the "
    "error, exit 1") {
  Emulator emu(dataset({"customers", "order_items"}, 2000));
  emulator::Dataset ds(emu.data);
  TempDir work;
  write_file(work.file("config.json"), synthetic_config(emu, R"("checkpoint_interval_records":500)"));
  const std::string dir = work.file("d");
  // The disk is "full" for files past 64 KiB (RLIMIT_FSIZE; write(2) then fails with EFBIG):
  // _state.json and the logs stay below it, each table's rows go past it at a checkpoint.
  const auto argv =
      extract_argv({"--config", work.file("config.json"), "--catalog", write_catalog(work, ds), "--output-dir", dir});
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int out = ::open(work.file("out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(work.file("err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::signal(SIGXFSZ, SIG_IGN);  // kept across exec: the write fails instead of killing the process
    rlimit limit{64 * 1024, 64 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  Child c;
  c.pid = pid;
  CHECK(c.wait(std::chrono::seconds(60)) == 1);
  const std::string err = read_file(work.file("err"));
  const Summary summary = parse_summary(read_file(work.file("out")));
  REQUIRE_MESSAGE(summary.parsed, read_file(work.file("out")));
  CHECK_FALSE(summary.complete);
  // The first file that hit the limit is the reason, for both tables: the one it stopped too.
  REQUIRE(summary.errors.size() == 2);
  const std::string reason = summary.errors.at("customers");
  CHECK(summary.errors.at("order_items") == reason);
  CHECK_MESSAGE((reason == "cannot write " + dir + "/customers.jsonl.part: File too large" ||
                 reason == "cannot write " + dir + "/order_items.jsonl.part: File too large"),
                reason);
  const std::string line = "extract: " + reason;
  const auto at = err.find(line);
  CHECK_MESSAGE(at != std::string::npos, err);
  CHECK_MESSAGE(err.find(reason, at + line.size()) == std::string::npos, "the reason is logged once: " << err);
  CHECK_MESSAGE(err.find("progress customers: incomplete") != std::string::npos, err);
  CHECK_MESSAGE(err.find("progress order_items: incomplete") != std::string::npos, err);
  CHECK_MESSAGE(err.find(": complete") == std::string::npos, err);
  // No file was finished: only _state.json and .part files (a table stopped before its first
  // row has none).
  for (const auto& f : dir_files(dir)) {
    CHECK_MESSAGE((f == "_state.json" || f.ends_with(".jsonl.part")), f);
  }
}

TEST_CASE("a symbolic link at a .part path is refused: the file it points to keeps its bytes, exit 1") {
  Emulator emu(dataset({"customers"}, 20));
  emulator::Dataset ds(emu.data);
  TempDir work;
  write_file(work.file("config.json"), synthetic_config(emu));
  const std::string dir = work.file("d");
  fs::create_directory(dir);
  write_file(work.file("precious"), "outside the output directory\n");
  fs::create_symlink(work.file("precious"), dir + "/customers.jsonl.part");
  const Run r =
      run_extract({"--config", work.file("config.json"), "--catalog", write_catalog(work, ds), "--output-dir", dir});
  CHECK(r.code == 1);
  CHECK_MESSAGE(r.err.find("extract: " + dir +
                           "/customers.jsonl.part is a symbolic link, not a regular file: extract writes only "
                           "regular files in its output directory; remove it or choose another --output-dir") !=
                    std::string::npos,
                r.err);
  CHECK(read_file(work.file("precious")) == "outside the output directory\n");
  CHECK(fs::is_symlink(dir + "/customers.jsonl.part"));
}
