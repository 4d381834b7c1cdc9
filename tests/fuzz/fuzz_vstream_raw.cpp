// tests/fuzz: libFuzzer target for the VStreamResponse wire walker (src/vitess/raw_response.*) and
// the decoder's wire path (Decoder::process_wire): any bytes as a response in wire form. The walker
// must never read outside the input (ASan) and must say why it rejects bytes (a system_error
// "malformed VStream response: ..."). When the generated parser also accepts the bytes, both must
// read the same events and row images (tests/vitess/vstream_wire.hpp), and two decoders — one
// fed the generated message, one the bytes — after the same seeded FIELD events must give the
// same output: rows, counts, cursors, finished shards, journal, warnings and errors.
#include <string>
#include <string_view>

#include "engine/decoder.hpp"
#include "extract/row_writers.hpp"
#include "fuzz_support.hpp"
#include "vstream_fields.hpp"
//
#include "../vitess/vstream_wire.hpp"

namespace {

bool walker_error(const sv::Error& e) {
  return e.type == sv::FailureType::system_error && e.message.rfind("malformed VStream response: ", 0) == 0;
}

std::string describe(const sv::engine::DecodeOutput& o) {
  std::string s;
  for (const auto& c : o.commits) {
    s += "commit " + c.shard + " " + std::to_string(c.count) + " " + c.cursor.SerializeAsString() + "\n" + c.lines;
  }
  for (const auto& f : o.finished) s += "finished " + f + "\n";
  if (o.journal) s += "journal " + o.journal->SerializeAsString() + " " + o.journal_shard + "\n";
  for (const auto& c : o.new_columns) s += "new " + c + "\n";
  for (const auto& c : o.changed_types) s += "changed " + c + "\n";
  if (o.error) s += std::string("error ") + sv::to_string(o.error->type) + " " + o.error->message + "\n";
  return s + std::to_string(o.last_event_time);
}

sv::engine::DecoderOptions options() {
  sv::engine::DecoderOptions o;
  o.descriptor = {"t", "ks"};
  o.keyspace = "ks";
  o.table = "t";
  o.include_metadata = true;
  o.row_writer = [] { return sv::extract::make_jsonl_writer(); };
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  svfuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = svfuzz::text(data, size);

  // The walker alone: an error is a value that says what is wrong, a view stays in the input.
  sv::Result<std::vector<vstream_wire::Event>> walked = [&]() -> sv::Result<std::vector<vstream_wire::Event>> {
    try {
      return vstream_wire::decode_raw(bytes);
    } catch (const std::exception& e) {  // from_raw: the walker's count and its length bytes disagree
      std::fprintf(stderr, "%s\n", e.what());
      svfuzz::expect(false, "the walker's lengths hold exactly the varints it counted");
      return sv::system_error("unreachable");
    }
  }();
  if (!walked.ok()) {
    // decode_raw's own message for an event the walker read and protobuf cannot
    const bool own = walked.error().message == "the generated parser rejects an event the walker accepts";
    svfuzz::expect(own || walker_error(walked.error()), "a walker error is a malformed-response system_error");
  }

  const auto expected = vstream_wire::decode_generated(bytes);
  if (expected && walked.ok()) svfuzz::expect(*walked == *expected, "the walker reads what protobuf reads");

  // The decoders, after the same FIELD events: the same output whenever protobuf reads the bytes.
  vtgate::VStreamResponse parsed;
  const bool generated_ok = parsed.ParseFromArray(data, static_cast<int>(size));
  sv::engine::Decoder generated(options());
  sv::engine::Decoder wire_form(options());
  generated.reset(svfuzz::plans());
  wire_form.reset(svfuzz::plans());
  const auto fields = svfuzz::seeded_fields();
  svfuzz::expect(!generated.process(fields, 1700000000000, 1700000000000000000).error,
                 "the seeded FIELD events decode");
  const std::string field_bytes = fields.SerializeAsString();
  svfuzz::expect(!wire_form.process_wire(field_bytes, 1700000000000, 1700000000000000000).error,
                 "the seeded FIELD events decode from wire form");
  for (int pass = 0; pass < 2; ++pass) {
    const auto got = wire_form.process_wire(bytes, 1700000000000, 1700000000000000000);
    if (got.error) svfuzz::expect(!got.error->message.empty(), "a decoder error has a message");
    if (!generated_ok) {
      if (got.error || got.journal) break;
      continue;
    }
    const auto want = generated.process(parsed, 1700000000000, 1700000000000000000);
    // The walker is stricter than protobuf in one way (a field it reads with the wrong wire type);
    // there the outputs part, so compare only where it read everything.
    if (got.error && walker_error(*got.error)) break;
    svfuzz::expect(describe(got) == describe(want), "the wire decoder gives the generated decoder's output");
    if (got.error || got.journal) break;
  }
  return 0;
}
