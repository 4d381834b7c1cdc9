// src/airbyte: the connector's SPEC message: the configuration form (every field of the Go
// connector with the same names, types, titles and defaults, plus this connector's own fields),
// the protocol version and the connector version.
#pragma once

#include <string>

namespace sv::airbyte {

//! The Airbyte protocol version this connector speaks.
inline constexpr const char* kProtocolVersion = "0.5.2";
//! Where users read about the configuration.
inline constexpr const char* kDocumentationUrl = "https://planetscale.com/docs/integrations/airbyte";

//! The connector version (SOURCE_VITESS_VERSION, from ./VERSION).
const char* connector_version();

//! The connectionSpecification JSON Schema object, one line, no trailing newline.
std::string connection_specification_json();

//! The complete SPEC protocol line, ending in '\n'.
std::string spec_message();

}  // namespace sv::airbyte
