// src/vitess: standard base64.
#include "util/base64.hpp"

#include <fmt/format.h>
#include <array>

namespace sv {
namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<signed char, 256> make_table() {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<signed char>(i);
  return t;
}
constexpr auto kTable = make_table();
}  // namespace

void base64_encode_to(std::string_view in, char* o) {
  auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size(), i = 0;
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = (std::uint32_t(p[i]) << 16) | (std::uint32_t(p[i + 1]) << 8) | p[i + 2];
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = kAlphabet[v & 63];
  }
  if (i + 1 == n) {
    std::uint32_t v = std::uint32_t(p[i]) << 16;
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = '=';
    *o++ = '=';
  } else if (i + 2 == n) {
    std::uint32_t v = (std::uint32_t(p[i]) << 16) | (std::uint32_t(p[i + 1]) << 8);
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[(v >> 12) & 63];
    *o++ = kAlphabet[(v >> 6) & 63];
    *o++ = '=';
  }
}

std::string base64_encode(std::string_view in) {
  std::string out(base64_encoded_size(in.size()), '\0');
  base64_encode_to(in, out.data());
  return out;
}

Result<std::string> base64_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  std::uint32_t acc = 0;
  int have = 0;     // sextets in the current group
  int padding = 0;  // '=' seen in the current (final) group
  // Unused bits before the padding are ignored, as Go's (non-strict) StdEncoding does.
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\r' || c == '\n') continue;
    if (c == '=') {
      if (have < 2) return config_error(fmt::format("invalid base64: misplaced padding at offset {}", i));
      ++padding;
      ++have;
      if (have == 4) {
        if (padding == 1) {
          out.push_back(static_cast<char>((acc >> 10) & 0xFF));
          out.push_back(static_cast<char>((acc >> 2) & 0xFF));
        } else {
          out.push_back(static_cast<char>((acc >> 4) & 0xFF));
        }
        // Only line breaks may follow the final group.
        for (std::size_t j = i + 1; j < in.size(); ++j) {
          if (in[j] != '\r' && in[j] != '\n') {
            return config_error(fmt::format("invalid base64: data after padding at offset {}", j));
          }
        }
        return out;
      }
      continue;
    }
    if (padding > 0) return config_error(fmt::format("invalid base64: data after padding at offset {}", i));
    int v = kTable[static_cast<unsigned char>(c)];
    if (v < 0) return config_error(fmt::format("invalid base64: illegal character at offset {}", i));
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    if (++have == 4) {
      out.push_back(static_cast<char>((acc >> 16) & 0xFF));
      out.push_back(static_cast<char>((acc >> 8) & 0xFF));
      out.push_back(static_cast<char>(acc & 0xFF));
      acc = 0;
      have = 0;
    }
  }
  if (have != 0) return config_error("invalid base64: input length is not a multiple of 4 (missing padding?)");
  return out;
}

}  // namespace sv
