// src/airbyte: shared helpers for reading JSON input (config, catalog, state files): strict
// parsing with a line/column location on syntax errors, type names for error messages, and
// file reading with a clear error. Internal to src/airbyte and its tests.
#pragma once

#include <rapidjson/document.h>

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

//! Reads a whole file. Errors name the flag and path: `cannot read --config file 'x': <strerror>`.
Result<std::string> read_file(const std::string& path, std::string_view flag);

//! True when text holds only JSON whitespace.
bool is_blank(std::string_view text);

}  // namespace sv::airbyte::detail
