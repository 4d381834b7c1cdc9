// tests/e2e: helpers to run the built `source-vitess` against a `vtgate-emulator` process (synthetic
// backend, or real MariaDB shards: tests/support's MariaDbCluster) and to compute the exact
// expected records from the same deterministic Dataset. Processes, files and HTTP come from
// tests/support.
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

#include "child.hpp"
#include "emulator.hpp"
#include "emulator/dataset.hpp"
#include "emulator/mysql/mariadb_instance.hpp"
#include "files.hpp"
#include "http.hpp"
#include "mariadb_cluster.hpp"
#include "temp_dir.hpp"
#include "vitess/values.hpp"
#include "wait.hpp"

namespace sv::e2e {

using sv::testing::Child;
using sv::testing::env_or;
using sv::testing::http;
using sv::testing::http_exchange;
using sv::testing::MariaDbCluster;
using sv::testing::read_file;
using sv::testing::write_file;

//! A fresh temp directory per test (removed by the destructor).
struct TempDir : sv::testing::TempDir {
  TempDir() : sv::testing::TempDir("sv_e2e") {}
};

//! One HTTP GET to 127.0.0.1:port: {status code, body}; {0, ""} when nothing listens.
inline std::pair<int, std::string> http_get(int port, const std::string& target) {
  return sv::testing::http_request(port, "GET", target);
}

//! A running vtgate-emulator (synthetic backend) serving the deterministic Dataset `data`.
struct Emulator {
  emulator::DatasetConfig data;
  sv::testing::EmulatorProcess process;
  int grpc_port = process.grpc_port();
  int control_port = process.control_port();

  Emulator(emulator::DatasetConfig cfg, const std::vector<std::string>& extra = {})
      : data(std::move(cfg)), process(flags(data, extra)) {}
  std::string control(const std::string& method, const std::string& target) {
    return http(control_port, method, target);
  }
  std::uint64_t ops_done() {
    rapidjson::Document d;
    d.Parse(control("GET", "/status").c_str());
    return d["ops_done"].GetUint64();
  }

 private:
  static std::vector<std::string> flags(const emulator::DatasetConfig& data, const std::vector<std::string>& extra) {
    std::string tables;
    for (const auto& t : data.tables) tables += (tables.empty() ? "" : ",") + t;
    std::string shards;
    for (const auto& s : data.shards) shards += (shards.empty() ? "" : ",") + s;
    std::vector<std::string> argv{"--shards=" + shards, "--tables=" + tables, "--rows=" + std::to_string(data.rows),
                                  "--keyspace=" + data.keyspace, "--log-level=warn"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
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

//! The synthetic dataset of the e2e suites: keyspace commerce, `shards` shards.
inline emulator::DatasetConfig dataset(std::vector<std::string> tables, std::uint64_t rows, std::size_t shards = 4) {
  emulator::DatasetConfig c;
  c.keyspace = "commerce";
  c.shards = emulator::Dataset::shard_names(shards);
  c.tables = std::move(tables);
  c.rows = rows;
  return c;
}

//! A connector config for the emulator (plaintext), with `extra` members appended.
inline std::string config_json(const Emulator& emu, const std::string& extra) {
  return R"({"host":"127.0.0.1","grpc_port":)" + std::to_string(emu.grpc_port) +
         R"(,"tls_mode":"disabled","database":"commerce","username":"u","password":"")" +
         (extra.empty() ? "" : "," + extra) + "}";
}

//! Applies CDC records in order to a table image: key → row data (without _ab_cdc_*).
inline void replay(const emulator::Dataset& ds, std::size_t t, const std::vector<std::string>& records,
                   std::map<std::string, std::string>& image) {
  for (const auto& r : records) {
    const std::string key = key_of(ds, t, r);
    if (is_delete(r)) {
      image.erase(key);
    } else {
      image[key] = strip_cdc(r);
    }
  }
}

//! The --state file a read leaves: the last STATE of each stream, as a JSON array (what
//! the platform passes as --state to the next sync).
inline std::string state_file(const std::string& out) {
  std::map<std::string, std::string> last;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError() || !d.IsObject() || std::string(d["type"].GetString()) != "STATE") continue;
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    d["state"].Accept(w);
    last[d["state"]["stream"]["stream_descriptor"]["name"].GetString()] = b.GetString();
  }
  std::string s = "[";
  for (const auto& [name, st] : last) s += (s.size() > 1 ? "," : "") + st;
  return s + "]";
}

}  // namespace sv::e2e
