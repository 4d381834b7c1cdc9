// tests/engine: the golden cases. Each directory under tests/engine/golden/ is one `read`:
// case.json (the config, configured catalog and state the connector is given, and a script for the
// in-memory fake vtgate of fake_source.hpp: rows and binlog per shard, faults) and expected.jsonl
// (the exact stdout). tests/engine/golden/README.md describes the format; adding a case is adding
// those two files. The runner drives engine::Engine with the ordered emitter (AirbyteOutput), as
// `read` does, and compares stdout line by line after two normalisations that keep it readable:
// emitted_at becomes 0 and each STATE cursor is shown decoded (the base64 TableCursor as JSON).
// GOLDEN_UPDATE=1 rewrites expected.jsonl from the actual output (review the diff before committing).
#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "airbyte/catalog.hpp"
#include "airbyte/config.hpp"
#include "airbyte/emitter.hpp"
#include "airbyte/message_writer.hpp"
#include "airbyte/state.hpp"
#include "engine/output.hpp"
#include "engine/sync.hpp"
#include "fake_source.hpp"
#include "protocol_validator.hpp"
#include "vitess/cursor.hpp"

using namespace sv;
using namespace sv::engine;
using namespace sv::engine::testing;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

using Json = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string to_json(const Json& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

std::string text_of(const Json& v, const char* member) {
  REQUIRE_MESSAGE((v.HasMember(member) && v[member].IsString()), "expected a string \"", member, "\"");
  return v[member].GetString();
}

grpc::StatusCode status_code(const std::string& name) {
  for (int c = 0; c <= grpc::StatusCode::UNAUTHENTICATED; ++c) {
    if (vitess::status_code_name(static_cast<grpc::StatusCode>(c)) == name) return static_cast<grpc::StatusCode>(c);
  }
  FAIL("unknown gRPC status code ", name);
  return grpc::StatusCode::UNKNOWN;
}

//! {"status": {"code": "INVALID_ARGUMENT", "message": "..."}}: a gRPC status from vtgate, classified
//! as the VStream client classifies it; {"error": {"failure_type": ..., "message": ...}}: an error
//! of the source seam as is.
Error error_of(const Json& v) {
  if (v.HasMember("status")) {
    grpc::Status status(status_code(text_of(v["status"], "code")), text_of(v["status"], "message"));
    return vitess::classify_status(status).to_error();
  }
  REQUIRE_MESSAGE(v.HasMember("error"), "a fault needs \"status\", \"error\", \"eof\" or \"stall\": ", to_json(v));
  const std::string type = text_of(v["error"], "failure_type");
  const std::string message = text_of(v["error"], "message");
  if (type == "config_error") return config_error(message);
  if (type == "transient_error") return transient_error(message);
  REQUIRE_MESSAGE(type == "system_error", "unknown failure_type ", type);
  return system_error(message);
}

Fault fault_of(const Json& v) {
  Fault f;
  f.after_events = v.HasMember("after_events") ? v["after_events"].GetUint64() : 0;
  if (v.HasMember("stall")) return f;
  if (v.HasMember("eof")) {
    f.end = SourceItem(SourceEof{});
  } else {
    f.end = SourceItem(SourceError{error_of(v)});
  }
  return f;
}

Tx tx_of(const Json& v) {
  if (v.HasMember("ddl_columns")) {
    std::vector<std::string> columns;
    for (const auto& c : v["ddl_columns"].GetArray()) columns.emplace_back(c.GetString());
    return ddl(std::move(columns));
  }
  std::vector<Change> changes;
  for (const auto& c : v["changes"].GetArray()) {
    Change change;
    change.id = c["id"].GetInt64();
    if (c.HasMember("before")) change.before = c["before"].GetString();
    if (c.HasMember("after")) change.after = c["after"].GetString();
    changes.push_back(std::move(change));
  }
  return v.HasMember("timestamp") ? tx(std::move(changes), v["timestamp"].GetInt64()) : tx(std::move(changes));
}

//! A stream request naming one of these shards is answered with the error alone.
using Refusals = std::map<std::string, Error>;

void load_source(const Json& v, FakeSource& src, Refusals& refusals) {
  if (v.HasMember("batch_rows")) src.batch_rows = v["batch_rows"].GetUint64();
  if (v.HasMember("position_failures")) src.position_failures = v["position_failures"].GetInt();
  for (const auto& s : v["shards"].GetArray()) {
    const std::string name = text_of(s, "name");
    const auto& rows = s["rows"];
    src.add_shard(name, rows["first_id"].GetInt64(), rows["count"].GetInt64());
    FakeShard& shard = src.shards[name];
    if (s.HasMember("serving")) shard.serving = s["serving"].GetBool();
    if (s.HasMember("log")) {
      for (const auto& t : s["log"].GetArray()) shard.log.push_back(tx_of(t));
    }
    if (s.HasMember("faults")) {
      for (const auto& f : s["faults"].GetArray()) shard.faults.push_back(fault_of(f));
    }
  }
  if (v.HasMember("refuse_shards")) {
    for (const auto& r : v["refuse_shards"].GetObject()) refusals.emplace(r.name.GetString(), error_of(r.value));
  }
}

//! last_known_pk {"id": 42} ⇄ the query.QueryResult the cursor carries (numbers are INT64 columns).
query::QueryResult lastpk_of(const Json& v) {
  query::QueryResult qr;
  auto* row = qr.add_rows();
  for (const auto& m : v.GetObject()) {
    const bool number = m.value.IsNumber();
    *qr.add_fields() = field(m.name.GetString(), number ? query::INT64 : query::VARCHAR, "");
    const std::string text = number ? std::to_string(m.value.GetInt64()) : m.value.GetString();
    row->add_lengths(static_cast<std::int64_t>(text.size()));
    row->mutable_values()->append(text);
  }
  return qr;
}

Json lastpk_json(const query::QueryResult& qr, Allocator& a) {
  Json out(rapidjson::kObjectType);
  if (qr.rows_size() == 0) return out;
  const auto& row = qr.rows(0);
  std::size_t at = 0;
  for (int i = 0; i < qr.fields_size() && i < row.lengths_size(); ++i) {
    const auto length = row.lengths(i);
    Json value;
    if (length < 0) {
      value.SetNull();
    } else {
      const std::string text = row.values().substr(at, static_cast<std::size_t>(length));
      at += static_cast<std::size_t>(length);
      if (qr.fields(i).type() == query::INT64) {
        value.SetInt64(std::stoll(text));
      } else {
        value.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), a);
      }
    }
    out.AddMember(Json(qr.fields(i).name().c_str(), a), value, a);
  }
  return out;
}

//! In the input state, a cursor written as {"keyspace","shard","position","last_known_pk"} becomes
//! the Go connector's base64 TableCursor.
void encode_cursors(Json& v, Allocator& a) {
  if (v.IsArray()) {
    for (auto& e : v.GetArray()) encode_cursors(e, a);
  } else if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      if (std::string(m.name.GetString()) == "cursor" && m.value.IsObject()) {
        vitess::TableCursor c =
            vitess::make_cursor(text_of(m.value, "keyspace"), text_of(m.value, "shard"), text_of(m.value, "position"));
        if (m.value.HasMember("last_known_pk")) *c.mutable_last_known_pk() = lastpk_of(m.value["last_known_pk"]);
        m.value.SetString(vitess::encode_cursor(c).c_str(), a);
      } else {
        encode_cursors(m.value, a);
      }
    }
  }
}

//! The reverse on stdout, and emitted_at set to 0 (the only field that depends on the clock).
void normalise(Json& v, Allocator& a) {
  if (v.IsArray()) {
    for (auto& e : v.GetArray()) normalise(e, a);
    return;
  }
  if (!v.IsObject()) return;
  for (auto& m : v.GetObject()) {
    const std::string name = m.name.GetString();
    if (name == "emitted_at" && m.value.IsNumber()) {
      m.value.SetInt64(0);
    } else if (name == "cursor" && m.value.IsString()) {
      auto c = vitess::decode_cursor(m.value.GetString());
      REQUIRE_MESSAGE(c.ok(), "a STATE cursor that does not decode: ", m.value.GetString());
      Json decoded(rapidjson::kObjectType);
      decoded.AddMember("keyspace", Json(c->keyspace().c_str(), a), a);
      decoded.AddMember("shard", Json(c->shard().c_str(), a), a);
      decoded.AddMember("position", Json(c->position().c_str(), a), a);
      if (c->has_last_known_pk()) decoded.AddMember("last_known_pk", lastpk_json(c->last_known_pk(), a), a);
      m.value = decoded;
    } else {
      normalise(m.value, a);
    }
  }
}

std::vector<std::string> normalised_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.c_str());
    REQUIRE_MESSAGE(!d.HasParseError(), "not JSON: ", line);
    normalise(d, d.GetAllocator());
    lines.push_back(to_json(d));
  }
  return lines;
}

struct CaseOutput {
  std::string text;  //!< stdout as written
  int exit_code = -1;
};

//! One `read` as the CLI runs it: the emitter on stdout (a temporary file here), the engine
//! feeding it through AirbyteOutput, on one io_context thread.
CaseOutput run_case(const rapidjson::Document& c) {
  auto config = airbyte::parse_config(to_json(c["config"]));
  REQUIRE_MESSAGE(config.ok(), "config: ", config.ok() ? "" : config.error().message);
  auto catalog = airbyte::parse_configured_catalog(to_json(c["catalog"]), config->database);
  REQUIRE_MESSAGE(catalog.ok(), "catalog: ", catalog.ok() ? "" : catalog.error().message);
  airbyte::InputState state;
  state.streams.resize(catalog->streams.size());
  if (c.HasMember("state")) {
    rapidjson::Document s;
    s.CopyFrom(c["state"], s.GetAllocator());
    encode_cursors(s, s.GetAllocator());
    auto parsed = airbyte::parse_state(to_json(s), *catalog);
    REQUIRE_MESSAGE(parsed.ok(), "state: ", parsed.ok() ? "" : parsed.error().message);
    state = *parsed;
  }
  FakeSource src;
  Refusals refusals;
  load_source(c["source"], src, refusals);
  if (!refusals.empty()) {
    src.script = [&refusals](const StreamRequest& r) -> std::optional<std::deque<SourceItem>> {
      for (const auto& sp : r.shards) {
        auto it = refusals.find(sp.shard);
        if (it != refusals.end()) return std::deque<SourceItem>{SourceError{it->second}};
      }
      return std::nullopt;
    };
  }

  EngineOptions opt;
  opt.retry_base = std::chrono::milliseconds(1);
  opt.retry_max = std::chrono::milliseconds(5);
  opt.jitter_seed = 7;
  opt.inline_decode_bytes = inline_decode_bytes();
  opt.clock_ms = [] { return std::int64_t{1700000000000}; };
  opt.clock_ns = [] { return std::int64_t{1700000000000000000}; };
  std::chrono::milliseconds stop_after{0};
  if (c.HasMember("engine")) {
    const auto& e = c["engine"];
    if (e.HasMember("shard_time_limit_ms"))
      opt.shard_time_limit = std::chrono::milliseconds(e["shard_time_limit_ms"].GetInt64());
    if (e.HasMember("stop_after_ms")) stop_after = std::chrono::milliseconds(e["stop_after_ms"].GetInt64());
  }

  char path[] = "/tmp/engine_golden_XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  CaseOutput out;
  {
    airbyte::MessageWriter writer(fd);
    asio::io_context io(1);
    std::vector<airbyte::StreamDescriptor> descriptors;
    for (const auto& s : catalog->streams) descriptors.push_back(s.descriptor());
    airbyte::EmitterOptions eo;
    eo.queue_capacity = opt.emitter_queue;
    eo.clock = opt.clock_ms;
    airbyte::Emitter emitter(io.get_executor(), descriptors, writer, eo);
    asio::co_spawn(io, emitter.run(), [&](std::exception_ptr e, int code) { out.exit_code = e ? 1 : code; });
    AirbyteOutput output(emitter);
    ReadInputs in{*config, *catalog, state};
    Engine engine(io, in, src, output, opt);
    bool ended = false;
    asio::steady_timer stop_timer(io);
    asio::co_spawn(io, engine.run(), [&](std::exception_ptr) {
      ended = true;
      stop_timer.cancel();
    });
    if (stop_after.count() > 0) {
      // SIGTERM after stop_after_ms, as the CLI's signal handler calls it.
      stop_timer.expires_after(stop_after);
      stop_timer.async_wait([&](boost::system::error_code ec) {
        if (!ec && !ended) engine.stop(transient_error("interrupted by SIGTERM"));
      });
    }
    io.run_for(std::chrono::seconds(30));
    CHECK_MESSAGE(ended, "the engine did not end within 30 s");
  }
  out.text = read_text(path);
  ::close(fd);
  ::unlink(path);
  return out;
}

//! The lines that differ (the first 12), expected (-) above actual (+).
std::string diff(const std::vector<std::string>& want, const std::vector<std::string>& got) {
  std::ostringstream s;
  s << "expected " << want.size() << " lines, got " << got.size() << "\n";
  int shown = 0;
  for (std::size_t i = 0; i < std::max(want.size(), got.size()) && shown < 12; ++i) {
    const std::string w = i < want.size() ? want[i] : "(none)";
    const std::string g = i < got.size() ? got[i] : "(none)";
    if (w == g) continue;
    s << "  line " << i + 1 << "\n    - " << w << "\n    + " << g << "\n";
    ++shown;
  }
  return s.str();
}

bool any_line_has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("golden: each case's exact stdout") {
  const char* dir_env = std::getenv("ENGINE_GOLDEN_DIR");
  REQUIRE_MESSAGE(dir_env != nullptr, "ENGINE_GOLDEN_DIR names tests/engine/golden (meson test sets it)");
  const bool update = std::getenv("GOLDEN_UPDATE") != nullptr;
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(dir_env)) {
    if (entry.is_directory()) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  CHECK(cases.size() >= 10);
  for (const auto& dir : cases) {
    const std::string name = dir.filename().string();
    CAPTURE(name);
    rapidjson::Document c;
    c.Parse(read_text(dir / "case.json").c_str());
    REQUIRE_MESSAGE(!c.HasParseError(), name, "/case.json is not valid JSON (offset ", c.GetErrorOffset(), ")");
    const CaseOutput out = run_case(c);
    const auto got = normalised_lines(out.text);

    // What holds for every read, whatever the case: the protocol's rules, and exit code 1 exactly
    // when a stream ended INCOMPLETE.
    const auto report = sv::testing::validate_read_output(out.text, to_json(c["catalog"]));
    for (const auto& p : report.problems) MESSAGE(name, ": protocol problem: ", p);
    CHECK(report.ok());
    CHECK(out.exit_code == (any_line_has(out.text, R"("status":"INCOMPLETE")") ? 1 : 0));

    if (update) {
      std::ofstream w(dir / "expected.jsonl", std::ios::binary | std::ios::trunc);
      for (const auto& line : got) w << line << "\n";
      MESSAGE(name, ": expected.jsonl rewritten");
      continue;
    }
    const auto want = normalised_lines(read_text(dir / "expected.jsonl"));
    CHECK_MESSAGE(want == got, name, ": stdout differs from expected.jsonl\n", diff(want, got));
  }
}
