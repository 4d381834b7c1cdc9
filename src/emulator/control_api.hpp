//! src/emulator/control_api.hpp — the emulator's HTTP control API (Boost.Beast, coroutines on the
//! io_context thread): status, on-demand writes, and faults. Every answer is one JSON object.
//!
//!   GET  /status                                   counters, positions, faults
//!   POST /writes?count=N                           apply N synthetic write ops now
//!   POST /rate?ops_per_second=X                    change the timed write load
//!   POST /fault/end-after?events=N&mode=M          end each stream after N events (M: eof,
//!                                                  unavailable, deadline_exceeded, internal, drop)
//!   POST /fault/fail-streams?count=N&mode=M        the next N streams fail at start
//!   POST /fault/end-streams?mode=M                 end every active stream now
//!   POST /fault/stall?seconds=T                    no stream sends anything for T seconds
//!   POST /fault/stall-after?events=N&seconds=T     each stream stalls once after N events
//!   POST /fault/slow-shard?shard=S&delay_ms=D      delay each response of shard S (D=0 clears)
//!   POST /fault/clear                              remove every fault
//!   POST /reshard?keyspace=K&shards=-40,40-80,...  reshard (JOURNAL on the old shards)
//!   POST /ddl?keyspace=K&table=T                   add a column to T mid-stream
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "emulator/synthetic_backend.hpp"
#include "emulator/vstream_server.hpp"
#include "util/result.hpp"

namespace sv::emulator {

class ControlApi {
 public:
  //! `synthetic` may be null (then /writes and /rate answer 400).
  ControlApi(boost::asio::io_context& io, VStreamServer& server, SyntheticBackend* synthetic, std::string keyspace);
  ~ControlApi();
  //! Binds host:port (port 0 = any free one) and starts accepting; returns the port.
  sv::Result<int> start(const std::string& listen);
  //! Closes the listener (io thread).
  void stop();

  //! Handles one request target (path + query) — also used by the startup flags' timers.
  //! Returns {http status, json body}.
  std::pair<int, std::string> handle(const std::string& method, const std::string& target);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sv::emulator
