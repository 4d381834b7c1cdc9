// End-to-end tests of the source-vitess binary: every bad input of issue 3's table, answered in
// the right protocol form with the right exit code, and no secret in any output.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr const char* kSecret = "Pa55-w0rd-SECRET-9f3";

struct Run {
  int code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
};

const char* binary() {
  const char* b = std::getenv("SOURCE_VITESS");
  REQUIRE_MESSAGE(b != nullptr, "SOURCE_VITESS must name the source-vitess binary (meson test sets it)");
  return b;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

//! A temporary directory for input files and captured output, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sv-cli-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const auto p = path / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
};

//! Runs source-vitess with args; stdout/stderr go to files. Bounded: killed after 20 s.
Run run(const TempDir& dir, const std::vector<std::string>& args, bool protocol_output = true) {
  const auto out_path = dir.path / "stdout";
  const auto err_path = dir.path / "stderr";
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL("source-vitess did not finish within 20 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Run r;
  REQUIRE_MESSAGE(WIFEXITED(status), "source-vitess was killed by a signal");
  r.code = WEXITSTATUS(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  // Always: stdout holds only JSON protocol lines, and the password is nowhere.
  for (const auto& l : protocol_output ? r.lines() : std::vector<std::string>{}) {
    rapidjson::Document d;
    d.Parse(l.c_str());
    CHECK_MESSAGE(!d.HasParseError(), "stdout line is not JSON: " << l);
    CHECK_MESSAGE((d.IsObject() && d.HasMember("type")), "stdout line is not a protocol message: " << l);
  }
  CHECK(r.out.find(kSecret) == std::string::npos);
  CHECK(r.err.find(kSecret) == std::string::npos);
  return r;
}

std::string good_config() {
  return std::string(R"({"host":"vtgate.example","database":"shop","username":"reader","password":")") + kSecret +
         R"(","tls_mode":"disabled"})";
}

constexpr const char* kCatalog = R"({"streams":[
  {"stream":{"name":"customers","namespace":"shop","json_schema":{"type":"object","properties":{"id":{"type":["number"]}}},
   "supported_sync_modes":["full_refresh","incremental"]},"sync_mode":"incremental","destination_sync_mode":"append"}]})";

//! The single stdout line of a `check`: CONNECTION_STATUS FAILED with `message`, exit 0.
void expect_check_failed(const Run& r, const std::string& message) {
  CHECK(r.code == 0);
  REQUIRE(r.lines().size() == 1);
  CHECK(r.lines()[0] == R"({"type":"CONNECTION_STATUS","connectionStatus":{"status":"FAILED","message":")" +
                            message + R"("}})");
}

//! The single stdout line of a failed `discover`/`read`: TRACE ERROR, exit 1.
void expect_trace_error(const Run& r, const std::string& message, const char* failure_type = "config_error") {
  CHECK(r.code == 1);
  REQUIRE(r.lines().size() == 1);
  rapidjson::Document d;
  d.Parse(r.lines()[0].c_str());
  REQUIRE(!d.HasParseError());
  CHECK(std::string(d["type"].GetString()) == "TRACE");
  CHECK(std::string(d["trace"]["type"].GetString()) == "ERROR");
  CHECK(d["trace"]["emitted_at"].IsInt64());
  CHECK(std::string(d["trace"]["error"]["message"].GetString()) == message);
  CHECK(std::string(d["trace"]["error"]["failure_type"].GetString()) == failure_type);
  CHECK(r.err.find(message) != std::string::npos);  // also logged on stderr
}

}  // namespace

TEST_CASE("cli: spec prints one SPEC line; --version and --help") {
  TempDir dir;
  const Run r = run(dir, {"spec"});
  CHECK(r.code == 0);
  REQUIRE(r.lines().size() == 1);
  CHECK(r.out.back() == '\n');
  rapidjson::Document d;
  d.Parse(r.lines()[0].c_str());
  CHECK(std::string(d["type"].GetString()) == "SPEC");
  CHECK(d["spec"]["connectionSpecification"]["properties"].HasMember("max_concurrent_readers"));

  const Run v = run(dir, {"--version"}, false);
  CHECK(v.code == 0);
  CHECK(v.out == std::string("source-vitess ") + SOURCE_VITESS_VERSION + "\n");
  const Run h = run(dir, {"--help"}, false);
  CHECK(h.code == 0);
  CHECK(h.out.rfind("usage: source-vitess <command>", 0) == 0);
}

TEST_CASE("cli: unknown command, no command, unknown option") {
  TempDir dir;
  expect_trace_error(run(dir, {"sync"}), "unknown command 'sync': expected spec, check, discover, read or extract");
  expect_trace_error(run(dir, {}), "no command given: expected spec, check, discover, read or extract");
  expect_check_failed(run(dir, {"check", "--config", dir.write("c.json", good_config()), "--verbose"}),
                      "unknown option '--verbose'");
  expect_trace_error(run(dir, {"read", "--config"}), "option '--config' needs a file path");
}

TEST_CASE("cli: missing or unreadable --config / --catalog / --state") {
  TempDir dir;
  const std::string config = dir.write("config.json", good_config());
  const std::string catalog = dir.write("catalog.json", kCatalog);
  const std::string missing = (dir.path / "nope.json").string();

  expect_check_failed(run(dir, {"check"}), "missing --config <file>: 'check' needs the connector configuration");
  expect_trace_error(run(dir, {"discover"}), "missing --config <file>: 'discover' needs the connector configuration");
  expect_trace_error(run(dir, {"read", "--catalog", catalog}),
                     "missing --config <file>: 'read' needs the connector configuration");
  expect_trace_error(run(dir, {"read", "--config", config}), "missing --catalog <file>: 'read' needs the configured catalog");
  // A bad metrics address stops the read before anything starts: one TRACE ERROR, no stream.
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", catalog, "--metrics-address", "127.0.0.1:99999"}),
                     "invalid metrics address '127.0.0.1:99999': the port must be a number from 0 to 65535 (0 picks a "
                     "free port)");

  expect_check_failed(run(dir, {"check", "--config", missing}),
                      "cannot read --config file '" + missing + "': No such file or directory");
  expect_trace_error(run(dir, {"discover", "--config=" + missing}),
                     "cannot read --config file '" + missing + "': No such file or directory");
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", missing}),
                     "cannot read --catalog file '" + missing + "': No such file or directory");
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", catalog, "--state", missing}),
                     "cannot read --state file '" + missing + "': No such file or directory");
  expect_trace_error(run(dir, {"read", "--config", dir.path.string(), "--catalog", catalog}),
                     "cannot read --config file '" + dir.path.string() + "': Is a directory");
  if (::geteuid() != 0) {  // root reads anything
    const std::string locked = dir.write("locked.json", good_config());
    ::chmod(locked.c_str(), 0);
    expect_check_failed(run(dir, {"check", "--config", locked}),
                        "cannot read --config file '" + locked + "': Permission denied");
  }
}

TEST_CASE("cli: invalid JSON says where") {
  TempDir dir;
  const std::string config = dir.write("config.json", good_config());
  const std::string bad = dir.write("bad.json", "{\"host\": \"h\",\n  \"database\": \"shop\"\n  \"username\": \"u\"}");
  const std::string where = "invalid JSON in the config at line 3, column 3 (byte offset 37): Missing a comma or '}' after an object member.";
  expect_check_failed(run(dir, {"check", "--config", bad}), "invalid configuration: " + where);
  expect_trace_error(run(dir, {"discover", "--config", bad}), "invalid configuration: " + where);
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", dir.write("cat.json", "{\"streams\": [}")}),
                     "invalid JSON in the configured catalog at line 1, column 14 (byte offset 13): Invalid value.");
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", dir.write("cat2.json", kCatalog), "--state",
                               dir.write("state.json", "[{\"type\":\"STREAM\"")}),
                     "invalid JSON in the state at line 1, column 18 (byte offset 17): Missing a comma or '}' after an object member.");
  expect_check_failed(run(dir, {"check", "--config", dir.write("empty.json", "")}),
                      "invalid configuration: the config is empty: expected a JSON object");
}

TEST_CASE("cli: required field missing or of the wrong type names the field") {
  TempDir dir;
  const auto cfg = [&](const std::string& body) { return dir.write("c.json", body); };
  const std::string pw = std::string(R"("password":")") + kSecret + "\"";
  expect_check_failed(run(dir, {"check", "--config", cfg(R"({"database":"shop","username":"u",)" + pw + "}")}),
                      "invalid configuration: config field 'host' is required but missing");
  expect_trace_error(run(dir, {"discover", "--config", cfg(R"({"host":"h","database":"shop","username":"u"})")}),
                     "invalid configuration: config field 'password' is required but missing");
  expect_trace_error(run(dir, {"discover", "--config", cfg(R"({"host":"h","database":["shop"],"username":"u",)" + pw + "}")}),
                     "invalid configuration: config field 'database' must be a string, got an array");
  expect_check_failed(
      run(dir, {"check", "--config", cfg(R"({"host":"h","database":"shop","username":"u",)" + pw + R"(,"max_retries":"3"})")}),
      "invalid configuration: config field 'max_retries' must be an integer of at least 0, got a string");
  expect_check_failed(
      run(dir, {"check", "--config", cfg(R"({"host":"h","database":"shop","username":"u","password":31337})")}),
      "invalid configuration: config field 'password' must be a string, got an integer");
}

TEST_CASE("cli: starting_gtids that is not JSON or not {keyspace:{shard:gtid}}") {
  TempDir dir;
  const auto with = [&](const std::string& gtids) {
    std::string c = good_config();
    c.pop_back();
    return dir.write("c.json", c + R"(,"starting_gtids":)" + gtids + "}");
  };
  expect_check_failed(run(dir, {"check", "--config", with(R"("{shop:1}")")}),
                      "invalid configuration: invalid JSON in config field 'starting_gtids' at line 1, column 2 "
                      "(byte offset 1): Missing a name for object member.");
  expect_trace_error(run(dir, {"discover", "--config", with(R"("{\"shop\":[\"-80\"]}")")}),
                     "invalid configuration: config field 'starting_gtids' must be a JSON object of the form "
                     "{\"<keyspace>\": {\"<shard>\": \"<gtid position>\"}}; keyspace 'shop' maps to an array");
}

TEST_CASE("cli: catalog with an unsupported sync mode or no streams") {
  TempDir dir;
  const std::string config = dir.write("config.json", good_config());
  expect_trace_error(
      run(dir, {"read", "--config", config, "--catalog",
                dir.write("cat.json", R"({"streams":[{"stream":{"name":"customers","json_schema":{}},"sync_mode":"cdc"}]})")}),
      R"(catalog stream #1 ('customers'): unsupported sync_mode "cdc" (this source supports "full_refresh" and "incremental"))");
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", dir.write("cat0.json", R"({"streams":[]})")}),
                     "the configured catalog has no streams: select at least one stream to sync");
}

TEST_CASE("cli: bad state is a config error") {
  TempDir dir;
  const std::string config = dir.write("config.json", good_config());
  const std::string catalog = dir.write("catalog.json", kCatalog);
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", catalog, "--state",
                               dir.write("s.json", R"({"streams":{"shop:customers":{"shards":{"-80":{"cursor":"%%%"}}}}})")}),
                     "state for stream 'shop:customers', shard '-80': the cursor is not valid base64");
}

TEST_CASE("cli: with nothing listening, each command names the refused connection; state shapes are accepted") {
  TempDir dir;
  // Port 1 on loopback: nothing listens there, so every connection is refused at once.
  const std::string config = dir.write(
      "config.json", std::string(R"({"host":"127.0.0.1","database":"shop","username":"reader","password":")") +
                         kSecret + R"(","tls_mode":"disabled","grpc_port":1,"mysql_port":1,"max_retries":1})");
  const std::string catalog = dir.write("catalog.json", kCatalog);
  expect_check_failed(run(dir, {"check", "--config", config}),
                      "Connection to 127.0.0.1:1 (MySQL protocol) was refused or failed: check host and mysql_port");
  expect_trace_error(run(dir, {"discover", "--config", config}),
                     "Connection to 127.0.0.1:1 (MySQL protocol) was refused or failed: check host and mysql_port",
                     "transient_error");
  // Every "no state" form and the Go connector's legacy state are accepted; the read then fails
  // on the refused VStream with the stream INCOMPLETE and exit 1. The row estimates are not
  // available either, which the user sees as a LOG warning first.
  auto expect_refused_read = [](const Run& r) {
    CHECK(r.code == 1);
    REQUIRE(r.lines().size() == 4);
    CHECK(r.lines()[0] == R"x({"type":"LOG","log":{"level":"WARN","message":"No row estimates (MySQL connection )x"
                          R"x(failed: Connection to 127.0.0.1:1 (MySQL protocol) was refused or failed: check host )x"
                          R"x(and mysql_port)"}})x");
    CHECK(r.lines()[1].find(R"("status":"STARTED")") != std::string::npos);
    CHECK(r.lines()[2].find(R"("failure_type":"transient_error")") != std::string::npos);
    CHECK(r.lines()[2].find("Connection refused") != std::string::npos);
    CHECK(r.lines()[3].find(R"("status":"INCOMPLETE")") != std::string::npos);
  };
  for (const char* state : {"", "  \n", "null", "[]"}) {
    const Run r = run(dir, {"read", "--config", config, "--catalog", catalog, "--state", dir.write("s.json", state)});
    expect_refused_read(r);
    CHECK(r.err.find("input state shape 'none', 0 stream(s) resume from saved state") != std::string::npos);
  }
  const Run legacy = run(dir, {"read", "--config", config, "--catalog", catalog, "--state",
                               dir.write("s.json", R"({"streams":{"shop:customers":{"shards":{"-80":{"cursor":"CgMtODASBHNob3A="}}},)"
                                                   R"("shop:gone":{"shards":{"-80":{"cursor":"CgMtODASBHNob3A="}}}}})")});
  expect_refused_read(legacy);
  CHECK(legacy.err.find("input state shape 'legacy_streams', 1 stream(s) resume from saved state") != std::string::npos);
  CHECK(legacy.err.find("ignoring the state for stream 'shop:gone': the stream is not in the configured catalog") !=
        std::string::npos);
  // The configuration is logged, without the password.
  CHECK(legacy.err.find("host=127.0.0.1") != std::string::npos);
  CHECK(legacy.err.find(kSecret) == std::string::npos);
  CHECK(legacy.out.find(kSecret) == std::string::npos);
}

TEST_CASE("cli: a closed stdout ends the process cleanly with a log line") {
  TempDir dir;
  int p[2];
  REQUIRE(::pipe(p) == 0);
  const auto err_path = dir.path / "stderr";
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);  // nobody reads: the first write gets EPIPE (SIGPIPE is ignored by the binary)
    ::dup2(p[1], 1);
    const int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(e, 2);
    ::execl(binary(), binary(), "spec", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(p[0]);
  ::close(p[1]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(slurp(err_path).find("stdout was closed by its reader (EPIPE); stopping") != std::string::npos);
}
