// tests/support: small file and environment helpers the suites share (whole-file reads and
// writes, an environment variable with a fallback).
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace sv::testing {

//! The whole file; "" when it cannot be read (a file a child has not written yet reads as empty).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

//! Writes `text` to `path`, replacing it.
inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

//! $name, or `fallback` when it is not set.
inline std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

}  // namespace sv::testing
