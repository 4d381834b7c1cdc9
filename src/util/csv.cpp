// src/util: CSV records from JSON rows (see csv.hpp). One SAX pass over the row: every field is
// encoded into a per-thread scratch buffer as its key arrives, then the fields are appended to
// `out` in column order, so a malformed row never leaves a partial record behind.
#include "util/csv.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <charconv>
#include <cstring>
#include <limits>

#include "util/json.hpp"

namespace sv::csv {
namespace {

//! Appends `text` with every `"` doubled (the inside of a quoted field).
void append_escaped(std::string& out, const char* text, std::size_t len) {
  const char* end = text + len;
  while (text < end) {
    const void* q = std::memchr(text, '"', static_cast<std::size_t>(end - text));
    if (q == nullptr) {
      out.append(text, end);
      return;
    }
    const char* quote = static_cast<const char*>(q);
    out.append(text, quote + 1);
    out.push_back('"');
    text = quote + 1;
  }
}

void append_quoted(std::string& out, const char* text, std::size_t len) {
  out.push_back('"');
  append_escaped(out, text, len);
  out.push_back('"');
}

bool needs_quotes(std::string_view s) {
  if (s.empty()) return false;
  if (s.front() == ' ' || s.back() == ' ') return true;
  return s.find_first_of(",\"\r\n") != std::string_view::npos;
}

constexpr std::size_t kAbsent = std::numeric_limits<std::size_t>::max();

struct Span {
  std::size_t offset = kAbsent;
  std::size_t length = 0;
};

//! The SAX handler: depth 1 is the row object; anything deeper is one nested value, captured as
//! compact JSON by `nested_writer`.
class RowHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, RowHandler> {
 public:
  RowHandler(const std::vector<std::string>& columns, std::string& fields, std::vector<Span>& spans,
             JsonBuffer& nested_buffer, JsonWriter& nested_writer)
      : columns_(columns), fields_(fields), spans_(spans), nested_buffer_(nested_buffer), nested_(nested_writer) {}

  bool not_object = false;  //!< the top-level value was not an object

  bool Null() {
    if (depth_ > 1) return capture() ? nested_.Null() : true;
    if (depth_ == 0) return top_level_scalar();
    // NULL is the empty field, the same bytes as an absent key (a repeated key: the last wins).
    if (current_ != kAbsent) spans_[current_] = Span{};
    return true;
  }
  bool Bool(bool b) {
    if (depth_ > 1) return capture() ? nested_.Bool(b) : true;
    if (depth_ == 0) return top_level_scalar();
    if (current_ != kAbsent) {
      begin_field();
      fields_.append(b ? "true" : "false");
      end_field();
    }
    return true;
  }
  bool RawNumber(const char* str, rapidjson::SizeType len, bool) {
    // Writer::RawNumber would quote it; RawValue keeps the exact number text.
    if (depth_ > 1) return capture() ? nested_.RawValue(str, len, rapidjson::kNumberType) : true;
    if (depth_ == 0) return top_level_scalar();
    if (current_ != kAbsent) {
      begin_field();
      fields_.append(str, len);
      end_field();
    }
    return true;
  }
  bool String(const char* str, rapidjson::SizeType len, bool) {
    if (depth_ > 1) return capture() ? nested_.String(str, len) : true;
    if (depth_ == 0) return top_level_scalar();
    if (current_ != kAbsent) {
      begin_field();
      append_quoted(fields_, str, len);
      end_field();
    }
    return true;
  }
  bool Key(const char* str, rapidjson::SizeType len, bool) {
    if (depth_ > 1) return capture() ? nested_.Key(str, len) : true;
    current_ = find_column(std::string_view(str, len));
    return true;
  }
  bool StartObject() {
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    if (depth_ == 1) start_nested();
    ++depth_;
    return capture() ? nested_.StartObject() : true;
  }
  bool EndObject(rapidjson::SizeType) {
    if (depth_ == 1) {
      depth_ = 0;
      return true;
    }
    if (capture() && !nested_.EndObject()) return false;
    if (--depth_ == 1) finish_nested();
    return true;
  }
  bool StartArray() {
    if (depth_ == 0) return top_level_scalar();
    if (depth_ == 1) start_nested();
    ++depth_;
    return capture() ? nested_.StartArray() : true;
  }
  bool EndArray(rapidjson::SizeType) {
    if (capture() && !nested_.EndArray()) return false;
    if (--depth_ == 1) finish_nested();
    return true;
  }

 private:
  bool top_level_scalar() {
    not_object = true;
    return false;
  }
  bool capture() const { return current_ != kAbsent; }

  std::size_t find_column(std::string_view key) {
    // Rows usually list their keys in column order: look right after the previous match first.
    const std::size_t n = columns_.size();
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t i = hint_ + k;
      if (i >= n) i -= n;
      if (columns_[i] == key) {
        hint_ = i + 1 < n ? i + 1 : 0;
        return i;
      }
    }
    return kAbsent;
  }

  void begin_field() { field_start_ = fields_.size(); }
  void end_field() { spans_[current_] = Span{field_start_, fields_.size() - field_start_}; }

  void start_nested() {
    if (!capture()) return;
    nested_buffer_.Clear();
    nested_.Reset(nested_buffer_);
  }
  void finish_nested() {
    if (!capture()) return;
    begin_field();
    append_quoted(fields_, nested_buffer_.GetString(), nested_buffer_.GetSize());
    end_field();
  }

  const std::vector<std::string>& columns_;
  std::string& fields_;
  std::vector<Span>& spans_;
  JsonBuffer& nested_buffer_;
  JsonWriter& nested_;
  int depth_ = 0;
  std::size_t current_ = kAbsent;
  std::size_t hint_ = 0;
  std::size_t field_start_ = 0;
};

struct Scratch {
  std::string fields;
  std::vector<Span> spans;
  JsonBuffer nested_buffer;
  JsonWriter nested_writer{nested_buffer};
  rapidjson::Reader reader;
};

}  // namespace

void append_quoted(std::string& out, std::string_view text) { append_quoted(out, text.data(), text.size()); }

bool FieldWriter::Uint64(std::uint64_t v) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out_->append(digits, end);
  return true;
}

bool FieldWriter::RawValue(const char* json, std::size_t length, rapidjson::Type type) {
  if (type == rapidjson::kStringType && length >= 2) {
    append_quoted(*out_, json + 1, length - 2);  // the literal without its quotes
  } else if (type == rapidjson::kObjectType || type == rapidjson::kArrayType) {
    append_quoted(*out_, json, length);
  } else {
    out_->append(json, length);
  }
  return true;
}

void append_header(std::string& out, const std::vector<std::string>& columns) {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out.push_back(',');
    const std::string& name = columns[i];
    if (needs_quotes(name)) {
      append_quoted(out, name.data(), name.size());
    } else {
      out.append(name);
    }
  }
  out.append("\r\n");
}

Status append_row_from_json(std::string& out, std::string_view json_object, const std::vector<std::string>& columns) {
  thread_local Scratch scratch;
  scratch.fields.clear();
  scratch.spans.assign(columns.size(), Span{});

  RowHandler handler(columns, scratch.fields, scratch.spans, scratch.nested_buffer, scratch.nested_writer);
  rapidjson::MemoryStream stream(json_object.data(), json_object.size());
  constexpr unsigned kFlags = rapidjson::kParseNumbersAsStringsFlag;
  const rapidjson::ParseResult parsed = scratch.reader.Parse<kFlags>(stream, handler);
  if (parsed.IsError()) {
    if (handler.not_object) return system_error("CSV row: the JSON value is not an object");
    return system_error(std::string("CSV row: malformed JSON: ") + rapidjson::GetParseError_En(parsed.Code()) +
                        " (at offset " + std::to_string(parsed.Offset()) + ")");
  }

  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out.push_back(',');
    const Span& span = scratch.spans[i];
    if (span.offset != kAbsent) out.append(scratch.fields, span.offset, span.length);
  }
  out.append("\r\n");
  return Ok{};
}

}  // namespace sv::csv
