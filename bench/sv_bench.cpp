// bench/sv_bench.cpp — sv-bench: the benchmark driver behind scripts/bench.
//
// Runs `source-vitess read` against `vtgate-emulator --pre-encoded` for a matrix of row counts,
// shard counts, row widths and output sinks (/dev/null, or a pipe that this program reads and
// counts lines from), and measures in the same run the ceilings the connector is compared with:
//   (a) `cat` of the same pre-rendered JSONL through the same pipe reader,
//   (b) sv-bench-discard: the emulator streaming to a client that parses and discards (transport),
//   (c) sv-bench-render: the project's RapidJSON value writer alone rendering the same rows,
//   (d) bench/go: a Go-connector-style map[string]interface{} + encoding/json baseline.
// Then an incremental read of N change events (CDC events/s). Writes results.json, results.md
// and plot.svg into --out-dir. The extract case (`source-vitess extract` to files: jsonl and csv,
// each uncompressed, gzip and zstd) runs next to a read of the same table and its transport
// ceiling and writes extract.json and extract.md (--extract-only runs just that case). Everything is measured, nothing is assumed: CPU seconds of the
// connector come from wait4()'s rusage, of the emulator from /proc/<pid>/stat deltas, peak RSS
// from ru_maxrss (= VmHWM at exit).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/strings.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Json = rapidjson::Writer<rapidjson::StringBuffer>;

// ---------------------------------------------------------------------------------------------
// Options

struct Width {
  std::string name;   // narrow | typical | wide
  std::string table;  // emulator table standing in for it
  std::string note;
};

// The emulator's dataset has three fixed tables; they stand in for the issue's shapes until it
// grows dedicated bench tables (narrow 3 columns, typical 10 mixed columns ~350 B, wide 50).
const std::vector<Width> kWidths = {
    {"narrow", "order_items", "order_items: 5 columns (bigint, int, varbinary, int unsigned, decimal)"},
    {"typical", "customers", "customers: 5 columns (bigint, 2 varchar, decimal, timestamp)"},
    {"wide", "all_types", "all_types: 30 columns, every MySQL type family"},
};

struct Options {
  bool quick = false;
  std::string connector, emulator, discard, render, go_baseline;
  std::string out_dir = "bench/results";
  std::string work_dir;
  std::vector<std::uint64_t> rows;
  std::vector<int> shards;
  std::vector<std::string> widths;
  std::uint64_t big_rows = 0;             // rows for the "big" part (typical only); 0 = none
  std::vector<int> big_shards;
  std::uint64_t dump_rows = 300000;       // rows per width for ceilings (a), (c), (d)
  int ceiling_shards = 4;
  std::uint64_t cdc_rows = 100000, cdc_writes = 200000;
  double min_seconds = 1.0;               // minimum timing of render / Go loops
  std::string note;                       // free text for the report (e.g. "machine busy")
  // --profile=WRAPPER: only run one connector read (typical, ceiling_shards, profile_rows) under
  // WRAPPER (space-separated command prefix, e.g. "valgrind --tool=callgrind --callgrind-out-file=F").
  std::string profile;
  std::uint64_t profile_rows = 200000;
  // --doc=FILE: replace the text between "<!-- bench:begin -->" and "<!-- bench:end -->" in FILE
  // with the new results table (docs/benchmarks.md in a full run).
  std::string doc;
  int repeat = 1;  // connector runs per matrix cell; the median is reported
  // The extract case: rows of `customers` (typical) at ceiling_shards; 0 = skip it.
  std::uint64_t extract_rows = 1000000;
  bool extract_only = false;  // --extract-only: only the extract case (and its read/ceiling)
};

// Emulators alive right now: die() stops them, since std::exit skips destructors.
std::vector<pid_t> g_emulators;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "sv-bench: %s\n", why.c_str());
  for (pid_t p : g_emulators) {
    ::kill(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
  }
  std::exit(1);
}

std::uint64_t parse_count(const std::string& s) {
  // 1M, 10M, 20k, 5000
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string suffix = end ? end : "";
  if (suffix == "k" || suffix == "K") v *= 1e3;
  else if (suffix == "M" || suffix == "m") v *= 1e6;
  else if (!suffix.empty()) die("bad count " + s);
  return static_cast<std::uint64_t>(v);
}

Options parse_options(int argc, char** argv) {
  Options o;
  std::map<std::string, std::string> kv;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--quick") {
      o.quick = true;
      continue;
    }
    if (a == "--extract-only") {
      o.extract_only = true;
      continue;
    }
    auto eq = a.find('=');
    if (!a.starts_with("--") || eq == std::string_view::npos) die("bad argument " + std::string(a));
    kv[std::string(a.substr(2, eq - 2))] = std::string(a.substr(eq + 1));
  }
  if (o.quick) {
    o.rows = {20000};
    o.shards = {1, 4};
    o.widths = {"narrow", "typical"};
    o.big_rows = 0;
    o.dump_rows = 20000;
    o.cdc_rows = 5000;
    o.cdc_writes = 3000;
    o.min_seconds = 0.1;
    o.extract_rows = 20000;
  } else {
    o.rows = {1000000};
    o.shards = {1, 4, 16};
    o.widths = {"narrow", "typical", "wide"};
    o.big_rows = 10000000;
    o.big_shards = {1, 4, 16};
  }
  for (auto& [k, v] : kv) {
    if (k == "connector") o.connector = v;
    else if (k == "emulator") o.emulator = v;
    else if (k == "discard") o.discard = v;
    else if (k == "render") o.render = v;
    else if (k == "go-baseline") o.go_baseline = v;
    else if (k == "out-dir") o.out_dir = v;
    else if (k == "work-dir") o.work_dir = v;
    else if (k == "rows") {
      o.rows.clear();
      for (auto& s : sv::split_list(v, ',')) o.rows.push_back(parse_count(s));
    } else if (k == "shards") {
      o.shards.clear();
      for (auto& s : sv::split_list(v, ',')) o.shards.push_back(std::atoi(s.c_str()));
    } else if (k == "widths") o.widths = sv::split_list(v, ',');
    else if (k == "big-rows") o.big_rows = parse_count(v);
    else if (k == "big-shards") {
      o.big_shards.clear();
      for (auto& s : sv::split_list(v, ',')) o.big_shards.push_back(std::atoi(s.c_str()));
    } else if (k == "dump-rows") o.dump_rows = parse_count(v);
    else if (k == "cdc-rows") o.cdc_rows = parse_count(v);
    else if (k == "cdc-writes") o.cdc_writes = parse_count(v);
    else if (k == "note") o.note = v;
    else if (k == "profile") o.profile = v;
    else if (k == "doc") o.doc = v;
    else if (k == "repeat") o.repeat = std::atoi(v.c_str());
    else if (k == "profile-rows") o.profile_rows = parse_count(v);
    else if (k == "extract-rows") o.extract_rows = parse_count(v);
    else die("unknown option --" + k);
  }
  if (o.connector.empty() || o.emulator.empty() || o.discard.empty() || o.render.empty())
    die("--connector, --emulator, --discard and --render are required (scripts/bench passes them)");
  for (auto& w : o.widths) {
    if (std::none_of(kWidths.begin(), kWidths.end(), [&](const Width& x) { return x.name == w; })) die("unknown width " + w);
  }
  if (o.work_dir.empty()) {
    char tmpl[] = "/tmp/sv_bench_XXXXXX";
    if (!::mkdtemp(tmpl)) die("mkdtemp failed");
    o.work_dir = tmpl;
  }
  return o;
}

const Width& width_by_name(const std::string& n) {
  for (const auto& w : kWidths) {
    if (w.name == n) return w;
  }
  die("unknown width " + n);
}

// ---------------------------------------------------------------------------------------------
// Files, processes, /proc

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) die("cannot write " + path);
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double tv_seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

double self_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return tv_seconds(ru.ru_utime) + tv_seconds(ru.ru_stime);
}

//! utime + stime of a live process from /proc/<pid>/stat (clock ticks → seconds).
double proc_cpu_seconds(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto rp = stat.rfind(')');
  if (rp == std::string::npos) return 0;
  std::istringstream in(stat.substr(rp + 2));
  std::string field;
  // fields after the comm: state(3) ... utime(14) stime(15): index 0 here is field 3.
  std::vector<std::string> f;
  while (in >> field && f.size() < 13) f.push_back(field);
  if (f.size() < 13) return 0;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / tick;
}

//! A /proc/<pid>/status value in kB (VmHWM, VmRSS), 0 if absent.
std::uint64_t proc_status_kb(pid_t pid, const std::string& key) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return 0;
}

enum class Sink { devnull, pipe, file };

//! fork + exec with stdout to /dev/null, a pipe (returned in *pipe_fd) or a file; stderr to a file.
pid_t spawn(const std::vector<std::string>& argv, Sink sink, const std::string& out_path, const std::string& err_path,
            int* pipe_fd) {
  int fds[2] = {-1, -1};
  if (sink == Sink::pipe && ::pipe2(fds, O_CLOEXEC) != 0) die("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    int out = sink == Sink::pipe      ? fds[1]
              : sink == Sink::devnull ? ::open("/dev/null", O_WRONLY)
                                      : ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s failed: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  if (sink == Sink::pipe) {
    ::close(fds[1]);
    *pipe_fd = fds[0];
  }
  return pid;
}

struct Exit {
  int code = -1;
  double cpu_seconds = 0;
  std::uint64_t max_rss_kb = 0;
};

Exit wait_child(pid_t pid) {
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  Exit e;
  e.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  e.cpu_seconds = tv_seconds(ru.ru_utime) + tv_seconds(ru.ru_stime);
  e.max_rss_kb = static_cast<std::uint64_t>(ru.ru_maxrss);
  return e;
}

//! Runs a helper that prints one JSON line; returns the parsed document (dies on failure).
rapidjson::Document run_json(const std::vector<std::string>& argv, const std::string& work_dir, const std::string& what) {
  const std::string out = work_dir + "/helper.out", err = work_dir + "/helper.err";
  ::unlink(err.c_str());
  const pid_t pid = spawn(argv, Sink::file, out, err, nullptr);
  const Exit e = wait_child(pid);
  const std::string text = read_file(out);
  rapidjson::Document d;
  d.Parse(text.c_str());
  if (e.code != 0 || d.HasParseError() || !d.IsObject()) {
    die(what + " failed (exit " + std::to_string(e.code) + "): " + text + read_file(err));
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// The pipe reader: counts lines and RECORD lines, notes when the first RECORD arrived.

struct ReadStats {
  std::uint64_t lines = 0, records = 0, bytes = 0;
  double first_record_s = -1;  // since `start`
  std::string kept;            // the whole output, only when asked (small incremental runs)
};

ReadStats read_pipe(int fd, Clock::time_point start, bool keep) {
  static constexpr std::string_view kRecord = R"({"type":"RECORD")";
  ReadStats st;
  std::vector<char> buf(1 << 20);
  std::string head;       // first bytes of the current line (up to kRecord.size())
  bool decided = false;   // current line already classified
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const char* p = buf.data();
    const char* end = p + n;
    st.bytes += static_cast<std::uint64_t>(n);
    if (keep) st.kept.append(p, end);
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      const char* line_end = nl ? nl : end;
      if (!decided) {
        const std::size_t need = kRecord.size() - head.size();
        head.append(p, std::min<std::size_t>(need, static_cast<std::size_t>(line_end - p)));
        if (head.size() == kRecord.size() || nl) {
          decided = true;
          if (head == kRecord) {
            if (st.records++ == 0) st.first_record_s = seconds_since(start);
          }
        }
      }
      if (!nl) break;
      ++st.lines;
      head.clear();
      decided = false;
      p = nl + 1;
    }
  }
  ::close(fd);
  return st;
}

// ---------------------------------------------------------------------------------------------
// The emulator

struct Emulator {
  pid_t pid = -1;
  int grpc_port = 0, control_port = 0;
  std::vector<std::string> shard_names;
  std::string dir;

  void start(const Options& o, const std::string& tables, std::uint64_t rows, int shards, const std::string& tag) {
    dir = o.work_dir + "/emu-" + tag;
    ::mkdir(dir.c_str(), 0755);
    const std::string ports = dir + "/ports";
    ::unlink(ports.c_str());
    std::vector<std::string> argv{o.emulator, "--shards=" + std::to_string(shards), "--tables=" + tables,
                                  "--rows=" + std::to_string(rows), "--pre-encoded", "--port-file=" + ports,
                                  "--log-level=warn"};
    pid = spawn(argv, Sink::file, dir + "/emu.out", dir + "/emu.err", nullptr);
    g_emulators.push_back(pid);
    const auto t0 = Clock::now();
    for (;;) {
      const std::string text = read_file(ports);
      if (text.find('}') != std::string::npos) {
        rapidjson::Document d;
        d.Parse(text.c_str());
        grpc_port = d["grpc_port"].GetInt();
        control_port = d["control_port"].GetInt();
        break;
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) die("emulator exited: " + read_file(dir + "/emu.err"));
      if (seconds_since(t0) > 30) die("emulator did not start in 30 s: " + read_file(dir + "/emu.err"));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // Shard names as the emulator computes them ("-" for 1, "-80,80-" for 2, ...): /status lists them.
    rapidjson::Document st;
    st.Parse(http("GET", "/status").c_str());
    shard_names.clear();
    if (st.IsObject() && st.HasMember("shards")) {
      for (const auto& s : st["shards"].GetArray()) {
        std::string name = s.GetString();
        shard_names.push_back(name.substr(name.find('/') + 1));
      }
    }
    if (shard_names.empty()) die("emulator /status lists no shards");
  }

  std::string http(const std::string& method, const std::string& target) const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(control_port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      die("emulator control API: connect failed");
    }
    const std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) die("emulator control API: write failed");
    std::string resp;
    char b[4096];
    ssize_t n;
    while ((n = ::read(fd, b, sizeof b)) > 0) resp.append(b, static_cast<std::size_t>(n));
    ::close(fd);
    const auto body = resp.find("\r\n\r\n");
    return body == std::string::npos ? resp : resp.substr(body + 4);
  }

  std::string shard_list() const {
    std::string s;
    for (const auto& n : shard_names) s += (s.empty() ? "" : ",") + n;
    return s;
  }

  void stop() {
    if (pid <= 0) return;
    std::erase(g_emulators, pid);
    ::kill(pid, SIGTERM);
    const auto t0 = Clock::now();
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) != pid) {
      if (seconds_since(t0) > 5) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid = -1;
  }
  ~Emulator() { stop(); }
};

// ---------------------------------------------------------------------------------------------
// Connector runs

struct RunResult {
  std::string kind;  // full_refresh | incremental
  std::string width, table, output;
  std::uint64_t rows = 0;
  int shards = 0;
  std::uint64_t records = 0, bytes = 0;
  bool records_counted = false;
  double seconds = 0, connector_cpu = 0, emulator_cpu = 0, reader_cpu = 0;
  std::uint64_t peak_rss_kb = 0;
  double ttfr_ms = -1;
  int exit_code = -1;
  std::string output_text;  // kept for incremental runs (STATE lines)

  double records_per_s() const { return seconds > 0 ? static_cast<double>(records) / seconds : 0; }
  double mb_per_s() const { return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0; }
  double per_m(double cpu) const { return records ? cpu * 1e6 / static_cast<double>(records) : 0; }
};

std::string config_json(const Emulator& emu) {
  // timeout_seconds bounds each shard's read per sync (300 s by default): a benchmark measures a
  // whole copy, however slow the machine (or callgrind) makes it.
  return R"({"host":"127.0.0.1","grpc_port":)" + std::to_string(emu.grpc_port) +
         R"(,"tls_mode":"disabled","database":"commerce","username":"bench","password":"","timeout_seconds":86400})";
}

std::string catalog_json(const std::string& table, const std::string& mode) {
  // Empty properties: the connector then emits every column of the table (as the Go connector).
  return R"({"streams":[{"stream":{"name":")" + table +
         R"(","namespace":"commerce","json_schema":{"type":"object","properties":{}},"supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true},"sync_mode":")" +
         mode + R"(","destination_sync_mode":"append"}]})";
}

RunResult run_connector(const Options& o, const Emulator& emu, const std::string& table, const std::string& mode, Sink sink,
                        const std::string& state_json, bool keep_output, const std::string& wrapper = "") {
  const std::string dir = emu.dir;
  write_file(dir + "/config.json", config_json(emu));
  write_file(dir + "/catalog.json", catalog_json(table, mode));
  std::vector<std::string> argv = sv::split_list(wrapper, ' ');
  for (std::string a : {o.connector, std::string("read"), std::string("--config"), dir + "/config.json",
                        std::string("--catalog"), dir + "/catalog.json"}) {
    argv.push_back(std::move(a));
  }
  if (!state_json.empty()) {
    write_file(dir + "/state.json", state_json);
    argv.push_back("--state");
    argv.push_back(dir + "/state.json");
  }
  const std::string err = dir + "/connector.err";
  ::unlink(err.c_str());
  RunResult r;
  r.kind = mode;
  r.table = table;
  r.output = sink == Sink::pipe ? "pipe" : "devnull";
  const double emu_cpu0 = proc_cpu_seconds(emu.pid);
  const double self0 = self_cpu_seconds();
  const auto t0 = Clock::now();
  int fd = -1;
  const pid_t pid = spawn(argv, sink, "", err, &fd);
  if (sink == Sink::pipe) {
    ReadStats st = read_pipe(fd, t0, keep_output);
    r.records = st.records;
    r.bytes = st.bytes;
    r.records_counted = true;
    r.ttfr_ms = st.first_record_s >= 0 ? st.first_record_s * 1e3 : -1;
    r.output_text = std::move(st.kept);
  }
  const Exit e = wait_child(pid);
  r.seconds = seconds_since(t0);
  r.reader_cpu = self_cpu_seconds() - self0;
  r.emulator_cpu = proc_cpu_seconds(emu.pid) - emu_cpu0;
  r.connector_cpu = e.cpu_seconds;
  r.peak_rss_kb = e.max_rss_kb;
  r.exit_code = e.code;
  if (e.code != 0) {
    std::fprintf(stderr, "sv-bench: source-vitess exited %d; stderr:\n%s\n", e.code, read_file(err).c_str());
  }
  return r;
}

//! The last STATE of each stream, as the JSON array a --state file holds.
std::string state_from_output(const std::string& out) {
  std::map<std::string, std::string> last;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(R"("type":"STATE")") == std::string::npos) continue;
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("state")) continue;
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    d["state"].Accept(w);
    std::string key = "?";
    if (d["state"].HasMember("stream")) key = d["state"]["stream"]["stream_descriptor"]["name"].GetString();
    last[key] = b.GetString();
  }
  std::string s = "[";
  for (const auto& [name, st] : last) s += (s.size() > 1 ? "," : "") + st;
  return s + "]";
}

// ---------------------------------------------------------------------------------------------
// Results

struct Transport {  // ceiling (b) for one (rows, shards, width)
  std::string width;
  std::uint64_t rows = 0;
  int shards = 0;
  double seconds = 0, client_cpu = 0, emulator_cpu = 0, first_row_ms = 0;
  std::uint64_t emulator_hwm_kb = 0;  // emulator VmHWM after this copy (pre-encoded cache included)
  std::uint64_t client_rss_kb = 0;    // discard client's peak RSS (gRPC receive buffers dominate)
  // The same client receiving through the generated stub (gRPC parses into heap messages, as the
  // connector does today); 0 = not measured.
  double stub_records_per_s = 0, stub_client_cpu = 0;
  double records_per_s() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
};

struct Ceilings {  // (a), (c), (d) for one width
  std::string width;
  std::uint64_t dump_rows = 0;
  double line_bytes = 0;          // average RECORD line length (rendered by (c))
  double cat_records_per_s = 0, cat_mb_per_s = 0, cat_seconds = 0;
  double render_records_per_s = 0, render_cpu_per_m = 0;
  double go_records_per_s = 0, go_cpu_per_m = 0;
  std::uint64_t go_dropped = 0;  // rows the Go encoder refused per pass (dropped, as the Go connector does)
  bool have_go = false;
};

struct Results {
  std::vector<RunResult> runs;
  std::vector<Transport> transport;
  std::vector<Ceilings> ceilings;
  std::optional<RunResult> cdc;
  std::uint64_t cdc_writes = 0;
  double total_seconds = 0;
};

const Transport* find_transport(const Results& res, const std::string& width, std::uint64_t rows, int shards) {
  for (const auto& t : res.transport) {
    if (t.width == width && t.rows == rows && t.shards == shards) return &t;
  }
  return nullptr;
}

const Ceilings* find_ceilings(const Results& res, const std::string& width) {
  for (const auto& c : res.ceilings) {
    if (c.width == width) return &c;
  }
  return nullptr;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string human_rows(std::uint64_t n) {
  if (n >= 1000000 && n % 1000000 == 0) return std::to_string(n / 1000000) + "M";
  if (n >= 1000 && n % 1000 == 0) return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}

std::string ratio(double a, double b) { return b > 0 && a > 0 ? fmt("%.2f", a / b) : "–"; }

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string shell_first_line(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char b[512];
    if (std::fgets(b, sizeof b, p)) out = b;
    ::pclose(p);
  }
  return trim(out);
}

struct Machine {
  std::string cpu, kernel, commit, date, load_start, load_end;
  int cores = 0;
  double mem_gib = 0;
};

Machine machine_info() {
  Machine m;
  std::istringstream in(read_file("/proc/cpuinfo"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0 && m.cpu.empty()) m.cpu = trim(line.substr(line.find(':') + 1));
  }
  m.cores = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  m.mem_gib = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024 * 1024);
  utsname u{};
  ::uname(&u);
  m.kernel = std::string(u.sysname) + " " + u.release;
  m.commit = shell_first_line("git rev-parse --short HEAD 2>/dev/null");
  m.date = shell_first_line("date -u +%Y-%m-%dT%H:%M:%SZ");
  m.load_start = trim(read_file("/proc/loadavg"));
  return m;
}

void write_run_json(Json& w, const RunResult& r) {
  w.StartObject();
  w.Key("kind"); w.String(r.kind.c_str());
  w.Key("width"); w.String(r.width.c_str());
  w.Key("table"); w.String(r.table.c_str());
  w.Key("rows"); w.Uint64(r.rows);
  w.Key("shards"); w.Int(r.shards);
  w.Key("output"); w.String(r.output.c_str());
  w.Key("exit_code"); w.Int(r.exit_code);
  w.Key("records"); w.Uint64(r.records);
  w.Key("records_counted"); w.Bool(r.records_counted);
  w.Key("seconds"); w.Double(r.seconds);
  w.Key("records_per_s"); w.Double(r.records_per_s());
  if (r.records_counted) {
    w.Key("stdout_bytes"); w.Uint64(r.bytes);
    w.Key("stdout_mb_per_s"); w.Double(r.mb_per_s());
    w.Key("ttfr_ms"); w.Double(r.ttfr_ms);
    w.Key("reader_cpu_s"); w.Double(r.reader_cpu);
  }
  w.Key("connector_cpu_s"); w.Double(r.connector_cpu);
  w.Key("connector_cpu_s_per_1m"); w.Double(r.per_m(r.connector_cpu));
  w.Key("emulator_cpu_s"); w.Double(r.emulator_cpu);
  w.Key("emulator_cpu_s_per_1m"); w.Double(r.per_m(r.emulator_cpu));
  w.Key("peak_rss_mib"); w.Double(static_cast<double>(r.peak_rss_kb) / 1024.0);
  w.EndObject();
}

//! "mode" and "machine" members of a results file.
void write_machine_json(Json& w, const Options& o, const Machine& m) {
  w.Key("mode"); w.String(o.quick ? "quick" : "full");
  w.Key("machine");
  w.StartObject();
  w.Key("cpu"); w.String(m.cpu.c_str());
  w.Key("cores"); w.Int(m.cores);
  w.Key("mem_gib"); w.Double(m.mem_gib);
  w.Key("kernel"); w.String(m.kernel.c_str());
  w.Key("commit"); w.String(m.commit.c_str());
  w.Key("date"); w.String(m.date.c_str());
  w.Key("loadavg_start"); w.String(m.load_start.c_str());
  w.Key("loadavg_end"); w.String(m.load_end.c_str());
  w.Key("note"); w.String(o.note.c_str());
  w.EndObject();
}

//! Indented JSON text of a compact document, newline-terminated.
std::string pretty(const char* compact) {
  rapidjson::Document d;
  d.Parse(compact);
  rapidjson::StringBuffer pb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> pw(pb);
  pw.SetIndent(' ', 2);
  d.Accept(pw);
  return std::string(pb.GetString()) + "\n";
}

std::string results_json(const Options& o, const Machine& m, const Results& res) {
  rapidjson::StringBuffer b;
  Json w(b);
  w.StartObject();
  write_machine_json(w, o, m);
  w.Key("widths");
  w.StartObject();
  for (const auto& x : kWidths) {
    w.Key(x.name.c_str());
    w.String(x.note.c_str());
  }
  w.EndObject();
  w.Key("runs");
  w.StartArray();
  for (const auto& r : res.runs) write_run_json(w, r);
  w.EndArray();
  w.Key("transport_ceiling");
  w.StartArray();
  for (const auto& t : res.transport) {
    w.StartObject();
    w.Key("width"); w.String(t.width.c_str());
    w.Key("rows"); w.Uint64(t.rows);
    w.Key("shards"); w.Int(t.shards);
    w.Key("seconds"); w.Double(t.seconds);
    w.Key("records_per_s"); w.Double(t.records_per_s());
    w.Key("client_cpu_s"); w.Double(t.client_cpu);
    w.Key("emulator_cpu_s"); w.Double(t.emulator_cpu);
    w.Key("emulator_cpu_s_per_1m"); w.Double(t.rows ? t.emulator_cpu * 1e6 / static_cast<double>(t.rows) : 0);
    w.Key("first_row_ms"); w.Double(t.first_row_ms);
    w.Key("emulator_peak_rss_mib"); w.Double(static_cast<double>(t.emulator_hwm_kb) / 1024.0);
    w.Key("client_peak_rss_mib"); w.Double(static_cast<double>(t.client_rss_kb) / 1024.0);
    if (t.stub_records_per_s > 0) {
      w.Key("stub_records_per_s"); w.Double(t.stub_records_per_s);
      w.Key("stub_client_cpu_s"); w.Double(t.stub_client_cpu);
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("ceilings");
  w.StartArray();
  for (const auto& c : res.ceilings) {
    w.StartObject();
    w.Key("width"); w.String(c.width.c_str());
    w.Key("dump_rows"); w.Uint64(c.dump_rows);
    w.Key("record_line_bytes"); w.Double(c.line_bytes);
    w.Key("cat_records_per_s"); w.Double(c.cat_records_per_s);
    w.Key("cat_mb_per_s"); w.Double(c.cat_mb_per_s);
    w.Key("render_records_per_s"); w.Double(c.render_records_per_s);
    w.Key("render_cpu_s_per_1m"); w.Double(c.render_cpu_per_m);
    if (c.have_go) {
      w.Key("go_records_per_s"); w.Double(c.go_records_per_s);
      w.Key("go_cpu_s_per_1m"); w.Double(c.go_cpu_per_m);
      w.Key("go_dropped_rows"); w.Uint64(c.go_dropped);
    }
    w.EndObject();
  }
  w.EndArray();
  if (res.cdc) {
    w.Key("incremental");
    w.StartObject();
    w.Key("writes"); w.Uint64(res.cdc_writes);
    w.Key("run");
    write_run_json(w, *res.cdc);
    w.EndObject();
  }
  w.Key("total_seconds"); w.Double(res.total_seconds);
  w.EndObject();
  return pretty(b.GetString());
}

std::string results_md(const Options& o, const Machine& m, const Results& res) {
  std::string s;
  s += "Machine: " + m.cpu + ", " + std::to_string(m.cores) + " cores, " + fmt("%.0f", m.mem_gib) + " GiB, " + m.kernel +
       "; commit " + m.commit + "; " + m.date + " (" + (o.quick ? "quick" : "full") + " mode, " +
       fmt("%.0f", res.total_seconds) + " s).\n";
  s += "Load average at start / end: " + m.load_start + " / " + m.load_end + ".";
  if (!o.note.empty()) s += " " + o.note;
  s += "\n\nConnector and emulator share the machine's cores; records/s are wall-clock. "
       "Ratios: connector records/s ÷ ceiling records/s (a, b, c) and ÷ Go-style baseline (d).\n\n";
  s += "| width | rows | shards | output | records/s | stdout MB/s | conn CPU s/1M | emu CPU s/1M | peak RSS MiB | first RECORD ms | vs (a) cat | vs (b) transport | vs (c) render | vs (d) Go |\n";
  s += "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : res.runs) {
    const auto* t = find_transport(res, r.width, r.rows, r.shards);
    const auto* c = find_ceilings(res, r.width);
    const bool pipe = r.output == "pipe";
    s += "| " + r.width + " | " + human_rows(r.rows) + " | " + std::to_string(r.shards) + " | " + r.output + " | " +
         fmt("%.0f", r.records_per_s()) + (r.exit_code != 0 ? " (exit " + std::to_string(r.exit_code) + ")" : "") + " | " +
         (pipe ? fmt("%.1f", r.mb_per_s()) : "–") + " | " + fmt("%.2f", r.per_m(r.connector_cpu)) + " | " +
         fmt("%.2f", r.per_m(r.emulator_cpu)) + " | " + fmt("%.1f", static_cast<double>(r.peak_rss_kb) / 1024.0) + " | " +
         (pipe && r.ttfr_ms >= 0 ? fmt("%.0f", r.ttfr_ms) : "–") + " | " +
         (pipe && c ? ratio(r.records_per_s(), c->cat_records_per_s) : "–") + " | " +
         (t ? ratio(r.records_per_s(), t->records_per_s()) : "–") + " | " +
         (c ? ratio(r.records_per_s(), c->render_records_per_s) : "–") + " | " +
         (c && c->have_go ? ratio(r.records_per_s(), c->go_records_per_s) : "–") + " |\n";
  }
  s += "\nCeilings (same run). (b) is per configuration: sv-bench-discard opens the connector's VStream calls "
       "(one per shard, same request), receives each response as raw bytes, parses it on a reused protobuf Arena and "
       "drops it. \"stub parse\": the same client through the generated stub (gRPC parses into heap messages, as the "
       "connector does).\n\n";
  s += "| width | rows | shards | (b) transport records/s | client CPU s | stub-parse records/s | stub client CPU s | emu CPU s/1M | first row ms | client peak RSS MiB | emulator peak RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& t : res.transport) {
    s += "| " + t.width + " | " + human_rows(t.rows) + " | " + std::to_string(t.shards) + " | " + fmt("%.0f", t.records_per_s()) +
         " | " + fmt("%.2f", t.client_cpu) + " | " +
         (t.stub_records_per_s > 0 ? fmt("%.0f", t.stub_records_per_s) + " | " + fmt("%.2f", t.stub_client_cpu) : std::string("– | –")) + " | " +
         fmt("%.2f", t.rows ? t.emulator_cpu * 1e6 / static_cast<double>(t.rows) : 0) + " | " + fmt("%.1f", t.first_row_ms) + " | " +
         fmt("%.0f", static_cast<double>(t.client_rss_kb) / 1024.0) + " | " +
         fmt("%.0f", static_cast<double>(t.emulator_hwm_kb) / 1024.0) + " |\n";
  }
  s += "\n(a) `cat` of pre-rendered RECORD lines through the same pipe reader; (c) the RapidJSON value writer alone, one "
       "thread; (d) Go-style baseline (map[string]interface{} + encoding/json, no gRPC/protobuf), one process. All over "
       "the same rows (a dump of a 4-shard copy).\n\n";
  s += "| width | rows in dump | RECORD line bytes | (a) cat records/s | (a) MB/s | (c) render records/s | (c) CPU s/1M | (d) Go records/s | (d) CPU s/1M |\n";
  s += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& c : res.ceilings) {
    s += "| " + c.width + " | " + human_rows(c.dump_rows) + " | " + fmt("%.0f", c.line_bytes) + " | " + fmt("%.0f", c.cat_records_per_s) +
         " | " + fmt("%.0f", c.cat_mb_per_s) + " | " + fmt("%.0f", c.render_records_per_s) + " | " + fmt("%.2f", c.render_cpu_per_m) + " | " +
         (c.have_go ? fmt("%.0f", c.go_records_per_s) : "–") + " | " + (c.have_go ? fmt("%.2f", c.go_cpu_per_m) : "–") +
         (c.have_go && c.go_dropped ? " (" + std::to_string(c.go_dropped) + " rows not encodable, dropped)" : "") + " |\n";
  }
  if (res.cdc) {
    const auto& r = *res.cdc;
    s += "\nIncremental (CDC): " + std::to_string(res.cdc_writes) + " write ops applied after a first sync of " +
         human_rows(r.rows) + " rows (" + r.width + ", " + std::to_string(r.shards) + " shards); the second read delivered " +
         std::to_string(r.records) + " change records in " + fmt("%.2f", r.seconds) + " s = **" + fmt("%.0f", r.records_per_s()) +
         " CDC events/s** (whole process, start to exit), connector CPU " + fmt("%.2f", r.per_m(r.connector_cpu)) +
         " s/1M, peak RSS " + fmt("%.1f", static_cast<double>(r.peak_rss_kb) / 1024.0) + " MiB" +
         (r.exit_code != 0 ? ", exit " + std::to_string(r.exit_code) : "") + ".\n";
  }
  return s;
}

// Plot: records/s (left) and peak RSS (right) against shard count, one line per width × rows
// (pipe output), drawn as plain SVG.
std::string plot_svg(const Results& res) {
  struct Series {
    std::string label;
    std::vector<std::pair<int, double>> rps, rss;
  };
  std::map<std::string, Series> series;
  std::vector<int> xs;
  for (const auto& r : res.runs) {
    if (r.output != "pipe" || r.kind != "full_refresh") continue;
    const std::string label = r.width + " " + human_rows(r.rows);
    auto& s = series[label];
    s.label = label;
    s.rps.emplace_back(r.shards, r.records_per_s());
    s.rss.emplace_back(r.shards, static_cast<double>(r.peak_rss_kb) / 1024.0);
    if (std::find(xs.begin(), xs.end(), r.shards) == xs.end()) xs.push_back(r.shards);
  }
  std::sort(xs.begin(), xs.end());
  const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"};
  const int W = 460, H = 300, left = 70, top = 40, pw = 360, ph = 200;
  std::string svg = R"(<svg xmlns="http://www.w3.org/2000/svg" width=")" + std::to_string(2 * W) + R"(" height=")" +
                    std::to_string(H + 30 + 20 * static_cast<int>((series.size() + 3) / 4)) +
                    R"(" font-family="sans-serif" font-size="12">)" "\n" R"(<rect width="100%" height="100%" fill="white"/>)" "\n";
  auto panel = [&](int ox, const std::string& title, bool rss) {
    double ymax = 0;
    for (const auto& [_, s] : series) {
      for (const auto& [x, y] : rss ? s.rss : s.rps) ymax = std::max(ymax, y);
    }
    if (ymax <= 0) ymax = 1;
    // nice ceiling
    const double mag = std::pow(10.0, std::floor(std::log10(ymax)));
    double nice = mag;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
      if (m * mag >= ymax) {
        nice = m * mag;
        break;
      }
    }
    ymax = nice;
    auto X = [&](int shards) {
      if (xs.size() <= 1) return ox + left + pw / 2.0;
      const auto i = std::find(xs.begin(), xs.end(), shards) - xs.begin();
      return ox + left + pw * static_cast<double>(i) / static_cast<double>(xs.size() - 1);
    };
    auto Y = [&](double v) { return top + ph - ph * v / ymax; };
    svg += "<text x=\"" + std::to_string(ox + left + pw / 2) + "\" y=\"20\" text-anchor=\"middle\" font-weight=\"bold\">" + title + "</text>\n";
    svg += "<line x1=\"" + std::to_string(ox + left) + "\" y1=\"" + std::to_string(top + ph) + "\" x2=\"" + std::to_string(ox + left + pw) +
           "\" y2=\"" + std::to_string(top + ph) + "\" stroke=\"black\"/>\n";
    svg += "<line x1=\"" + std::to_string(ox + left) + "\" y1=\"" + std::to_string(top) + "\" x2=\"" + std::to_string(ox + left) +
           "\" y2=\"" + std::to_string(top + ph) + "\" stroke=\"black\"/>\n";
    for (int i = 0; i <= 4; ++i) {
      const double v = ymax * i / 4;
      const double y = Y(v);
      svg += "<line x1=\"" + std::to_string(ox + left) + "\" y1=\"" + fmt("%.1f", y) + "\" x2=\"" + std::to_string(ox + left + pw) +
             "\" y2=\"" + fmt("%.1f", y) + "\" stroke=\"#ddd\"/>\n";
      const std::string label = rss ? fmt("%.0f", v) : (v >= 1e6 ? fmt("%.2fM", v / 1e6) : fmt("%.0fk", v / 1e3));
      svg += "<text x=\"" + std::to_string(ox + left - 6) + "\" y=\"" + fmt("%.1f", y + 4) + "\" text-anchor=\"end\">" + label + "</text>\n";
    }
    for (int x : xs) {
      svg += "<text x=\"" + fmt("%.1f", X(x)) + "\" y=\"" + std::to_string(top + ph + 16) + "\" text-anchor=\"middle\">" +
             std::to_string(x) + "</text>\n";
    }
    svg += "<text x=\"" + std::to_string(ox + left + pw / 2) + "\" y=\"" + std::to_string(top + ph + 34) +
           "\" text-anchor=\"middle\">shards</text>\n";
    std::size_t ci = 0;
    for (const auto& [_, s] : series) {
      auto pts = rss ? s.rss : s.rps;
      std::sort(pts.begin(), pts.end());
      std::string poly;
      for (const auto& [x, y] : pts) poly += fmt("%.1f", X(x)) + "," + fmt("%.1f", Y(y)) + " ";
      const char* c = colors[ci++ % 7];
      svg += "<polyline fill=\"none\" stroke=\"" + std::string(c) + "\" stroke-width=\"2\" points=\"" + poly + "\"/>\n";
      for (const auto& [x, y] : pts) {
        svg += "<circle cx=\"" + fmt("%.1f", X(x)) + "\" cy=\"" + fmt("%.1f", Y(y)) + "\" r=\"3\" fill=\"" + c + "\"/>\n";
      }
    }
  };
  panel(0, "records/s to a pipe reader", false);
  panel(W, "connector peak RSS (MiB)", true);
  std::size_t i = 0;
  for (const auto& [_, s] : series) {
    const int x = 20 + static_cast<int>(i % 4) * 220, y = H + 10 + static_cast<int>(i / 4) * 20;
    svg += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y - 9) + "\" width=\"12\" height=\"12\" fill=\"" +
           colors[i % 7] + "\"/><text x=\"" + std::to_string(x + 18) + "\" y=\"" + std::to_string(y + 1) + "\">" + s.label +
           " rows</text>\n";
    ++i;
  }
  svg += "</svg>\n";
  return svg;
}

// ---------------------------------------------------------------------------------------------
// The matrix

void log_run(const RunResult& r) {
  std::fprintf(stderr, "  %-7s %-8s %2d shards %-7s %10.0f rec/s  conn %.2f s/1M  emu %.2f s/1M  rss %.1f MiB%s%s\n",
               r.width.c_str(), human_rows(r.rows).c_str(), r.shards, r.output.c_str(), r.records_per_s(),
               r.per_m(r.connector_cpu), r.per_m(r.emulator_cpu), static_cast<double>(r.peak_rss_kb) / 1024.0,
               r.ttfr_ms >= 0 ? fmt("  first RECORD %.0f ms", r.ttfr_ms).c_str() : "",
               r.exit_code != 0 ? fmt("  EXIT %.0f", r.exit_code).c_str() : "");
}

Transport run_transport(const Options& o, const Emulator& emu, const Width& w, std::uint64_t rows, int shards,
                        const std::string& dump, bool arena) {
  std::vector<std::string> argv{o.discard, "--port=" + std::to_string(emu.grpc_port), "--table=" + w.table,
                                "--shards=" + emu.shard_list()};
  if (arena) argv.push_back("--arena");
  if (!dump.empty()) {
    argv.push_back("--dump=" + dump);
    argv.push_back("--dump-rows=" + std::to_string(o.dump_rows));
  }
  const double emu0 = proc_cpu_seconds(emu.pid);
  auto d = run_json(argv, o.work_dir, "sv-bench-discard");
  Transport t;
  t.width = w.name;
  t.rows = d["rows"].GetUint64();
  t.shards = shards;
  t.seconds = d["seconds"].GetDouble();
  t.client_cpu = d["cpu_seconds"].GetDouble();
  t.first_row_ms = d["first_row_ms"].GetDouble();
  t.client_rss_kb = d["max_rss_kb"].GetUint64();
  t.emulator_cpu = proc_cpu_seconds(emu.pid) - emu0;
  t.emulator_hwm_kb = proc_status_kb(emu.pid, "VmHWM");
  if (t.rows != rows) die("sv-bench-discard received " + std::to_string(t.rows) + " rows, expected " + std::to_string(rows));
  return t;
}

Ceilings run_ceilings(const Options& o, const Width& w, const std::string& dump) {
  Ceilings c;
  c.width = w.name;
  const std::string jsonl = o.work_dir + "/" + w.name + ".jsonl";
  // (c) the value writer alone; one pass with --out also leaves the JSONL for (a).
  auto once = run_json({o.render, "--dump=" + dump, "--out=" + jsonl}, o.work_dir, "sv-bench-render");
  c.dump_rows = once["rows"].GetUint64();
  c.line_bytes = c.dump_rows ? static_cast<double>(once["bytes"].GetUint64()) / static_cast<double>(c.dump_rows) : 0;
  auto timed = run_json({o.render, "--dump=" + dump, "--min-seconds=" + fmt("%.2f", o.min_seconds)}, o.work_dir, "sv-bench-render");
  c.render_records_per_s = timed["rows"].GetDouble() / timed["seconds"].GetDouble();
  c.render_cpu_per_m = timed["cpu_seconds"].GetDouble() * 1e6 / timed["rows"].GetDouble();
  // (a) cat of the rendered lines through the same pipe reader (repeated so it lasts long enough).
  const int repeat = std::max(1, static_cast<int>(std::ceil(2e8 / std::max(1.0, c.line_bytes * static_cast<double>(c.dump_rows)))));
  std::vector<std::string> argv{"cat"};
  for (int i = 0; i < std::min(repeat, 20); ++i) argv.push_back(jsonl);
  int fd = -1;
  const auto t0 = Clock::now();
  const pid_t pid = spawn(argv, Sink::pipe, "", o.work_dir + "/cat.err", &fd);
  const ReadStats st = read_pipe(fd, t0, false);
  (void)wait_child(pid);
  c.cat_seconds = seconds_since(t0);
  c.cat_records_per_s = static_cast<double>(st.records) / c.cat_seconds;
  c.cat_mb_per_s = static_cast<double>(st.bytes) / 1e6 / c.cat_seconds;
  // (d) the Go-style baseline.
  if (!o.go_baseline.empty()) {
    auto g = run_json({o.go_baseline, "--dump=" + dump, "--min-seconds=" + fmt("%.2f", o.min_seconds)}, o.work_dir, "go baseline");
    c.have_go = true;
    c.go_records_per_s = g["rows"].GetDouble() / g["seconds"].GetDouble();
    c.go_cpu_per_m = g["cpu_seconds"].GetDouble() * 1e6 / g["rows"].GetDouble();
    c.go_dropped = g["dropped"].GetUint64() / std::max<std::uint64_t>(1, g["passes"].GetUint64());
  }
  ::unlink(jsonl.c_str());
  return c;
}

// ---------------------------------------------------------------------------------------------
// The extract case: `source-vitess extract` of one table to files, in every format and
// compression, next to a read of the same table to a pipe and the transport ceiling (b).

struct ExtractRun {
  std::string format, compress;
  std::uint64_t rows = 0, rows_reported = 0;
  int shards = 0;
  double seconds = 0, cpu = 0, emulator_cpu = 0;
  std::uint64_t peak_rss_kb = 0, file_bytes = 0;
  std::size_t files = 0;
  int exit_code = -1;
  std::string problem;  // why the run does not count (exit, rows, leftover .part), "" = fine
  double disk_seconds = 0;  // uncompressed runs: write + fdatasync of the same bytes (disk ceiling)
  double rows_per_s() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
  double mb_per_s() const { return seconds > 0 ? static_cast<double>(file_bytes) / 1e6 / seconds : 0; }
  double per_m(double c) const { return rows ? c * 1e6 / static_cast<double>(rows) : 0; }
};

struct ExtractResults {
  std::uint64_t rows = 0;
  int shards = 0;
  std::string table, width;
  std::optional<RunResult> read;       // the same table read to a pipe
  std::optional<Transport> transport;  // (b) on the same emulator
  std::vector<ExtractRun> runs;
  double total_seconds = 0;
};

//! Counts `needle` in a file (line counts of the uncompressed outputs in --quick).
std::uint64_t count_in_file(const std::string& path, std::string_view needle) {
  const std::string text = read_file(path);
  std::uint64_t n = 0;
  for (std::size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + needle.size())) ++n;
  return n;
}

//! The synthetic emulator has no MySQL front for discovery, so extract takes its columns from a
//! catalog: `customers` as discover reports it (the extract case's table).
std::string extract_catalog_json() {
  return R"({"streams":[{"stream":{"name":"customers","namespace":"commerce","json_schema":{"type":"object","properties":{)"
         R"("id":{"type":["number"],"airbyte_type":"integer"},"email":{"type":["string"]},"name":{"type":["null","string"]},)"
         R"("balance":{"type":["number"]},"created_at":{"type":["null","string"],"format":"date-time","airbyte_type":"timestamp_with_timezone"}}},)"
         R"("supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true},"sync_mode":"full_refresh","destination_sync_mode":"append"}]})";
}

//! Disk ceiling: writes the bytes of `from` to `to` in 1 MiB write(2)s, then fdatasync, as the
//! extract's final checkpoint does; returns the seconds (0 on error). The source is read first, so
//! only the write is timed.
double disk_write_seconds(const std::string& from, const std::string& to) {
  const std::string data = read_file(from);
  const int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 0;
  const auto t0 = Clock::now();
  bool ok = true;
  for (std::size_t off = 0; off < data.size() && ok;) {
    const ssize_t n = ::write(fd, data.data() + off, std::min<std::size_t>(1 << 20, data.size() - off));
    ok = n > 0;
    if (ok) off += static_cast<std::size_t>(n);
  }
  ok = ok && ::fdatasync(fd) == 0;
  const double s = seconds_since(t0);
  ::close(fd);
  ::unlink(to.c_str());
  return ok ? s : 0;
}

ExtractRun run_extract_once(const Options& o, const Emulator& emu, const std::string& table, std::uint64_t rows,
                            const std::string& format, const std::string& compress) {
  const std::string out_dir = emu.dir + "/extract-" + format + "-" + compress;
  (void)std::system(("rm -rf '" + out_dir + "'").c_str());
  write_file(emu.dir + "/config.json", config_json(emu));
  write_file(emu.dir + "/extract-catalog.json", extract_catalog_json());
  const std::vector<std::string> argv{o.connector, "extract", "--config", emu.dir + "/config.json", "--catalog",
                                      emu.dir + "/extract-catalog.json", "--output-dir", out_dir,
                                      "--tables", table, "--format", format, "--compress", compress};
  const std::string out = emu.dir + "/extract.out", err = emu.dir + "/extract.err";
  ::unlink(err.c_str());
  ExtractRun r;
  r.format = format;
  r.compress = compress;
  r.rows = rows;
  r.shards = static_cast<int>(emu.shard_names.size());
  const double emu0 = proc_cpu_seconds(emu.pid);
  const auto t0 = Clock::now();
  const pid_t pid = spawn(argv, Sink::file, out, err, nullptr);
  const Exit e = wait_child(pid);
  r.seconds = seconds_since(t0);
  r.emulator_cpu = proc_cpu_seconds(emu.pid) - emu0;
  r.cpu = e.cpu_seconds;
  r.peak_rss_kb = e.max_rss_kb;
  r.exit_code = e.code;
  // The summary line: rows written per table.
  rapidjson::Document d;
  const std::string summary = read_file(out);
  d.Parse(summary.c_str());
  if (!d.HasParseError() && d.IsObject() && d.HasMember("tables") && d["tables"].IsArray()) {
    for (const auto& t : d["tables"].GetArray()) {
      if (t.IsObject() && t.HasMember("rows") && t["rows"].IsUint64()) r.rows_reported += t["rows"].GetUint64();
    }
  }
  const std::string ext = format + (compress == "gzip" ? ".gz" : compress == "zstd" ? ".zst" : "");
  bool part_left = false;
  if (DIR* dir = ::opendir(out_dir.c_str())) {
    while (dirent* ent = ::readdir(dir)) {
      const std::string name = ent->d_name;
      if (name == "." || name == ".." || name == "_state.json") continue;
      if (name.ends_with(".part")) part_left = true;
      struct stat st {};
      if (::stat((out_dir + "/" + name).c_str(), &st) == 0) {
        r.file_bytes += static_cast<std::uint64_t>(st.st_size);
        ++r.files;
      }
    }
    ::closedir(dir);
  }
  if (e.code != 0) {
    r.problem = "exit " + std::to_string(e.code);
    std::fprintf(stderr, "sv-bench: source-vitess extract exited %d; stderr:\n%s\n", e.code, read_file(err).c_str());
  } else if (r.rows_reported != rows) {
    r.problem = "summary reports " + std::to_string(r.rows_reported) + " rows";
  } else if (part_left || r.files != 1) {
    r.problem = "files: " + std::to_string(r.files) + (part_left ? " (a .part is left)" : "");
  } else if (compress == "none") {
    // Uncompressed outputs are cheap to count: one line per row (+ the CSV header).
    const std::string file = out_dir + "/" + table + "." + ext;
    const std::uint64_t lines = format == "csv" ? count_in_file(file, "\r\n") : count_in_file(file, "\n");
    if (lines != rows + (format == "csv" ? 1 : 0)) r.problem = std::to_string(lines) + " lines in " + file;
    r.disk_seconds = disk_write_seconds(file, out_dir + "/disk-ceiling.tmp");
  }
  if (!r.problem.empty()) r.exit_code = r.exit_code == 0 ? 99 : r.exit_code;
  (void)std::system(("rm -rf '" + out_dir + "'").c_str());
  return r;
}

ExtractResults run_extract_case(const Options& o) {
  ExtractResults x;
  const auto t0 = Clock::now();
  const Width& w = width_by_name("typical");
  x.rows = o.extract_rows;
  x.shards = o.ceiling_shards;
  x.table = w.table;
  x.width = w.name;
  Emulator emu;
  emu.start(o, w.table, x.rows, x.shards, "extract");
  std::fprintf(stderr, "sv-bench: extract case: %s, %s rows, %d shards [%s]\n", w.table.c_str(), human_rows(x.rows).c_str(),
               x.shards, emu.shard_list().c_str());
  (void)run_transport(o, emu, w, x.rows, x.shards, "", false);  // warm-up: fills the pre-encoded cache
  x.transport = run_transport(o, emu, w, x.rows, x.shards, "", true);
  RunResult read = run_connector(o, emu, w.table, "full_refresh", Sink::pipe, "", false);
  read.width = w.name;
  read.rows = x.rows;
  read.shards = x.shards;
  log_run(read);
  x.read = std::move(read);
  for (const char* format : {"jsonl", "csv"}) {
    for (const char* compress : {"none", "gzip", "zstd"}) {
      std::vector<ExtractRun> tries;
      for (int i = 0; i < std::max(1, o.repeat); ++i) {
        tries.push_back(run_extract_once(o, emu, w.table, x.rows, format, compress));
        if (tries.back().exit_code != 0) break;
      }
      std::sort(tries.begin(), tries.end(), [](const ExtractRun& a, const ExtractRun& b) { return a.seconds < b.seconds; });
      auto failed = std::find_if(tries.begin(), tries.end(), [](const ExtractRun& t) { return t.exit_code != 0; });
      ExtractRun r = std::move(failed != tries.end() ? *failed : tries[tries.size() / 2]);
      std::fprintf(stderr, "  extract %-5s %-4s %10.0f rows/s  %6.1f MB/s to files  conn %.2f s/1M  rss %.1f MiB%s\n",
                   r.format.c_str(), r.compress.c_str(), r.rows_per_s(), r.mb_per_s(), r.per_m(r.cpu),
                   static_cast<double>(r.peak_rss_kb) / 1024.0, r.problem.empty() ? "" : ("  FAILED: " + r.problem).c_str());
      x.runs.push_back(std::move(r));
    }
  }
  x.total_seconds = seconds_since(t0);
  return x;
}

std::string extract_json(const Options& o, const Machine& m, const ExtractResults& x) {
  rapidjson::StringBuffer b;
  Json w(b);
  w.StartObject();
  write_machine_json(w, o, m);
  w.Key("table"); w.String(x.table.c_str());
  w.Key("rows"); w.Uint64(x.rows);
  w.Key("shards"); w.Int(x.shards);
  if (x.read) {
    w.Key("read_pipe");
    write_run_json(w, *x.read);
  }
  if (x.transport) {
    w.Key("transport_ceiling_records_per_s"); w.Double(x.transport->records_per_s());
  }
  w.Key("runs");
  w.StartArray();
  for (const auto& r : x.runs) {
    w.StartObject();
    w.Key("format"); w.String(r.format.c_str());
    w.Key("compress"); w.String(r.compress.c_str());
    w.Key("exit_code"); w.Int(r.exit_code);
    if (!r.problem.empty()) { w.Key("problem"); w.String(r.problem.c_str()); }
    w.Key("rows"); w.Uint64(r.rows);
    w.Key("seconds"); w.Double(r.seconds);
    w.Key("rows_per_s"); w.Double(r.rows_per_s());
    w.Key("file_bytes"); w.Uint64(r.file_bytes);
    w.Key("file_mb_per_s"); w.Double(r.mb_per_s());
    w.Key("connector_cpu_s"); w.Double(r.cpu);
    w.Key("connector_cpu_s_per_1m"); w.Double(r.per_m(r.cpu));
    w.Key("emulator_cpu_s_per_1m"); w.Double(r.per_m(r.emulator_cpu));
    w.Key("peak_rss_mib"); w.Double(static_cast<double>(r.peak_rss_kb) / 1024.0);
    if (r.disk_seconds > 0) {
      w.Key("disk_ceiling_mb_per_s"); w.Double(static_cast<double>(r.file_bytes) / 1e6 / r.disk_seconds);
      w.Key("disk_ceiling_rows_per_s"); w.Double(static_cast<double>(r.rows) / r.disk_seconds);
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("total_seconds"); w.Double(x.total_seconds);
  w.EndObject();
  return pretty(b.GetString());
}

std::string extract_md(const Options& o, const Machine& m, const ExtractResults& x) {
  std::string s;
  s += "Machine: " + m.cpu + ", " + std::to_string(m.cores) + " cores; commit " + m.commit + "; " + m.date + " (" +
       (o.quick ? "quick" : "full") + " mode, " + fmt("%.0f", x.total_seconds) + " s). Load average at start / end: " +
       m.load_start + " / " + m.load_end + "." + (o.note.empty() ? "" : " " + o.note) + "\n\n";
  s += "`source-vitess extract --tables " + x.table + "` of " + human_rows(x.rows) + " rows (" + x.width + ", " +
       std::to_string(x.shards) + " shards) into one file, wall time from start to exit (files fsynced and renamed). "
       "**data MB/s**: the uncompressed file size of the same format over the run's wall time; **file MB/s**: "
       "bytes written. Same emulator, same rows: ";
  if (x.read) s += "`read` to a pipe reader **" + fmt("%.0f", x.read->records_per_s()) + " records/s**";
  if (x.transport) s += ", transport ceiling (b) **" + fmt("%.0f", x.transport->records_per_s()) + " rows/s**";
  s += ".\n\n";
  s += "| format | compress | rows/s | data MB/s | file MB/s | file bytes/row | size vs uncompressed | conn CPU s/1M | peak RSS MiB | vs read | vs (b) transport |\n";
  s += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : x.runs) {
    std::uint64_t plain = 0;
    for (const auto& p : x.runs) {
      if (p.format == r.format && p.compress == "none") plain = p.file_bytes;
    }
    s += "| " + r.format + " | " + r.compress + " | " + fmt("%.0f", r.rows_per_s()) +
         (r.problem.empty() ? "" : " (" + r.problem + ")") + " | " +
         (plain && r.seconds > 0 ? fmt("%.1f", static_cast<double>(plain) / 1e6 / r.seconds) : "–") + " | " +
         fmt("%.1f", r.mb_per_s()) + " | " +
         fmt("%.0f", r.rows ? static_cast<double>(r.file_bytes) / static_cast<double>(r.rows) : 0) + " | " +
         (plain ? fmt("%.2f", static_cast<double>(r.file_bytes) / static_cast<double>(plain)) : "–") + " | " +
         fmt("%.2f", r.per_m(r.cpu)) + " | " + fmt("%.1f", static_cast<double>(r.peak_rss_kb) / 1024.0) + " | " +
         (x.read ? ratio(r.rows_per_s(), x.read->records_per_s()) : "–") + " | " +
         (x.transport ? ratio(r.rows_per_s(), x.transport->records_per_s()) : "–") + " |\n";
  }
  std::string disk;
  for (const auto& r : x.runs) {
    if (r.disk_seconds <= 0) continue;
    disk += std::string(disk.empty() ? "" : "; ") + r.format + " " + fmt("%.0f", static_cast<double>(r.file_bytes) / 1e6) +
            " MB in " + fmt("%.2f", r.disk_seconds) + " s = " + fmt("%.0f", static_cast<double>(r.file_bytes) / 1e6 / r.disk_seconds) +
            " MB/s (" + fmt("%.0f", static_cast<double>(r.rows) / r.disk_seconds) + " rows/s)";
  }
  if (!disk.empty())
    s += "\nDisk ceiling (same run, after each uncompressed extract): the same bytes written to the same directory "
         "in 1 MiB writes, then fdatasync: " + disk + ".\n";
  return s;
}

//! Replaces the text between two markers in a doc file; false when the markers are missing.
bool replace_between(const std::string& path, std::string_view begin, std::string_view end, const std::string& text) {
  std::string doc = read_file(path);
  const auto b = doc.find(begin), e = doc.find(end);
  if (b == std::string::npos || e == std::string::npos || e < b) return false;
  doc.replace(b + begin.size(), e - b - begin.size(), "\n" + text + "\n");
  write_file(path, doc);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  // A work dir we created (dumps, rendered JSONL, emulator logs) goes away at the end.
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      if (dir.rfind("/tmp/sv_bench_", 0) == 0) (void)std::system(("rm -rf '" + dir + "'").c_str());
    }
  } cleanup{o.work_dir};
  Machine machine = machine_info();
  Results res;
  const auto t_all = Clock::now();
  if (!o.profile.empty()) {
    // Profile step: warm the emulator's cache, then one read under the wrapper.
    Emulator emu;
    emu.start(o, "customers", o.profile_rows, o.ceiling_shards, "profile");
    (void)run_transport(o, emu, width_by_name("typical"), o.profile_rows, o.ceiling_shards, "", false);
    RunResult r = run_connector(o, emu, "customers", "full_refresh", Sink::pipe, "", false, o.profile);
    r.width = "typical";
    r.rows = o.profile_rows;
    r.shards = o.ceiling_shards;
    log_run(r);
    return r.exit_code == 0 && r.records == o.profile_rows ? 0 : 1;
  }
  std::fprintf(stderr, "sv-bench: %s mode, work dir %s, load %s\n", o.quick ? "quick" : "full", o.work_dir.c_str(),
               machine.load_start.c_str());
  static constexpr std::string_view kExtractBegin = "<!-- bench-extract:begin -->", kExtractEnd = "<!-- bench-extract:end -->";
  // Writes extract.{json,md} (and the doc's extract section); true when every extract run passed.
  auto finish_extract = [&](const ExtractResults& x) {
    machine.load_end = trim(read_file("/proc/loadavg"));
    ::mkdir(o.out_dir.c_str(), 0755);
    write_file(o.out_dir + "/extract.json", extract_json(o, machine, x));
    write_file(o.out_dir + "/extract.md", extract_md(o, machine, x));
    std::fprintf(stderr, "sv-bench: wrote %s/extract.{json,md}\n", o.out_dir.c_str());
    if (!o.doc.empty()) {
      if (replace_between(o.doc, kExtractBegin, kExtractEnd, extract_md(o, machine, x)))
        std::fprintf(stderr, "sv-bench: updated the extract section of %s\n", o.doc.c_str());
      else
        std::fprintf(stderr, "sv-bench: %s has no bench-extract markers; not updated\n", o.doc.c_str());
    }
    bool ok = x.read && x.read->exit_code == 0 && x.read->records == x.rows;
    for (const auto& r : x.runs) ok = ok && r.exit_code == 0;
    return ok;
  };
  if (o.extract_only) {
    if (o.extract_rows == 0) die("--extract-only with --extract-rows=0");
    return finish_extract(run_extract_case(o)) ? 0 : 1;
  }

  // Part 1: every width at each row count in o.rows; part 2: typical at big_rows.
  struct Part {
    std::uint64_t rows;
    std::vector<int> shards;
    std::vector<std::string> widths;
    bool ceilings;  // dump + (a)(c)(d) at ceiling_shards
    bool devnull;
  };
  std::vector<Part> parts;
  for (auto r : o.rows) parts.push_back({r, o.shards, o.widths, r == o.rows.front(), true});
  if (o.big_rows > 0) parts.push_back({o.big_rows, o.big_shards, {"typical"}, false, false});

  for (const auto& part : parts) {
    for (int shards : part.shards) {
      std::string tables;
      for (const auto& wn : part.widths) tables += (tables.empty() ? "" : ",") + width_by_name(wn).table;
      Emulator emu;
      emu.start(o, tables, part.rows, shards, human_rows(part.rows) + "-" + std::to_string(shards));
      std::fprintf(stderr, "sv-bench: %s rows, %d shard(s) [%s]\n", human_rows(part.rows).c_str(), shards, emu.shard_list().c_str());
      for (const auto& wn : part.widths) {
        const Width& w = width_by_name(wn);
        const bool want_dump = part.ceilings && shards == o.ceiling_shards;
        const std::string dump = o.work_dir + "/" + w.name + ".dump";
        // Warm-up: the first copy fills the emulator's pre-encoded cache (and writes the dump).
        const auto tw = Clock::now();
        (void)run_transport(o, emu, w, part.rows, shards, want_dump ? dump : "", false);
        std::fprintf(stderr, "  %-7s warm-up copy %.1f s\n", w.name.c_str(), seconds_since(tw));
        // (b) transport ceiling, warm: raw bytes parsed on a reused Arena, then dropped; in the
        // first part also through the generated stub (heap parse, like the connector).
        Transport t = run_transport(o, emu, w, part.rows, shards, "", true);
        if (part.devnull) {
          const Transport stub = run_transport(o, emu, w, part.rows, shards, "", false);
          t.stub_records_per_s = stub.records_per_s();
          t.stub_client_cpu = stub.client_cpu;
        }
        std::fprintf(stderr, "  %-7s (b) transport %10.0f rec/s (stub parse %.0f)  emu %.2f s/1M\n", w.name.c_str(),
                     t.records_per_s(), t.stub_records_per_s, t.emulator_cpu * 1e6 / static_cast<double>(t.rows));
        res.transport.push_back(t);
        for (Sink sink : {Sink::pipe, Sink::devnull}) {
          if (sink == Sink::devnull && !part.devnull && shards != o.ceiling_shards) continue;
          // --repeat=N: N runs, keep the median by records/s (a failed run always wins, so it shows).
          std::vector<RunResult> tries;
          for (int i = 0; i < std::max(1, o.repeat); ++i) {
            tries.push_back(run_connector(o, emu, w.table, "full_refresh", sink, "", false));
            if (tries.back().exit_code != 0) break;
          }
          std::sort(tries.begin(), tries.end(), [](const RunResult& a, const RunResult& b) { return a.seconds < b.seconds; });
          auto failed = std::find_if(tries.begin(), tries.end(), [](const RunResult& t) { return t.exit_code != 0; });
          RunResult r = std::move(failed != tries.end() ? *failed : tries[tries.size() / 2]);
          r.width = w.name;
          r.rows = part.rows;
          r.shards = shards;
          if (!r.records_counted) r.records = r.exit_code == 0 ? part.rows : 0;
          log_run(r);
          if (r.records_counted && r.records != part.rows) {
            std::fprintf(stderr, "sv-bench: expected %llu RECORD lines, got %llu\n",
                         static_cast<unsigned long long>(part.rows), static_cast<unsigned long long>(r.records));
            r.exit_code = r.exit_code == 0 ? 99 : r.exit_code;
          }
          res.runs.push_back(std::move(r));
        }
        if (want_dump) {
          Ceilings c = run_ceilings(o, w, dump);
          std::fprintf(stderr, "  %-7s (a) cat %.0f rec/s (%.0f MB/s)  (c) render %.0f rec/s  (d) Go %s rec/s\n", w.name.c_str(),
                       c.cat_records_per_s, c.cat_mb_per_s, c.render_records_per_s,
                       c.have_go ? fmt("%.0f", c.go_records_per_s).c_str() : "n/a");
          res.ceilings.push_back(c);
          ::unlink(dump.c_str());
        }
      }
    }
  }

  // Incremental: a first sync, N write ops, then a read from the saved state (change events only).
  {
    const int shards = o.ceiling_shards;
    Emulator emu;
    emu.start(o, "customers", o.cdc_rows, shards, "cdc");
    RunResult first = run_connector(o, emu, "customers", "incremental", Sink::pipe, "", true);
    if (first.exit_code != 0) die("incremental first sync failed");
    const std::string state = state_from_output(first.output_text);
    emu.http("POST", "/writes?count=" + std::to_string(o.cdc_writes));
    RunResult r = run_connector(o, emu, "customers", "incremental", Sink::pipe, state, false);
    r.width = "typical";
    r.rows = o.cdc_rows;
    r.shards = shards;
    std::fprintf(stderr, "sv-bench: incremental: %llu change records in %.2f s = %.0f events/s (exit %d)\n",
                 static_cast<unsigned long long>(r.records), r.seconds, r.records_per_s(), r.exit_code);
    // Every write op is one single-row transaction of the one table: exactly one change record
    // each (inserts and updates the after image, deletes the before image).
    if (r.records != o.cdc_writes) {
      std::fprintf(stderr, "sv-bench: expected %llu change records, got %llu\n",
                   static_cast<unsigned long long>(o.cdc_writes), static_cast<unsigned long long>(r.records));
      r.exit_code = r.exit_code == 0 ? 99 : r.exit_code;
    }
    res.cdc = std::move(r);
    res.cdc_writes = o.cdc_writes;
  }

  std::optional<ExtractResults> extract;
  if (o.extract_rows > 0) extract = run_extract_case(o);

  res.total_seconds = seconds_since(t_all);
  machine.load_end = trim(read_file("/proc/loadavg"));
  ::mkdir(o.out_dir.c_str(), 0755);
  write_file(o.out_dir + "/results.json", results_json(o, machine, res));
  write_file(o.out_dir + "/results.md", results_md(o, machine, res));
  write_file(o.out_dir + "/plot.svg", plot_svg(res));
  std::fprintf(stderr, "sv-bench: wrote %s/results.{json,md} and plot.svg in %.0f s\n", o.out_dir.c_str(), res.total_seconds);
  if (!o.doc.empty()) {
    static constexpr std::string_view kBegin = "<!-- bench:begin -->", kEnd = "<!-- bench:end -->";
    std::string doc = read_file(o.doc);
    const auto b = doc.find(kBegin), e = doc.find(kEnd);
    if (b == std::string::npos || e == std::string::npos || e < b) {
      std::fprintf(stderr, "sv-bench: %s has no bench:begin/bench:end markers; not updated\n", o.doc.c_str());
    } else {
      doc.replace(b + kBegin.size(), e - b - kBegin.size(), "\n" + results_md(o, machine, res) + "\n");
      write_file(o.doc, doc);
      std::fprintf(stderr, "sv-bench: updated %s\n", o.doc.c_str());
    }
  }
  bool ok = true;
  for (const auto& r : res.runs) ok = ok && r.exit_code == 0;
  ok = ok && res.cdc && res.cdc->exit_code == 0;
  if (extract) ok = finish_extract(*extract) && ok;
  return ok ? 0 : 1;
}
