// src/util: the RapidJSON buffer and writer types every JSON producer in the project shares,
// so values, records and protocol messages render into the same reusable buffers.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace sv {

using JsonBuffer = rapidjson::StringBuffer;
using JsonWriter = rapidjson::Writer<JsonBuffer>;

}  // namespace sv
