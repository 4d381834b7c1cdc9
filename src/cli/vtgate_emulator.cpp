// src/cli/vtgate_emulator.cpp — vtgate-emulator (main in main_vtgate_emulator.cpp): a vtgate
// stand-in serving VStream over gRPC from the synthetic backend, with faults on demand (flags or the HTTP control API).
// Logs go to stderr; stdout carries exactly one line: {"grpc_port":P,"control_port":C}.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <span>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <rapidjson/document.h>
#include "emulator/control_api.hpp"

#include "cli/args.hpp"
#include "cli/programs.hpp"
#include "emulator/mysql/mariadb_backend.hpp"
#include "emulator/mysql/mysql_front.hpp"
#include "emulator/synthetic_backend.hpp"
#include "emulator/tcp_proxy.hpp"
#include "emulator/vstream_server.hpp"
#include "util/file.hpp"

namespace asio = boost::asio;
using namespace sv::emulator;

namespace {

constexpr const char* kHelp = R"(vtgate-emulator — a vtgate stand-in serving vtgateservice.Vitess/VStream

Usage: vtgate-emulator [flags]

Network
  --listen=HOST:PORT          gRPC address (default 127.0.0.1:0 = a free loopback port)
  --control-listen=HOST:PORT  HTTP control API address (default 127.0.0.1:0; "off" disables it)
  --port-file=PATH            also write the ports line to PATH (written atomically)
  --user=NAME                 require basic auth with this user (default: no auth)
  --password=SECRET           password for --user (also read from $EMULATOR_PASSWORD)
  --tls-cert=PATH             serve TLS with this PEM certificate chain
  --tls-key=PATH              PEM private key for --tls-cert
  --tcp-proxy                 put a TCP proxy in front of gRPC (on --listen) so the "drop" fault
                              resets the client's TCP connection; without it "drop" resets only
                              the stream (HTTP/2 RST_STREAM)

Backend
  --backend=synthetic|mariadb generated data (default) or one real MariaDB per shard
  --mariadb-shards=PATH       with --backend=mariadb: the shards.json that scripts/cluster writes
                              (per shard: shard, host, port, user, password, server_id,
                              gtid_domain_id); the keyspace is --keyspace
  --mysql-listen=HOST:PORT    with --backend=mariadb: the MySQL-protocol front (SHOW VITESS_SHARDS,
                              SHOW VITESS_TABLETS; other queries go to the first shard), default
                              127.0.0.1:0; "off" disables it. Same --user/--password/TLS as gRPC

Data (synthetic backend)
  --keyspace=NAME             keyspace name (default commerce)
  --shards=N|LIST             shard count (1 → "-", 2 → -80,80-, 4 → -40,40-80,80-c0,c0-) or an
                              explicit list like "-80,80-" (default 2)
  --tables=LIST               tables among all_types,customers,order_items,bench_narrow,
                              bench_typical,bench_wide (default the first three)
  --rows=N                    initial rows per table (default 100)
  --write-rate=OPS            deterministic write ops per second (default 0 = none)
  --write-max=N               stop the timed write load after N ops (default 0 = unbounded)
  --writes=N                  apply N write ops at startup

vtgate behaviour
  --enum-set-mode=labels|index  ENUM/SET in ROW events of the replication phase as labels with
                              FieldEvent.enum_set_string_values=true (v20+, default) or as
                              1-based indexes / bitmasks (older vtgates)
  --pre-encoded               cache encoded copy-phase ROW events per snapshot and replay them
  --copy-packet-bytes=N       bytes of ROW events per copy batch (default 250000)

Faults (also settable at runtime through the control API)
  --end-after-events=N        end every stream after it sent N events ...
  --end-mode=MODE             ... with MODE: eof (OK), unavailable, deadline_exceeded, internal,
                              drop (no status: connection reset with --tcp-proxy, else
                              stream reset) (default eof)
  --fail-streams=N            the first N streams fail right away ...
  --fail-mode=MODE            ... with MODE (default unavailable)
  --stall-after-events=N      each stream goes silent once after N events ...
  --stall-seconds=T           ... for T seconds (default 5)
  --slow-shard=SHARD:MS       delay each response of SHARD by MS milliseconds (repeatable)
  --reshard-after=SECS:LIST   reshard into LIST (e.g. -40,40-80,80-c0,c0-) SECS after startup
  --ddl-after=SECS:TABLE      add a column to TABLE SECS after startup

Other
  --log-level=LEVEL           trace, debug, info, warn, error (default info)
  --help                      this text

Control API (JSON answers): GET /status; POST /writes?count=N, /rate?ops_per_second=X,
/fault/end-after?events=N&mode=M, /fault/fail-streams?count=N&mode=M, /fault/end-streams?mode=M,
/fault/stall?seconds=T, /fault/stall-after?events=N&seconds=T, /fault/slow-shard?shard=S&delay_ms=D,
/fault/clear, /reshard?shards=LIST, /ddl?table=T.
)";

struct Args {
  std::map<std::string, std::vector<std::string>> values;
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = values.find(k);
    return it == values.end() || it->second.empty() ? def : it->second.back();
  }
  bool has(const std::string& k) const { return values.count(k) != 0; }
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string p; std::getline(ss, p, sep);) {
    if (!p.empty()) out.push_back(p);
  }
  return out;
}

//! The whole file (util/file, the one reader); nullopt when it cannot be read or passes 16 MiB
//! (certificates, keys and shards.json are a few KiB).
std::optional<std::string> read_file(const std::string& path) {
  auto file = sv::read_whole_file(path, {16u << 20});
  if (file.error != 0) return std::nullopt;
  return std::move(file.text);
}

//! The shards.json of scripts/cluster: [{"shard","host","port","user","password","server_id",
//! "gtid_domain_id"}, ...] in key-range order.
sv::Result<std::vector<mysql::MariaDbShard>> read_mariadb_shards(const std::string& path) {
  auto text = read_file(path);
  if (!text) return sv::config_error("cannot read --mariadb-shards file " + path);
  rapidjson::Document doc;
  doc.Parse(text->c_str(), text->size());
  if (doc.HasParseError() || !doc.IsArray() || doc.Empty())
    return sv::config_error(path + " is not a non-empty JSON array of shards");
  std::vector<mysql::MariaDbShard> shards;
  for (const auto& entry : doc.GetArray()) {
    auto str = [&](const char* key) -> std::string {
      return entry.IsObject() && entry.HasMember(key) && entry[key].IsString() ? entry[key].GetString() : "";
    };
    auto uint = [&](const char* key, unsigned def) -> unsigned {
      return entry.IsObject() && entry.HasMember(key) && entry[key].IsUint() ? entry[key].GetUint() : def;
    };
    mysql::MariaDbShard shard;
    shard.name = str("shard");
    shard.conn.host = str("host").empty() ? "127.0.0.1" : str("host");
    shard.conn.port = static_cast<uint16_t>(uint("port", 0));
    shard.conn.user = str("user");
    shard.conn.password = str("password");
    shard.server_id = uint("server_id", 1);
    shard.domain_id = uint("gtid_domain_id", shard.server_id);
    if (shard.name.empty() || shard.conn.port == 0 || shard.conn.user.empty())
      return sv::config_error(path + ": every shard needs shard, port and user");
    shards.push_back(std::move(shard));
  }
  return shards;
}

int die(const std::string& msg) {
  spdlog::error("{}", msg);
  std::fprintf(stderr, "vtgate-emulator: %s (see --help)\n", msg.c_str());
  return 2;
}

}  // namespace

namespace sv::cli {

int vtgate_emulator_main(int argc, char** argv) {
  auto logger = spdlog::stderr_logger_mt("emulator");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  static const std::set<std::string> known = {"listen",
                                              "control-listen",
                                              "port-file",
                                              "user",
                                              "password",
                                              "tls-cert",
                                              "tls-key",
                                              "keyspace",
                                              "shards",
                                              "tables",
                                              "rows",
                                              "write-rate",
                                              "write-max",
                                              "writes",
                                              "enum-set-mode",
                                              "pre-encoded",
                                              "copy-packet-bytes",
                                              "end-after-events",
                                              "end-mode",
                                              "fail-streams",
                                              "fail-mode",
                                              "stall-after-events",
                                              "stall-seconds",
                                              "slow-shard",
                                              "reshard-after",
                                              "ddl-after",
                                              "log-level",
                                              "tcp-proxy",
                                              "help",
                                              "backend",
                                              "mariadb-shards",
                                              "mysql-listen"};
  // Flags take a value, except these three (which accept one only as --flag=value).
  std::vector<OptionSpec> options;
  for (const auto& name : known) {
    const bool flag = name == "help" || name == "pre-encoded" || name == "tcp-proxy";
    options.push_back({name, flag ? OptionValue::inline_only : OptionValue::required});
  }
  Args args;
  for (auto& item : scan_args(std::span(argv, static_cast<std::size_t>(argc)).subspan(1), options)) {
    using Kind = ArgItem::Kind;
    switch (item.kind) {
      case Kind::positional: return die("unexpected argument '" + item.text + "'");
      case Kind::unknown_option: return die("unknown flag --" + item.text);
      case Kind::missing_value: return die("flag --" + item.text + " needs a value");
      case Kind::unexpected_value:  // no flag of ours is OptionValue::none
      case Kind::option: args.values[item.text].push_back(item.value.value_or("")); break;
    }
  }
  if (args.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(args.get("log-level", "info")));

  auto num = [&](const std::string& k, double def) -> std::optional<double> {
    if (!args.has(k)) return def;
    try {
      std::size_t used = 0;
      double v = std::stod(args.get(k), &used);
      if (used != args.get(k).size() || v < 0) return std::nullopt;
      return v;
    } catch (...) {
      return std::nullopt;
    }
  };

  DatasetConfig dc;
  dc.keyspace = args.get("keyspace", "commerce");
  {
    std::string sh = args.get("shards", "2");
    if (sh.find('-') != std::string::npos || sh == "0") {
      dc.shards = split(sh, ',');
    } else {
      auto n = num("shards", 2);
      if (!n || *n < 1 || *n > 256) return die("--shards must be 1..256 or a list of shard names");
      dc.shards = Dataset::shard_names(static_cast<std::size_t>(*n));
    }
    for (const auto& s : dc.shards) {
      if (!Dataset::parse_shard(s)) return die("invalid shard name '" + s + "'");
    }
  }
  if (args.has("tables")) dc.tables = split(args.get("tables"), ',');
  auto rows = num("rows", 100);
  auto rate = num("write-rate", 0);
  auto wmax = num("write-max", 0);
  auto writes = num("writes", 0);
  auto packet = num("copy-packet-bytes", 250000);
  if (!rows || !rate || !wmax || !writes || !packet || *packet < 1)
    return die("numeric flags need non-negative numbers");
  dc.rows = static_cast<std::uint64_t>(*rows);

  ServerOptions so;
  const bool use_proxy = args.has("tcp-proxy");
  // With the proxy, gRPC itself listens on a private loopback port behind it.
  so.listen = use_proxy ? "127.0.0.1:0" : args.get("listen", "127.0.0.1:0");
  so.user = args.get("user");
  so.password = args.has("password") ? args.get("password")
                                     : (std::getenv("EMULATOR_PASSWORD") ? std::getenv("EMULATOR_PASSWORD") : "");
  const std::string esm = args.get("enum-set-mode", "labels");
  if (esm != "labels" && esm != "index") return die("--enum-set-mode must be labels or index");
  so.enum_set_labels = esm == "labels";
  so.pre_encoded = args.has("pre-encoded");
  so.copy_packet_bytes = static_cast<std::size_t>(*packet);
  if (args.has("tls-cert") != args.has("tls-key")) return die("--tls-cert and --tls-key go together");
  if (args.has("tls-cert")) {
    auto cert = read_file(args.get("tls-cert"));
    auto key = read_file(args.get("tls-key"));
    if (!cert || !key) return die("cannot read the TLS certificate or key file");
    so.tls = TlsFiles{*cert, *key};
  }

  asio::io_context io(1);
  const std::string backend_kind = args.get("backend", "synthetic");
  if (backend_kind != "synthetic" && backend_kind != "mariadb") return die("--backend must be synthetic or mariadb");
  std::unique_ptr<SyntheticBackend> synthetic;
  std::unique_ptr<mysql::MariaDbBackend> mariadb;
  mysql::ConnParams mariadb_first_shard;
  Backend* backend = nullptr;
  if (backend_kind == "synthetic") {
    try {
      synthetic = std::make_unique<SyntheticBackend>(io.get_executor(), dc,
                                                     WriteLoad{*rate, static_cast<std::uint64_t>(*wmax)});
    } catch (const std::exception& e) {
      return die(e.what());
    }
    if (*writes > 0) synthetic->apply_writes(static_cast<std::uint64_t>(*writes));
    backend = synthetic.get();
  } else {
    if (!args.has("mariadb-shards")) return die("--backend=mariadb needs --mariadb-shards=PATH");
    auto shards = read_mariadb_shards(args.get("mariadb-shards"));
    if (!shards) return die(shards.error().message);
    mysql::MariaDbBackendOptions mo;
    mo.keyspace = dc.keyspace;
    mariadb_first_shard = shards->front().conn;
    mo.shards = std::move(*shards);
    dc.shards.clear();
    for (const auto& shard : mo.shards) dc.shards.push_back(shard.name);
    mariadb = std::make_unique<mysql::MariaDbBackend>(io.get_executor(), std::move(mo));
    if (auto st = mariadb->start(); !st) return die(st.error().message);
    backend = mariadb.get();
  }

  VStreamServer server(io, *backend, so);
  auto& faults = server.faults();
  if (args.has("end-after-events")) {
    auto n = num("end-after-events", 0);
    auto m = parse_end_mode(args.get("end-mode", "eof"));
    if (!n || !m) return die("bad --end-after-events / --end-mode");
    faults.end_after_events = static_cast<std::uint64_t>(*n);
    faults.end_mode = *m;
  }
  if (args.has("fail-streams")) {
    auto n = num("fail-streams", 0);
    auto m = parse_end_mode(args.get("fail-mode", "unavailable"));
    if (!n || !m) return die("bad --fail-streams / --fail-mode");
    faults.fail_streams = static_cast<std::uint64_t>(*n);
    faults.fail_mode = *m;
  }
  if (args.has("stall-after-events")) {
    auto n = num("stall-after-events", 0);
    auto t = num("stall-seconds", 5);
    if (!n || !t) return die("bad --stall-after-events / --stall-seconds");
    faults.stall_after_events = static_cast<std::uint64_t>(*n);
    faults.stall_seconds = *t;
  }
  if (args.has("slow-shard")) {
    for (const auto& v : args.values["slow-shard"]) {
      auto c = v.rfind(':');
      if (c == std::string::npos) return die("--slow-shard wants SHARD:MS");
      faults.slow_shards[v.substr(0, c)] = std::chrono::milliseconds(std::atoll(v.c_str() + c + 1));
    }
  }

  auto port = server.start();
  if (!port) return die(port.error().message);
  TcpProxy proxy(io);
  if (use_proxy) {
    auto pp = proxy.start(args.get("listen", "127.0.0.1:0"), *port);
    if (!pp) return die(pp.error().message);
    port = *pp;
    server.set_connection_dropper([&proxy](const std::string& peer) {
      auto colon = peer.rfind(':');
      return colon != std::string::npos && proxy.drop(std::atoi(peer.c_str() + colon + 1));
    });
  }
  ControlApi control(io, server, synthetic.get(), dc.keyspace);
  int control_port = 0;
  if (args.get("control-listen", "127.0.0.1:0") != "off") {
    auto cp = control.start(args.get("control-listen", "127.0.0.1:0"));
    if (!cp) return die(cp.error().message);
    control_port = *cp;
  }

  // The MySQL-protocol front (MariaDB backend only: it forwards schema queries to shard 0).
  std::unique_ptr<mysql::MySqlFront> front;
  int mysql_port = 0;
  if (mariadb && args.get("mysql-listen", "127.0.0.1:0") != "off") {
    const std::string listen = args.get("mysql-listen", "127.0.0.1:0");
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) return die("--mysql-listen wants HOST:PORT");
    mysql::MySqlFrontOptions fo;
    fo.host = listen.substr(0, colon);
    fo.port = static_cast<std::uint16_t>(std::atoi(listen.c_str() + colon + 1));
    fo.user = so.user;
    fo.password = so.password;
    if (so.tls) {
      fo.tls_cert_pem = so.tls->cert_chain;
      fo.tls_key_pem = so.tls->private_key;
    }
    fo.keyspace = dc.keyspace;
    fo.shards = dc.shards;
    fo.backend = mariadb_first_shard;
    fo.after_ddl = [backend = mariadb.get()]() -> asio::awaitable<void> {
      auto st = co_await backend->refresh();
      if (!st) spdlog::warn("catalog refresh after a DDL failed: {}", st.error().message);
    };
    front = std::make_unique<mysql::MySqlFront>(io, fo);
    auto mp = front->start();
    if (!mp) return die(mp.error().message);
    mysql_port = *mp;
  }

  // Timed faults from flags go through the control API's handler, so both paths behave the same.
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  auto schedule = [&](const std::string& flag, const std::string& path_fmt) -> bool {
    for (const auto& v : args.values[flag]) {
      auto c = v.find(':');
      if (c == std::string::npos) return false;
      double secs = std::atof(v.substr(0, c).c_str());
      std::string target = fmt::format(fmt::runtime(path_fmt), v.substr(c + 1));
      auto t =
          std::make_unique<asio::steady_timer>(io, std::chrono::milliseconds(static_cast<std::int64_t>(secs * 1000)));
      t->async_wait([&control, target](boost::system::error_code ec) {
        if (!ec) control.handle("POST", target);
      });
      timers.push_back(std::move(t));
    }
    return true;
  };
  if (!schedule("reshard-after", "/reshard?shards={}") || !schedule("ddl-after", "/ddl?table={}")) {
    return die("--reshard-after / --ddl-after want SECS:VALUE");
  }

  const std::string line = mysql_port ? fmt::format(R"({{"grpc_port":{},"control_port":{},"mysql_port":{}}})", *port,
                                                    control_port, mysql_port)
                                      : fmt::format(R"({{"grpc_port":{},"control_port":{}}})", *port, control_port);
  if (args.has("port-file")) {
    const std::string path = args.get("port-file");
    {
      std::ofstream out(path + ".tmp");
      out << line << "\n";
    }
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
  spdlog::info("vtgate-emulator serving keyspace {} shards [{}] on gRPC port {}{}{}, control port {}", dc.keyspace,
               fmt::join(dc.shards, ","), *port, so.tls ? " (TLS)" : "", so.user.empty() ? "" : " (basic auth)",
               control_port);

  std::thread stopper;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    control.stop();
    if (front) front->stop();
    proxy.stop();
    for (auto& t : timers) t->cancel();
    // grpc::Server::Shutdown may block waiting for streams, so it runs off the io thread.
    stopper = std::thread([&] {
      server.shutdown();
      io.stop();
    });
  });
  io.run();
  if (stopper.joinable()) stopper.join();
  return 0;
}

}  // namespace sv::cli
