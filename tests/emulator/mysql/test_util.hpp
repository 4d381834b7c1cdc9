// Shared helpers for tests/emulator/mysql.
#pragma once

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "emulator/mysql/binlog_decode.hpp"
#include "emulator/mysql/mariadb_instance.hpp"

namespace svtest {

using sv::emulator::mysql::InstanceOptions;

inline InstanceOptions instance_opts(uint32_t id, std::string password = {}) {
  InstanceOptions o;
  o.server_id = id;
  o.domain_id = id;
  o.password = std::move(password);
  return o;
}

//! A row as printable values ("NULL" for NULL) for exact comparisons.
inline std::vector<std::string> values(const query::Row& r) {
  std::vector<std::string> out;
  for (int i = 0; i < r.lengths_size(); ++i) {
    auto v = sv::emulator::mysql::row_value(r, size_t(i));
    out.push_back(v ? *v : std::string("NULL"));
  }
  return out;
}

inline std::string hex(const std::string& s) {
  static const char* d = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : s) {
    o += d[c >> 4];
    o += d[c & 15];
  }
  return o;
}

#define SV_REQUIRE_OK(expr)                                                                                 \
  do {                                                                                                      \
    auto&& sv_r_ = (expr);                                                                                  \
    REQUIRE_MESSAGE(sv_r_.ok(),                                                                             \
                    (sv_r_.ok() ? std::string() : sv_r_.error().message + " | " + sv_r_.error().internal)); \
  } while (0)

}  // namespace svtest
