// src/airbyte: everything the connector says and hears in the Airbyte protocol.
//   spec.hpp            SPEC message (configuration form, protocol and connector versions)
//   config.hpp          --config → sv::airbyte::Config (Go connector fields + ours)
//   catalog.hpp         --catalog → ConfiguredCatalog (streams, columns, sync modes)
//   state.hpp           --state (every shape) → per-stream StreamState; STATE rendering; base64
//   messages.hpp        builders for every message we emit; RECORD serialization for workers
//   message_writer.hpp  buffered, EINTR/short-write/EPIPE-safe writer to stdout
//   emitter.hpp         the ordered emitter: concurrent producers in, protocol-correct stdout out
// Nothing here talks to Vitess; src/vitess and src/engine build on these headers.
#pragma once

#include "airbyte/catalog.hpp"
#include "airbyte/config.hpp"
#include "airbyte/emitter.hpp"
#include "airbyte/message_writer.hpp"
#include "airbyte/messages.hpp"
#include "airbyte/spec.hpp"
#include "airbyte/state.hpp"
