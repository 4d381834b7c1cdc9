// src/extract: JSONL and CSV row writers (see row_writers.hpp).
#include "extract/row_writers.hpp"

#include <limits>
#include <string_view>

#include "util/csv.hpp"
#include "util/json.hpp"

namespace sv::extract {
namespace {

class JsonlWriter final : public engine::RowWriter {
 public:
  void write(const engine::RowView& row) override {
    writer_.Reset(buffer_);
    engine::write_row_object(writer_, row);
    buffer_.Put('\n');
    ++count_;
  }
  std::uint64_t count() const override { return count_; }
  std::string take() override {
    std::string lines(buffer_.GetString(), buffer_.GetSize());
    buffer_.Clear();
    count_ = 0;
    return lines;
  }

 private:
  JsonBuffer buffer_;
  JsonWriter writer_{buffer_};
  std::uint64_t count_ = 0;
};

//! Each of the row's members is rendered into `fields_` as it comes (in the row's order), then the
//! record is assembled in column order: the columns need not be in the row's order.
class CsvWriter final : public engine::RowWriter {
 public:
  explicit CsvWriter(std::vector<std::string> columns) : columns_(std::move(columns)) {}

  void write(const engine::RowView& row) override {
    fields_.clear();
    spans_.assign(columns_.size(), Span{});
    for (std::uint32_t index : row.selection) {
      const vitess::Column& c = row.columns[index];
      if (!begin_field(c.name)) continue;
      csv::FieldWriter field(fields_);
      vitess::write_value(field, c, row.cells[index].raw, row.cells[index].is_null);
      end_field();
    }
    computed(engine::kUpdatedAtColumn, row.updated_at);
    computed(engine::kDeletedAtColumn, row.deleted_at);
    if (row.metadata != nullptr && begin_field(engine::kMetadataColumn)) {
      // An object value is its compact JSON text, quoted.
      metadata_.Clear();
      metadata_writer_.Reset(metadata_);
      engine::write_metadata_object(metadata_writer_, *row.metadata);
      csv::append_quoted(fields_, std::string_view(metadata_.GetString(), metadata_.GetSize()));
      end_field();
    }
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      if (i > 0) lines_.push_back(',');
      const Span& span = spans_[i];
      if (span.offset != kAbsent) lines_.append(fields_, span.offset, span.length);
    }
    lines_.append("\r\n");
    ++count_;
  }
  std::uint64_t count() const override { return count_; }
  std::string take() override {
    std::string lines = lines_;  // a copy: lines_ keeps its capacity for the next rows
    lines_.clear();
    count_ = 0;
    return lines;
  }

 private:
  static constexpr std::size_t kAbsent = std::numeric_limits<std::size_t>::max();
  struct Span {
    std::size_t offset = kAbsent;
    std::size_t length = 0;
  };

  void computed(const char* name, const engine::ComputedText& value) {
    if (!value.present || !begin_field(name)) return;
    if (!value.null) csv::append_quoted(fields_, value.text);
    end_field();
  }

  //! Finds the member's column; false when the columns do not have it.
  bool begin_field(std::string_view name) {
    // Rows list their members in column order: look right after the previous match first.
    const std::size_t n = columns_.size();
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t i = hint_ + k;
      if (i >= n) i -= n;
      if (columns_[i] == name) {
        hint_ = i + 1 < n ? i + 1 : 0;
        current_ = i;
        field_start_ = fields_.size();
        return true;
      }
    }
    return false;
  }
  void end_field() { spans_[current_] = Span{field_start_, fields_.size() - field_start_}; }

  std::vector<std::string> columns_;
  std::string lines_;
  std::uint64_t count_ = 0;
  std::string fields_;       //!< this row's rendered fields, in the row's order
  std::vector<Span> spans_;  //!< per column: its field in fields_
  std::size_t hint_ = 0;
  std::size_t current_ = 0;
  std::size_t field_start_ = 0;
  JsonBuffer metadata_;
  JsonWriter metadata_writer_{metadata_};
};

}  // namespace

std::unique_ptr<engine::RowWriter> make_jsonl_writer() { return std::make_unique<JsonlWriter>(); }

std::unique_ptr<engine::RowWriter> make_csv_writer(std::vector<std::string> columns) {
  return std::make_unique<CsvWriter>(std::move(columns));
}

}  // namespace sv::extract
