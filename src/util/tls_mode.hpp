// src/util: the connector's TLS policy, one type for the config (src/airbyte), the gRPC channel
// and the MySQL session (src/vitess). Named as in the config's `tls_mode` field.
#pragma once

#include <string_view>

#include "util/result.hpp"

namespace sv {

enum class TlsMode {
  verify_identity,  //!< TLS, chain verified and the certificate must name the host (default)
  verify_ca,        //!< TLS, chain verified against the CA (or system roots); host name not checked
  required,         //!< TLS, server certificate not verified
  disabled,         //!< plaintext (local test setups and trusted network paths only)
};

//! The config spelling: "verify_identity", "verify_ca", "required", "disabled".
std::string_view to_string(TlsMode mode);

//! The mode spelled `text`; a config_error naming the four spellings otherwise.
Result<TlsMode> parse_tls_mode(std::string_view text);

}  // namespace sv
