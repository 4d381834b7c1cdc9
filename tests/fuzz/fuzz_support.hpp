// tests/fuzz: what the libFuzzer targets share — the input as text, a check that aborts (so
// libFuzzer records the input as a crash) and the rule every parser here keeps: errors are
// values with a user-facing message and the failure type the parser documents.
#pragma once

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "util/result.hpp"

namespace svfuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

//! A broken property is a crash: libFuzzer saves the input and stops.
inline void expect(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

//! Every error of an input parser is a config_error (the input is the user's) with a message.
inline void expect_config_error(const sv::Error& e) {
  expect(e.type == sv::FailureType::config_error, "error is a config_error");
  expect(!e.message.empty(), "error has a message");
}

//! Parsers log warnings on stderr; at millions of executions that is only noise.
inline void quiet_logs() { spdlog::set_level(spdlog::level::off); }

}  // namespace svfuzz
