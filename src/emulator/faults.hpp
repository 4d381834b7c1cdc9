//! src/emulator/faults.hpp — fault injection settings of the emulator, shared by the VStream
//! server, the startup flags and the HTTP control API. Touched only on the io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <grpcpp/support/status.h>

namespace sv::emulator {

//! How a stream ends when a fault ends it.
enum class EndMode {
  eof,                //!< OK status (the client sees a clean end of stream)
  unavailable,        //!< UNAVAILABLE
  deadline_exceeded,  //!< DEADLINE_EXCEEDED
  internal,           //!< INTERNAL
  drop,               //!< no status: the stream is reset (RST_STREAM) without trailers
};

//! Parses "eof|ok", "unavailable", "deadline_exceeded|deadline", "internal", "drop".
std::optional<EndMode> parse_end_mode(const std::string& s);
const char* to_string(EndMode m);
//! The gRPC status an end mode finishes with (drop: CANCELLED, only used locally).
grpc::Status end_status(EndMode m, const std::string& why);

struct Faults {
  //! End every stream after it has sent this many events (counted per stream).
  std::optional<std::uint64_t> end_after_events;
  EndMode end_mode = EndMode::eof;
  //! The next `fail_streams` new streams fail right away with `fail_mode`.
  std::uint64_t fail_streams = 0;
  EndMode fail_mode = EndMode::unavailable;
  //! No stream writes anything (not even heartbeats) until this time.
  std::chrono::steady_clock::time_point stall_until{};
  //! Stall every stream for `stall_seconds` once it has sent `stall_after_events` events.
  std::optional<std::uint64_t> stall_after_events;
  double stall_seconds = 0;
  //! Extra delay before each response of a shard ("-80" → 50 ms).
  std::map<std::string, std::chrono::milliseconds> slow_shards;
  //! Active streams end with `end_mode` now (set by the control API, consumed by each stream).
  std::uint64_t kill_generation = 0;
  EndMode kill_mode = EndMode::unavailable;
};

}  // namespace sv::emulator
