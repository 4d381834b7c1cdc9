#include "airbyte/json_input.hpp"

#include <rapidjson/error/en.h>

#include <cstring>

#include <fmt/format.h>

#include "util/file.hpp"

namespace sv::airbyte::detail {

std::string describe_location(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  const std::size_t end = std::min(offset, text.size());
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return fmt::format("line {}, column {} (byte offset {})", line, column, offset);
}

Result<rapidjson::Document> parse_json(std::string_view text, std::string_view what) {
  rapidjson::Document doc;
  // Length-delimited parse: the input need not be NUL-terminated and may contain NUL bytes.
  // Iterative, so a hostile nesting depth cannot overflow the stack.
  doc.Parse<rapidjson::kParseDefaultFlags | rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    const char* reason = rapidjson::GetParseError_En(doc.GetParseError());
    return config_error(fmt::format("invalid JSON in {} at {}: {}", what,
                                    describe_location(text, doc.GetErrorOffset()), reason));
  }
  return doc;
}

std::string json_type_name(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kObjectType: return "an object";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kNumberType: return v.IsInt64() || v.IsUint64() ? "an integer" : "a number";
  }
  return "a value";
}

Result<std::string> read_file(const std::string& path, std::string_view flag) {
  const auto fail = [&](int err) {
    return config_error(fmt::format("cannot read {} file '{}': {}", flag, path, std::strerror(err)));
  };
  auto file = read_whole_file(path);
  if (file.error != 0) return fail(file.error);
  return std::move(file.text);
}

bool is_blank(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

}  // namespace sv::airbyte::detail
