// src/socket: Airbyte's "speed mode" data channel (docs/speed-mode.md). The platform chooses it
// through environment variables; this file reads and checks them before a `read` starts, and opens
// the sockets: the connector binds and listens on every path, the destination connects.
//   DATA_CHANNEL_MEDIUM        STDIO (default: records on stdout, nothing here changes) | SOCKET
//   DATA_CHANNEL_FORMAT        JSONL (default) | PROTOBUF
//   DATA_CHANNEL_SOCKET_PATHS  comma-separated socket paths (SOCKET only)
//   SOURCE_VITESS_SOCKET_ACCEPT_TIMEOUT_SECONDS  how long to wait for the destination (default 300)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "socket/record_writers.hpp"
#include "util/result.hpp"

namespace sv::socket {

enum class Medium { stdio, socket };

struct DataChannel {
  Medium medium = Medium::stdio;
  Format format = Format::jsonl;
  std::vector<std::string> paths;  //!< SOCKET: one socket per path, in the given order
  std::chrono::seconds accept_timeout{300};
};

//! Reads the variables through `get` (std::getenv in the program; a map in tests). Errors are
//! config_errors naming the variable and the value: an unknown medium or format, SOCKET without
//! paths, an empty entry, a path twice, a path too long for a socket address, a path whose
//! directory does not exist or that exists and is not a socket, more paths than the process may
//! open files, a bad timeout.
Result<DataChannel> data_channel_from_env(const std::function<const char*(const char*)>& get);

//! One connected socket: the destination's end of a path.
struct ConnectedSocket {
  std::string path;
  int fd = -1;  //!< owned by the caller from here on
};

//! Binds and listens on every path (a stale socket file is removed first), then waits until the
//! destination connected to each, at most `timeout` in all. The listening sockets are closed and
//! their files removed once connected. Errors: transient_error naming the path nobody connected
//! to in time; config_error when a path cannot be bound (permissions, a directory gone since).
Result<std::vector<ConnectedSocket>> open_data_channel(const std::vector<std::string>& paths,
                                                       std::chrono::milliseconds timeout);

}  // namespace sv::socket
