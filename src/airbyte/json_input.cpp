#include "airbyte/json_input.hpp"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

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

namespace {

//! The first key that occurs twice in one object of `root`, with the path of that object
//! (`streams[0].stream`), or nullopt. Depth first with an explicit stack, like the iterative
//! parse: the nesting may be deep, and the stack is also the path.
std::optional<std::pair<std::string, std::string>> find_duplicate_key(const rapidjson::Value& root) {
  struct Frame {
    const rapidjson::Value* value;
    const rapidjson::Value* key;  //!< the member name that leads here, or nullptr (array element, root)
    std::size_t index;            //!< the array index that leads here
    std::size_t next = 0;         //!< the next member or element to visit
  };
  std::vector<Frame> stack{{&root, nullptr, 0}};
  std::vector<std::string_view> keys;
  const auto path = [&] {
    std::string p;
    for (std::size_t i = 1; i < stack.size(); ++i) {
      const Frame& f = stack[i];
      if (f.key != nullptr) {
        p += (p.empty() ? "" : ".") + std::string(f.key->GetString(), f.key->GetStringLength());
      } else {
        p += "[" + std::to_string(f.index) + "]";
      }
    }
    return p.empty() ? std::string("the top level") : p;
  };
  const auto duplicate_in = [&](const rapidjson::Value& obj) -> std::optional<std::string> {
    keys.clear();
    for (auto m = obj.MemberBegin(); m != obj.MemberEnd(); ++m)
      keys.emplace_back(m->name.GetString(), m->name.GetStringLength());
    std::sort(keys.begin(), keys.end());
    auto d = std::adjacent_find(keys.begin(), keys.end());
    if (d == keys.end()) return std::nullopt;
    return std::string(*d);
  };
  if (root.IsObject()) {
    if (auto d = duplicate_in(root)) return std::make_pair(*d, path());
  }
  while (!stack.empty()) {
    Frame& top = stack.back();
    const rapidjson::Value& v = *top.value;
    const std::size_t size = v.IsObject() ? v.MemberCount() : v.IsArray() ? v.Size() : 0;
    if (top.next >= size) {
      stack.pop_back();
      continue;
    }
    const std::size_t i = top.next++;
    const rapidjson::Value* child =
        v.IsObject() ? &(v.MemberBegin() + i)->value : &v[static_cast<rapidjson::SizeType>(i)];
    if (!child->IsObject() && !child->IsArray()) continue;
    stack.push_back({child, v.IsObject() ? &(v.MemberBegin() + i)->name : nullptr, i});
    if (child->IsObject()) {
      if (auto d = duplicate_in(*child)) return std::make_pair(*d, path());
    }
  }
  return std::nullopt;
}

}  // namespace

Result<rapidjson::Document> parse_json(std::string_view text, std::string_view what) {
  rapidjson::Document doc;
  // Length-delimited parse: the input need not be NUL-terminated and may contain NUL bytes.
  // Iterative, so a hostile nesting depth cannot overflow the stack.
  doc.Parse<rapidjson::kParseDefaultFlags | rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    const char* reason = rapidjson::GetParseError_En(doc.GetParseError());
    return config_error(
        fmt::format("invalid JSON in {} at {}: {}", what, describe_location(text, doc.GetErrorOffset()), reason));
  }
  // RapidJSON keeps every member, and a lookup finds the first while Go's decoder keeps the last:
  // a key given twice has no one meaning, so it is the user's to resolve.
  if (auto dup = find_duplicate_key(doc)) {
    return config_error(fmt::format("the key '{}' appears twice in one object of {} (in {}): remove one", dup->first,
                                    what, dup->second));
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

Result<std::string> read_file(const std::string& path, std::string_view flag, std::size_t max_bytes) {
  auto file = read_whole_file(path, {max_bytes});
  if (file.too_large) {
    return config_error(
        fmt::format("{} file '{}' is larger than the {} MiB limit: check the path", flag, path, max_bytes >> 20));
  }
  if (file.error != 0) {
    return config_error(fmt::format("cannot read {} file '{}': {}", flag, path, std::strerror(file.error)));
  }
  return std::move(file.text);
}

bool is_blank(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

}  // namespace sv::airbyte::detail
