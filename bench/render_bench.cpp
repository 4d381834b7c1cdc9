// bench/render_bench.cpp — sv-bench-render: ceiling (c), the project's RapidJSON value writer
// alone. Loads a row dump into query::Row values (not timed), then renders every row as an
// Airbyte RECORD line exactly as the engine's decoder does (vitess::make_columns once,
// airbyte::RecordBatch + vitess::write_row_members per row, one take() per batch), on one thread.
// With --out it also writes the rendered lines to a file: the pre-rendered JSONL of ceiling (a).
//
// Output: one JSON line: {"rows":N,"bytes":B,"seconds":S,"cpu_seconds":C,"passes":P}
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "airbyte/messages.hpp"
#include "dump_format.hpp"
#include "vitess/values.hpp"

namespace {

double cpu_seconds_self() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dump_path, out_path;
  std::uint64_t max_rows = 0;
  double min_seconds = 0.5;
  std::size_t batch_rows = 1000;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto eq = a.find('=');
    std::string_view name = a.substr(0, eq);
    std::string value = eq == std::string_view::npos ? "" : std::string(a.substr(eq + 1));
    if (name == "--dump") dump_path = value;
    else if (name == "--out") out_path = value;
    else if (name == "--rows") max_rows = std::strtoull(value.c_str(), nullptr, 10);
    else if (name == "--min-seconds") min_seconds = std::atof(value.c_str());
    else if (name == "--batch") batch_rows = std::strtoull(value.c_str(), nullptr, 10);
    else {
      std::fprintf(stderr, "usage: sv-bench-render --dump=FILE [--out=FILE] [--rows=N] [--min-seconds=S] [--batch=N]\n");
      return 2;
    }
  }
  if (dump_path.empty() || batch_rows == 0) {
    std::fprintf(stderr, "sv-bench-render: --dump is required\n");
    return 2;
  }
  sv::bench::Dump dump;
  try {
    dump = sv::bench::read_dump(dump_path, max_rows);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sv-bench-render: %s\n", e.what());
    return 1;
  }
  if (dump.rows.empty()) {
    std::fprintf(stderr, "sv-bench-render: the dump has no rows\n");
    return 1;
  }
  std::FILE* out = nullptr;
  if (!out_path.empty()) {
    out = std::fopen(out_path.c_str(), "wb");
    if (!out) {
      std::fprintf(stderr, "sv-bench-render: cannot write %s\n", out_path.c_str());
      return 1;
    }
  }
  // Copy phase: ENUM/SET cells arrive as labels (FieldEvent.enum_set_string_values semantics).
  const auto columns = sv::vitess::make_columns(dump.fields, sv::vitess::ValueOptions{}, true);
  const sv::airbyte::RecordSerializer serializer(sv::airbyte::StreamDescriptor{dump.table, dump.keyspace});
  sv::airbyte::RecordBatch batch;
  const std::int64_t emitted_at = sv::airbyte::now_ms();

  std::uint64_t rows = 0, bytes = 0, passes = 0, errors = 0;
  const double cpu0 = cpu_seconds_self();
  const auto start = std::chrono::steady_clock::now();
  double seconds = 0;
  // Whole passes over the dump until min_seconds have passed (only one pass when writing --out).
  do {
    for (const auto& row : dump.rows) {
      auto& w = batch.begin(serializer, emitted_at);
      w.StartObject();
      if (!sv::vitess::write_row_members(w, columns, row)) {
        batch.abandon();
        ++errors;
        continue;
      }
      w.EndObject();
      batch.end();
      if (batch.count() >= batch_rows) {
        rows += batch.count();
        std::string lines = batch.take();
        bytes += lines.size();
        if (out) std::fwrite(lines.data(), 1, lines.size(), out);
      }
    }
    rows += batch.count();
    std::string lines = batch.take();
    bytes += lines.size();
    if (out) std::fwrite(lines.data(), 1, lines.size(), out);
    ++passes;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (!out && seconds < min_seconds);
  const double cpu = cpu_seconds_self() - cpu0;
  if (out) std::fclose(out);
  std::printf("{\"rows\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"cpu_seconds\":%.6f,\"passes\":%llu,\"errors\":%llu}\n",
              static_cast<unsigned long long>(rows), static_cast<unsigned long long>(bytes), seconds, cpu,
              static_cast<unsigned long long>(passes), static_cast<unsigned long long>(errors));
  return errors == 0 ? 0 : 1;
}
