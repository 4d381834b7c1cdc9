// src/util: checks PEM certificate text (the config's ca_certificate) with OpenSSL before it is
// handed to gRPC or libmariadb, whose own failures on a bad certificate are vague and look
// transient ("Failed to create security handshaker").
#pragma once

#include <string_view>

#include "util/result.hpp"

namespace sv {

//! Every `-----BEGIN CERTIFICATE-----` block of `pem` must have its END line and parse as an
//! X.509 certificate. The config_error's message says which block is wrong and why (OpenSSL's
//! reason), e.g. "certificate 2 of 3 does not parse (bad base64 decode)", never quoting the text
//! (it may be a private key pasted by mistake). Text without any BEGIN line is an error too.
Status check_pem_certificates(std::string_view pem);

}  // namespace sv
