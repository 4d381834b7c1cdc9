// src/util: TlsMode spellings (see tls_mode.hpp).
#include "util/tls_mode.hpp"

#include <fmt/format.h>

namespace sv {

std::string_view to_string(TlsMode mode) {
  switch (mode) {
    case TlsMode::verify_identity: return "verify_identity";
    case TlsMode::verify_ca: return "verify_ca";
    case TlsMode::required: return "required";
    case TlsMode::disabled: return "disabled";
  }
  return "verify_identity";
}

Result<TlsMode> parse_tls_mode(std::string_view text) {
  for (auto mode : {TlsMode::disabled, TlsMode::required, TlsMode::verify_ca, TlsMode::verify_identity}) {
    if (text == to_string(mode)) return mode;
  }
  return config_error(fmt::format("tls_mode '{}' is not one of disabled, required, verify_ca, verify_identity", text));
}

}  // namespace sv
