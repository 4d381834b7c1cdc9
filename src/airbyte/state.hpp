// src/airbyte: the connector's per-stream state (the Go connector's `{"shards":{"<shard>":
// {"cursor":"<base64 TableCursor>"}}}`), parsing of every input state shape into it, and
// rendering it back for STATE messages. Cursors stay opaque base64 here; src/vitess decodes them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airbyte/catalog.hpp"
#include "airbyte/messages.hpp"
#include "util/result.hpp"

namespace sv::airbyte {

//! One stream's state: shard name → standard base64 (padded) of a psdbconnect.TableCursor.
//! Has constructors (is not an aggregate) so a braced temporary is safe inside co_await
//! expressions under GCC 12 (see emitter.hpp).
struct StreamState {
  StreamState() = default;
  explicit StreamState(std::map<std::string, std::string> shard_cursors) : shards(std::move(shard_cursors)) {}
  std::map<std::string, std::string> shards;
  bool operator==(const StreamState&) const = default;
};

//! Which input shape the state file had (for logs and tests).
enum class StateShape {
  none,            //!< no --state, empty file, whitespace, `null`, `[]` or `{}`
  stream_array,    //!< v2: JSON array of AirbyteStateMessage with type STREAM (GLOBAL/LEGACY mixed in ok)
  global,          //!< v2: a GLOBAL state message (its stream_states are used; shared_state ignored)
  legacy_streams,  //!< the Go connector's file: `{"streams":{"<ns>:<table>":{"shards":…}}}`
  legacy_data,     //!< the same wrapped as `{"data":{"streams":…}}` (an AirbyteStateMessage's LEGACY blob)
};
const char* to_string(StateShape s);

//! Input state matched to the configured catalog.
struct InputState {
  StateShape shape = StateShape::none;
  //! Parallel to ConfiguredCatalog::streams; nullopt = start that stream from scratch.
  std::vector<std::optional<StreamState>> streams;
  //! Entries for streams that are not in the configured catalog (each was logged and skipped).
  std::size_t ignored_entries = 0;
  //! Warnings for the user about the input (already logged on stderr; `read` repeats them as LOG).
  std::vector<std::string> warnings;
};

//! Parses the text of a --state file. Accepts every shape listed in StateShape (a LEGACY
//! message's `data` and a single state message object too). A stream_state that is null or `{}`
//! (what the platform injects after a reset) or has no shards means "start from scratch".
//! Errors (config_error) name the stream and shard: invalid JSON (with location), wrong shapes,
//! a cursor that is not standard base64, and the Debezium-style `{"cdc":…}` state, which the
//! PlanetScale connector never wrote.
Result<InputState> parse_state(std::string_view text, const ConfiguredCatalog& catalog);

//! `{"shards":{"-80":{"cursor":"…"},…}}` (shards in name order).
std::string render_stream_state(const StreamState& state);

//! A complete STATE line for one stream (what the emitter writes).
std::string render_state_message(const StreamDescriptor& stream, const StreamState& state, std::uint64_t record_count);

}  // namespace sv::airbyte
