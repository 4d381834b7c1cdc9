// src/airbyte: shared helpers for reading JSON input (config, catalog, state files): strict
// parsing with a line/column location on syntax errors, type names for error messages, and
// file reading with a clear error. Internal to src/airbyte and its tests.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace sv::airbyte::detail {

//! "line L, column C (byte offset O)" for a byte offset into text (1-based line and column).
std::string describe_location(std::string_view text, std::size_t offset);

//! Parses text strictly (one JSON value, nothing after it). On a syntax error the config_error
//! says `invalid JSON in <what> at line L, column C (byte offset O): <reason>`; it never quotes
//! the text itself, which may hold secrets.
Result<rapidjson::Document> parse_json(std::string_view text, std::string_view what);

//! "a string", "an object", "null", ... for error messages.
std::string json_type_name(const rapidjson::Value& v);

//! Size caps of the input files: a config holds a few fields and a CA bundle; a catalog or a
//! state of thousands of streams × hundreds of shards can take tens of MB. Reading stops at the
//! cap, so `--config /dev/zero` or `--catalog /dev/urandom` end with an error instead of growing
//! memory until the process is killed. docs/configuration.md lists them.
inline constexpr std::size_t kMaxConfigBytes = std::size_t{4} << 20;
inline constexpr std::size_t kMaxCatalogBytes = std::size_t{256} << 20;
inline constexpr std::size_t kMaxStateBytes = std::size_t{256} << 20;

//! Reads a whole file of at most `max_bytes`. Errors name the flag and path: `cannot read
//! --config file 'x': <strerror>`, or `--config file 'x' is larger than the 4 MiB limit: check the
//! path`.
Result<std::string> read_file(const std::string& path, std::string_view flag, std::size_t max_bytes);

//! True when text holds only JSON whitespace.
bool is_blank(std::string_view text);

}  // namespace sv::airbyte::detail
