// bench: the row dump shared by the benchmark's helper programs. The discard client writes the
// rows a VStream copy delivered; the render benchmark (C++) and the Go-style baseline (bench/go)
// read the same file, so both measure decoding + JSON encoding of identical rows, without gRPC.
//
// Layout (all integers little-endian):
//   "SVBENCH1\n"
//   one JSON line: {"keyspace":K,"table":T,"fields":[{"name","type","type_name","column_type",
//                   "charset","flags","decimals","column_length"}...]}
//   then per row: u32 n, n x i64 lengths (-1 = NULL), then the concatenated non-NULL values
//   (exactly query.Row's lengths + values).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <google/protobuf/repeated_field.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "query.pb.h"

namespace sv::bench {

inline constexpr char kDumpMagic[] = "SVBENCH1\n";

//! Writes the dump header for a FIELD event's fields.
inline void write_dump_header(std::FILE* f, const std::string& keyspace, const std::string& table,
                              const google::protobuf::RepeatedPtrField<query::Field>& fields) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  w.StartObject();
  w.Key("keyspace");
  w.String(keyspace.c_str());
  w.Key("table");
  w.String(table.c_str());
  w.Key("fields");
  w.StartArray();
  for (const auto& fd : fields) {
    w.StartObject();
    w.Key("name");
    w.String(fd.name().c_str());
    w.Key("type");
    w.Int(static_cast<int>(fd.type()));
    w.Key("type_name");
    w.String(query::Type_Name(fd.type()).c_str());
    w.Key("column_type");
    w.String(fd.column_type().c_str());
    w.Key("charset");
    w.Uint(fd.charset());
    w.Key("flags");
    w.Uint(fd.flags());
    w.Key("decimals");
    w.Uint(fd.decimals());
    w.Key("column_length");
    w.Uint(fd.column_length());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  std::fwrite(kDumpMagic, 1, sizeof kDumpMagic - 1, f);
  std::fwrite(b.GetString(), 1, b.GetSize(), f);
  std::fputc('\n', f);
}

//! Appends one row.
inline void write_dump_row(std::FILE* f, const query::Row& row) {
  const std::uint32_t n = static_cast<std::uint32_t>(row.lengths_size());
  std::fwrite(&n, sizeof n, 1, f);
  for (int i = 0; i < row.lengths_size(); ++i) {
    const std::int64_t len = row.lengths(i);
    std::fwrite(&len, sizeof len, 1, f);
  }
  std::fwrite(row.values().data(), 1, row.values().size(), f);
}

struct Dump {
  std::string keyspace;
  std::string table;
  google::protobuf::RepeatedPtrField<query::Field> fields;
  std::vector<query::Row> rows;
};

//! Reads a whole dump (at most `max_rows` rows, 0 = all). Throws std::runtime_error.
inline Dump read_dump(const std::string& path, std::uint64_t max_rows = 0) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open dump " + path);
  Dump d;
  char magic[sizeof kDumpMagic - 1];
  if (std::fread(magic, 1, sizeof magic, f) != sizeof magic || std::memcmp(magic, kDumpMagic, sizeof magic) != 0) {
    std::fclose(f);
    throw std::runtime_error("not a bench dump: " + path);
  }
  std::string header;
  for (int c; (c = std::fgetc(f)) != EOF && c != '\n';) header.push_back(static_cast<char>(c));
  rapidjson::Document doc;
  doc.Parse(header.c_str());
  if (doc.HasParseError() || !doc.IsObject()) {
    std::fclose(f);
    throw std::runtime_error("bad dump header in " + path);
  }
  d.keyspace = doc["keyspace"].GetString();
  d.table = doc["table"].GetString();
  for (const auto& v : doc["fields"].GetArray()) {
    auto* fd = d.fields.Add();
    fd->set_name(v["name"].GetString());
    fd->set_type(static_cast<query::Type>(v["type"].GetInt()));
    fd->set_column_type(v["column_type"].GetString());
    fd->set_charset(v["charset"].GetUint());
    fd->set_flags(v["flags"].GetUint());
    fd->set_decimals(v["decimals"].GetUint());
    fd->set_column_length(v["column_length"].GetUint());
    fd->set_table(d.table);
  }
  std::vector<std::int64_t> lengths;
  for (;;) {
    if (max_rows != 0 && d.rows.size() >= max_rows) break;
    std::uint32_t n = 0;
    if (std::fread(&n, sizeof n, 1, f) != 1) break;
    lengths.resize(n);
    if (n != 0 && std::fread(lengths.data(), sizeof(std::int64_t), n, f) != n) break;
    std::size_t total = 0;
    for (auto l : lengths) total += l > 0 ? static_cast<std::size_t>(l) : 0;
    query::Row row;
    for (auto l : lengths) row.add_lengths(l);
    std::string values(total, '\0');
    if (total != 0 && std::fread(values.data(), 1, total, f) != total) break;
    row.set_values(std::move(values));
    d.rows.push_back(std::move(row));
  }
  std::fclose(f);
  return d;
}

}  // namespace sv::bench
