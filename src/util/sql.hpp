// src/util: SQL text helpers shared by the connector's MySQL session and the emulator's MariaDB
// client.
#pragma once

#include <string>
#include <string_view>

namespace sv {

//! `name` as a quoted MySQL identifier: backticks around it, inner backticks doubled.
inline std::string quote_identifier(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  out += '`';
  return out;
}

}  // namespace sv
