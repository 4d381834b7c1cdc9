// src/util: standard base64 (RFC 4648 §4, padded) — binary cell values, the Go connector's
// state cursor, and the basic-auth header.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace sv {

//! Length of the padded encoding of `n` bytes.
constexpr std::size_t base64_encoded_size(std::size_t n) { return (n + 2) / 3 * 4; }

//! Encodes `in` into `out`, which must have base64_encoded_size(in.size()) bytes.
void base64_encode_to(std::string_view in, char* out);

//! Padded standard base64 of `in`.
std::string base64_encode(std::string_view in);

//! Decodes padded standard base64. Like Go's StdEncoding, '\r' and '\n' are ignored; anything
//! else outside the alphabet, bad padding or a truncated final group is a config_error naming
//! the offset.
Result<std::string> base64_decode(std::string_view in);

}  // namespace sv
