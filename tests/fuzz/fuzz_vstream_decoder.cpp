// tests/fuzz: libFuzzer target for the VStream response decoder (src/engine/decoder.*, values by
// MySQL type in src/vitess/values.*): any bytes parsed as a vtgate.VStreamResponse and fed to a
// Decoder the way the engine does, after a FIELD event of a table with every type family on both
// shards, so fuzzed ROW events decode. Each input runs twice: every column, include_metadata and
// JSONL rows (each line must be a valid UTF-8 JSON object); and a catalog selection with the
// computed columns, no deletes, Go-connector dates and CSV rows.
#include <rapidjson/document.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/decoder.hpp"
#include "extract/row_writers.hpp"
#include "fuzz_support.hpp"
#include "vstream_fields.hpp"

namespace {

using svfuzz::plans;
using svfuzz::seeded_fields;

void expect_json_lines(const std::string& lines, std::uint64_t count) {
  std::uint64_t seen = 0;
  std::size_t start = 0;
  while (start < lines.size()) {
    const std::size_t end = lines.find('\n', start);
    svfuzz::expect(end != std::string::npos, "every row ends with a newline");
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseFullPrecisionFlag>(lines.data() + start,
                                                                                          end - start);
    if (doc.HasParseError()) std::fprintf(stderr, "row: %.*s\n", static_cast<int>(end - start), lines.data() + start);
    svfuzz::expect(!doc.HasParseError(), "every row is valid UTF-8 JSON");
    svfuzz::expect(doc.IsObject(), "every row is a JSON object");
    ++seen;
    start = end + 1;
  }
  svfuzz::expect(seen == count, "a commit's count is its number of rows");
}

void run(const vtgate::VStreamResponse& fuzzed, sv::engine::DecoderOptions options, bool jsonl) {
  sv::engine::Decoder decoder(std::move(options));
  decoder.reset(plans());
  const auto fields = decoder.process(seeded_fields(), 1700000000000, 1700000000000000000);
  svfuzz::expect(!fields.error, "the seeded FIELD events decode");
  // Twice: the second pass starts from whatever state the first one left.
  for (int pass = 0; pass < 2; ++pass) {
    const auto out = decoder.process(fuzzed, 1700000000000, 1700000000000000000);
    if (out.error) svfuzz::expect(!out.error->message.empty(), "a decoder error has a message");
    for (const auto& c : out.commits) {
      if (jsonl) expect_json_lines(c.lines, c.count);
      svfuzz::expect(c.cursor.shard() == c.shard, "a commit's cursor names its shard");
    }
    for (const auto& shard : out.finished) svfuzz::expect(decoder.done(shard), "a finished shard is done");
    if (out.error || out.journal) break;  // the engine stops the stream here
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  svfuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vtgate::VStreamResponse response;
  if (!response.ParseFromArray(data, static_cast<int>(size))) return 0;

  sv::engine::DecoderOptions all;
  all.descriptor = {"t", "ks"};
  all.keyspace = "ks";
  all.table = "t";
  all.include_metadata = true;
  all.row_writer = [] { return sv::extract::make_jsonl_writer(); };
  run(response, all, true);

  sv::engine::DecoderOptions selected;
  selected.descriptor = {"t", "ks"};
  selected.keyspace = "ks";
  selected.table = "t";
  selected.columns = {"id", "vc", "dtm", "en", "st", "bt", "_ab_cdc_updated_at", "_ab_cdc_deleted_at"};
  selected.column_types.resize(selected.columns.size());
  selected.column_types[0].types = {"integer"};  // differs from discover's: reported as changed
  selected.capture_deletes = false;
  selected.values.invalid_dates_as_null = false;
  selected.values.tiny_int_as_boolean = false;
  const auto columns = selected.columns;
  selected.row_writer = [columns] { return sv::extract::make_csv_writer(columns); };
  run(response, selected, false);
  return 0;
}
