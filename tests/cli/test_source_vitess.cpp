// End-to-end tests of the source-vitess binary: every bad input of issue 3's table, answered in
// the right protocol form with the right exit code, and no secret in any output.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child.hpp"
#include "emulator.hpp"
#include "files.hpp"
#include "loopback.hpp"
#include "temp_dir.hpp"
#include "util/base64.hpp"
#include "wait.hpp"

namespace fs = std::filesystem;

namespace {

constexpr const char* kSecret = "Pa55-w0rd-SECRET-9f3";

struct Run {
  int code = -1;
  std::string out;
  std::string err;
  std::optional<std::chrono::steady_clock::duration> after_signal;  //!< SIGTERM to exit
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
  //! The protocol lines after the LOG WARN that a read without a reachable MySQL port starts with
  //! (no row estimates); checks that it is there.
  std::vector<std::string> lines_after_estimate_warning() const {
    auto v = lines();
    REQUIRE(!v.empty());
    CHECK(v[0].rfind(R"({"type":"LOG","log":{"level":"WARN","message":"No row estimates )", 0) == 0);
    v.erase(v.begin());
    return v;
  }
};

const char* binary() {
  const char* b = std::getenv("SOURCE_VITESS");
  REQUIRE_MESSAGE(b != nullptr, "SOURCE_VITESS must name the source-vitess binary (meson test sets it)");
  return b;
}

using sv::testing::read_file;

//! A temporary directory for input files and captured output, removed at the end.
struct TempDir : sv::testing::TempDir {
  TempDir() : sv::testing::TempDir("sv-cli") {}
};

struct RunOptions {
  bool protocol_output = true;
  std::vector<std::string> env;  //!< extra NAME=VALUE entries
  //! Once stdout contains this text, send SIGTERM (and record when: Run::after_signal).
  std::string sigterm_when_stdout_has;
};

//! Runs source-vitess with args; stdout/stderr go to files. Bounded: killed after 20 s.
Run run_with(const TempDir& dir, const std::vector<std::string>& args, const RunOptions& options) {
  const std::string out_path = dir / "stdout";
  const std::string err_path = dir / "stderr";
  std::vector<std::string> argv{binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = sv::testing::Child::spawn(argv, out_path, err_path, false, options.env);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::optional<int> code;
  std::optional<std::chrono::steady_clock::time_point> signalled;
  if (!options.sigterm_when_stdout_has.empty()) {
    // Nothing signals what the child has printed: its stdout file is checked every 5 ms.
    (void)sv::testing::wait_until(
        [&] {
          code = child.exited();
          return code || read_file(out_path).find(options.sigterm_when_stdout_has) != std::string::npos;
        },
        std::chrono::seconds(20), std::chrono::milliseconds(5));
    if (!code) {
      ::kill(child.pid, SIGTERM);
      signalled = std::chrono::steady_clock::now();
    }
  }
  if (!code) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int c = child.wait(std::max(left, std::chrono::milliseconds(1)));  // kills it at the deadline
    if (c < 0) FAIL("source-vitess did not finish within 20 s");
    code = c;
  }
  Run r;
  if (signalled) r.after_signal = std::chrono::steady_clock::now() - *signalled;
  REQUIRE_MESSAGE(*code < 128, "source-vitess was killed by a signal");
  r.code = *code;
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  // Always: stdout holds only JSON protocol lines, and the password is nowhere.
  for (const auto& l : options.protocol_output ? r.lines() : std::vector<std::string>{}) {
    rapidjson::Document d;
    d.Parse(l.c_str());
    CHECK_MESSAGE(!d.HasParseError(), "stdout line is not JSON: " << l);
    CHECK_MESSAGE((d.IsObject() && d.HasMember("type")), "stdout line is not a protocol message: " << l);
  }
  CHECK(r.out.find(kSecret) == std::string::npos);
  CHECK(r.err.find(kSecret) == std::string::npos);
  return r;
}

Run run(const TempDir& dir, const std::vector<std::string>& args, bool protocol_output = true) {
  RunOptions options;
  options.protocol_output = protocol_output;
  return run_with(dir, args, options);
}

using sv::testing::SilentPort;

//! A vtgate-emulator process (synthetic backend, tests/support's launcher) with `flags`.
struct Emulator {
  sv::testing::EmulatorProcess process;
  int grpc_port = process.grpc_port();
  int control_port = process.control_port();

  explicit Emulator(std::vector<std::string> flags) : process(with_log_level(std::move(flags))) {}
  static std::vector<std::string> with_log_level(std::vector<std::string> flags) {
    flags.insert(flags.begin(), "--log-level=warn");
    return flags;
  }
};

//! A test CA and a server certificate for 127.0.0.1 (tests/emulator/gen_test_certs.sh).
struct TestCerts {
  TempDir dir;
  TestCerts() {
    const char* script = std::getenv("GEN_TEST_CERTS");
    REQUIRE_MESSAGE(script != nullptr, "GEN_TEST_CERTS must name tests/emulator/gen_test_certs.sh");
    REQUIRE(std::system((std::string(script) + " '" + dir.path + "'").c_str()) == 0);
  }
  std::vector<std::string> emulator_flags() const {
    return {"--tls-cert=" + (dir / "server.pem"), "--tls-key=" + (dir / "server.key")};
  }
};

//! A config for a local vtgate: gRPC on `grpc_port`, MySQL on `mysql_port` (port 1 refuses at once,
//! so a read gets no row estimates and wastes no time), `extra` fields appended.
std::string local_config(int grpc_port, int mysql_port, const std::string& extra = R"("tls_mode":"disabled")") {
  return std::string(R"({"host":"127.0.0.1","database":"shop","username":"reader","password":")") + kSecret +
         R"(","grpc_port":)" + std::to_string(grpc_port) + R"(,"mysql_port":)" + std::to_string(mysql_port) +
         R"(,"max_retries":1,)" + extra + "}";
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
  CHECK(r.lines()[0] ==
        R"({"type":"CONNECTION_STATUS","connectionStatus":{"status":"FAILED","message":")" + message + R"("}})");
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
  const std::string missing = (dir / "nope.json");

  expect_check_failed(run(dir, {"check"}), "missing --config <file>: 'check' needs the connector configuration");
  expect_trace_error(run(dir, {"discover"}), "missing --config <file>: 'discover' needs the connector configuration");
  expect_trace_error(run(dir, {"read", "--catalog", catalog}),
                     "missing --config <file>: 'read' needs the connector configuration");
  expect_trace_error(run(dir, {"read", "--config", config}),
                     "missing --catalog <file>: 'read' needs the configured catalog");
  // A bad metrics address stops the read before anything starts: one TRACE ERROR, no stream.
  expect_trace_error(
      run(dir, {"read", "--config", config, "--catalog", catalog, "--metrics-address", "127.0.0.1:99999"}),
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
  expect_trace_error(run(dir, {"read", "--config", dir.path, "--catalog", catalog}),
                     "cannot read --config file '" + dir.path + "': Is a directory");
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
  const std::string where =
      "invalid JSON in the config at line 3, column 3 (byte offset 37): Missing a comma or '}' after an object member.";
  expect_check_failed(run(dir, {"check", "--config", bad}), "invalid configuration: " + where);
  expect_trace_error(run(dir, {"discover", "--config", bad}), "invalid configuration: " + where);
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", dir.write("cat.json", "{\"streams\": [}")}),
                     "invalid JSON in the configured catalog at line 1, column 14 (byte offset 13): Invalid value.");
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", dir.write("cat2.json", kCatalog), "--state",
                               dir.write("state.json", "[{\"type\":\"STREAM\"")}),
                     "invalid JSON in the state at line 1, column 18 (byte offset 17): Missing a comma or '}' after an "
                     "object member.");
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
  expect_trace_error(
      run(dir, {"discover", "--config", cfg(R"({"host":"h","database":["shop"],"username":"u",)" + pw + "}")}),
      "invalid configuration: config field 'database' must be a string, got an array");
  expect_check_failed(
      run(dir, {"check", "--config",
                cfg(R"({"host":"h","database":"shop","username":"u",)" + pw + R"(,"max_retries":"3"})")}),
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
                dir.write("cat.json",
                          R"({"streams":[{"stream":{"name":"customers","json_schema":{}},"sync_mode":"cdc"}]})")}),
      R"(catalog stream #1 ('customers'): unsupported sync_mode "cdc" (this source supports "full_refresh" and "incremental"))");
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", dir.write("cat0.json", R"({"streams":[]})")}),
                     "the configured catalog has no streams: select at least one stream to sync");
}

TEST_CASE("cli: bad state is a config error") {
  TempDir dir;
  const std::string config = dir.write("config.json", good_config());
  const std::string catalog = dir.write("catalog.json", kCatalog);
  expect_trace_error(
      run(dir, {"read", "--config", config, "--catalog", catalog, "--state",
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
  const Run legacy =
      run(dir, {"read", "--config", config, "--catalog", catalog, "--state",
                dir.write("s.json", R"({"streams":{"shop:customers":{"shards":{"-80":{"cursor":"CgMtODASBHNob3A="}}},)"
                                    R"("shop:gone":{"shards":{"-80":{"cursor":"CgMtODASBHNob3A="}}}}})")});
  expect_refused_read(legacy);
  CHECK(legacy.err.find("input state shape 'legacy_streams', 1 stream(s) resume from saved state") !=
        std::string::npos);
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
  const auto err_path = dir / "stderr";
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
  CHECK(read_file(err_path).find("stdout was closed by its reader (EPIPE: Broken pipe)") != std::string::npos);
}

TEST_CASE("cli: a full stdout (/dev/full) is an error with the errno text and exit 1") {
  TempDir dir;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  const auto err_path = dir / "stderr";
  if (pid == 0) {
    const int full = ::open("/dev/full", O_WRONLY);
    ::dup2(full, 1);
    const int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(e, 2);
    ::execl(binary(), binary(), "spec", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(read_file(err_path).find("writing to stdout failed: No space left on device") != std::string::npos);
}

TEST_CASE(
    "cli: input files are capped: --config /dev/zero, --catalog /dev/urandom, an oversized "
    "--state") {
  TempDir dir;
  const std::string config = dir.write("config.json", good_config());
  const std::string catalog = dir.write("catalog.json", kCatalog);
  // Each of these grew memory until the process was killed, or never ended.
  expect_check_failed(run(dir, {"check", "--config", "/dev/zero"}),
                      "--config file '/dev/zero' is larger than the 4 MiB limit: check the path");
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", "/dev/urandom"}),
                     "--catalog file '/dev/urandom' is larger than the 256 MiB limit: check the path");
  // A regular file is refused by its size, without reading it (a sparse file of 256 MiB + 1).
  const std::string state = dir.write("state.json", "");
  REQUIRE(::truncate(state.c_str(), (off_t{256} << 20) + 1) == 0);
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", catalog, "--state", state}),
                     "--state file '" + state + "' is larger than the 256 MiB limit: check the path");
}

TEST_CASE("cli: invalid UTF-8 from the command line or the config reaches stdout as U+FFFD") {
  TempDir dir;
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  const auto valid_utf8_json = [](const Run& run) {
    for (const auto& l : run.lines()) {
      rapidjson::Document d;
      d.Parse<rapidjson::kParseValidateEncodingFlag>(l.c_str());
      CHECK_MESSAGE(!d.HasParseError(), "stdout line is not valid UTF-8 JSON: " << l);
    }
  };
  const Run unknown = run(dir, {"sy\xffnc"});
  valid_utf8_json(unknown);
  CHECK(unknown.code == 1);
  REQUIRE(unknown.lines().size() == 1);
  rapidjson::Document d;
  d.Parse(unknown.lines()[0].c_str());
  REQUIRE(d.IsObject());
  CHECK(std::string(d["trace"]["error"]["message"].GetString()) ==
        "unknown command 'sy" + r + "nc': expected spec, check, discover, read or extract");
  // CONNECTION_STATUS: a config value echoed in the message.
  const Run check = run(dir, {"check", "--config",
                              dir.write("c.json", R"({"host":"h","database":"shop","username":"u",)"
                                                  R"("password":"","tls_mode":"dis)"
                                                  "\xc3"
                                                  "abled\"}")});
  valid_utf8_json(check);
  expect_check_failed(check,
                      "invalid configuration: config field 'tls_mode' must be one of \\\"verify_identity\\\", "
                      "\\\"verify_ca\\\", \\\"required\\\", \\\"disabled\\\", got \\\"dis" +
                          r + "abled\\\"");
}

TEST_CASE("cli: a catalog's sync_mode of the wrong type, a config key given twice") {
  TempDir dir;
  const std::string config = dir.write("config.json", good_config());
  expect_trace_error(
      run(dir,
          {"read", "--config", config, "--catalog",
           dir.write("cat.json", R"({"streams":[{"stream":{"name":"customers","json_schema":{}},"sync_mode":5}]})")}),
      R"(catalog stream #1 ('customers'): 'sync_mode' must be a string: one of "full_refresh" or "incremental", got an integer)");
  std::string twice = good_config();
  twice.pop_back();
  expect_check_failed(run(dir, {"check", "--config", dir.write("twice.json", twice + R"(,"Host":"other.example"})")}),
                      "invalid configuration: config field 'host' is given twice, as 'host' and "
                      "'Host' (field names "
                      "ignore case): remove one");
}

namespace {

//! The TRACE ERROR line's error message and failure_type.
std::pair<std::string, std::string> trace_error_of(const std::string& line) {
  rapidjson::Document d;
  d.Parse(line.c_str());
  REQUIRE(!d.HasParseError());
  REQUIRE(std::string(d["type"].GetString()) == "TRACE");
  REQUIRE(std::string(d["trace"]["type"].GetString()) == "ERROR");
  return {d["trace"]["error"]["message"].GetString(), d["trace"]["error"]["failure_type"].GetString()};
}

}  // namespace

TEST_CASE("cli: host with a port is a config_error for check and read alike") {
  TempDir dir;
  const std::string config = dir.write(
      "config.json", std::string(R"({"host":"127.0.0.1:47100","database":"shop","username":"reader","password":")") +
                         kSecret + R"(","tls_mode":"disabled","grpc_port":47100})");
  const std::string message =
      "invalid configuration: config field 'host' must be a host name or IP address only: remove "
      "the port ':47100' "
      "and set grpc_port (VStream, default 443) and mysql_port (check and discover, default 3306) "
      "instead";
  expect_check_failed(run(dir, {"check", "--config", config}), message);
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", dir.write("catalog.json", kCatalog)}), message);
}

TEST_CASE("cli: SIGTERM while read peeks the start positions of a silent vtgate ends the read at once") {
  TempDir dir;
  SilentPort vtgate;  // accepts the connection and never answers: gRPC's connect runs ~20 s to its timeout
  RunOptions options;
  options.sigterm_when_stdout_has = R"("status":"STARTED")";  // the signal handler is installed by then
  const Run r = run_with(dir,
                         {"read", "--config", dir.write("config.json", local_config(vtgate.port, 1)), "--catalog",
                          dir.write("catalog.json", kCatalog)},
                         options);
  REQUIRE(r.after_signal.has_value());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*r.after_signal).count();
  MESSAGE("read ended " << ms << " ms after SIGTERM");
  CHECK(ms < 5000);  // a bound for a loaded machine; it takes about 0.1 s (before the fix ~20 s)
  CHECK(r.code == 1);
  const auto lines = r.lines_after_estimate_warning();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find(R"("status":"STARTED")") != std::string::npos);
  CHECK(trace_error_of(lines[1]) ==
        std::make_pair(std::string("interrupted by SIGTERM"), std::string("transient_error")));
  CHECK(lines[2].find(R"("status":"INCOMPLETE")") != std::string::npos);
}

TEST_CASE("cli: GRPC_TRACE cannot print the basic-auth header with the password") {
  TempDir dir;
  Emulator vtgate({"--keyspace=shop", "--shards=1", "--tables=customers", "--rows=3", "--user=reader",
                   std::string("--password=") + kSecret});
  RunOptions options;
  options.env = {"GRPC_TRACE=http,api,all", "GRPC_VERBOSITY=debug"};
  const Run r = run_with(dir,
                         {"read", "--config", dir.write("config.json", local_config(vtgate.grpc_port, 1)), "--catalog",
                          dir.write("catalog.json", kCatalog)},
                         options);
  CHECK(r.code == 0);  // the read itself works (3 records)
  CHECK(r.out.find(R"("status":"COMPLETE")") != std::string::npos);
  // run_with already checks that the password is nowhere; its base64 in the header must not be
  // either.
  const std::string credentials = sv::base64_encode(std::string("reader:") + kSecret);
  CHECK(r.err.find(credentials) == std::string::npos);
  CHECK(r.out.find(credentials) == std::string::npos);
  CHECK(r.err.find("GRPC_TRACE is ignored: gRPC's traces would print the password (in the "
                   "basic-auth header) to the "
                   "log") != std::string::npos);
}

TEST_CASE(
    "cli: a tls_mode that does not match vtgate fails the read with a config_error naming "
    "tls_mode") {
  TempDir dir;
  TestCerts certs;
  const std::string catalog = dir.write("catalog.json", kCatalog);
  {
    Emulator tls_vtgate([&] {
      auto flags = certs.emulator_flags();
      flags.insert(flags.end(), {"--keyspace=shop", "--shards=1", "--tables=customers", "--rows=3"});
      return flags;
    }());
    const Run r = run(
        dir, {"read", "--config", dir.write("c1.json", local_config(tls_vtgate.grpc_port, 1)), "--catalog", catalog});
    CHECK(r.code == 1);
    const auto lines = r.lines_after_estimate_warning();
    REQUIRE(lines.size() == 3);
    const auto [message, type] = trace_error_of(lines[1]);
    CHECK(type == "config_error");
    const std::string at = "127.0.0.1:" + std::to_string(tls_vtgate.grpc_port);
    CHECK(message ==
          "reading the current position of 'shop.customers': could not read the current positions of "
          "keyspace 'shop': VStream failed: UNAVAILABLE: failed to connect to all addresses; last "
          "error: "
          "UNAVAILABLE: ipv4:" +
              at + ": Socket closed; " + at +
              " expects TLS but tls_mode is disabled: set tls_mode to verify_identity, verify_ca or "
              "required");
  }
  Emulator plain_vtgate({"--keyspace=shop", "--shards=1", "--tables=customers", "--rows=3"});
  const Run r = run(dir, {"read", "--config",
                          dir.write("c2.json", local_config(plain_vtgate.grpc_port, 1, R"("tls_mode":"required")")),
                          "--catalog", catalog});
  CHECK(r.code == 1);
  const auto lines = r.lines_after_estimate_warning();
  REQUIRE(lines.size() == 3);
  const auto [message, type] = trace_error_of(lines[1]);
  CHECK(type == "config_error");
  const std::string at = "127.0.0.1:" + std::to_string(plain_vtgate.grpc_port);
  CHECK(message ==
        "reading the current position of 'shop.customers': could not read the current positions of "
        "keyspace 'shop': VStream failed: UNAVAILABLE: failed to connect to all addresses; last "
        "error: "
        "UNKNOWN: ipv4:" +
            at +
            ": Tls handshake failed: SSL_ERROR_SSL: error:0A00010B:SSL "
            "routines::wrong version number; " +
            at +
            " does not speak TLS but tls_mode is required: enable TLS on vtgate, or set tls_mode "
            "to disabled "
            "if the network path is trusted");
}

TEST_CASE(
    "cli: a mysql_port that never answers and one that does not speak MySQL get different "
    "messages") {
  TempDir dir;
  // vtgate's gRPC port given as mysql_port: it speaks HTTP/2 and closes the connection.
  Emulator vtgate({"--keyspace=shop", "--shards=1", "--tables=customers"});
  const std::string grpc_at = "127.0.0.1:" + std::to_string(vtgate.grpc_port);
  const std::string not_mysql = grpc_at +
                                " closed the connection without a MySQL greeting: the port does not speak the MySQL "
                                "protocol; check mysql_port (vtgate's -mysql_server_port)";
  const std::string wrong_port = dir.write("c1.json", local_config(vtgate.grpc_port, vtgate.grpc_port));
  expect_check_failed(run(dir, {"check", "--config", wrong_port}), not_mysql);
  expect_trace_error(run(dir, {"discover", "--config", wrong_port}), not_mysql, "config_error");
  // A port that accepts and stays silent: check waits its 10 s connect limit.
  SilentPort silent;
  expect_check_failed(run(dir, {"check", "--config", dir.write("c2.json", local_config(1, silent.port))}),
                      "Nothing answered on 127.0.0.1:" + std::to_string(silent.port) +
                          " within 10 s (MySQL protocol): a MySQL server greets at once; check host and mysql_port");
  // An HTTP port (the emulator's control API, like vtgate's web port) is as silent as that one
  // until asked in HTTP: the message names it.
  const std::string http_at = "127.0.0.1:" + std::to_string(vtgate.control_port);
  const std::string http_port = dir.write("c3.json", local_config(vtgate.grpc_port, vtgate.control_port));
  const std::string answers_http = http_at +
                                   " answers HTTP, not the MySQL protocol: set mysql_port to vtgate's MySQL port (its "
                                   "-mysql_server_port, often 3306 or 15306), not a web port";
  expect_check_failed(run(dir, {"check", "--config", http_port}), answers_http);
  expect_trace_error(run(dir, {"discover", "--config", http_port}), answers_http, "config_error");
}

TEST_CASE("cli: a ca_certificate with a garbage body is a config_error naming the field") {
  TempDir dir;
  const std::string garbage = R"("tls_mode":"required","ca_certificate":")"
                              R"(-----BEGIN CERTIFICATE-----\nnot a certificate!\n-----END CERTIFICATE-----\n")";
  const std::string config = dir.write("config.json", local_config(1, 1, garbage));
  const std::string message =
      "invalid configuration: config field 'ca_certificate' is not valid PEM: certificate 1 of 1 "
      "does not parse (bad base64 decode); paste the CA certificate(s) exactly as exported, BEGIN "
      "and END lines included";
  expect_check_failed(run(dir, {"check", "--config", config}), message);
  const std::string catalog = dir.write("catalog.json", kCatalog);
  expect_trace_error(run(dir, {"read", "--config", config, "--catalog", catalog}), message);
}
