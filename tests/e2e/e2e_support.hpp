// tests/e2e: helpers to run the built `source-vitess` against a `vtgate-emulator` process (synthetic
// backend, or real MariaDB shards: MariaDbCluster) and to compute the exact expected records from
// the same deterministic Dataset.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "emulator/dataset.hpp"
#include "emulator/mysql/mariadb_instance.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "vitess/values.hpp"
#include "wait.hpp"

namespace sv::e2e {

inline std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

//! A fresh temp directory per test (removed by the destructor).
struct TempDir : sv::testing::TempDir {
  TempDir() : sv::testing::TempDir("sv_e2e") {}
};

//! A child process with stdout (and stderr) redirected to files, or stdout to a pipe.
struct Child {
  pid_t pid = -1;
  int stdout_pipe = -1;

  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  Child(Child&& o) noexcept : pid(o.pid), stdout_pipe(o.stdout_pipe) {
    o.pid = -1;
    o.stdout_pipe = -1;
  }
  Child& operator=(Child&& o) noexcept {
    std::swap(pid, o.pid);
    std::swap(stdout_pipe, o.stdout_pipe);
    return *this;
  }

  static Child spawn(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
                     bool pipe_stdout = false) {
    int fds[2] = {-1, -1};
    if (pipe_stdout && ::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    Child c;
    c.pid = ::fork();
    if (c.pid == 0) {
      // Dies with the test process, even when a crashed test skips the destructors.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int out = pipe_stdout ? fds[1] : ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(err, 2);
      if (pipe_stdout) ::close(fds[0]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    if (pipe_stdout) {
      ::close(fds[1]);
      c.stdout_pipe = fds[0];
    }
    return c;
  }

  //! Waits up to `timeout`; kills (SIGKILL) and returns -1 on timeout.
  int wait(std::chrono::milliseconds timeout) {
    if (const auto code = sv::testing::wait_for_exit(pid, timeout)) {
      pid = -1;
      return *code;
    }
    kill_now();
    return -1;
  }
  void kill_now() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
      pid = -1;
    }
  }
  ~Child() {
    if (stdout_pipe >= 0) ::close(stdout_pipe);
    kill_now();
  }
};

//! One HTTP/1.1 exchange with 127.0.0.1:port (Connection: close): the whole response, or
//! nullopt when nothing accepts the connection.
inline std::optional<std::string> http_exchange(int port, const std::string& method, const std::string& target) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string req =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)::write(fd, req.data(), req.size());
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return resp;
}

//! One HTTP request to 127.0.0.1:port; returns the body.
inline std::string http(int port, const std::string& method, const std::string& target) {
  auto resp = http_exchange(port, method, target);
  if (!resp) throw std::runtime_error("control API connect failed");
  auto body = resp->find("\r\n\r\n");
  return body == std::string::npos ? *resp : resp->substr(body + 4);
}

//! One HTTP GET to 127.0.0.1:port: {status code, body}; {0, ""} when nothing listens.
inline std::pair<int, std::string> http_get(int port, const std::string& target) {
  const auto resp = http_exchange(port, "GET", target);
  if (!resp) return {0, ""};
  int status = 0;
  if (resp->rfind("HTTP/1.", 0) == 0 && resp->size() > 12) status = std::atoi(resp->c_str() + 9);
  const auto body = resp->find("\r\n\r\n");
  return {status, body == std::string::npos ? std::string() : resp->substr(body + 4)};
}

//! A running vtgate-emulator (synthetic backend).
struct Emulator {
  TempDir dir;
  Child child;
  int grpc_port = 0;
  int control_port = 0;
  emulator::DatasetConfig data;

  Emulator(emulator::DatasetConfig cfg, std::vector<std::string> extra = {}) : data(std::move(cfg)) {
    std::string tables;
    for (const auto& t : data.tables) tables += (tables.empty() ? "" : ",") + t;
    std::string shards;
    for (const auto& s : data.shards) shards += (shards.empty() ? "" : ",") + s;
    std::vector<std::string> argv{env_or("VTGATE_EMULATOR", "vtgate-emulator"),
                                  "--shards=" + shards,
                                  "--tables=" + tables,
                                  "--rows=" + std::to_string(data.rows),
                                  "--keyspace=" + data.keyspace,
                                  "--port-file=" + dir.file("ports"),
                                  "--log-level=warn"};
    for (auto& e : extra) argv.push_back(e);
    child = Child::spawn(argv, dir.file("emu.out"), dir.file("emu.err"));
    std::string text;
    const bool started = sv::testing::wait_until(
        [&] {
          text = read_file(dir.file("ports"));
          return !text.empty() && text.find('}') != std::string::npos;
        },
        std::chrono::seconds(10));
    if (!started) throw std::runtime_error("emulator did not start: " + read_file(dir.file("emu.err")));
    rapidjson::Document d;
    d.Parse(text.c_str());
    grpc_port = d["grpc_port"].GetInt();
    control_port = d["control_port"].GetInt();
  }
  std::string control(const std::string& method, const std::string& target) {
    return http(control_port, method, target);
  }
  std::uint64_t ops_done() {
    rapidjson::Document d;
    d.Parse(control("GET", "/status").c_str());
    return d["ops_done"].GetUint64();
  }
};

inline std::string normalize_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  if (d.HasParseError()) return text;
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  d.Accept(w);
  return b.GetString();
}

//! JSON-schema properties for a table as discover would report them (schema at op count 0).
inline std::string properties_json(const emulator::Dataset& ds, std::size_t t, const std::vector<std::string>& extra) {
  const auto schema = ds.schema(t, 0);
  JsonBuffer b;
  JsonWriter w(b);
  w.StartObject();
  for (const auto& f : schema->fields) {
    w.Key(f.name().c_str());
    vitess::write_property_schema(
        w, vitess::property_schema(f.column_type(), (f.flags() & query::NOT_NULL_FLAG) == 0, vitess::ValueOptions{}));
  }
  for (const auto& e : extra) {
    w.Key(e.c_str());
    w.StartObject();
    w.Key("type");
    w.StartArray();
    w.String("null");
    w.String("string");
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  return b.GetString();
}

struct StreamSpec {
  std::string table;
  std::string sync_mode;  //!< full_refresh | incremental
  std::vector<std::string> extra_columns = {};
};

inline std::string catalog_json(const emulator::Dataset& ds, const std::vector<StreamSpec>& streams) {
  std::string out = R"({"streams":[)";
  bool first = true;
  for (const auto& s : streams) {
    const auto t = *ds.table_index(s.table);
    if (!first) out += ",";
    first = false;
    out +=
        R"({"stream":{"name":")" + s.table + R"(","namespace":")" + ds.config().keyspace +
        R"(","json_schema":{"type":"object","properties":)" + properties_json(ds, t, s.extra_columns) +
        R"(},"supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true,"is_resumable":true},"sync_mode":")" +
        s.sync_mode + R"(","destination_sync_mode":"append"})";
  }
  return out + "]}";
}

//! The record `data` of a row image (catalog columns of schema version 0, in order), exactly as
//! the connector's value writer renders it (not normalized: byte-exact comparisons).
inline std::string expected_data_raw(const emulator::Dataset& ds, std::size_t t, const query::Row& row,
                                     const emulator::TableSchema& schema) {
  const auto base = ds.schema(t, 0);
  auto columns = vitess::make_columns(
      [&] {
        google::protobuf::RepeatedPtrField<query::Field> fs;
        for (const auto& f : schema.fields) *fs.Add() = f;
        return fs;
      }(),
      vitess::ValueOptions{}, true);
  std::vector<std::uint32_t> selection;
  for (const auto& f : base->fields) {
    for (std::uint32_t i = 0; i < columns.size(); ++i) {
      if (columns[i].name == f.name()) selection.push_back(i);
    }
  }
  JsonBuffer b;
  JsonWriter w(b);
  w.StartObject();
  (void)vitess::write_row_members(w, columns, row, selection);
  w.EndObject();
  return b.GetString();
}

//! The record `data` of a row image (catalog columns of schema version 0, in order), normalized.
inline std::string expected_data(const emulator::Dataset& ds, std::size_t t, const query::Row& row,
                                 const emulator::TableSchema& schema) {
  return normalize_json(expected_data_raw(ds, t, row, schema));
}

//! Every row of table t after g ops, rendered as expected record data.
inline std::vector<std::string> expected_rows(const emulator::Dataset& ds, std::size_t t, std::uint64_t g) {
  std::vector<std::string> out;
  const auto schema = ds.schema(t, g);
  for (std::uint64_t k = 1; k <= ds.max_key(t, g); ++k) {
    if (auto row = ds.row(t, k, g)) out.push_back(expected_data(ds, t, *row, *schema));
  }
  return out;
}

//! Every row of table t after g ops on `shard` ("" = every shard), rendered byte-exactly as the
//! value writer does (expected_data_raw), in key order.
inline std::vector<std::string> expected_rows_raw(const emulator::Dataset& ds, std::size_t t, std::uint64_t g,
                                                  const std::string& shard = "") {
  std::vector<std::string> out;
  const auto schema = ds.schema(t, g);
  for (std::uint64_t k = 1; k <= ds.max_key(t, g); ++k) {
    if (!shard.empty() && !ds.in_shard(t, k, shard)) continue;
    if (auto row = ds.row(t, k, g)) out.push_back(expected_data_raw(ds, t, *row, *schema));
  }
  return out;
}

//! Column names of table t at schema version 0, in ordinal order.
inline std::vector<std::string> column_names(const emulator::Dataset& ds, std::size_t t) {
  std::vector<std::string> out;
  for (const auto& f : ds.schema(t, 0)->fields) out.push_back(f.name());
  return out;
}

//! A free loopback TCP port (bound then released: a small race, fine on a test machine).
inline int free_port() {
  auto port = emulator::mysql::free_loopback_port();
  if (!port) throw std::runtime_error(port.error().message);
  return *port;
}

//! `data` without the computed columns (_ab_cdc_*), normalized.
inline std::string strip_cdc(const std::string& data) {
  rapidjson::Document d;
  d.Parse(data.c_str());
  d.RemoveMember("_ab_cdc_updated_at");
  d.RemoveMember("_ab_cdc_deleted_at");
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  d.Accept(w);
  return b.GetString();
}

inline bool is_delete(const std::string& data) {
  rapidjson::Document d;
  d.Parse(data.c_str());
  return d.HasMember("_ab_cdc_deleted_at") && !d["_ab_cdc_deleted_at"].IsNull();
}

//! The primary key of a record (values of the PK columns, joined).
inline std::string key_of(const emulator::Dataset& ds, std::size_t t, const std::string& data) {
  rapidjson::Document d;
  d.Parse(data.c_str());
  std::string key;
  const auto schema = ds.schema(t, 0);
  for (auto c : schema->pk_columns) {
    const auto& v = d[schema->fields[c].name().c_str()];
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    v.Accept(w);
    key += std::string(b.GetString()) + "|";
  }
  return key;
}

//! Real MariaDB shards behind `vtgate-emulator --backend=mariadb` (its VStream server and MySQL
//! front): one mariadbd per shard, each with the keyspace database, account vt/vtpass. Routing
//! rows to shards is the test's business (as with Vitess). Failures throw std::runtime_error.
struct MariaDbCluster {
  TempDir dir;
  std::vector<std::string> names;  //!< shard names in key-range order
  std::vector<std::unique_ptr<emulator::mysql::MariaDbInstance>> shards;
  Child emulator;
  int grpc_port = 0, mysql_port = 0;
  std::vector<std::string> emulator_flags;  //!< extra flags for every emulator start (e.g. TLS)

  //! Starts the shards and creates the `commerce` database on each; then create the schema with
  //! sql() and call start_emulator().
  explicit MariaDbCluster(std::vector<std::string> shard_names = {"-80", "80-"}) : names(std::move(shard_names)) {
    std::string json = "[";
    for (std::size_t i = 1; i <= names.size(); ++i) {
      emulator::mysql::InstanceOptions o;
      o.server_id = static_cast<std::uint32_t>(i);
      o.domain_id = static_cast<std::uint32_t>(i);
      o.user = "vt";
      o.password = "vtpass";
      auto& db = *shards.emplace_back(std::make_unique<emulator::mysql::MariaDbInstance>(o));
      if (auto st = db.start(); !st.ok()) throw std::runtime_error("mariadbd did not start: " + st.error().message);
      sql(static_cast<int>(i - 1), "CREATE DATABASE commerce");
      json += std::string(i == 1 ? "" : ",") + R"({"shard":")" + names[i - 1] + R"(","host":"127.0.0.1","port":)" +
              std::to_string(db.port()) + R"(,"user":"vt","password":"vtpass","server_id":)" + std::to_string(i) +
              R"(,"gtid_domain_id":)" + std::to_string(i) + "}";
    }
    write_file(dir.file("shards.json"), json + "]");
  }

  //! Starts the emulator on the shards (new ports) and waits for its port file.
  void start_emulator() {
    std::vector<std::string> argv{env_or("VTGATE_EMULATOR", "vtgate-emulator"),
                                  "--backend=mariadb",
                                  "--mariadb-shards=" + dir.file("shards.json"),
                                  "--keyspace=commerce",
                                  "--user=vt",
                                  "--password=vtpass",
                                  "--port-file=" + dir.file("ports"),
                                  "--log-level=warn"};
    argv.insert(argv.end(), emulator_flags.begin(), emulator_flags.end());
    std::remove(dir.file("ports").c_str());
    grpc_port = mysql_port = 0;
    emulator = Child::spawn(argv, dir.file("emu.out"), dir.file("emu.err"));
    std::string text;
    const bool started = sv::testing::wait_until(
        [&] {
          text = read_file(dir.file("ports"));
          return text.find('}') != std::string::npos;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(20));
    if (!started) throw std::runtime_error("emulator did not start: " + read_file(dir.file("emu.err")));
    rapidjson::Document d;
    d.Parse(text.c_str());
    grpc_port = d["grpc_port"].GetInt();
    mysql_port = d["mysql_port"].GetInt();
  }

  //! A new emulator process on the same shards (new ports): nothing of the old one survives.
  void restart_emulator() {
    emulator.kill_now();
    start_emulator();
  }

  //! Runs one statement on a shard (index into names).
  void sql(int shard, const std::string& statement) {
    auto c = shards[static_cast<std::size_t>(shard)]->connect();
    if (!c.ok()) throw std::runtime_error("cannot connect to shard " + names[static_cast<std::size_t>(shard)]);
    if (auto st = c->exec(statement); !st.ok()) throw std::runtime_error(statement + ": " + st.error().message);
  }

  //! The connector config for the emulator; `extra` = more members ("k":v,...), may be empty.
  std::string config(const std::string& extra = "") const {
    return R"({"host":"127.0.0.1","database":"commerce","username":"vt","password":"vtpass","grpc_port":)" +
           std::to_string(grpc_port) + R"(,"mysql_port":)" + std::to_string(mysql_port) + R"(,"tls_mode":"disabled")" +
           (extra.empty() ? "" : "," + extra) + "}";
  }
};

}  // namespace sv::e2e
