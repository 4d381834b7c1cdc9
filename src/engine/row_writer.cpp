// src/engine: the JSON form of a decoded row (see row_writer.hpp).
#include "engine/row_writer.hpp"

namespace sv::engine {
namespace {

void write_text(JsonWriter& w, std::string_view text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void write_computed(JsonWriter& w, const char* name, const ComputedText& value) {
  if (!value.present) return;
  w.Key(name);
  if (value.null) {
    w.Null();
  } else {
    write_text(w, value.text);
  }
}

}  // namespace

void write_row_object(JsonWriter& w, const RowView& row) {
  w.StartObject();
  for (std::uint32_t index : row.selection) {
    const vitess::Column& c = row.columns[index];
    w.Key(c.name.data(), static_cast<rapidjson::SizeType>(c.name.size()));
    vitess::write_value(w, c, row.cells[index].raw, row.cells[index].is_null);
  }
  write_computed(w, kUpdatedAtColumn, row.updated_at);
  write_computed(w, kDeletedAtColumn, row.deleted_at);
  if (row.metadata != nullptr) {
    w.Key(kMetadataColumn);
    write_metadata_object(w, *row.metadata);
  }
  w.EndObject();
}

void write_metadata_object(JsonWriter& w, const RowMetadata& metadata) {
  w.StartObject();
  w.Key("extracted_at");
  w.Int64(metadata.extracted_at);
  w.Key("sequence_number");
  w.Uint64(metadata.sequence_number);
  w.Key("vgtid_position");
  write_text(w, metadata.vgtid_position);
  w.EndObject();
}

}  // namespace sv::engine
