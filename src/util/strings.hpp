// src/util: splitting the comma-separated lists users type (config `shards`, `extract --tables`,
// benchmark options); case-insensitive search in the messages servers send.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sv {

//! The items of `text` separated by `sep`, each trimmed of spaces, tabs and line breaks; empty
//! items are dropped ("a, b,,c " → a, b, c).
inline std::vector<std::string> split_list(std::string_view text, char sep = ',') {
  constexpr std::string_view kSpace = " \t\r\n";
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find(sep, pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(pos, end - pos);
    const auto first = item.find_first_not_of(kSpace);
    if (first != std::string_view::npos) {
      item = item.substr(first, item.find_last_not_of(kSpace) - first + 1);
      out.emplace_back(item);
    }
    pos = end + 1;
  }
  return out;
}

//! Whether `haystack` contains `needle`, ignoring the case of ASCII letters in `haystack`;
//! `needle` must be lower case ("Socket closed" contains "socket closed").
inline bool contains_ci(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    bool match = true;
    for (std::size_t j = 0; j < needle.size() && match; ++j) {
      char a = haystack[i + j], b = needle[j];
      if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
      match = a == b;
    }
    if (match) return true;
  }
  return false;
}

}  // namespace sv
